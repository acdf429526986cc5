"""A dual-stack state on the FortiGate mock: one policy per rule carrying both families, judged
by the device's own decisions (`POST /_mock/traffic`, first match over what it holds) and by the
independent evaluator reading IPv4 and IPv6 objects back through the API, both against the model
(`connector.evaluate.decide`); IPv6 membership changes cost O(1) writes; withheld deletions empty
IPv6 pairs too."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from adapters.fortios.render import ADDRESS6, ADDRGRP6, POLICY
from connector.evaluate import Probe
from connector.model import DeviceState, Protocol
from connector.planner import SafetyThresholds
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import API, group, payments_probes, payments_state
from tests.adapters.fortios.test_apply import writes
from tests.adapters.fortios.test_conformance import check_conformance, cross_family, expected_action

NAMED = {4: "198.18.0.1", 6: "2001:db8:ee::1"}  # the address a name resolved to (inside no rule's networks)


def probes6() -> list[Probe]:
    sources = ["fd00::10", "fd00::11", "10.244.1.2"]
    targets = [("api.stripe.com", 443, Protocol.TCP), ("api.stripe.com", 80, Protocol.TCP),
               ("2001:db8::5", 5432, Protocol.TCP), ("2001:db8::5", 22, Protocol.TCP),
               ("2001:db8:1::1", 443, Protocol.TCP), ("2001:db8:ff::1", 443, Protocol.TCP),
               ("example.com", 443, Protocol.TCP), ("10.20.30.40", 5432, Protocol.TCP)]
    return [Probe(s, d, p, t) for s in sources for d, p, t in targets]


def device_decision(device: Device, probe: Probe) -> str | None:
    """The mock's own decision; the implicit deny (policy 0) is no decision of ours."""
    family = ipaddress.ip_address(probe.source).version
    try:
        ipaddress.ip_address(probe.destination)
        flow: dict[str, Any] = {"dst": probe.destination}
    except ValueError:
        flow = {"dst": NAMED[family], "dstName": probe.destination}
    with device.api() as client:
        response = client.post("/_mock/traffic", json={"src": probe.source, "protocol": probe.protocol.value,
                                                       "srcPort": 40000, "dstPort": probe.port, **flow})
    assert response.status_code == 200, response.text
    answer = response.json()
    return None if answer["rule"] == 0 else str(answer["action"])


def judge_by_device(device: Device, state: DeviceState, probes: list[Probe]) -> dict[int, int]:
    """Assert the mock decides each same-family probe like the model; the count compared per family."""
    compared = {4: 0, 6: 0}
    for probe in probes:
        if cross_family(probe):
            continue
        got, want = device_decision(device, probe), expected_action(state, probe)
        assert got == want, f"{probe}: device {got}, model {want}"
        compared[ipaddress.ip_address(probe.source).version] += 1
    return compared


