"""The planner: a pure diff of what a device should hold against what it holds.

Contract of `plan`:
- Ownership: an object of `actual` is ours when its `owner` equals `owner_mark`; every other object
  is foreign and is never updated or deleted. A desired object whose (kind, name) is taken by a
  foreign object is a `Conflict`, not a change; with a `references` callback, desired objects that
  (transitively) reference a conflicting object are withheld too (listed in `Plan.blocked`), so
  none of our objects ever points at something we do not own.
- Changes: owned and not desired → DELETE; desired and absent → CREATE; desired with a different
  body → UPDATE (`before`/`after` bodies).
- Order: creates and updates kind by kind in `kind_order` (kinds it does not list come after, by
  name); then one REORDER per kind of `ordered_kinds` whose desired order differs from the order
  the device will hold; then deletes in reverse `kind_order`. So an object is created before
  anything referencing it and deleted only after everything referencing it. Within a kind, ordered
  kinds follow the desired order, other kinds go by name; deletes go by name.
- REORDER: the device order of our objects of a kind is their order in `actual`, with created
  objects appended at the end (adapters must place a created ordered object after our existing
  ones, or emit the order themselves). `before`/`after` are `{"order": [names...]}`; `after`
  lists our desired objects of that kind in evaluation order.
- Safety (`SafetyThresholds`): with at least `safety.min_existing` owned objects on the device,
  deleting more than `max_delete_percent` % of them or updating more than `max_update_percent` %
  makes the plan `unsafe` (the reason says which). The plan is still computed; `apply` refuses it
  unless forced (`force` is recorded in `Plan.forced`).
- Foreign references: with a `references` callback, an owned object that is no longer desired but
  is still referenced by a foreign object is kept (listed in `Plan.kept`): deleting it would
  fail on the device or break someone else's configuration.
- Deterministic: equal inputs give equal plans and checksums.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from connector.model import canonical_json
from connector.planner.types import Change, Conflict, DeviceObject, KeptFor, Op, Plan, SafetyThresholds

Ref = tuple[str, str]
References = Callable[[DeviceObject], Iterable[Ref]]


def plan(device: str, cluster: str, desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], *,
         owner_mark: str, kind_order: Sequence[str], ordered_kinds: Collection[str] = frozenset(),
         safety: SafetyThresholds | None = None, force: bool = False,
         references: References | None = None) -> Plan:
    """Diff `desired` (rendered, all ours) against `actual` (read from the device) into a Plan.

    `references(obj)` optionally returns the (kind, name) refs an object's body points at.
    Raises ValueError when `desired` holds the same (kind, name) twice.
    """
    safety = safety or SafetyThresholds()
    wanted = _index_desired(desired)
    present: dict[Ref, DeviceObject] = {}
    for obj in actual:
        present.setdefault((obj.kind, obj.name), obj)
    owned = {ref: obj for ref, obj in present.items() if obj.owner == owner_mark}
    foreign = {ref: obj for ref, obj in present.items() if obj.owner != owner_mark}

    taken = sorted(ref for ref in wanted if ref in foreign)
    conflicts = tuple(Conflict(ref[0], ref[1], foreign[ref].owner) for ref in taken)
    blocked = _blocked(wanted, set(taken), references)
    effective = {ref: obj for ref, obj in wanted.items() if ref not in foreign and ref not in blocked} \
        if taken else wanted
    kept = _kept_for_foreign(owned, effective, foreign, references)  # kept ref -> the foreign referrer

    rank = kind_rank(kind_order, {ref[0] for ref in effective} | {ref[0] for ref in owned})
    ordered = frozenset(ordered_kinds)
    by_kind: dict[str, list[DeviceObject]] = {}
    for obj in effective.values():
        by_kind.setdefault(obj.kind, []).append(obj)
    undesired: dict[str, list[Ref]] = {}
    for ref in owned:
        if ref not in effective and ref not in kept:
            undesired.setdefault(ref[0], []).append(ref)

    writes: list[Change] = []
    for kind in rank:
        objects = by_kind.get(kind, [])
        for obj in objects if kind in ordered else sorted(objects, key=lambda o: o.name):
            current = owned.get((obj.kind, obj.name))
            if current is None:
                writes.append(Change(Op.CREATE, obj.kind, obj.name, None, dict(obj.body), obj.identities))
            elif not same_body(current.body, obj.body):
                writes.append(Change(Op.UPDATE, obj.kind, obj.name, dict(current.body), dict(obj.body),
                                     obj.identities))

    reorders = [change for kind in rank if kind in ordered
                for change in _reorder(kind, by_kind.get(kind, []), actual, owned, owner_mark)]

    deletes: list[Change] = []
    for kind in reversed(rank):
        for ref in sorted(undesired.get(kind, ())):
            gone = owned[ref]
            deletes.append(Change(Op.DELETE, gone.kind, gone.name, dict(gone.body), None, gone.identities))

    changes = tuple(writes + reorders + deletes)
    updates = sum(1 for change in writes if change.op is Op.UPDATE)
    return Plan(device=device, cluster=cluster, changes=changes, conflicts=conflicts,
                existing=len(owned), unsafe=safety_reason(len(owned), updates, len(deletes), safety),
                forced=force, blocked=tuple(sorted(blocked)), kept=tuple(sorted(kept)),
                kept_for=tuple(KeptFor(*ref, *by, foreign[by].owner) for ref, by in sorted(kept.items())))


def same_body(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two bodies are equal in canonical JSON form (tuples and lists compare equal).

    Compared structurally, without encoding: bodies of different lengths part at once, and
    equal parts are skipped by identity or C-level equality (a group of 10,000 members that
    gained one is not serialized twice)."""
    return _same_value(a, b)


