"""Conformance: what the receiver holds, read back through its HTTP API and decided first-match by
an evaluator written from the protocol's rule semantics, decides like the model (docs/resources.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from adapters.base.naming import rule_name
from adapters.rest import RestAdapter
from adapters.rest.objects import NAME_RULES
from connector.evaluate import Probe, decide
from connector.model import DeviceState
from mocks.common.http import HttpServer
from mocks.rest import RestMock
from tests.adapters.rest import evaluator
from tests.adapters.rest.conftest import TOKEN, Receiver, make_adapter, sync
from tests.adapters.rest.scenarios import PAYMENTS_PROBES, payments_state
from tests.adapters.strategies import states_with_probes


def resolved(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each group's members extended by those of the groups it includes (its
    `groups`, transitively): a flow's source is in a group when it is in one of these members."""
    groups = {g["name"]: g for g in document["groups"]}

    def members(name: str) -> set[str]:
        found: set[str] = set()
        pending, seen = [name], {name}
        while pending:
            group = groups[pending.pop()]
            found.update(group["members"])
            for inner in group.get("groups") or []:
                if inner not in seen:
                    seen.add(inner)
                    pending.append(inner)
        return found

    return {**document, "groups": [{**g, "members": sorted(members(g["name"]))} for g in document["groups"]]}


def assert_conforms(receiver: Receiver, state: DeviceState, probes: list[Probe]) -> None:
    document = resolved(receiver.state())
    for probe in probes:
        expected = decide(state, probe)
        got = evaluator.decide(document, probe)
        if expected is None:
            assert got is None, f"{probe}: device decides with {got}, model makes no decision"
            continue
        assert got is not None, f"{probe}: model decides with {expected.key}, device matches nothing"
        assert got["name"] == rule_name(state.cluster, expected, NAME_RULES), probe
        assert got["action"] == expected.action.value.lower(), probe
        assert got["log"] == expected.logging, probe


def test_payments_scenario(receiver: Receiver) -> None:
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        sync(adapter, state)
    assert_conforms(receiver, state, PAYMENTS_PROBES)
    decisions = [evaluator.decide(receiver.state(), p) for p in PAYMENTS_PROBES]
    assert [d["action"] if d else None for d in decisions] == [
        "allow", "allow", "allow", "allow", "deny", "deny", "deny", "deny", None, "deny"]


def test_rule_reordering_changes_decisions(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        reversed_state = payments_state(rules_reversed=True)
        plan = sync(adapter, reversed_state)
    assert [c.op.value for c in plan.changes] == ["reorder"]
    assert_conforms(receiver, reversed_state, PAYMENTS_PROBES)
    assert evaluator.decide(receiver.state(), PAYMENTS_PROBES[0])["action"] == "deny"  # type: ignore[index]


def test_signed_receiver_conforms(signed_receiver: Receiver) -> None:
    state = payments_state()
    with make_adapter(signed_receiver.url, hmac_secret="test-hmac-secret") as adapter:
        sync(adapter, state)
        assert adapter.plan(adapter.render(state), adapter.read()).empty
    assert_conforms(signed_receiver, state, PAYMENTS_PROBES)


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Receiver, RestAdapter]]:
    app = RestMock(token=TOKEN)
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        assert isinstance(adapter, RestAdapter)
        yield Receiver(app, server), adapter


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=states_with_probes())
def test_generated_states_conform(shared: tuple[Receiver, RestAdapter],
                                  sample: tuple[DeviceState, list[Probe]]) -> None:
    """Each example converges the same receiver from the previous example's state: creates,
    updates, deletes and reorders all get exercised."""
    receiver, adapter = shared
    state, probes = sample
    sync(adapter, state)
    assert adapter.plan(adapter.render(state), adapter.read()).empty
    assert_conforms(receiver, state, probes)
