"""What the controller knows of each configured device, shared by the loop (which publishes
desired states), the syncs (which account their outcomes), the status writer and the probes.

Per device: the latest desired `DeviceState`, its `DeviceReport` (fingerprints held and wanted,
the problem that unprograms its rules, table usage) and its `DeviceHealth` (how its syncs have
gone lately). Desired states and reports change under one lock, so a sync's outcome is judged
against the desired state it was for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.controller.device_report import PROBLEM_REASONS, DeviceReport, OriginKey, fingerprints
from connector.model import DeviceState
from connector.planner.capacity import CapacityReport


@dataclass(frozen=True)
class DeviceHealth:
    """How a device's syncs have gone lately: the problem its last sync ended with (reason,
    message), consecutive syncs that ended with one of `PROBLEM_REASONS`, since when (Unix time),
    and when one last succeeded."""

    problem: tuple[str, str] | None = None
    failures: int = 0
    since: float | None = None
    last_ok: float | None = None

    def after(self, problem: tuple[str, str] | None) -> DeviceHealth:
        now = time.time()
        if problem is None or problem[0] not in PROBLEM_REASONS:
            return DeviceHealth(problem, 0, None, now if problem is None else self.last_ok)
        return DeviceHealth(problem, self.failures + 1, self.since or now, self.last_ok)


class DeviceBook:
    """Desired state, report and health of each device named at construction."""

    def __init__(self, names: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, DeviceState] = {}
        self._reports: dict[str, DeviceReport] = {}
        self._health: dict[str, DeviceHealth] = {}
        for name in names:
            self._reports[name] = DeviceReport(name)
            self._health[name] = DeviceHealth()

    # ------------------------------------------------------------------ desired states
    def desired(self, name: str) -> DeviceState | None:
        """The latest desired state published for `name`."""
        return self._states.get(name)

    def desired_states(self) -> dict[str, DeviceState]:
        return dict(self._states)

    def publish(self, name: str, state: DeviceState) -> None:
        """`state` is now what `name` should hold: its report's wanted fingerprints follow (kept
        when only source membership changed, since a pod change keeps the rules tuple)."""
        with self._lock:
            previous = self._states.get(name)
            self._states[name] = state
            report = self._reports[name]
            same_rules = previous is not None and previous.rules is state.rules
            wanted = report.wanted if same_rules and report.wanted else fingerprints(state)
            self._reports[name] = DeviceReport(name, report.held, wanted, report.problem, report.capacity)

    # ------------------------------------------------------------------ reports
    def reports(self) -> dict[str, DeviceReport]:
        with self._lock:
            return dict(self._reports)

    def report_for(self, name: str, state: DeviceState) -> tuple[DeviceReport, bool]:
        """`name`'s report, and whether `state` is its latest desired state."""
        with self._lock:
            return self._reports[name], state is self._states.get(name)

    def settle(self, name: str, held: Mapping[OriginKey, int], problem: tuple[str, str] | None,
               capacity: CapacityReport | None) -> None:
        """After a sync: what `name` holds, the problem that unprograms its rules (None: none),
        and its table usage when the sync planned (else the known one stays)."""
        with self._lock:
            current = self._reports[name]
            self._reports[name] = DeviceReport(name, held, current.wanted, problem,
                                               capacity or current.capacity)

    # ------------------------------------------------------------------ health
    def health(self, name: str) -> DeviceHealth:
        return self._health.get(name, DeviceHealth())

    def set_health(self, name: str, health: DeviceHealth) -> None:
        self._health[name] = health

    def health_by_device(self) -> dict[str, DeviceHealth]:
        return dict(sorted(self._health.items()))
