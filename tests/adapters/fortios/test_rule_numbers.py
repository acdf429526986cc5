"""FortiOS rule numbers: a plan-only sync reports each rule's `policyid` as the device holds it,
checked against the FortiGate mock's own decision of real flows (the id of the deciding policy)
after the policies were moved, so that ids and places differ."""

from __future__ import annotations

from typing import Any

import httpx

from connector.evaluate import address_of, decide
from connector.planner import SafetyThresholds
from connector.reconciler.device import sync_device
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import payments_probes, payments_state


def _decide(device: Device, **flow: Any) -> dict[str, Any]:
    with httpx.Client(base_url=device.url) as client:
        response = client.post("/_mock/traffic", json={"srcPort": 40000, "protocol": "TCP", **flow})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def test_a_plan_only_sync_gives_the_policy_ids_the_device_holds(device: Device,
                                                                make_adapter: AdapterFactory) -> None:
    sync(make_adapter(), payments_state())
    state = payments_state(reverse=True)  # deny-internal moves first: its policy keeps its id
    sync(make_adapter(), state)
    outcome = sync_device(make_adapter(), state, SafetyThresholds(), apply=False, numbers=True)
    assert outcome.numbering is not None and outcome.numbering.scheme == "policyid"
    numbers = outcome.numbering.numbers
    decided = 0
    for probe in payments_probes():
        rule = decide(state, probe)
        if rule is None or not address_of(probe.destination):
            continue
        answer = _decide(device, src=probe.source, dst=probe.destination, dstPort=probe.port,
                         protocol=probe.protocol.value)
        assert numbers[rule.key] == (str(answer["rule"]),), probe
        decided += 1
    assert decided >= 10
    table = [str(p["policyid"]) for p in device.table("firewall/policy")]
    places = {str(place): policyid for place, policyid in enumerate(table, 1)}
    assert any(places.get(n) != n for (n,) in numbers.values())  # ids, not places
    assert set(numbers) == {rule.key for rule in state.rules}
