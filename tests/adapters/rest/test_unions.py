"""Union source groups on a REST receiver: by reference (`groups`) when the receiver declares
`groupReferences`, flattened into members otherwise, deciding alike; reference order of group
changes; `members` ops for membership changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from adapters.base.naming import group_name
from adapters.rest import RestAdapter
from adapters.rest.objects import NAME_RULES, dependency_order, parse_state, references
from connector.evaluate import Probe
from connector.model import DeviceState
from connector.planner.types import Change, DeviceObject, Op
from mocks.common.http import HttpServer
from mocks.rest import RestMock
from tests.adapters.f5.unions import UNION_PROBES, namespace_group, union_state, union_states_with_probes
from tests.adapters.rest import evaluator
from tests.adapters.rest.conftest import TOKEN, Receiver, make_adapter, sync
from tests.adapters.rest.test_conformance import assert_conforms, resolved

FEATURES = {"references": ("groupReferences", "memberChanges"), "flattened": ()}
STATE = union_state()
TOR = group_name("c1", STATE.groups["c1/_cluster/rule/block-tor"], NAME_RULES)
SHOP = group_name("c1", STATE.groups["c1/shop/ns"], NAME_RULES)
PAYMENTS = group_name("c1", STATE.groups["c1/payments/ns"], NAME_RULES)
OPS = group_name("c1", STATE.groups["c1/ops/ns"], NAME_RULES)
EMPTY = group_name("c1", STATE.groups["c1/empty/ns"], NAME_RULES)


def serve(features: tuple[str, ...]) -> Iterator[tuple[Receiver, RestAdapter]]:
    app = RestMock(token=TOKEN, features=features)
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        yield Receiver(app, server), adapter


@pytest.fixture(params=sorted(FEATURES))
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Receiver, RestAdapter]]:
    yield from serve(FEATURES[request.param])


@pytest.fixture(scope="module", params=sorted(FEATURES))
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[Receiver, RestAdapter]]:
    yield from serve(FEATURES[request.param])


def groups_of(receiver: Receiver) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in receiver.state()["groups"]}


def change_sets(receiver: Receiver) -> list[list[dict[str, Any]]]:
    return [e["body"]["changes"] for e in receiver.writes() if e["path"] == "/changes"]


def test_a_union_is_held_by_reference_or_flattened(pair: tuple[Receiver, RestAdapter]) -> None:
    receiver, adapter = pair
    sync(adapter, STATE)
    union = groups_of(receiver)[TOR]
    if adapter.feature("groupReferences"):
        assert union["groups"] == sorted([PAYMENTS, SHOP, EMPTY, OPS]) and union["members"] == []
    else:
        assert union.get("groups", []) == []
        assert sorted(union["members"]) == sorted(["10.0.0.1", "10.0.0.2", "fd00::1", "10.0.0.7", "10.0.0.9",
                                                   "10.0.0.10"])
    assert_conforms(receiver, STATE, UNION_PROBES)
    assert adapter.plan(adapter.render(STATE), adapter.read()).empty


def test_flattened_and_referenced_unions_decide_alike() -> None:
    documents = []
    for features in FEATURES.values():
        for receiver, adapter in serve(features):
            sync(adapter, STATE)
            documents.append(resolved(receiver.state()))
    by_reference, flattened = documents
    assert {g["name"]: g["members"] for g in by_reference["groups"]} == {
        g["name"]: g["members"] for g in flattened["groups"]}
    decisions = [[evaluator.decide(d, p) for p in UNION_PROBES] for d in documents]
    assert decisions[0] == decisions[1]
    assert {d["action"] if d else None for d in decisions[0]} == {"allow", "deny", None}


def test_a_namespace_joining_by_reference_is_one_group_update(pair: tuple[Receiver, RestAdapter]) -> None:
    receiver, adapter = pair
    sync(adapter, union_state(("payments",)))
    receiver.clear_log()
    plan = sync(adapter, union_state(("payments", "shop")))
    assert [(c.op, c.name) for c in plan.changes] == [(Op.UPDATE, TOR)]
    [changes] = change_sets(receiver)
    if adapter.feature("groupReferences"):
        assert changes == [{"op": "update", "kind": "group",
                            "object": {"name": TOR, "members": [], "groups": [PAYMENTS, SHOP],
                                       "description": "cluster c1: union block-tor"}}]
    else:
        assert changes == [{"op": "update", "kind": "group",
                            "object": {"name": TOR,
                                       "members": ["10.0.0.1", "10.0.0.2", "10.0.0.7", "fd00::1"],
                                       "description": "cluster c1: union block-tor"}}]
    assert_conforms(receiver, union_state(("payments", "shop")), UNION_PROBES)


def test_a_pod_joining_a_namespace_is_a_members_op(pair: tuple[Receiver, RestAdapter]) -> None:
    receiver, adapter = pair
    sync(adapter, STATE)
    receiver.clear_log()
    shop = STATE.groups["c1/shop/ns"]
    grown = replace(STATE, groups={**STATE.groups, shop.key: namespace_group("shop", "10.0.0.7", "10.0.0.8")})
    sync(adapter, grown)
    [changes] = change_sets(receiver)
    if adapter.feature("memberChanges"):
        assert changes == [{"op": "members", "kind": "group", "name": SHOP,
                            "add": ["10.0.0.8"], "remove": []}]
    else:
        assert sorted(c["object"]["name"] for c in changes) == sorted([SHOP, TOR])
    assert_conforms(receiver, grown, UNION_PROBES)


def without_group(state: DeviceState, key: str) -> DeviceState:
    groups = {k: replace(g, includes=tuple(i for i in g.includes if i != key))
              for k, g in state.groups.items() if k != key}
    return replace(state, groups=groups)


def test_groups_are_created_after_and_deleted_before_the_groups_they_include(
        pair: tuple[Receiver, RestAdapter]) -> None:
    receiver, adapter = pair
    start = without_group(STATE, "c1/shop/ns")
    sync(adapter, start)
    plan = sync(adapter, STATE)  # creates the shop group and updates the union to include it
    made = [(c.op, c.name) for c in plan.changes]
    if adapter.feature("groupReferences"):  # else the union names no group: the planner's order
        assert made == [(Op.CREATE, SHOP), (Op.UPDATE, TOR)]
    assert sorted(made) == [(Op.CREATE, SHOP), (Op.UPDATE, TOR)]
    emptied = sync(adapter, DeviceState(device="dev", cluster="c1"))
    deleted = [c.name for c in emptied.changes if c.kind == "group"]
    if adapter.feature("groupReferences"):
        assert deleted.index(TOR) < min(deleted.index(n) for n in (PAYMENTS, SHOP, OPS, EMPTY))
    assert [g for g in receiver.state()["groups"] if g["owner"] == adapter.owner_mark] == []
    sync(adapter, STATE)  # everything created again in one change set
    assert_conforms(receiver, STATE, UNION_PROBES)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=union_states_with_probes())
def test_generated_union_states_conform(shared: tuple[Receiver, RestAdapter],
                                        sample: tuple[DeviceState, list[Probe]]) -> None:
    """Each example converges the same receiver from the previous example's state."""
    receiver, adapter = shared
    state, probes = sample
    sync(adapter, state)
    assert adapter.plan(adapter.render(state), adapter.read()).empty
    assert_conforms(receiver, state, probes)


