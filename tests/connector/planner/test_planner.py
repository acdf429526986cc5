"""The planner: ownership gate, dependency order, reorder detection, safety, determinism."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.planner import Change, DeviceObject, Op, Plan, SafetyThresholds, plan

MARK = "fusion-connector:c1"
KINDS = ("address", "group", "service", "rule")
SAFE = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=0)


def obj(kind: str, name: str, owner: str | None = MARK, **body: object) -> DeviceObject:
    return DeviceObject(kind, name, body, owner)


def references(o: DeviceObject) -> Iterable[tuple[str, str]]:
    """Bodies of the test vocabulary: groups list `members` (addresses), rules name a `group`,
    an optional `service` and an optional `address`."""
    if o.kind == "group":
        return [("address", m) for m in o.body.get("members", ())]
    if o.kind == "rule":
        refs = [("group", str(o.body["group"]))]
        if o.body.get("service"):
            refs.append(("service", str(o.body["service"])))
        if o.body.get("address"):
            refs.append(("address", str(o.body["address"])))
        return refs
    return []


def make_plan(desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], *,
              safety: SafetyThresholds = SAFE, refs: bool = True, force: bool = False) -> Plan:
    return plan("dev", "c1", desired, actual, owner_mark=MARK, kind_order=KINDS,
                ordered_kinds=frozenset({"rule"}), safety=safety, force=force,
                references=references if refs else None)


def ops(p: Plan) -> list[tuple[str, str, str]]:
    return [(c.op.value, c.kind, c.name) for c in p.changes]


def test_empty_device_creates_in_dependency_order() -> None:
    desired = [obj("rule", "r1", group="g1", service="s1"), obj("group", "g1", members=["a1"]),
               obj("service", "s1", ports=[443]), obj("address", "a1", net="10.0.0.1/32")]
    p = make_plan(desired, [])
    assert ops(p) == [("create", "address", "a1"), ("create", "group", "g1"),
                      ("create", "service", "s1"), ("create", "rule", "r1")]
    assert p.changes[0].after == {"net": "10.0.0.1/32"} and p.changes[0].before is None
    assert p.existing == 0 and p.unsafe is None and not p.conflicts


def test_nothing_to_do_when_device_matches() -> None:
    desired = [obj("address", "a1", net="10.0.0.1/32"), obj("group", "g1", members=["a1"])]
    actual = [obj("group", "g1", members=("a1",)), obj("address", "a1", net="10.0.0.1/32")]
    p = make_plan(desired, actual)
    assert p.empty and p.existing == 2
    assert p.summary() == "dev: 0 to create, 0 to update, 0 to delete, 0 to reorder"


def test_update_carries_before_and_after() -> None:
    p = make_plan([obj("group", "g1", members=["a1", "a2"])], [obj("group", "g1", members=["a1"])])
    assert p.changes == (Change(Op.UPDATE, "group", "g1", {"members": ["a1"]}, {"members": ["a1", "a2"]}),)


def test_deletes_after_writes_in_reverse_dependency_order() -> None:
    actual = [obj("address", "a1", net="x"), obj("address", "a2", net="y"),
              obj("group", "g1", members=["a1"]), obj("group", "g2", members=["a2"]),
              obj("rule", "r1", group="g1"), obj("rule", "r2", group="g2")]
    desired = [obj("address", "a1", net="x"), obj("address", "a3", net="z"),
               obj("group", "g1", members=["a1", "a3"]), obj("rule", "r1", group="g1")]
    p = make_plan(desired, actual)
    assert ops(p) == [("create", "address", "a3"), ("update", "group", "g1"),
                      ("delete", "rule", "r2"), ("delete", "group", "g2"), ("delete", "address", "a2")]
    assert p.changes[2].before == {"group": "g2"} and p.changes[2].after is None


def test_foreign_objects_are_never_touched_and_name_clash_is_a_conflict() -> None:
    actual = [obj("address", "theirs", owner=None, net="1.1.1.1/32"),
              obj("address", "clash", owner="someone-else", net="2.2.2.2/32"),
              obj("address", "other-cluster", owner="fusion-connector:c2", net="3.3.3.3/32")]
    desired = [obj("address", "clash", net="9.9.9.9/32")]
    p = make_plan(desired, actual)
    assert p.empty
    assert [c.to_json() for c in p.conflicts] == [
        {"kind": "address", "name": "clash", "owner": "someone-else"}]
    assert p.existing == 0
    assert "1 name conflicts with foreign objects" in p.summary()


def test_objects_referencing_a_conflict_are_withheld_and_stale_ones_removed() -> None:
    actual = [obj("address", "a1", owner="admin", net="1.1.1.1/32"), obj("rule", "r1", group="g1"),
              obj("group", "g1", members=["a1"])]
    desired = [obj("address", "a1", net="10.0.0.1/32"), obj("group", "g1", members=["a1"]),
               obj("rule", "r1", group="g1"), obj("group", "g2", members=[])]
    p = make_plan(desired, actual)
    assert ops(p) == [("create", "group", "g2"), ("delete", "rule", "r1"), ("delete", "group", "g1")]
    assert p.blocked == (("group", "g1"), ("rule", "r1"))


def test_owned_object_referenced_by_foreign_one_is_kept() -> None:
    actual = [obj("address", "a1", net="x"), obj("group", "admin-group", owner=None, members=["a1"])]
    p = make_plan([], actual)
    assert p.empty and p.kept == (("address", "a1"),)
    assert ops(make_plan([], actual, refs=False)) == [("delete", "address", "a1")]


def test_reorder_when_relative_order_differs() -> None:
    actual = [obj("rule", "r2", group="g"), obj("rule", "foreign", owner=None, group="g"),
              obj("rule", "r1", group="g")]
    desired = [obj("rule", "r1", group="g"), obj("rule", "r2", group="g")]
    p = make_plan(desired, actual, refs=False)
    assert p.changes == (
        Change(Op.REORDER, "rule", "rule", {"order": ["r2", "r1"]}, {"order": ["r1", "r2"]}),)


def test_no_reorder_when_creates_append_in_order() -> None:
    actual = [obj("rule", "r1", group="g"), obj("rule", "old", group="g")]
    desired = [obj("rule", "r1", group="g"), obj("rule", "r2", group="g"), obj("rule", "r3", group="g")]
    p = make_plan(desired, actual, refs=False)
    assert ops(p) == [("create", "rule", "r2"), ("create", "rule", "r3"), ("delete", "rule", "old")]


def test_reorder_when_a_create_lands_before_existing_rules() -> None:
    actual = [obj("rule", "r2", group="g")]
    desired = [obj("rule", "r1", group="g"), obj("rule", "r2", group="g")]
    p = make_plan(desired, actual, refs=False)
    assert ops(p) == [("create", "rule", "r1"), ("reorder", "rule", "rule")]
    assert p.changes[1].after == {"order": ["r1", "r2"]}


def test_reorder_comes_after_every_create_and_before_deletes() -> None:
    actual = [obj("rule", "r2", group="g"), obj("rule", "r1", group="g"), obj("address", "gone", net="x")]
    desired = [obj("rule", "r1", group="g"), obj("rule", "r2", group="g"), obj("address", "new", net="y")]
    p = make_plan(desired, actual, refs=False)
    assert [c.op for c in p.changes] == [Op.CREATE, Op.REORDER, Op.DELETE]


def test_unknown_kinds_come_after_known_ones() -> None:
    p = plan("dev", "c1", [obj("zeta", "z"), obj("alpha", "a"), obj("rule", "r", group="g")], [],
             owner_mark=MARK, kind_order=KINDS, safety=SAFE)
    assert ops(p) == [("create", "rule", "r"), ("create", "alpha", "a"), ("create", "zeta", "z")]


def test_duplicate_desired_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="address 'a' twice"):
        make_plan([obj("address", "a"), obj("address", "a")], [])


def _many(n: int) -> list[DeviceObject]:
    return [obj("address", f"a{i:02d}", net=str(i)) for i in range(n)]


def test_mass_delete_is_unsafe_but_still_planned() -> None:
    safety = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=10)
    actual = _many(10)
    p = make_plan(actual[:6], actual, safety=safety)
    assert p.unsafe == "would delete 4 of 10 owned objects (40% > maxDeletePercent 30%)"
    assert p.counts()["delete"] == 4 and "UNSAFE" in p.summary()
    assert make_plan(actual[:7], actual, safety=safety).unsafe is None  # exactly 30% is allowed
    forced = make_plan(actual[:6], actual, safety=safety, force=True)
    assert forced.unsafe == p.unsafe and forced.forced and not p.forced


def test_mass_update_is_unsafe() -> None:
    safety = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=10)
    actual = _many(10)
    desired = [obj("address", o.name, net="changed") if i < 4 else o for i, o in enumerate(actual)]
    assert make_plan(desired, actual, safety=safety).unsafe == (
        "would update 4 of 10 owned objects (40% > maxUpdatePercent 30%)")


def test_small_devices_below_min_existing_are_never_unsafe() -> None:
    safety = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=10)
    p = make_plan([], _many(9), safety=safety)
    assert p.counts()["delete"] == 9 and p.unsafe is None


def test_deleting_everything_owned_is_unsafe_even_with_foreign_objects() -> None:
    safety = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=10)
    actual = _many(12) + [obj("address", f"f{i}", owner=None) for i in range(100)]
    p = make_plan([], actual, safety=safety)
    assert p.existing == 12 and p.unsafe is not None and p.counts()["delete"] == 12


def test_plan_is_deterministic_and_json_serializable() -> None:
    import json
    actual = [obj("address", "b", net="2"), obj("address", "a", net="1"), obj("rule", "r", group="g")]
    desired = [obj("address", "c", net="3"), obj("address", "a", net="9")]
    first = make_plan(desired, actual)
    second = make_plan(list(reversed(desired)), list(reversed(actual)))
    assert first.to_json() == second.to_json()
    assert first.checksum() == second.checksum() == first.to_json()["checksum"]
    assert json.loads(json.dumps(first.to_json()))["summary"] == first.summary()
    assert make_plan(desired[:1], actual).checksum() != first.checksum()


# --- property: applying the plan in order yields the desired state, safely ------------------


def simulate(actual: Sequence[DeviceObject], p: Plan) -> list[DeviceObject]:
    """Apply `p` to a device holding `actual`: creates append, REORDER moves our objects of that
    kind into the given order within the slots they occupy. Asserts referential integrity at every
    step: nothing created or updated before what it references exists, nothing deleted while
    referenced."""
    device = list(actual)

    def names() -> set[tuple[str, str]]:
        return {o.ref for o in device}

    def check_refs(o: DeviceObject) -> None:
        missing = [r for r in references(o) if r not in names()]
        assert not missing, f"{o.ref} references missing {missing}"

    for change in p.changes:
        index = next((i for i, o in enumerate(device) if o.ref == (change.kind, change.name)), None)
        if change.op is Op.CREATE:
            assert index is None
            assert change.after is not None
            new = DeviceObject(change.kind, change.name, change.after, MARK)
            check_refs(new)
            device.append(new)
        elif change.op is Op.UPDATE:
            assert index is not None and device[index].owner == MARK
            assert change.after is not None
            new = DeviceObject(change.kind, change.name, change.after, MARK)
            check_refs(new)
            device[index] = new
        elif change.op is Op.DELETE:
            assert index is not None and device[index].owner == MARK
            gone = device.pop(index)
            users = [o.ref for o in device if gone.ref in set(references(o))]
            assert not users, f"deleted {gone.ref} still referenced by {users}"
        else:
            assert change.after is not None
            order = list(change.after["order"])
            slots = [i for i, o in enumerate(device) if o.kind == change.kind and o.owner == MARK
                     and o.name in set(order)]
            by_name = {device[i].name: device[i] for i in slots}
            for slot, name in zip(slots, order, strict=True):
                device[slot] = by_name[name]
    return device


NAMES = st.sampled_from([f"n{i}" for i in range(6)])
OWNERS = st.sampled_from([MARK, MARK, MARK, None, "fusion-connector:other"])


@st.composite
def device_pairs(draw: st.DrawFn) -> tuple[list[DeviceObject], list[DeviceObject]]:
    """A consistent desired set and an arbitrary (possibly inconsistent with it) device."""

    def objects(owner_strategy: st.SearchStrategy[str | None]) -> list[DeviceObject]:
        out: list[DeviceObject] = []
        addresses = sorted(draw(st.sets(NAMES, max_size=4)))
        for name in addresses:
            out.append(obj("address", "a" + name, owner=draw(owner_strategy), net=draw(st.integers(0, 2))))
        groups = sorted(draw(st.sets(NAMES, max_size=3)))
        for name in groups:
            members = draw(st.lists(st.sampled_from(addresses), unique=True)) if addresses else []
            out.append(obj("group", "g" + name, owner=draw(owner_strategy),
                           members=["a" + m for m in sorted(members)]))
        services = sorted(draw(st.sets(NAMES, max_size=2)))
        for name in services:
            out.append(obj("service", "s" + name, owner=draw(owner_strategy), ports=draw(st.integers(1, 2))))
        if groups:
            rule_names = draw(st.lists(NAMES, unique=True, max_size=4))
            for name in rule_names:
                body: dict[str, object] = {"group": "g" + draw(st.sampled_from(groups))}
                if services and draw(st.booleans()):
                    body["service"] = "s" + draw(st.sampled_from(services))
                if addresses and draw(st.booleans()):
                    body["address"] = "a" + draw(st.sampled_from(addresses))
                out.append(DeviceObject("rule", "r" + name, body, draw(owner_strategy)))
        return out

    desired = objects(st.just(MARK))
    actual = objects(OWNERS)
    # keep the device consistent: objects whose references are missing are dropped
    present = {o.ref for o in actual}
    actual = [o for o in actual if all(r in present for r in references(o))]
    return draw(st.permutations(desired)), draw(st.permutations(actual))


@settings(max_examples=300, deadline=None)
@given(device_pairs())
def test_applying_the_plan_yields_the_desired_objects(
        pair: tuple[list[DeviceObject], list[DeviceObject]]) -> None:
    desired, actual = pair
    p = make_plan(desired, actual)
    result = simulate(actual, p)

    foreign_before = [o for o in actual if o.owner != MARK]
    assert [o for o in result if o.owner != MARK] == foreign_before  # untouched, same positions
    withheld = {(c.kind, c.name) for c in p.conflicts} | set(p.blocked)
    expected = {o.ref: dict(o.body) for o in desired if o.ref not in withheld}
    kept = set(p.kept)
    ours = {o.ref: dict(o.body) for o in result if o.owner == MARK and o.ref not in kept}
    assert ours == expected
    rule_order = [o.name for o in result if o.kind == "rule" and o.owner == MARK and o.ref in expected]
    assert rule_order == [o.name for o in desired if o.kind == "rule" and o.ref in expected]
    # a second plan against the result has nothing left to do
    assert make_plan(desired, result).empty
    assert make_plan(desired, actual).checksum() == p.checksum()


def test_a_plan_checksum_is_computed_once_and_follows_replace() -> None:
    first = Plan("d", "c", (Change(Op.CREATE, "group", "a", None, {"members": ["10.0.0.1"]}),))
    assert first.checksum() == first.checksum()
    assert first.__dict__["_checksum"] == first.checksum()
    assert first == dataclasses.replace(first)
    other = dataclasses.replace(first, changes=(Change(Op.DELETE, "group", "a", {"members": []}, None),))
    assert other.checksum() != first.checksum()
    assert dataclasses.replace(first, changes=()).checksum() == Plan("d", "c").checksum()
