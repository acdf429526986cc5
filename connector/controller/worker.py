"""One worker thread per device: debounced, coalescing, one reconcile in flight, retried.

Contract: `submit(state, triggers, seen)` records the latest desired `DeviceState` and marks the
device dirty; it never blocks. The worker collects submissions for `debounce` seconds from the first pending
one (a window, so a steady stream of changes cannot postpone a sync), then runs `sync(job)` with
the latest state and every trigger collected since the last completed sync. A submission arriving while a
sync runs leaves the worker dirty, so it runs again afterwards with the newer state: no change is
lost and never two syncs of one device at once. When `sync` returns False (the device failed) the
job's triggers are kept and the worker retries after an exponential backoff with jitter
(`backoff_base` doubling up to `backoff_cap`), even without new submissions. A submission with
`read=True` makes the next sync read the device back (`Job.read`), however many submissions
without it are coalesced with it. `Job.vanished` counts the triggers, coalesced or kept from a
failed job (even those past `MAX_TRIGGERS`), that name a deletion no watch event reported
(`connector.controller.changes.is_vanished`). `pause()` stops starting new syncs (a standby),
`resume()` starts again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connector.controller.changes import is_vanished
from connector.model import DeviceState

log = logging.getLogger(__name__)

MAX_TRIGGERS = 200
MAX_SEEN = 10_000


@dataclass
class Job:
    """What one sync should do: the desired state, why (trigger names), when each change batch
    it carries was first seen (monotonic seconds; empty for a periodic run), whether it must
    read the device back rather than trust what it is known to hold, and how many of its
    changes are deletions no watch event reported (`vanished`)."""

    state: DeviceState
    triggers: list[str] = field(default_factory=list)
    seen: list[float] = field(default_factory=list)
    attempt: int = 0
    omitted: int = 0
    read: bool = False
    vanished: int = 0

    @property
    def seen_at(self) -> float | None:
        """When the earliest change of the job was seen."""
        return min(self.seen) if self.seen else None

    def trigger_names(self) -> list[str]:
        if self.omitted:
            return [*self.triggers, f"... and {self.omitted} more"]
        return list(self.triggers)


class DeviceWorker:
    """Runs `sync(job) -> bool` for one device on its own thread (see the module docstring)."""

    def __init__(self, name: str, sync: Callable[[Job], bool], *, debounce: float,
                 backoff_base: float = 1.0, backoff_cap: float = 60.0,
                 rng: random.Random | None = None) -> None:
        self.name = name
        self._sync = sync
        self.debounce = debounce
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._cond = threading.Condition()
        self._state: DeviceState | None = None
        self._triggers: dict[str, None] = {}
        self._omitted = 0
        self._vanished = 0
        self._seen: list[float] = []
        self._dirty = False
        self._read = False
        self._first_pending = 0.0
        self._retry_at: float | None = None
        self._failures = 0
        self._running = False
        self._paused = False
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"device-{name}", daemon=True)
        self.syncs = 0

    # ------------------------------------------------------------------ control
    def start(self) -> DeviceWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Stop after the sync in flight (if any); False when it is still running after `timeout`."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def submit(self, state: DeviceState, triggers: Iterable[str] = (), seen: Iterable[float] = (),
               immediate: bool = False, read: bool = False) -> None:
        """Ask for a sync of `state` (the newest wins) because of the changes named in `triggers`,
        first seen at the monotonic times `seen`; `immediate` skips the debounce; `read` makes the
        sync read the device back."""
        now = time.monotonic()
        with self._cond:
            self._state = state
            self._read = self._read or read
            for trigger in triggers:
                if trigger in self._triggers:
                    continue
                if is_vanished(trigger):
                    self._vanished += 1
                if len(self._triggers) < MAX_TRIGGERS:
                    self._triggers[trigger] = None
                else:
                    self._omitted += 1
            self._seen.extend(list(seen)[: max(0, MAX_SEEN - len(self._seen))])
            if not self._dirty:
                self._first_pending = now
            self._dirty = True
            if immediate:
                self._first_pending = now - self.debounce
                self._retry_at = None
            self._cond.notify_all()

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """A sync is running or due."""
        with self._cond:
            return self._running or self._dirty

    @property
    def failures(self) -> int:
        """Consecutive failed syncs."""
        with self._cond:
            return self._failures

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running or (self._dirty and not self._paused):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    # ------------------------------------------------------------------ loop
    def _due(self, now: float) -> float | None:
        """Seconds until the pending sync is due (0 = now); None when nothing is pending."""
        if not self._dirty or self._paused:
            return None
        due = self._first_pending + self.debounce
        if self._retry_at is not None:
            due = max(due, self._retry_at)
        return max(0.0, due - now)

    def _take(self) -> Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                wait = self._due(time.monotonic())
                if wait == 0.0 and self._state is not None:
                    job = Job(self._state, list(self._triggers), self._seen, self._failures,
                              self._omitted, self._read, self._vanished)
                    self._dirty = False
                    self._read = False
                    self._triggers = {}
                    self._omitted = 0
                    self._vanished = 0
                    self._seen = []
                    self._running = True
                    return job
                self._cond.wait(wait)

    def _loop(self) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            ok = False
            try:
                ok = self._sync(job)
            except Exception:  # a bug in one device's sync must not kill its worker
                log.exception("%s: sync failed unexpectedly", self.name)
            with self._cond:
                self._running = False
                self.syncs += 1
                if ok:
                    self._failures = 0
                    self._retry_at = None
                else:
                    self._failures += 1
                    delay = min(self.backoff_cap, self.backoff_base * 2 ** (self._failures - 1))
                    delay += self._rng.uniform(0, delay / 4)
                    self._retry_at = time.monotonic() + delay
                    # keep what the failed job carried; a newer submission's state wins
                    for trigger in job.triggers:
                        self._triggers.setdefault(trigger, None)
                    self._omitted += job.omitted
                    self._vanished += job.vanished
                    self._read = self._read or job.read
                    self._seen = (job.seen + self._seen)[:MAX_SEEN]
                    if not self._dirty:
                        self._state = job.state if self._state is None else self._state
                        self._first_pending = time.monotonic() - self.debounce
                    self._dirty = True
                    log.info("%s: sync failed (%d in a row); retrying in %.1fs", self.name,
                             self._failures, delay)
                self._cond.notify_all()
