"""Planning an event-driven sync in O(changed objects).

When a device is known to hold exactly the objects of the previous desired render (a
`connector.reconciler.known.KnownState` after a successful sync), the plan towards a new render is
the difference between the two renders. Renders reuse the very same `DeviceObject` for every part
of the state that did not change, so that difference is found by object identity with set
operations that run in C, and only the objects that differ are compared and ordered.

Contract of `plan_delta`: it returns the plan `connector.planner.plan` would return for the same
device (the objects of `previous` are ours; `foreign` names the (kind, name) of every object we do
not own and `referenced` those of ours that a foreign object references), or None when the change
is one it does not plan: an object of an ordered kind (policies, rules) appears, disappears or
changes, a created name is held by a foreign object, or a deleted object is referenced by one.
The caller then plans against the whole state.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from connector.planner.planner import kind_rank, safety_reason, same_body
from connector.planner.types import Change, DeviceObject, Op, Plan, SafetyThresholds

Ref = tuple[str, str]


def plan_delta(device: str, cluster: str, previous: Sequence[DeviceObject], desired: Sequence[DeviceObject],
               *, kind_order: Sequence[str], ordered_kinds: Collection[str], foreign: Collection[Ref],
               referenced: Collection[Ref], safety: SafetyThresholds | None = None,
               force: bool = False, existing: int | None = None) -> Plan | None:
    """See the module docstring. `existing` counts the objects we own on the device (default: those
    of `previous`)."""
    safety = safety or SafetyThresholds()
    owned = len(previous) if existing is None else existing
    previous_ids = set(map(id, previous))
    desired_ids = set(map(id, desired))
    gone_ids = previous_ids - desired_ids
    new_ids = desired_ids - previous_ids
    if not gone_ids and not new_ids:
        return Plan(device=device, cluster=cluster, existing=owned, forced=force)
    previous_by_id = dict(zip(map(id, previous), previous, strict=True))
    desired_by_id = dict(zip(map(id, desired), desired, strict=True))
    gone = {obj.ref: obj for obj in (previous_by_id[i] for i in gone_ids)}
    new = [desired_by_id[i] for i in new_ids]
    if len({obj.ref for obj in new}) != len(new):
        return None  # the same name twice: the full planner says which
    ordered = frozenset(ordered_kinds)
    writes: dict[str, list[Change]] = {}
    for obj in new:
        if obj.kind in ordered:
            return None
        before = gone.pop(obj.ref, None)
        if before is None:
            if obj.ref in foreign:
                return None
            writes.setdefault(obj.kind, []).append(
                Change(Op.CREATE, obj.kind, obj.name, None, dict(obj.body), obj.identities))
        elif not same_body(before.body, obj.body):
            writes.setdefault(obj.kind, []).append(
                Change(Op.UPDATE, obj.kind, obj.name, dict(before.body), dict(obj.body), obj.identities))
    deletes: dict[str, list[Change]] = {}
    for ref, obj in gone.items():
        if obj.kind in ordered or ref in referenced:
            return None
        deletes.setdefault(obj.kind, []).append(
            Change(Op.DELETE, obj.kind, obj.name, dict(obj.body), None))  # as read: no identities
    rank = kind_rank(kind_order, set(writes) | set(deletes))
    changes: list[Change] = []
    for kind in rank:
        changes.extend(sorted(writes.get(kind, ()), key=lambda c: c.name))
    for kind in reversed(rank):
        changes.extend(sorted(deletes.get(kind, ()), key=lambda c: c.name))
    updates = sum(1 for change in changes if change.op is Op.UPDATE)
    removed = sum(1 for change in changes if change.op is Op.DELETE)
    return Plan(device=device, cluster=cluster, changes=tuple(changes), existing=owned,
                unsafe=safety_reason(owned, updates, removed, safety), forced=force)
