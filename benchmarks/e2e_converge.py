"""When has a device converged? The criterion the end-to-end benchmark waits for.

A device has converged on a set of pod addresses when all of these hold:
1. the controller is ready (`/readyz`: cache synced, compiled) and reports a successful sync of
   the device (`last_successful_sync_timestamp_seconds{device}`) no earlier than the last write
   the device's mock logged: every write the device received belongs to a sync the controller
   has finished and accounted (its convergence samples are in the histogram);
2. the device, read through its own API, holds exactly those pod addresses: every live pod, no
   deleted one (`e2e_devices`; its rules come with the same sync);
3. nothing moves for a quiet window (no new device write, no new sync or convergence sample of
   the device) and the device still holds them at its end: no sync is pending or running.
The time reported is when 1 and 2 were first seen together (polled every `POLL` seconds; the
device is read again whenever a new sync of it is recorded, else every `RECHECK` seconds), so it
includes recording the sync in the store. A device that does not converge within the timeout is
reported with what it lacks, never waited for silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.e2e_devices import DeviceReader, RequestLog
from benchmarks.e2e_metrics import Scrape

POLL = 0.25
RECHECK = 10.0


@dataclass(frozen=True)
class Converged:
    """`seconds` after the reference time (None: not within the timeout, see `detail`)."""

    device: str
    seconds: float | None
    detail: str = ""

    def text(self) -> str:
        return f"{self.seconds:.1f}s" if self.seconds is not None else f"NOT converged ({self.detail})"


@dataclass
class _Device:
    name: str
    reader: DeviceReader
    log: RequestLog
    checked_sync: float = -1.0    # the sync timestamp at the last device read
    checked_at: float = 0.0
    seen_at: float | None = None  # 1 and 2 first seen together
    marker: tuple[int, float, float] | None = None
    missing: int | None = None
    stale: int | None = None


class ConvergenceWatch:
    """Waits for devices to converge (see the module docstring)."""

    def __init__(self, readers: dict[str, DeviceReader], logs: dict[str, RequestLog],
                 scrape: Callable[[], Scrape], ready: Callable[[], bool]) -> None:
        self.devices = {name: _Device(name, reader, logs[name]) for name, reader in readers.items()}
        self.scrape = scrape
        self.ready = ready

    def wait(self, expected: set[int], reference: float, timeout: float,
             quiet: float) -> dict[str, Converged]:
        """Per device, seconds from `reference` (monotonic) until it converged on `expected`."""
        for device in self.devices.values():
            device.checked_sync, device.seen_at, device.marker = -1.0, None, None
            device.missing = device.stale = None
        pending = dict(self.devices)
        out: dict[str, Converged] = {}
        deadline = reference + timeout
        while pending and time.monotonic() < deadline:
            scrape = self.scrape()
            ready = self.ready()
            for name, device in list(pending.items()):
                if self._step(device, scrape, ready, expected, quiet):
                    assert device.seen_at is not None
                    out[name] = Converged(name, device.seen_at - reference)
                    del pending[name]
            time.sleep(POLL)
        if pending:
            scrape = self.scrape()
            for name, device in pending.items():
                out[name] = Converged(name, None, self._lack(device, scrape, timeout))
        return out

    def _step(self, device: _Device, scrape: Scrape, ready: bool, expected: set[int], quiet: float) -> bool:
        """One poll of one device; True once it has converged."""
        device.log.fetch()
        name = device.name
        write = device.log.last_write()
        marker = (write["seq"] if write else 0,
                  scrape.value("convergence_latency_seconds_count", device=name),
                  scrape.value("reconcile_duration_seconds_count", device=name))
        if device.seen_at is not None:
            if marker != device.marker:
                device.seen_at = device.marker = None  # something moved: judge afresh
            elif time.monotonic() - device.seen_at >= quiet:
                if self._holds(device, expected):
                    return True
                device.seen_at = device.marker = None
                return False
            else:
                return False
        if not ready or not scrape.has("last_successful_sync_timestamp_seconds", device=name):
            return False
        synced = scrape.value("last_successful_sync_timestamp_seconds", device=name)
        if write is not None and synced < write["time"]:
            return False
        now = time.monotonic()
        if synced == device.checked_sync and now - device.checked_at < RECHECK:
            return False
        device.checked_sync, device.checked_at = synced, now
        if self._holds(device, expected):
            device.seen_at, device.marker = now, marker
        return False

    @staticmethod
    def _holds(device: _Device, expected: set[int]) -> bool:
        held = device.reader.pod_ips()
        if held is None:
            return False
        device.missing, device.stale = len(expected - held), len(held - expected)
        return held == expected

    @staticmethod
    def _lack(device: _Device, scrape: Scrape, timeout: float) -> str:
        name = device.name
        parts = [f"within {timeout:.0f}s"]
        if not scrape.has("last_successful_sync_timestamp_seconds", device=name):
            parts.append("no successful sync")
        if device.missing is not None:
            parts.append(f"last read: {device.missing} pod IPs missing, {device.stale} stale")
        errors = scrape.value("device_errors_total", device=name)
        refused = scrape.value("unsafe_plans_total", device=name)
        full = scrape.value("capacity_refusals_total", device=name)
        if errors or refused or full:
            parts.append(f"{errors:.0f} device errors, {refused:.0f} unsafe plans refused, "
                         f"{full:.0f} plans refused for capacity")
        return "; ".join(parts)

