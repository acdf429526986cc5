"""`plan_delta` plans exactly what the full planner plans against the known device state."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.planner import DeviceObject, SafetyThresholds, plan
from connector.planner.delta import plan_delta
from connector.planner.types import Op

MARK = "fusion-connector:c1"
KINDS = ("address", "group", "policy")
ORDERED = frozenset({"policy"})
SAFETY = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=3)


def obj(kind: str, name: str, value: int) -> DeviceObject:
    return DeviceObject(kind, name, {"value": value}, MARK, (f"Pod/ns/{name}",))


def stripped(objects: list[DeviceObject]) -> list[DeviceObject]:
    return [dataclasses.replace(o, identities=()) for o in objects]


@st.composite
def transitions(draw: st.DrawFn) -> tuple[list[DeviceObject], list[DeviceObject], list[DeviceObject]]:
    """(previous desired, new desired reusing unchanged objects, foreign objects)."""
    names = [f"{kind}-{n}" for kind in KINDS for n in range(6)]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=14))
    previous = [obj(name.split("-")[0], name, draw(st.integers(0, 2))) for name in chosen]
    desired: list[DeviceObject] = []
    for item in previous:
        fate = draw(st.sampled_from(("keep", "keep", "keep", "drop", "same-body", "new-body")))
        if fate == "keep":
            desired.append(item)
        elif fate == "same-body":
            desired.append(obj(item.kind, item.name, item.body["value"]))
        elif fate == "new-body":
            desired.append(obj(item.kind, item.name, item.body["value"] + 1))
    taken = {o.name for o in previous}
    for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=4)):
        if name not in taken:
            desired.append(obj(name.split("-")[0], name, 0))
    foreign = [DeviceObject("address", f"address-{n}", {"value": 9}, "someone-else")
               for n in draw(st.lists(st.integers(0, 5), unique=True, max_size=2))
               if f"address-{n}" not in taken]
    return previous, desired, foreign


@settings(max_examples=300, deadline=None)
@given(transitions(), st.booleans())
def test_delta_plan_equals_the_full_plan_against_the_known_state(
    transition: tuple[list[DeviceObject], list[DeviceObject], list[DeviceObject]], force: bool
) -> None:
    previous, desired, foreign = transition
    # the known state lists policies in their previous desired order, as the device holds them
    actual = stripped(previous) + foreign
    delta = plan_delta("fw", "c1", previous, desired, kind_order=KINDS, ordered_kinds=ORDERED,
                       foreign={o.ref for o in foreign}, referenced=set(), safety=SAFETY, force=force)
    full = plan("fw", "c1", desired, actual, owner_mark=MARK, kind_order=KINDS, ordered_kinds=ORDERED,
                safety=SAFETY, force=force)
    if delta is None:  # only for what it leaves to the full planner (see its contract)
        new = [o for o in desired if not any(o is p for p in previous)]
        gone = [p for p in previous if not any(o is p for o in desired)]
        created = {o.ref for o in new} - {p.ref for p in previous}
        assert any(o.kind in ORDERED for o in new + gone) or created & {f.ref for f in foreign}
        return
    assert delta.to_json() == full.to_json()
    assert delta.existing == full.existing and delta.unsafe == full.unsafe


def test_an_unchanged_render_plans_nothing_without_comparing_bodies() -> None:
    previous = [obj("address", f"address-{n}", n) for n in range(1000)]
    delta = plan_delta("fw", "c1", previous, list(previous), kind_order=KINDS, ordered_kinds=ORDERED,
                       foreign=set(), referenced=set())
    assert delta is not None and delta.empty and delta.existing == 1000


def test_one_changed_group_is_one_update() -> None:
    previous = [obj("address", f"address-{n}", n) for n in range(100)] + [obj("group", "group-1", 0)]
    desired = [*previous[:-1], obj("group", "group-1", 1)]
    delta = plan_delta("fw", "c1", previous, desired, kind_order=KINDS, ordered_kinds=ORDERED,
                       foreign=set(), referenced=set())
    assert delta is not None
    assert [(c.op, c.name) for c in delta.changes] == [(Op.UPDATE, "group-1")]


def test_a_change_to_an_ordered_kind_or_a_referenced_delete_is_left_to_the_full_planner() -> None:
    previous = [obj("policy", "policy-1", 0), obj("address", "address-1", 0)]
    assert plan_delta("fw", "c1", previous, [previous[1]], kind_order=KINDS, ordered_kinds=ORDERED,
                      foreign=set(), referenced=set()) is None
    assert plan_delta("fw", "c1", previous, [previous[0]], kind_order=KINDS, ordered_kinds=ORDERED,
                      foreign=set(), referenced={("address", "address-1")}) is None
