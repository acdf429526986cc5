"""The safety check: which deletions of a plan over the thresholds are withheld, and what is
applied instead.

The thresholds (`SafetyThresholds`) guard against an empty or partial view of the cluster (caches not
synced, a kind no longer listed, objects that vanished without a DELETE event), which would
otherwise delete most of a device. Deletions explained by changes the API server reported are not
that danger: the caller names them (`confirmed`) and they do not count.

Contract of `withhold(plan, confirmed, safety, ...)`:
- Counts: the deletions not in `confirmed` against `max_delete_percent`, every update against
  `max_update_percent`, both of `plan.existing` owned objects, from `min_existing` on.
- Within the thresholds, or over them with no unconfirmed deletion to withhold: the plan as it
  is, with `unsafe` None (applied in full; updates are always safe to apply).
- Otherwise the unconfirmed deletions are withheld (`Plan.withheld`, in plan order; with
  `references` None every deletion is, since what a kept object points at is unknown), and with
  them every deleted object a withheld object still references once emptied (transitively), so
  nothing is deleted under an object that stays. Every other change stays, in its order.
- No withheld object keeps an address: each is emptied instead of deleted, an UPDATE to
  `emptied(kind, body)` (a group holding no member, a rule matching no source) placed among the
  writes of its kind, unless its body is already that. So an address that leaves a group leaves
  it in this sync whatever is withheld.
- `emptied` None: the device family cannot empty its objects, so nothing can be split off: the
  plan keeps `unsafe` without `withheld`, and `Adapter.apply` refuses it as a whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from connector.planner.planner import References, kind_rank, safety_reason, same_body
from connector.planner.types import Change, DeviceObject, Op, Plan, SafetyThresholds

Ref = tuple[str, str]
Emptied = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


def withhold(plan: Plan, confirmed: Collection[Ref], safety: SafetyThresholds, *, kind_order: Sequence[str],
             emptied: Emptied | None, references: References | None) -> Plan:
    """See the module docstring."""
    deletes = [change for change in plan.changes if change.op is Op.DELETE]
    unconfirmed = [change for change in deletes if (change.kind, change.name) not in confirmed]
    updates = sum(1 for change in plan.changes if change.op is Op.UPDATE)
    reason = safety_reason(plan.existing, updates, len(unconfirmed), safety)
    if reason is None or not unconfirmed:
        return plan if plan.unsafe is None else dataclasses.replace(plan, unsafe=None)
    if emptied is None:
        return dataclasses.replace(plan, unsafe=reason)
    deleting = {(change.kind, change.name): change for change in deletes}
    held: dict[Ref, Mapping[str, Any]] = {}
    pending = [(c.kind, c.name) for c in (unconfirmed if references is not None else deletes)]
    while pending:
        ref = pending.pop()
        if ref in held:
            continue
        before = deleting[ref].before or {}
        body = emptied(ref[0], before)
        held[ref] = body
        if references is not None:
            pending.extend(target for target in references(DeviceObject(ref[0], ref[1], body))
                           if target in deleting and target not in held)
    fillers = [Change(Op.UPDATE, kind, name, dict(deleting[(kind, name)].before or {}), dict(body),
                      deleting[(kind, name)].identities)
               for (kind, name), body in sorted(held.items())
               if not same_body(deleting[(kind, name)].before or {}, body)]
    writes = [c for c in plan.changes if c.op in (Op.CREATE, Op.UPDATE)] + fillers
    rank = {kind: index for index, kind in enumerate(kind_rank(kind_order, {c.kind for c in writes}))}
    writes.sort(key=lambda change: rank[change.kind])  # stable: fillers go after their kind's writes
    rest = [c for c in plan.changes if c.op not in (Op.CREATE, Op.UPDATE) and (c.kind, c.name) not in held]
    return dataclasses.replace(plan, changes=tuple(writes + rest), unsafe=reason,
                               withheld=tuple(c for c in deletes if (c.kind, c.name) in held))


def left_objects(plan: Plan, owner: str | None) -> list[DeviceObject]:
    """The objects a device holds of `plan.withheld` once `plan` is applied: each as the plan left it
    (emptied, or as it was), carrying `owner`, without identities (as a read reports them)."""
    if not plan.withheld:
        return []
    written = {(c.kind, c.name): c.after for c in plan.changes if c.op is Op.UPDATE}
    out = []
    for change in plan.withheld:
        body = written.get((change.kind, change.name)) or change.before or {}
        out.append(DeviceObject(change.kind, change.name, dict(body), owner))
    return out
