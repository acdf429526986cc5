"""One device's reconcile step: render the desired state, read the device, plan, and maybe apply.

Contract: never raises for device faults; every outcome (planned, applied, with deletions
withheld as unsafe, refused for capacity, failed) is returned as a `DeviceOutcome` with the plan,
the error text naming the device and its `ErrorClass`. A plan that would leave a device table
above its configured capacity is refused as a whole before anything is written, in plan-only runs
too, and `force` does not override it.
Safety (docs/operations.md, "Safety"): unless forced, a plan over the safety thresholds, counting
only the deletions the cluster's reported changes do not explain, has those deletions withheld
(`connector.planner.safety`); everything else is applied, and each withheld object is emptied
instead, so that no address stays in a group it left. Deletions are confirmed by the `KnownState`
(objects of the render the device took, while every change since was reported by the API);
without one (`plan`, `apply`) none is.
With a `KnownState`, a sync that may skip the read plans against what the device is known to hold
(see `connector.reconciler.known`) and leaves it known only when the device ends as planned
(withheld deletions included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.adapter import (
    Adapter,
    ApplyResult,
    DeviceAuthError,
    DeviceError,
    RuleNumbers,
    TransientDeviceError,
)
from connector.model import DeviceState
from connector.planner import DeviceObject, Op, Plan, SafetyThresholds
from connector.planner.capacity import CapacityReport, describe
from connector.planner.safety import left_objects
from connector.reconciler.known import Holdings, KnownState, held_after

log = logging.getLogger(__name__)


class ErrorClass(StrEnum):
    """What kind of failure ended a sync (the values label metrics and are stored)."""

    AUTH = "auth"  # credentials refused or missing
    TRANSIENT = "transient"  # worth retrying: timeouts, connect errors, 5xx, 429
    PERMANENT = "permanent"  # retrying the same plan cannot help
    CONFLICT = "conflict"  # desired names held by objects we do not own; nothing written

    @classmethod
    def of(cls, error: DeviceError) -> ErrorClass:
        """The class of an adapter error, from its exception type."""
        if isinstance(error, DeviceAuthError):
            return cls.AUTH
        if isinstance(error, TransientDeviceError):
            return cls.TRANSIENT
        return cls.PERMANENT


class Refusal(StrEnum):
    """Why a plan was refused: the safety thresholds, which `force` overrides (its unsafe
    deletions withheld, the rest applied; the whole plan for a family that cannot empty objects),
    or the device's capacity, which it does not (nothing written)."""

    UNSAFE = "UnsafePlan"
    CAPACITY_EXCEEDED = "CapacityExceeded"


@dataclass
class DeviceOutcome:
    """What happened on one device during one pass."""

    device: str
    plan: Plan | None = None
    result: ApplyResult | None = None
    error: str | None = None
    error_class: ErrorClass | None = None
    refused: bool = False
    refusal: Refusal | None = None
    capacity: CapacityReport | None = None  # table usage after the plan (None: not planned)
    applied: bool = False
    read: bool = True
    read_seconds: float = 0.0
    apply_seconds: float = 0.0
    finished_at: float = 0.0  # monotonic time the sync ended: the device holds what it planned
    desired: list[DeviceObject] = field(default_factory=list)
    withheld: list[DeviceObject] = field(default_factory=list)  # left on the device, emptied
    numbering: RuleNumbers | None = None  # the device's own rule numbers as read (`numbers`)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.refused

    @property
    def refusal_message(self) -> str | None:
        """Why the plan was refused, for people (None when it was not)."""
        if not self.refused:
            return None
        if self.refusal is Refusal.CAPACITY_EXCEEDED and self.capacity is not None:
            return f"CapacityExceeded: {describe(self.capacity.exceeded)}"
        unsafe = self.plan.unsafe if self.plan is not None else None
        if self.plan is not None and self.plan.withheld:
            rest = "the rest applied" if self.applied else "nothing else to apply"
            if self.error is not None:
                rest = "the rest failed"
            return (f"unsafe plan: {unsafe}; {len(self.plan.withheld)} deletion(s) withheld until "
                    f"forced (their objects emptied), {rest}")
        return f"unsafe plan refused: {unsafe}"

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "plan": self.plan.to_json() if self.plan is not None else None,
            "applied": self.applied,
            "read": self.read,
            "refused": self.refused,
            "refusal": self.refusal.value if self.refusal is not None else None,
            "refusalMessage": self.refusal_message,
            "withheld": len(self.plan.withheld) if self.plan is not None else 0,
            "capacity": self.capacity.to_json() if self.capacity is not None else None,
            "error": self.error,
            "errorClass": self.error_class,
            "writes": self.result.writes if self.result is not None else 0,
            "readSeconds": round(self.read_seconds, 4),
            "applySeconds": round(self.apply_seconds, 4),
        }


