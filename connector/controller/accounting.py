"""Accounting of one device sync's outcome: metrics, the device's report and health, and the
Events on the Lease that tell a device failing, refused or in sync again.

Two problems are kept apart: the device's (readiness, `device_problem`, Events), and the one that
keeps its rules from counting as programmed (the report's). They differ when an unsafe plan had
only its unconfirmed deletions withheld and the rest applied: the device is refused until forced,
yet it holds every current rule as desired (the withheld objects are emptied leftovers of rules
and namespaces that are gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from connector.controller.device_book import DeviceBook
from connector.controller.device_report import (
    CAPACITY_EXCEEDED,
    PROBLEM_REASONS,
    DeviceReport,
    OriginKey,
    fingerprints,
)
from connector.controller.events import NORMAL, WARNING, EventChannel, ObjectRef
from connector.controller.metrics import ControllerMetrics
from connector.controller.worker import Job
from connector.reconciler.device import DeviceOutcome, Refusal


class Accounting:
    """Accounts outcomes into `book`, `metrics` and Events about `lease` (told only while
    `leading()`)."""

    def __init__(self, book: DeviceBook, metrics: ControllerMetrics, events: EventChannel,
                 lease: ObjectRef, leading: Callable[[], bool]) -> None:
        self.book = book
        self.metrics = metrics
        self.events = events
        self.lease = lease
        self.leading = leading

    def account(self, name: str, job: Job, outcome: DeviceOutcome, apply: bool) -> bool:
        """Metrics, device report and Events of one outcome; whether the sync succeeded."""
        plan = outcome.plan
        if outcome.capacity is not None:
            self.metrics.table_usage(outcome.capacity)
        report, is_current = self.book.report_for(name, job.state)
        health = self.book.health(name)
        held = report.held
        problem: tuple[str, str] | None = None  # the device's
        unprogrammed = True  # the device's problem unprograms its rules
        ok = True
        if outcome.error is not None:
            ok = False
            problem = ("DeviceError", outcome.error)
            self.metrics.device_errors.labels(name, outcome.error_class or "permanent").inc()
            self._device_event(WARNING, "DeviceError", f"device {name}: {outcome.error}")
        elif outcome.refusal is Refusal.CAPACITY_EXCEEDED and plan is not None:
            message = f"{outcome.refusal_message}; nothing written to the device"
            problem = (CAPACITY_EXCEEDED, message)
            self.metrics.capacity_refusals.labels(name).inc()
            self._device_event(WARNING, CAPACITY_EXCEEDED, f"device {name}: plan refused: {message} "
                               f"({plan.summary()})")
        elif outcome.refused and plan is not None:
            self.metrics.unsafe_plans.labels(name).inc()
            if plan.withheld and (outcome.applied or plan.empty):
                message = outcome.refusal_message or f"unsafe plan: {plan.unsafe}"
                problem = ("PlanRefused", message)
                unprogrammed = False
                held = self._synced(name, job, outcome, report, is_current)
                self._device_event(WARNING, "UnsafePlanRefused", f"device {name}: {message} "
                                   f"({plan.summary()})")
            else:
                problem = ("PlanRefused", f"unsafe plan refused: {plan.unsafe}")
                self._device_event(WARNING, "UnsafePlanRefused",
                                   f"device {name}: plan refused, nothing written: {plan.unsafe} "
                                   f"({plan.summary()})")
        elif plan is not None and not plan.empty and not apply:
            problem = ("PlanMode", f"plan mode: {len(plan.changes)} change(s) not applied")
        else:
            held = self._synced(name, job, outcome, report, is_current)
            if health.problem is not None and health.problem[0] in PROBLEM_REASONS:
                self._device_event(NORMAL, "DeviceSynced", f"device {name} is in sync again")
        self.book.settle(name, held, problem if unprogrammed else None, outcome.capacity)
        self.book.set_health(name, health.after(problem))
        failing = problem[0] if problem is not None and problem[0] in PROBLEM_REASONS else None
        self.metrics.device_problem(name, failing)
        return ok

    def _synced(self, name: str, job: Job, outcome: DeviceOutcome, report: DeviceReport,
                is_current: bool) -> Mapping[OriginKey, int]:
        """Bookkeeping of a sync after which the device holds the job's state: metrics; returns
        the fingerprints it now holds."""
        plan = outcome.plan
        self.metrics.last_sync.labels(name).set(time.time())
        self.metrics.owned_objects.labels(name).set(len(outcome.desired))
        now = outcome.finished_at or time.monotonic()  # when the device held it, before recording
        for seen_at in job.seen:  # one observation per change batch the sync carried
            self.metrics.convergence.labels(name).observe(now - seen_at)
        if outcome.applied and plan is not None:
            for change in plan.changes:
                self.metrics.plan_changes.labels(name, change.kind, change.op.value).inc()
        return report.wanted if is_current and report.wanted else fingerprints(job.state)

    def _device_event(self, type: str, reason: str, message: str) -> None:
        if self.leading():
            self.events.tell(self.lease, type, reason, message)
