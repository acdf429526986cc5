"""One reconcile pass over every (or one) device: the engine of `plan` and `apply`.

Flow: compile the cluster view → per device, in parallel and isolated from each other: render,
read, plan, and (for `apply`) apply when safe → record in the store what was read, planned,
applied, refused, and the drift the plan revealed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine

from connector.adapter import Adapter
from connector.cluster import ClusterView
from connector.compiler import CompileResult, compile_cluster
from connector.config import Config
from connector.reconciler.device import DeviceOutcome, ErrorClass, sync_device
from connector.reconciler.record import record_outcome, record_snapshot
from connector.store import Store, create_engine, device_write_lock, migrate, session_factory
from connector.wiring import compile_settings

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """The compile result and one outcome per device, in configuration order."""

    compiled: CompileResult
    outcomes: list[DeviceOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        return any(o.refused for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return any(o.error is not None for o in self.outcomes)


def reconcile_once(config: Config, view: ClusterView, adapters: Mapping[str, Adapter], *,
                   apply: bool, force: bool = False, record: bool = True,
                   numbers: bool = False) -> PassReport:
    """Compile `view` and sync each adapter's device (plan only unless `apply`; with `numbers`, a
    plan's outcomes hold each device's own rule numbers, `sync_device`)."""
    started = time.monotonic()
    compiled = compile_cluster(view, compile_settings(config))
    report = PassReport(compiled)

    def one(name: str) -> DeviceOutcome:
        adapter = adapters[name]
        try:
            return sync_device(adapter, compiled.devices[name], config.safety.thresholds, apply=apply,
                               force=force, numbers=numbers)
        except Exception as exc:  # a bug met on one device must not cost the others their outcome
            log.debug("%s: unexpected error", name, exc_info=True)
            return DeviceOutcome(device=name, error=f"{name}: unexpected error: {type(exc).__name__}: {exc}",
                                 error_class=ErrorClass.PERMANENT)

    names = [d.name for d in config.devices if d.name in adapters]
    engine = None
    if record:
        migrate(config.database)
        engine = create_engine(config.database)
    try:
        if engine is not None and apply:
            with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
                futures = [pool.submit(_locked, engine, config.device(name).url, name, one) for name in names]
                outcomes = [f.result() for f in futures]
        else:
            with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
                outcomes = list(pool.map(one, names))
        report.outcomes = outcomes
        if engine is not None:
            _record(engine, config, compiled, report, apply=apply, force=force)
    finally:
        if engine is not None:
            engine.dispose()
    report.seconds = time.monotonic() - started
    return report


def _locked(engine: Engine, url: str, name: str, work: Callable[[str], DeviceOutcome]) -> DeviceOutcome:
    """Run `work` holding the device's write lock, shared by every connector on the store (the
    lock is keyed by the device URL, since clusters share firewalls)."""
    with device_write_lock(engine, url):
        return work(name)


def _record(engine: Engine, config: Config, compiled: CompileResult, report: PassReport, *,
            apply: bool, force: bool) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        store = Store(session, config.cluster)
        record_snapshot(store, compiled, config.devices)
        for outcome in report.outcomes:
            record_outcome(store, compiled.devices[outcome.device], outcome, apply=apply, force=force,
                           triggers=("apply",) if apply else ())