def sync_device(adapter: Adapter, state: DeviceState, safety: SafetyThresholds, *, apply: bool,
                force: bool = False, may_write: Callable[[], bool] | None = None,
                known: KnownState | None = None, read: bool = True, vanished: int = 0,
                numbers: bool = False) -> DeviceOutcome:
    """Plan `state` against what `adapter`'s device holds; apply the plan when `apply`, within the
    device's capacity, and free of name conflicts with foreign objects (a conflict is an error:
    nothing is written). A plan over the safety thresholds has its unconfirmed deletions withheld
    unless `force` (module docstring): the outcome is then refused (`Refusal.UNSAFE`) with the
    rest applied, `outcome.plan.withheld` naming what was held back and `outcome.withheld` the
    objects left on the device. A non-empty plan that leaves any table above its
    limit is refused (`Refusal.CAPACITY_EXCEEDED`, with or without `apply` and whatever `force`);
    `outcome.capacity` always holds the table usage after the plan. `may_write`, asked right
    before applying, can still withhold the write (a controller that lost its leadership while
    reading): the outcome is then a plan only, with `extra["withheld"]` set.

    With `known` and `read=False`, the device is not read when `known` holds what it holds: the
    adapter `observe`s those objects and the plan is made against them (`outcome.read` is False).
    With `known`, the objects the device holds afterwards are remembered there when the sync
    leaves it exactly as planned (an empty plan, or a fully successful apply); any other outcome
    leaves the device unknown, so the next sync reads it.

    `vanished`: how many of the cluster changes behind this sync were deletions no watch event
    reported (a relist found the objects gone); with any, no deletion counts as confirmed until a
    sync leaves the device as planned.

    `numbers` (plan only): `outcome.numbering` holds the device's own rule numbers as read
    (`Adapter.rule_numbers`), for reports; syncs that do not ask do not pay for them."""
    outcome = DeviceOutcome(device=adapter.name)
    if known is not None and vanished:
        known.unconfirm()
    try:
        return _sync(adapter, state, safety, outcome, apply=apply, force=force, may_write=may_write,
                     known=known, read=read, numbers=numbers)
    finally:
        outcome.finished_at = time.monotonic()


