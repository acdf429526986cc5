"""Recording a reconcile in the store: shared by the one-shot pass (`plan`, `apply`) and the
controller (`run`).

Callers own the session and transaction (see `connector.store`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime

from connector.compiler import CompileResult
from connector.config import DeviceConfig
from connector.model import DeviceState
from connector.planner import Op, Plan
from connector.reconciler.device import DeviceOutcome, Refusal
from connector.store import NamespaceRecord, PlanResult, Store, observations_from_plan


def record_snapshot(store: Store, compiled: CompileResult, devices: Iterable[DeviceConfig]) -> None:
    """Store the namespaces and source groups of `compiled` and register the configured devices."""
    store.snapshot.replace_namespaces(
        NamespaceRecord(name=ns.name, managed=ns.managed, source_mode=ns.source_mode,
                        default_action=ns.default_action, devices=ns.devices or None)
        for ns in compiled.namespaces.values())
    groups = {key: group for state in compiled.devices.values() for key, group in state.groups.items()}
    store.snapshot.replace_groups(groups.values())
    for device in devices:
        store.devices.register(device.name, device.type, device.url)


def record_outcome(store: Store, state: DeviceState, outcome: DeviceOutcome, *, apply: bool,
                   force: bool = False, triggers: Sequence[str] = (), at: datetime | None = None,
                   rules_recorded: bool = False, repair: bool = False) -> bool:
    """Store what one device's sync found and did: its compiled rules, the read, the drift, the
    applied or refused plan in the audit log (with the Kubernetes objects in `triggers` that led to
    it), the objects it now owns and its sync status, as of `at` (default: now).

    `rules_recorded`: the caller knows the store already holds `state.rules` for the device (the
    same list it recorded last), so they are not compared again.

    Ownership records after a successful apply: a sync that read the device (`outcome.read`), or
    any sync with `repair`, replaces the device's records with every desired object (O(objects
    held): this repairs records that missed a change); a sync against the known state records
    only what its plan created, updated or deleted (O(changes)), and an empty plan writes no
    record. The drift check reads the last written checksums of the plan's objects only.

    Withheld deletions (`plan.withheld`): the rest of the plan is recorded as applied (ownership
    records keep the withheld objects as the plan left them), the withheld deletions as a refused
    entry of the audit log and as open drift, and the device as not in sync.

    Returns True when the ownership records were replaced in full."""
    name = outcome.device
    if not rules_recorded:
        store.rules.record_state(state, at)
    plan = outcome.plan
    if plan is None:
        store.devices.record_sync(name, in_sync=False, error=outcome.error, at=at)
        return False
    leadership_lost = bool(outcome.extra.get("withheld"))  # the write was withheld: a plan only
    # deletions withheld as unsafe, the rest of the plan carried out (or nothing else to do)
    split = bool(plan.withheld) and outcome.refusal is Refusal.UNSAFE
    synced = apply and not leadership_lost and outcome.error is None and (outcome.ok or split)
    pending = observations_from_plan(dataclasses.replace(plan, changes=plan.withheld, withheld=()))
    replaced = False
    if not synced:
        # Every difference stays open until a sync resolves it.
        observed = observations_from_plan(plan) + pending
    else:
        # Applied now: record only what the cluster does not explain (changed behind our back).
        observed = observations_from_plan(plan, store.objects.checksums(name, plan_refs(plan))) + pending
        # Ownership first: a full replace computes its checksums before this transaction's first
        # write (from which SQLite holds the database's write lock until commit).
        replaced = outcome.read or repair
        if replaced:
            store.objects.replace(name, [*outcome.desired, *outcome.withheld], at)
        elif not plan.empty:
            # rendered objects all carry the adapter's owner mark
            owner = outcome.desired[0].owner if outcome.desired else None
            store.objects.record_plan(name, plan, owner, at)
    store.drift.observe(name, observed, at)
    if not apply or leadership_lost:
        store.devices.record_sync(name, in_sync=plan.empty and not plan.withheld, error=None, at=at,
                                  read=True)
        return False
    duration = outcome.read_seconds + outcome.apply_seconds
    if outcome.refused and not split:
        message = outcome.refusal_message or f"unsafe plan refused: {plan.unsafe}"
        reason = plan.unsafe if outcome.refusal in (None, Refusal.UNSAFE) else message
        store.audit.append(plan, PlanResult.REFUSED, duration, error=reason, forced=force,
                           triggers=triggers, at=at)
        store.devices.record_sync(name, in_sync=False, error=message, at=at, read=True)
        return False
    writes = outcome.result.writes if outcome.result is not None else 0
    if outcome.applied:
        result = PlanResult.APPLIED if outcome.error is None else PlanResult.FAILED
        if outcome.error is not None and writes:
            result = PlanResult.PARTIAL
        store.audit.append(plan, result, duration, error=outcome.error, forced=force, triggers=triggers,
                           at=at)
    if split:  # what was held back, as its own entry of the audit log
        store.audit.append(dataclasses.replace(plan, changes=plan.withheld, withheld=()), PlanResult.REFUSED,
                           0.0, error=plan.unsafe, forced=force, triggers=triggers, at=at)
    wrote = outcome.applied and writes > 0
    if outcome.error is not None:
        store.devices.record_sync(name, in_sync=False, error=outcome.error, at=at, read=True, wrote=wrote)
        return False
    if len(observed) > len(pending):
        store.drift.observe(name, pending, at)  # repaired by this apply; withheld deletions stay open
    if split:
        store.devices.record_sync(name, in_sync=False, error=outcome.refusal_message, at=at, read=True,
                                  wrote=wrote)
        return replaced
    store.devices.record_sync(name, in_sync=True, at=at, read=True, wrote=wrote)
    return replaced


def plan_refs(plan: Plan) -> list[tuple[str, str]]:
    """(kind, name) of the objects `plan` creates, updates or deletes."""
    return [(change.kind, change.name) for change in plan.changes if change.op is not Op.REORDER]