def _same_value(a: Any, b: Any) -> bool:
    if a is b or a == b:
        return True
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if len(a) != len(b):
            return False
        if a.keys() != b.keys():
            return canonical_json(dict(a)) == canonical_json(dict(b))  # keys JSON makes equal (1, "1")
        return all(_same_value(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False
        return all(x is y or x == y or _same_value(x, y) for x, y in zip(a, b, strict=True))
    return False


def _index_desired(desired: Sequence[DeviceObject]) -> dict[Ref, DeviceObject]:
    """Desired objects by ref, in their given order."""
    wanted = {(obj.kind, obj.name): obj for obj in desired}
    if len(wanted) != len(desired):
        seen: set[Ref] = set()
        for obj in desired:
            if (obj.kind, obj.name) in seen:
                raise ValueError(f"desired objects name {obj.kind} {obj.name!r} twice")
            seen.add((obj.kind, obj.name))
    return wanted


def kind_rank(kind_order: Sequence[str], kinds: set[str]) -> list[str]:
    """The order kinds are written in: `kind_order`, then the other `kinds` by name."""
    known = list(dict.fromkeys(kind_order))
    return known + sorted(kinds - set(known))


def _blocked(wanted: Mapping[Ref, DeviceObject], conflicting: set[Ref],
             references: References | None) -> set[Ref]:
    """Desired refs that reference a conflicting ref, directly or through other desired objects."""
    if references is None or not conflicting:
        return set()
    bad = set(conflicting)
    blocked: set[Ref] = set()
    changed = True
    while changed:
        changed = False
        for ref, obj in wanted.items():
            if ref in bad:
                continue
            if any(target in bad for target in references(obj)):
                bad.add(ref)
                blocked.add(ref)
                changed = True
    return blocked


def _kept_for_foreign(owned: Mapping[Ref, DeviceObject], effective: Mapping[Ref, DeviceObject],
                      foreign: Mapping[Ref, DeviceObject], references: References | None) -> dict[Ref, Ref]:
    """Owned undesired refs still referenced by a foreign object (directly or through kept ones),
    each with such a foreign object (the first by (kind, name) whose references reach it)."""
    if references is None:
        return {}
    kept: dict[Ref, Ref] = {}
    frontier = [(target, by) for by in sorted(foreign, reverse=True) for target in references(foreign[by])]
    while frontier:
        ref, by = frontier.pop()
        if ref in kept or ref not in owned or ref in effective:
            continue
        kept[ref] = by
        frontier.extend((target, by) for target in references(owned[ref]))
    return kept


def _reorder(kind: str, desired_of_kind: Sequence[DeviceObject], actual: Sequence[DeviceObject],
             owned: Mapping[Ref, DeviceObject], owner_mark: str) -> list[Change]:
    target = [obj.name for obj in desired_of_kind]
    if not target:
        return []
    wanted = set(target)
    seen: set[str] = set()
    current: list[str] = []
    for obj in actual:
        if obj.kind == kind and obj.owner == owner_mark and obj.name not in seen:
            seen.add(obj.name)
            current.append(obj.name)
    after_creates = current + [name for name in target if (kind, name) not in owned]
    if [name for name in after_creates if name in wanted] == target:
        return []
    return [Change(Op.REORDER, kind, kind, {"order": current}, {"order": target})]


def safety_reason(existing: int, updates: int, deletes: int, safety: SafetyThresholds) -> str | None:
    """Why `updates` and `deletes` among `existing` owned objects exceed the safety thresholds."""
    if existing == 0 or existing < safety.min_existing:
        return None
    reasons = []
    delete_percent = 100.0 * deletes / existing
    if delete_percent > safety.max_delete_percent:
        reasons.append(f"would delete {deletes} of {existing} owned objects "
                       f"({delete_percent:.0f}% > maxDeletePercent {safety.max_delete_percent:g}%)")
    update_percent = 100.0 * updates / existing
    if update_percent > safety.max_update_percent:
        reasons.append(f"would update {updates} of {existing} owned objects "
                       f"({update_percent:.0f}% > maxUpdatePercent {safety.max_update_percent:g}%)")
    return "; ".join(reasons) or None