def _sync(adapter: Adapter, state: DeviceState, safety: SafetyThresholds, outcome: DeviceOutcome, *,
          apply: bool, force: bool, may_write: Callable[[], bool] | None, known: KnownState | None,
          read: bool, numbers: bool) -> DeviceOutcome:
    holdings, token = known.take_holdings() if known is not None else (None, 0)
    if read:
        holdings = None
    started = time.monotonic()
    try:
        if holdings is not None:
            actual: list[DeviceObject] = list(holdings.objects)
            adapter.observe(actual)
            outcome.read = False
        else:
            actual = adapter.read()  # first: adapters may render relative to what the device holds
        outcome.read_seconds = time.monotonic() - started
        desired = adapter.render(state)
        outcome.desired = desired
        if numbers and not apply:  # what the device holds stays as read: its own rule numbers
            outcome.numbering = adapter.rule_numbers(state, actual)
        memo = known.memo if known is not None else None
        plan: Plan | None = None
        kept: set[tuple[str, str]] = set()
        if holdings is not None and holdings.by_difference and memo is not None:
            # what changed since the last render, by object identity: O(changed objects)
            assert holdings.desired is not None
            plan = adapter.plan_known(holdings.desired, desired, foreign=holdings.foreign,
                                      referenced=holdings.referenced, existing=holdings.owned,
                                      safety=safety, force=force)
        by_difference = plan is not None
        if plan is None:
            plan = adapter.plan(desired, actual, safety=safety, force=force)
            kept = set(plan.kept)
        if plan.unsafe and not force:
            plan = _withhold(adapter, plan, safety, known)
        left = left_objects(plan, adapter.owner_mark)
        if by_difference:  # the objects we did not render are those of the last sync
            assert holdings is not None and holdings.desired is not None and memo is not None
            held = memo.strip(desired) + list(holdings.objects[len(holdings.desired):]) + left
        else:
            held = held_after(desired, actual, adapter.owner_mark, kept, memo) + left
        outcome.plan = plan
        outcome.withheld = left
        after = _holdings(adapter, held, desired, actual, holdings, len(kept), left)
        # counted on the desired objects themselves (adapters may cache per rendered object)
        outcome.capacity = adapter.capacity([*desired, *held[len(desired):]])
        if plan.conflicts:
            # Holding back only the objects that need a foreign-held name would leave the rules
            # around them in place and change what the rulebase decides: write nothing instead.
            names = ", ".join(f"{c.kind} {c.name!r} (owner {c.owner or 'none'})" for c in plan.conflicts)
            outcome.error = (f"{adapter.name}: names held by objects we do not own: {names}; "
                             "nothing is written to this device until they are renamed or removed")
            outcome.error_class = ErrorClass.CONFLICT
            log.error("%s", outcome.error)
            return outcome
        if plan.withheld and apply:
            outcome.refused = True
            outcome.refusal = Refusal.UNSAFE
        if plan.empty:
            if known is not None:
                known.remember(after, token)
            return outcome
        if outcome.capacity.exceeded:
            # Whole or nothing: a plan cut down to fit would leave rules out of the rulebase and
            # change what it decides.
            outcome.refused = True
            outcome.refusal = Refusal.CAPACITY_EXCEEDED
            log.warning("%s: plan refused, the device's capacity would be exceeded: %s", adapter.name,
                        describe(outcome.capacity.exceeded))
            return outcome
        if not apply:
            return outcome
        if not plan.applicable:  # the family cannot empty the objects it would keep
            outcome.refused = True
            outcome.refusal = Refusal.UNSAFE
            log.warning("%s: plan refused as unsafe: %s", adapter.name, plan.unsafe)
            return outcome
        if may_write is not None and not may_write():
            outcome.extra["withheld"] = True
            log.info("%s: write withheld (no longer allowed to write)", adapter.name)
            return outcome
        applied_at = time.monotonic()
        outcome.result = adapter.apply(plan, [*desired, *left] if left else desired)
        outcome.apply_seconds = time.monotonic() - applied_at
        outcome.applied = True
        if outcome.result.error is not None:  # logged by the adapter
            outcome.error = str(outcome.result.error)
            outcome.error_class = ErrorClass.of(outcome.result.error)
            if known is not None:
                known.attempted(desired, token)
        elif known is not None:
            known.remember(after, token)
    except DeviceError as exc:
        outcome.error = str(exc)
        outcome.error_class = ErrorClass.of(exc)
        log.error("%s: %s", adapter.name, exc)
    return outcome


def _withhold(adapter: Adapter, plan: Plan, safety: SafetyThresholds, known: KnownState | None) -> Plan:
    """`plan` (over the thresholds as planned) with its unconfirmed deletions withheld, if it is
    still over them once the confirmed ones are left out of the count."""
    deleted = [(c.kind, c.name) for c in plan.changes if c.op is Op.DELETE]
    confirmed = known.confirmed(deleted) if known is not None and deleted else frozenset()
    made = adapter.withhold(plan, confirmed, safety)
    if made.withheld:
        log.warning("%s: unsafe plan: %s; %d deletion(s) withheld (their objects emptied), %d of %d "
                    "deletion(s) confirmed by the API; applying the rest", adapter.name, made.unsafe,
                    len(made.withheld), len(confirmed), len(deleted))
    elif made.unsafe is None:
        log.info("%s: %s; within the safety thresholds once the %d deletion(s) the API confirmed are "
                 "left out (updates are always applied)", adapter.name, plan.unsafe, len(confirmed))
    return made


def _holdings(adapter: Adapter, held: list[DeviceObject], desired: list[DeviceObject],
              actual: list[DeviceObject], before: Holdings | None, kept: int,
              withheld: list[DeviceObject]) -> Holdings:
    """What the device holds once the plan is applied: `held`, rendered from `desired`, plus the
    `withheld` objects left on it; what we know of the foreign objects carries over from `before`
    (a sync never changes them), or is collected from the `actual` objects read."""
    if before is not None:
        foreign, referenced = before.foreign, before.referenced
    else:
        others = [obj for obj in actual if obj.owner != adapter.owner_mark]
        foreign = frozenset(obj.ref for obj in others)
        referenced = frozenset(ref for obj in others for ref in adapter.references(obj))
    return Holdings(tuple(held), tuple(desired), foreign, referenced, len(desired) + kept + len(withheld),
                    tuple(withheld))

