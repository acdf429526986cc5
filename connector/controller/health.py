"""What the controller tells its probes: liveness (`/healthz`) and readiness (`/readyz`).

Readiness: ready once the cache is synced, compiled and the store reachable, unless this process
can never lead (`leaderElection`: the Lease's namespace is missing or RBAC forbids the Lease);
`reasons` says why not. Devices do not decide readiness (an unready pod only leaves Service
endpoints; a firewall that is down must not take the report and metrics away or stall a
rollout): each device's state is listed under `devices` (`in-sync`, `pending`, `failing`,
`refused`, `plan-only`), and those whose last sync failed or was refused under `degraded`, with
the reason (also `fusion_connector_device_problem`). Weakened transport security found at start
is listed under `insecureTransport`.

Liveness: every controller thread runs (or the controller is stopping) and the reconcile loop
went round within `WEDGED_AFTER` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from connector.controller.device_book import DeviceBook, DeviceHealth
from connector.controller.device_report import CAPACITY_EXCEEDED
from connector.controller.transport import TransportSecurity

log = logging.getLogger(__name__)

WEDGED_AFTER = 60.0
STORE_CHECK_EVERY = 5.0

# a device's state by the reason of its last sync's problem
DEVICE_STATES = {"DeviceError": "failing", "PlanRefused": "refused", CAPACITY_EXCEEDED: "refused",
                 "PlanMode": "plan-only"}
DEGRADED = frozenset({"failing", "refused"})


def _stamp(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def device_states(health: Mapping[str, DeviceHealth]) -> dict[str, dict[str, Any]]:
    """The `devices` entry of readiness: per device its state, failures and last good sync, with
    the problem's reason, message and since when if any."""
    out: dict[str, dict[str, Any]] = {}
    for name, device in sorted(health.items()):
        problem = device.problem
        if problem is None:
            state = "in-sync" if device.last_ok else "pending"
        else:
            state = DEVICE_STATES.get(problem[0], "pending")
        entry: dict[str, Any] = {"state": state, "failures": device.failures,
                                 "lastSync": _stamp(device.last_ok)}
        if problem is not None:
            entry.update(reason=problem[0], message=problem[1], since=_stamp(device.since))
        out[name] = entry
    return out


class StoreProbe:
    """Whether the store answers `SELECT 1`, checked at most every `STORE_CHECK_EVERY` seconds;
    unreachable until an engine is connected. `last` is (when checked, reachable)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.last = (0.0, False)

    def reachable(self) -> bool:
        checked_at, ok = self.last
        if time.monotonic() - checked_at < STORE_CHECK_EVERY or self.engine is None:
            return ok
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            ok = True
        except Exception as exc:  # any driver error means unreachable
            log.warning("store unreachable: %s", exc)
            ok = False
        self.last = (time.monotonic(), ok)
        return ok


@dataclass(frozen=True)
class ProcessState:
    """What the controller process is doing, as readiness needs it."""

    synced: bool
    compiled: bool
    leading: bool
    stopping: bool
    election: str | None  # why this process can never lead, if so


class Health:
    """Liveness and readiness (see the module docstring)."""

    def __init__(self, *, mode: str, identity: str, book: DeviceBook, transport: TransportSecurity) -> None:
        self.mode = mode
        self.identity = identity
        self.book = book
        self.transport = transport
        self.store = StoreProbe()

    @staticmethod
    def alive(threads_alive: bool, stopping: bool, heartbeat: float) -> bool:
        """Liveness, from whether every thread runs and the loop's last heartbeat (monotonic)."""
        return (threads_alive or stopping) and time.monotonic() - heartbeat < WEDGED_AFTER

    def readiness(self, process: ProcessState) -> dict[str, Any]:
        store = self.store.reachable()
        reasons = [text for failed, text in (
            (not process.synced, "the watch cache is not synced yet"),
            (not process.compiled, "the cluster is not compiled yet"),
            (not store, "the store is unreachable"),
            (process.stopping, "stopping"),
            (process.election is not None, f"leader election: {process.election}")) if failed]
        devices = device_states(self.book.health_by_device())
        return {"ready": not reasons, "reasons": reasons,
                "synced": process.synced, "compiled": process.compiled, "store": store,
                "role": "leader" if process.leading else "standby",
                "leaderElection": process.election, "mode": self.mode, "identity": self.identity,
                "devices": devices,
                "degraded": sorted(name for name, d in devices.items() if d["state"] in DEGRADED),
                "insecureTransport": [{"device": w.device, "reason": w.reason, "message": w.message}
                                      for w in self.transport.findings]}
