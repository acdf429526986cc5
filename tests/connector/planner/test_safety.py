"""The safety check: confirmed deletions do not count; an unsafe plan keeps what is always safe to
apply and withholds its unconfirmed deletions, emptying each withheld object instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.planner import Change, DeviceObject, Op, Plan, SafetyThresholds, plan
from connector.planner.safety import left_objects, withhold

MARK = "fusion-connector:c1"
KINDS = ("address", "group", "rule")
NONE = "none"  # the device's predefined empty address
STRICT = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=3)


def references(o: DeviceObject) -> Iterable[tuple[str, str]]:
    """Groups list `members` (addresses or groups), rules name `sources` (groups or addresses)."""
    names = o.body.get("members", ()) if o.kind == "group" else o.body.get("sources", ())
    return [(kind, name) for name in names for kind in ("address", "group")]


def emptied(kind: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    if kind == "group":
        return {**body, "members": [NONE]}
    if kind == "rule":
        return {**body, "sources": [NONE]}
    return body


def obj(kind: str, name: str, **body: Any) -> DeviceObject:
    return DeviceObject(kind, name, body, MARK)


def make_plan(desired: list[DeviceObject], actual: list[DeviceObject],
              safety: SafetyThresholds = STRICT) -> Plan:
    return plan("dev", "c1", desired, actual, owner_mark=MARK, kind_order=KINDS,
                ordered_kinds=frozenset({"rule"}), safety=safety, references=references)


def split(p: Plan, confirmed: Iterable[tuple[str, str]] = (), safety: SafetyThresholds = STRICT,
          refs: bool = True, can_empty: bool = True) -> Plan:
    return withhold(p, frozenset(confirmed), safety, kind_order=KINDS, emptied=emptied if can_empty else None,
                    references=references if refs else None)


def ops(p: Plan) -> list[tuple[str, str, str]]:
    return [(c.op.value, c.kind, c.name) for c in p.changes]


def namespaces(*names: str, extra: str = "") -> list[DeviceObject]:
    """Per namespace: one address, a group holding it, a rule naming the group."""
    out = []
    for n in names:
        out += [obj("address", f"ip-{n}", net=f"10.0.0.{ord(n[0])}"),
                obj("group", f"g-{n}", members=[f"ip-{n}", *([extra] if extra and n == names[-1] else [])]),
                obj("rule", f"r-{n}", sources=[f"g-{n}"])]
    return out


def test_within_the_thresholds_nothing_is_withheld() -> None:
    p = make_plan(namespaces("a", "b", "c", "d"), namespaces("a", "b", "c", "d", "e"))
    assert p.unsafe is None and split(p) is p


def test_confirmed_deletions_do_not_count() -> None:
    actual = namespaces("a", "b", "c", "d")
    p = make_plan(namespaces("a"), actual)
    assert p.unsafe is not None  # 9 of 12 deletions as planned
    deleted = [(c.kind, c.name) for c in p.changes if c.op is Op.DELETE]
    confirmed = split(p, deleted)
    assert confirmed.unsafe is None and not confirmed.withheld and confirmed.changes == p.changes
    assert confirmed.applicable


def test_unconfirmed_deletions_are_withheld_and_their_objects_emptied() -> None:
    actual = namespaces("a", "b", "c", "d")
    desired = [*namespaces("a"), obj("address", "ip-x", net="10.0.0.99"),
               obj("group", "g-a", members=["ip-a", "ip-x"]), obj("rule", "r-a", sources=["g-a"])]
    desired = list({o.ref: o for o in desired}.values())
    p = make_plan(desired, actual)
    s = split(p)
    assert s.unsafe == "would delete 9 of 12 owned objects (75% > maxDeletePercent 30%)"
    assert {(c.kind, c.name) for c in s.withheld} == {(k, f"{p_}-{n}") for n in "bcd"
                                                      for k, p_ in (("address", "ip"), ("group", "g"),
                                                                    ("rule", "r"))}
    assert all(c.op is Op.DELETE for c in s.withheld) and not [c for c in s.changes if c.op is Op.DELETE]
    # creates and updates go out; each withheld group and rule is emptied among its kind's writes
    assert ops(s) == [("create", "address", "ip-x"), ("update", "group", "g-a"),
                      ("update", "group", "g-b"), ("update", "group", "g-c"), ("update", "group", "g-d"),
                      ("update", "rule", "r-b"), ("update", "rule", "r-c"), ("update", "rule", "r-d")]
    assert s.changes[2] == Change(Op.UPDATE, "group", "g-b", {"members": ["ip-b"]}, {"members": [NONE]})
    assert s.applicable and "3 deletions withheld" not in s.summary()
    assert "9 deletions withheld" in s.summary() and s.to_json()["withheld"][0]["op"] == "delete"
    left = left_objects(s, MARK)
    assert {o.name: o.body for o in left if o.kind == "group"}["g-b"] == {"members": [NONE]}
    assert {o.name: o.body for o in left if o.kind == "address"}["ip-b"] == {"net": "10.0.0.98"}


def test_an_object_already_emptied_needs_no_write() -> None:
    actual = [*namespaces("a"), obj("group", "g-b", members=[NONE]), obj("rule", "r-b", sources=[NONE]),
              obj("group", "g-c", members=[NONE])]
    s = split(make_plan(namespaces("a"), actual))
    assert s.empty and len(s.withheld) == 3 and s.unsafe is not None


def test_a_confirmed_deletion_that_a_withheld_object_still_uses_is_withheld_too() -> None:
    actual = [*namespaces("a"), obj("address", "dst", net="192.0.2.1"),
              obj("group", "shared", members=["ip-a"]),
              obj("rule", "r-b", sources=[NONE], dst=["dst"]), obj("rule", "r-c", sources=["shared"])]

    def dst_references(o: DeviceObject) -> Iterable[tuple[str, str]]:
        return [*references(o), *(("address", d) for d in o.body.get("dst", ()))]

    strict = SafetyThresholds(max_delete_percent=10, max_update_percent=30, min_existing=3)
    p = plan("dev", "c1", namespaces("a"), actual, owner_mark=MARK, kind_order=KINDS, safety=strict,
             references=dst_references)
    s = withhold(p, {("address", "dst"), ("group", "shared")}, strict, kind_order=KINDS, emptied=emptied,
                 references=dst_references)
    # r-b stays and still points at `dst`; r-c is emptied, so `shared` can go
    assert {c.name for c in s.withheld} == {"r-b", "r-c", "dst"}
    assert ("delete", "group", "shared") in ops(s)


def test_without_references_every_deletion_is_withheld() -> None:
    actual = namespaces("a", "b", "c", "d")
    p = make_plan(namespaces("a"), actual)
    confirmed = {("rule", "r-b"), ("group", "g-b"), ("address", "ip-b")}
    assert len(split(p, confirmed).withheld) == 6
    assert len(split(p, confirmed, refs=False).withheld) == 9


def test_a_family_that_cannot_empty_objects_keeps_the_plan_whole_and_unsafe() -> None:
    p = make_plan(namespaces("a"), namespaces("a", "b", "c", "d"))
    s = split(p, can_empty=False)
    assert s.unsafe is not None and not s.withheld and s.changes == p.changes and not s.applicable
    assert s.summary().endswith("(UNSAFE: would delete 9 of 12 owned objects (75% > maxDeletePercent 30%))")


def test_updates_are_always_applied() -> None:
    actual = namespaces("a", "b", "c", "d")
    desired = [o if o.kind != "group" else obj("group", o.name, members=[*o.body["members"], "ip-a"])
               for o in actual]
    p = make_plan(desired, actual)
    assert p.unsafe is not None and p.unsafe.startswith("would update 4 of 12")
    s = split(p)
    assert s.unsafe is None and s.changes == p.changes and s.applicable
    # over the update threshold, unconfirmed deletions are withheld even below the delete threshold
    fewer = make_plan([o for o in desired if o.name not in ("r-d",)], actual)
    assert [c.name for c in split(fewer).withheld] == ["r-d"]


# --- property: whatever is withheld, no address stays where it left -----------------------------
ADDRESSES = [f"ip{i}" for i in range(6)]


@st.composite
def devices(draw: st.DrawFn) -> tuple[list[DeviceObject], list[DeviceObject]]:
    """(desired, actual) of the test vocabulary: groups of addresses and of other groups, rules
    naming groups or addresses directly (a one-member source referenced by its member)."""

    def side() -> list[DeviceObject]:
        addresses = draw(st.lists(st.sampled_from(ADDRESSES), unique=True, max_size=6))
        groups: list[DeviceObject] = []
        for i in range(draw(st.integers(0, 5))):
            pool = addresses + [g.name for g in groups]
            if pool:
                members = draw(st.lists(st.sampled_from(pool), unique=True, min_size=1, max_size=4))
                groups.append(obj("group", f"g{i}", members=sorted(members)))
        sources = addresses + [g.name for g in groups]
        rules = [obj("rule", f"r{i}", sources=draw(st.lists(st.sampled_from(sources), unique=True, min_size=1,
                                                             max_size=2)))
                 for i in range(draw(st.integers(0, 4))) if sources]
        return [*(obj("address", a, net=a) for a in addresses), *groups, *rules]

    return side(), side()


def hosts(objects: Mapping[tuple[str, str], DeviceObject], name: str) -> set[str]:
    group = objects.get(("group", name))
    if group is None:
        return {name} if name != NONE else set()
    return set().union(*(hosts(objects, member) for member in group.body["members"]))


def run(changes: Iterable[Change], held: dict[tuple[str, str], DeviceObject]) -> None:
    """Apply creates and updates, then deletes, like a device that checks references (adapters
    order the changes of one kind among themselves): everything a body names exists, and no
    deleted object is still named by one that stays."""
    changes = list(changes)
    for change in changes:
        if change.op in (Op.CREATE, Op.UPDATE):
            assert change.after is not None
            held[(change.kind, change.name)] = obj(change.kind, change.name, **change.after)
    for change in changes:
        if change.op is Op.DELETE:
            del held[(change.kind, change.name)]
    for o in held.values():
        missing = [n for n in names(o) if ("address", n) not in held and ("group", n) not in held]
        assert not missing, f"{o.ref} names missing {missing}"


def names(o: DeviceObject) -> set[str]:
    return {name for _, name in references(o)} - {NONE}


@settings(max_examples=300, deadline=None)
@given(devices(), st.data())
def test_the_applied_part_never_leaves_an_address_in_a_group_or_rule_it_left(
        pair: tuple[list[DeviceObject], list[DeviceObject]], data: st.DataObject) -> None:
    desired, actual = pair
    p = make_plan(desired, actual,
                  SafetyThresholds(max_delete_percent=0, max_update_percent=100, min_existing=0))
    deleted = [(c.kind, c.name) for c in p.changes if c.op is Op.DELETE]
    confirmed = data.draw(st.sets(st.sampled_from(deleted)) if deleted else st.just(set()))
    s = split(p, confirmed, SafetyThresholds(max_delete_percent=0, max_update_percent=100, min_existing=0))
    held = {o.ref: o for o in actual}
    run(s.changes, held)
    wanted = {o.ref: o for o in desired}
    for ref, o in held.items():
        if ref in wanted:
            assert o.body == wanted[ref].body
        elif o.kind == "group":
            assert hosts(held, o.name) == set(), f"{o.name} kept {hosts(held, o.name)}"
        elif o.kind == "rule":
            assert set().union(*(hosts(held, n) for n in o.body["sources"])) == set(), o
    assert set(held) == set(wanted) | {(c.kind, c.name) for c in s.withheld}
    withheld = {(c.kind, c.name) for c in s.withheld}
    assert withheld <= set(deleted) and (bool(withheld) == (set(deleted) > confirmed))
    # every other change goes out, in its order; what is added is emptying withheld objects
    assert [c for c in s.changes if c.op is not Op.UPDATE or (c.kind, c.name) in wanted] == \
        [c for c in p.changes if (c.kind, c.name) not in withheld]
