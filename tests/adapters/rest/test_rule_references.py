"""REST rule references: each rule's object name (the `rule` a receiver reports with a flow) ->
its rule's key, checked against the receiver mock's decision of real flows."""

from __future__ import annotations

from typing import Any

from adapters.rest import RestAdapter
from tests.adapters.fortios.scenarios import payments_state
from tests.adapters.rest.conftest import Receiver, offline_adapter, sync


def decide(receiver: Receiver, **flow: Any) -> dict[str, Any]:
    response = receiver.client.post("/_mock/traffic", json={"srcPort": 40000, "protocol": "TCP", **flow})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_rule_name_a_flow_is_reported_with_maps_to_the_deciding_rule(
        receiver: Receiver, adapter: RestAdapter) -> None:
    state = payments_state()
    sync(adapter, state)
    references = adapter.rule_references(state)
    assert sorted(references.values()) == sorted(rule.key for rule in state.rules)
    for dst, port, key in (("10.20.30.40", 5432, "allow-db"), ("10.20.1.1", 22, "deny-internal"),
                           ("198.51.100.1", 80, "payments-default")):
        assert references[decide(receiver, src="10.244.1.2", dst=dst, dstPort=port)["rule"]] == key


def test_references_follow_the_rendered_names_without_a_device() -> None:
    state = payments_state()
    adapter = offline_adapter()
    rendered = {obj.name for obj in adapter.render(state) if obj.kind == "rule"}
    assert set(adapter.rule_references(state)) == rendered
