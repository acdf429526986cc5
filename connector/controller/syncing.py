"""One device sync on its worker thread: fenced, locked, recorded, accounted.

Contract of `run(device, job)` (the `DeviceWorker`'s entry point): nothing unless this process
leads; otherwise `sync_device` under the device's write lock in the store (shared by every
connector writing the device), planning against what the device is known to hold unless the job
reads it back; the outcome is queued on the `Recorder` and accounted (`Accounting`). Returns False
to have the worker retry with backoff. A sync cut short by the write fence (leadership lost
during it) is not a device failure: only the writes it made are audited. An unexpected exception
is accounted as a failed sync of the device (status, metrics, Event, readiness), never lost in a
log line. In `plan` mode nothing is written: each sync plans and records drift. With flows
configured, a successful applying sync records the device's rule references for flow attribution
(`connector.flows.rule_feed`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine

from connector.adapter import Adapter
from connector.config import Config
from connector.controller.accounting import Accounting
from connector.controller.fence import WriteFence
from connector.controller.metrics import ControllerMetrics
from connector.controller.options import Mode
from connector.controller.worker import Job
from connector.flows.rule_feed import DeviceRuleFeed
from connector.reconciler.device import DeviceOutcome, ErrorClass, sync_device
from connector.reconciler.known import KnownState
from connector.reconciler.recorder import Recorder
from connector.store import device_write_lock, session_factory

log = logging.getLogger(__name__)


class DeviceSyncs:
    """Runs the syncs of the configured devices (see the module docstring); `connect` gives it the
    store, the recorder and the adapters at start."""

    def __init__(self, config: Config, mode: Mode, *, fence: WriteFence, accounting: Accounting,
                 metrics: ControllerMetrics, leading: Callable[[], bool],
                 synced: Callable[[], None]) -> None:
        self.config = config
        self.mode = mode
        self.fence = fence
        self.accounting = accounting
        self.metrics = metrics
        self.leading = leading
        self.synced = synced  # after each accounted sync (the statuses may have changed)
        self.engine: Engine | None = None
        self.recorder: Recorder | None = None
        self.adapters: dict[str, Adapter] = {}
        self.known: dict[str, KnownState] = {d.name: KnownState() for d in config.devices}
        self.rule_feed: DeviceRuleFeed | None = None  # with flows configured (connect)

    def connect(self, engine: Engine, recorder: Recorder, adapters: dict[str, Adapter]) -> None:
        self.engine = engine
        self.recorder = recorder
        self.adapters = adapters
        if self.config.flows is not None:
            self.rule_feed = DeviceRuleFeed(session_factory(engine), self.config.cluster)

    def forget_known(self) -> None:
        """Another leader may have written the devices: the next syncs read them back."""
        for known in self.known.values():
            known.forget()
        if self.rule_feed is not None:
            self.rule_feed.forget()

    def close(self) -> None:
        """Close every adapter (which may release device sessions)."""
        for adapter in self.adapters.values():
            adapter.close()

    def run(self, name: str, job: Job) -> bool:
        """`sync`, with any unexpected exception accounted as a failed sync of the device."""
        try:
            return self.sync(name, job)
        except Exception as exc:  # a bug or an input that breaks an invariant: visible, retried
            log.exception("%s: sync failed unexpectedly", name)
            if not self.leading():
                return True
            outcome = DeviceOutcome(name, error=f"{name}: internal error: {type(exc).__name__}: {exc}",
                                    error_class=ErrorClass.PERMANENT)
            self.accounting.account(name, job, outcome, self.mode == "apply")
            self.synced()
            return False

    def sync(self, name: str, job: Job) -> bool:
        """One device sync (worker thread); False asks the worker to retry with backoff."""
        apply = self.mode == "apply"
        if not self.leading():
            return True
        adapter = self.adapters[name]
        known = self.known[name]
        fenced = self.fence.refused(name)
        started = time.monotonic()
        if apply:
            assert self.engine is not None
            with device_write_lock(self.engine, self.config.device(name).url):
                outcome = sync_device(adapter, job.state, self.config.safety.thresholds, apply=True,
                                      may_write=self.leading, known=known, read=job.read,
                                      vanished=job.vanished)
        else:
            outcome = sync_device(adapter, job.state, self.config.safety.thresholds, apply=False, known=known,
                                  read=job.read, vanished=job.vanished)
        elapsed = time.monotonic() - started
        self.metrics.reconcile_duration.labels(name).observe(elapsed)
        if outcome.extra.get("withheld"):
            return True
        if self.fence.refused(name) != fenced:
            return self._deposed(name, job, outcome, apply)
        recorded_at = time.monotonic()
        assert self.recorder is not None
        self.recorder.submit(name, job.state, outcome, apply=apply, triggers=job.trigger_names())
        log.info("%s: sync in %.2fs (%s %.2fs, apply %.2fs; record queued in %.2fs): %d change(s)%s, "
                 "%d trigger(s)", name, elapsed, "read" if outcome.read else "known state",
                 outcome.read_seconds, outcome.apply_seconds, time.monotonic() - recorded_at,
                 len(outcome.plan.changes) if outcome.plan is not None else 0,
                 "" if outcome.ok else f", {outcome.error or 'refused'}", len(job.triggers))
        ok = self.accounting.account(name, job, outcome, apply)
        if apply and outcome.ok and self.rule_feed is not None and self.leading():
            # the device rules' meaning for flow attribution (docs/flows.md)
            self.rule_feed.synced(name, adapter, job.state,
                                  wrote=outcome.result is not None and outcome.result.writes > 0)
        self.synced()
        return ok

    def _deposed(self, name: str, job: Job, outcome: DeviceOutcome, apply: bool) -> bool:
        """A sync cut short by the write fence: this process lost its leadership during it. Not a
        device failure (no metric, Event or status); the writes it made before are audited, and
        the leader (or this process once it leads again, reading the device back) takes over."""
        writes = outcome.result.writes if outcome.result is not None else 0
        log.warning("%s: sync cut short, this process no longer leads: %d write(s) made before; "
                    "nothing more is sent", name, writes)
        if writes and self.recorder is not None:
            self.recorder.submit(name, job.state, outcome, apply=apply, triggers=job.trigger_names())
        return True
