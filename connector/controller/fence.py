"""The write fence: every device write asks first, so only the leader of the Lease writes.

Contract: `may_write(device)` is True while `holds_lease()` (the elector's own judgement: the
local monotonic clock against its last successful renewal, so a process resumed after SIGSTOP
writes nothing before it renews), or on the thread that closes the adapters at shutdown (it may
release device sessions, e.g. a BIG-IP token). A refusal is counted per device (`refused`, and
`fenced_writes_total`) and ends the sync: the adapters' HTTP clients ask before each write
request (`connector.adapter.write_fence`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from connector.adapter import Adapter, write_fence
from connector.config import Config, Secrets
from connector.controller.metrics import ControllerMetrics
from connector.wiring import open_adapters


class WriteFence:
    """Fences device writes by `holds_lease()` (see the module docstring)."""

    def __init__(self, holds_lease: Callable[[], bool], metrics: ControllerMetrics) -> None:
        self.holds_lease = holds_lease
        self.metrics = metrics
        self.closing_thread: int | None = None
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()

    def may_write(self, device: str) -> bool:
        if self.holds_lease() or threading.get_ident() == self.closing_thread:
            return True
        with self._lock:
            self._refused[device] = self._refused.get(device, 0) + 1
        self.metrics.fenced_writes.labels(device).inc()
        return False

    def refused(self, device: str) -> int:
        """How many writes to `device` the fence has refused so far."""
        return self._refused.get(device, 0)

    def close_from_this_thread(self) -> None:
        """The calling thread closes the adapters: its writes pass (session release)."""
        self.closing_thread = threading.get_ident()

    def open_adapters(self, config: Config, secrets: Secrets) -> dict[str, Adapter]:
        """One adapter per configured device, each HTTP client fenced by `may_write`."""
        adapters: dict[str, Adapter] = {}
        for device in config.devices:
            with write_fence(functools.partial(self.may_write, device.name)):
                adapters.update(open_adapters(config, [device], secrets))
        return adapters
