"""Recording a reconcile in the store: shared by the one-shot pass (`plan`, `apply`) and the
controller (`run`).

Callers own the session and transaction (see `connector.store`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connector.compiler import CompileResult
from connector.config import DeviceConfig
from connector.model import DeviceState
from connector.reconciler.device import DeviceOutcome
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
                   force: bool = False, triggers: Sequence[str] = ()) -> None:
    """Store what one device's sync found and did: its compiled rules, the read, the drift, the
    applied or refused plan in the audit log (with the Kubernetes objects in `triggers` that led to
    it), the objects it now owns and its sync status."""
    name = outcome.device
    store.rules.record_state(state)
    plan = outcome.plan
    if plan is None:
        store.devices.record_sync(name, in_sync=False, error=outcome.error)
        return
    store.devices.record_read(name)
    if not apply or outcome.refused or not outcome.ok or outcome.extra.get("withheld"):
        # Every difference stays open until a sync resolves it.
        store.drift.observe(name, observations_from_plan(plan))
    else:
        # Applied now: record only what the cluster does not explain (changed behind our back).
        pushed = store.objects.checksums(name)
        store.drift.observe(name, observations_from_plan(plan, pushed))
    if not apply or outcome.extra.get("withheld"):
        store.devices.record_sync(name, in_sync=plan.empty, error=None)
        return
    duration = outcome.read_seconds + outcome.apply_seconds
    if outcome.refused:
        store.audit.append(plan, PlanResult.REFUSED, duration, error=plan.unsafe, forced=force,
                           triggers=triggers)
        store.devices.record_sync(name, in_sync=False, error=f"unsafe plan refused: {plan.unsafe}")
        return
    if outcome.applied:
        result = PlanResult.APPLIED if outcome.error is None else PlanResult.FAILED
        writes = outcome.result.writes if outcome.result is not None else 0
        if outcome.error is not None and writes:
            result = PlanResult.PARTIAL
        store.audit.append(plan, result, duration, error=outcome.error, forced=force, triggers=triggers)
        if writes:
            store.devices.record_write(name)
    if outcome.error is None:
        store.objects.replace(name, outcome.desired)
        store.drift.observe(name, [])
        store.devices.record_sync(name, in_sync=True)
    else:
        store.devices.record_sync(name, in_sync=False, error=outcome.error)