def test_a_dual_stack_state_decides_like_the_model_in_both_families(device: Device,
                                                                     make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    state = payments_state()
    _, result = sync(adapter, state)
    assert result.ok, result.error
    probes = payments_probes() + probes6()
    compared = judge_by_device(device, state, probes)
    assert compared == {4: 45 + 4, 6: 14}  # payments' 45, and 10.244.1.2 to three names and an address
    assert check_conformance(device, state, probes) == sum(compared.values())
    # the decisions cover both actions and no decision in IPv6
    assert {device_decision(device, p) for p in probes6()
            if p.source.startswith("fd00") and not cross_family(p)} == {"accept", "deny", None}
    # one policy per rule, both families in one where the rule has both
    policies = device.table("firewall/policy")
    assert len(policies) == len(state.rules)
    db = next(p for p in policies if p["name"].startswith("fc_prod_allow-db"))
    assert db["srcaddr"] and db["dstaddr"] and db["srcaddr6"] and db["dstaddr6"]
    assert sync(adapter, state)[0].empty


def test_ipv6_pods_joining_and_leaving_cost_constant_writes(device: Device,
                                                            make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    assert sync(adapter, payments_state())[1].ok
    mark = device.last_seq()
    joined = payments_state([*API, "fd00::11"])
    _, result = sync(adapter, joined)
    made = [(e["method"], e["path"].split("/api/v2/cmdb/firewall/")[-1].split("/")[0])
            for e in writes(device, mark)]
    assert result.ok and made == [("POST", "address6"), ("POST", "addrgrp6")], made  # the address, a member
    judge_by_device(device, joined, probes6())
    mark = device.last_seq()
    _, result = sync(adapter, payments_state())
    made = [(e["method"], e["path"]) for e in writes(device, mark)]
    assert result.ok and [m for m, _ in made] == ["DELETE", "DELETE"] and "/member/" in made[0][1], made
    judge_by_device(device, payments_state(), probes6())
    assert sync(adapter, payments_state())[0].empty


def test_an_ipv6_only_group_gets_an_ipv6_only_policy_and_leaves_cleanly(device: Device,
                                                                        make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    base = payments_state()
    v6only = dataclasses.replace(base, groups={**base.groups, "svc/payments/api": group(
        "svc/payments/api", "payments", ["fd00::10", "fd00::12"], "api")})
    assert sync(adapter, v6only)[1].ok
    ours = [p for p in device.table("firewall/policy") if p["name"].startswith("fc_prod_")]
    api_policies = [p for p in ours if not p["name"].startswith("fc_prod_shop")]
    assert api_policies and all(not p["srcaddr"] and p["srcaddr6"] for p in api_policies)
    judge_by_device(device, v6only, probes6())
    # back to IPv4 only: every IPv6 object of ours goes, in dependency order
    four = dataclasses.replace(base, groups={**base.groups, "svc/payments/api": group(
        "svc/payments/api", "payments", [a for a in API if ":" not in a], "api")})
    _, result = sync(adapter, four)
    assert result.ok, result.error
    assert not [a for a in device.table("firewall/address6") if a["name"].startswith("fc_prod_")]
    assert not device.table("firewall/addrgrp6")
    assert all(not p["srcaddr6"] for p in device.table("firewall/policy"))
    judge_by_device(device, four, probes6() + payments_probes())


def test_withheld_deletions_empty_the_ipv6_pair_too(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    desired = adapter.render(payments_state())
    policies = {o.name: o.body for o in desired if o.kind == POLICY}
    six = next(body for name, body in policies.items() if name.startswith("fc_prod_deny-v6"))
    emptied = adapter.emptied(POLICY, six)
    assert (emptied["srcaddr"], emptied["srcaddr6"], emptied["dstaddr"]) == ([], ["none"], [])
    both = next(body for name, body in policies.items() if name.startswith("fc_prod_allow-db"))
    emptied = adapter.emptied(POLICY, both)
    assert (emptied["srcaddr"], emptied["srcaddr6"]) == (["none"], ["none"])
    assert emptied["dstaddr6"] == both["dstaddr6"]
    group6 = next(o for o in desired if o.kind == ADDRGRP6)
    assert adapter.emptied(ADDRGRP6, group6.body)["member"] == ["none"]
    assert any(o.kind == ADDRESS6 for o in desired)


def test_an_unsafe_plan_withholds_ipv6_deletions_and_the_device_accepts_the_emptied_bodies(
        device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    assert sync(adapter, payments_state())[1].ok
    shrunk = dataclasses.replace(payments_state(), rules=payments_state().rules[:1])
    actual = adapter.read()
    desired = adapter.render(shrunk)
    safety = SafetyThresholds(max_delete_percent=1, min_existing=0)
    plan = adapter.withhold(adapter.plan(desired, actual, safety=safety), (), safety)
    assert plan.withheld and any(c.kind == ADDRESS6 for c in plan.withheld)
    result = adapter.apply(plan, desired)
    assert result.ok, result.error
    kept = [p for p in device.table("firewall/policy") if p["name"].startswith("fc_prod_deny-v6")]
    assert kept and [a["name"] for a in kept[0]["srcaddr6"]] == ["none"] and kept[0]["srcaddr"] == []
