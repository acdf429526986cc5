"""FortiOS rule references: each policy's name and id (as traffic logs give them) -> its rule's key,
checked against the FortiGate mock's decision of real flows."""

from __future__ import annotations

from typing import Any

import httpx

from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import payments_state


def decide(device: Device, **flow: Any) -> dict[str, Any]:
    with httpx.Client(base_url=device.url) as client:
        response = client.post("/_mock/traffic", json={"srcPort": 40000, "protocol": "TCP", **flow})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def test_the_policy_name_and_id_a_flow_is_logged_with_map_to_the_deciding_rule(
        device: Device, make_adapter: AdapterFactory) -> None:
    state = payments_state()
    adapter = make_adapter()
    sync(adapter, state)
    references = adapter.rule_references(state)
    for dst, port, key in (("10.20.30.40", 5432, "allow-db"), ("10.20.1.1", 22, "deny-internal"),
                           ("198.51.100.1", 80, "payments-default")):
        answer = decide(device, src="10.244.1.2", dst=dst, dstPort=port)
        assert references[str(answer["rule"])] == key
        assert references[answer["policyname"]] == key
    assert set(references.values()) <= {rule.key for rule in state.rules}
    ours = [p for p in device.table("firewall/policy") if "fusion-connector" in p.get("comments", "")]
    assert {str(p["policyid"]) for p in ours} | {p["name"] for p in ours} == set(references)


def test_a_restarted_adapter_learns_the_ids_from_its_read(device: Device,
                                                         make_adapter: AdapterFactory) -> None:
    state = payments_state()
    first = make_adapter()
    sync(first, state)
    expected = first.rule_references(state)
    restarted = make_adapter()
    assert not any(ref.isdigit() for ref in restarted.rule_references(state))  # names only, no read yet
    restarted.read()
    assert restarted.rule_references(state) == expected