def test_parse_state_and_references_read_group_references() -> None:
    state = {"revision": 1, "addresses": [], "services": [], "rules": [], "groups": [
        {"name": "u", "owner": "o", "members": [], "groups": ["b", "a", "b"]},
        {"name": "a", "owner": "o", "members": ["10.0.0.1/32"], "groups": []}]}
    union, plain = parse_state(state)
    assert union.body == {"members": [], "groups": ["a", "b"], "description": ""}
    assert plain.body == {"members": ["10.0.0.1"], "description": ""}
    assert list(references(union)) == [("group", "a"), ("group", "b")] and list(references(plain)) == []


def change(op: Op, name: str, includes: list[str]) -> Change:
    body = {"members": [], "groups": includes, "description": ""} if includes else {"members": []}
    return Change(op, "group", name, body if op is Op.DELETE else None, None if op is Op.DELETE else body)


def test_dependency_order_moves_only_group_changes() -> None:
    rule = Change(Op.CREATE, "rule", "r", None, {})
    writes = (change(Op.CREATE, "a", ["c"]), change(Op.UPDATE, "b", ["a"]), change(Op.CREATE, "c", []), rule)
    assert [c.name for c in dependency_order(writes)] == ["c", "a", "b", "r"]
    deletes = (rule, change(Op.DELETE, "a", []), change(Op.DELETE, "b", ["c"]),
               change(Op.DELETE, "c", ["a"]))
    assert [c.name for c in dependency_order(deletes)] == ["r", "b", "c", "a"]
    plain = (change(Op.CREATE, "a", []), rule)
    assert dependency_order(plain) is plain


def test_the_plan_shows_the_order_applied() -> None:
    adapter = make_adapter("https://receiver.example")
    desired = [DeviceObject("group", "a.union", {"members": [], "groups": ["b.ns"], "description": ""},
                            adapter.owner_mark),
               DeviceObject("group", "b.ns", {"members": ["10.0.0.1"], "description": ""},
                            adapter.owner_mark)]
    plan = adapter.plan(desired, [])
    assert [c.name for c in plan.changes] == ["b.ns", "a.union"]
