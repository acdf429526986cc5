"""FortiOS adapter behaviour against the mock: idempotence, O(1) pod changes, drift, foreign
objects, placement, faults, permanent errors, and never a DELETE on a collection URL."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import unquote

import pytest

from adapters.fortios.client import CMDB, TABLES
from connector.model import Action, DeviceState
from tests.adapters.fortios.conftest import TOKEN, AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import (
    API,
    edge_probes,
    edge_state,
    group,
    payments_probes,
    payments_state,
    rule,
)
from tests.adapters.fortios.test_conformance import check_conformance

COLLECTIONS = {f"{CMDB}/{table}" for table in TABLES.values()}


def writes(device: Device, since: int) -> list[dict[str, Any]]:
    return [entry for entry in device.requests(since) if entry["method"] != "GET"]


def assert_no_collection_delete(device: Device) -> None:
    for entry in device.requests():
        if entry["method"] == "DELETE":
            assert entry["path"].rstrip("/") not in COLLECTIONS, entry


def post(device: Device, table: str, body: dict[str, Any]) -> Any:
    with device.api() as client:
        response = client.post(f"{CMDB}/{table}", params={"vdom": "root"}, json=body)
        assert response.status_code == 200, response.text
        return response.json()["mkey"]


def seed_foreign(device: Device) -> None:
    post(device, "firewall/address", {"name": "corp-dns", "subnet": "10.0.0.53/32", "comment": "corp"})
    post(device, "firewall/address", {"name": "fc_prod_ip_10.244.1.9", "subnet": "10.244.1.9/32",
                                      "comment": "hand-made, same name as ours"})
    post(device, "firewall/addrgrp", {"name": "corp-servers", "member": [{"name": "corp-dns"}],
                                      "comment": "fusion-connector:other-cluster"})
    for name in ("corp-1", "corp-2", "corp-3"):
        post(device, "firewall/policy", {
            "name": name, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
            "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "corp-servers"}], "service": [{"name": "DNS"}],
            "action": "accept", "schedule": "always", "comments": "corp policy"})


def foreign_snapshot(device: Device) -> dict[str, list[dict[str, Any]]]:
    def foreign(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [e for e in entries if not str(e.get(key, "")).startswith("fusion-connector:prod")]
    return {"address": foreign(device.table("firewall/address"), "comment"),
            "addrgrp": foreign(device.table("firewall/addrgrp"), "comment"),
            "policy": foreign(device.table("firewall/policy"), "comments")}


def test_second_apply_writes_nothing(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    _, first = sync(adapter, payments_state())
    assert first.ok and first.writes > 0
    mark = device.last_seq()
    plan, again = sync(adapter, payments_state())
    assert plan.empty and again.writes == 0
    assert writes(device, mark) == []


def test_vdom_and_bearer_token_on_every_call(device: Device, make_adapter: AdapterFactory) -> None:
    sync(make_adapter(), payments_state())
    entries = device.requests()
    assert entries and all(entry["query"].get("vdom") == "root" for entry in entries)
    assert all("access_token" not in entry["query"] for entry in entries)


def test_unknown_vdom_is_a_clear_error(device: Device, make_adapter: AdapterFactory) -> None:
    with pytest.raises(Exception, match="vdom 'nope' not found"):
        make_adapter(vdom="nope").read()


@pytest.mark.parametrize("new_pod", ["10.244.1.77", "10.244.1.6"])  # apart from / extending a run
def test_one_pod_added_costs_at_most_two_writes(device: Device, make_adapter: AdapterFactory,
                                                 new_pod: str) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state())
    mark = device.last_seq()
    state = payments_state([*API, new_pod])
    _, result = sync(adapter, state)
    made = writes(device, mark)
    assert result.ok and len(made) <= 2, made
    assert [entry["method"] for entry in made] == ["POST", "POST"]
    assert made[1]["path"].endswith("/member")
    check_conformance(device, state, payments_probes())


def test_one_pod_removed_costs_o1_writes(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state([*API, "10.244.1.20"]))
    mark = device.last_seq()
    state = payments_state([a for a in [*API, "10.244.1.20"] if a != "10.244.1.9"])  # still two members
    _, result = sync(adapter, state)
    made = writes(device, mark)
    assert result.ok
    assert [(e["method"], e["path"].rsplit("/", 2)[-2]) for e in made] == [("DELETE", "member"),
                                                                           ("DELETE", "address")]
    check_conformance(device, state, payments_probes())


def test_pod_joining_a_service_inside_its_namespace_costs_two_writes(device: Device,
                                                                    make_adapter: AdapterFactory) -> None:
    # the pod joins gateway's group and the namespace's: the namespace's group holds gateway's
    adapter = make_adapter()
    sync(adapter, edge_state())
    mark = device.last_seq()
    state = edge_state(["10.244.3.50"])
    _, result = sync(adapter, state)
    made = [(e["method"], unquote(e["path"]).split("/cmdb/", 1)[1]) for e in writes(device, mark)]
    assert result.ok and made == [("POST", "firewall/address"),
                                  ("POST", "firewall/addrgrp/fc_prod_src_svc/edge/gateway/member")], made
    check_conformance(device, state, edge_probes(["10.244.3.50"]))


@pytest.mark.parametrize("gone", ["10.244.3.20", "10.244.3.10", "10.244.3.30"])
def test_pod_leaving_a_service_and_its_namespace_costs_at_most_two_writes(
        device: Device, make_adapter: AdapterFactory, gone: str) -> None:
    adapter = make_adapter()
    sync(adapter, edge_state())
    mark = device.last_seq()
    state = edge_state(gone=gone)
    _, result = sync(adapter, state)
    made = [(e["method"], e["path"].rsplit("/", 2)[-2]) for e in writes(device, mark)]
    assert result.ok and made == [("DELETE", "member"), ("DELETE", "address")], made
    check_conformance(device, state, edge_probes())


def test_nesting_changes_converge_and_conform(device: Device, make_adapter: AdapterFactory) -> None:
    """Relations between groups change (a Service grows to its whole namespace, a Service's group
    goes away while the namespace's holds it, a group grows past the member limit): each apply
    converges, decides like the model and a second apply writes nothing."""
    adapter = make_adapter()
    base = int(ipaddress.IPv4Address("10.244.8.0"))
    many = [str(ipaddress.IPv4Address(base + 2 * i)) for i in range(700)]
    everyone = edge_state(["10.244.3.4", "10.244.3.11", "10.244.3.30"])  # gateway = the namespace
    kept = {k: g for k, g in everyone.groups.items() if k != "svc/edge/web"}
    without_web = DeviceState("fgt", "prod", kept, everyone.destinations, everyone.port_sets,
                              tuple(r for r in everyone.rules if r.source != "svc/edge/web"))
    for state in (edge_state(), everyone, without_web, edge_state(many), edge_state(many[:650], "10.244.3.2"),
                  edge_state()):
        _, result = sync(adapter, state)
        assert result.ok, result.error
        check_conformance(device, state, edge_probes([many[0], many[649], many[699], "10.244.8.1"]))
        assert sync(adapter, state)[0].empty
    assert_no_collection_delete(device)


def test_pod_in_the_middle_of_a_range_removed(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state())
    state = payments_state([a for a in API if a != "10.244.1.3"])
    _, result = sync(adapter, state)
    assert result.ok, result.error
    check_conformance(device, state, payments_probes() + [p for p in payments_probes()
                                                          if p.source == "10.244.1.3"])
    assert sync(adapter, state)[0].empty


def test_large_group_is_nested_and_one_pod_touches_one_subgroup(device: Device,
                                                                make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    base = int(ipaddress.IPv4Address("10.100.0.0"))
    hosts = [str(ipaddress.IPv4Address(base + 2 * i + 1)) for i in range(1400)]  # no two adjacent
    big = group("svc/payments/api", "payments", hosts, "api")
    state = DeviceState("fgt", "prod", {big.key: big}, {}, {},
                        (rule("allow-all", big.key, None, None, Action.ALLOW),))
    _, result = sync(adapter, state)
    assert result.ok, result.error
    groups = {g["name"]: g for g in device.table("firewall/addrgrp")}
    assert all(len(g["member"]) <= 600 for g in groups.values())
    top = next(name for name in groups if name.endswith("svc/payments/api"))
    assert len(groups) > 2 and all(m["name"] in groups for m in groups[top]["member"])
    mark = device.last_seq()
    grown = group("svc/payments/api", "payments", [*hosts, "10.200.0.1"], "api")
    state = DeviceState("fgt", "prod", {grown.key: grown}, {}, {}, state.rules)
    _, result = sync(adapter, state)
    assert result.ok and len(writes(device, mark)) == 2


def test_a_full_group_split_and_joined_again_stays_within_the_member_limit(
        device: Device, make_adapter: AdapterFactory) -> None:
    # 600 members (the limit) become two sub-groups and back: a member is removed before an add
    # that would overfill the group (the device refuses a 601st member)
    adapter = make_adapter()
    base = int(ipaddress.IPv4Address("10.100.0.0"))
    hosts = [str(ipaddress.IPv4Address(base + 2 * i + 1)) for i in range(602)]
    for count in (600, 602, 600):
        big = group("svc/payments/api", "payments", hosts[:count], "api")
        state = DeviceState("fgt", "prod", {big.key: big}, {}, {},
                            (rule("allow-all", big.key, None, None, Action.ALLOW),))
        _, result = sync(adapter, state)
        assert result.ok, result.error
        assert sync(adapter, state)[0].empty
    top = next(g for g in device.table("firewall/addrgrp") if g["name"] == "fc_prod_src_svc/payments/api")
    assert len(top["member"]) == 600


def test_drift_is_repaired(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    state = payments_state()
    sync(adapter, state)
    policies = device.table("firewall/policy")
    groups = device.table("firewall/addrgrp")
    api_group = next(g for g in groups if g["name"].endswith("svc/payments/api"))
    with device.api() as client:
        # by hand: a policy flipped to accept and disabled, one removed, a member dropped, a service changed
        flip = next(p for p in policies if p["action"] == "deny")
        client.put(f"{CMDB}/firewall/policy/{flip['policyid']}", params={"vdom": "root"},
                   json={"action": "accept", "status": "disable"}).raise_for_status()
        client.delete(f"{CMDB}/firewall/policy/{policies[0]['policyid']}",
                      params={"vdom": "root"}).raise_for_status()
        member = api_group["member"][0]["name"]
        client.delete(f"{CMDB}/firewall/addrgrp/{api_group['name'].replace('/', '%2F')}/member/"
                      f"{member.replace('/', '%2F')}", params={"vdom": "root"}).raise_for_status()
        service = next(s for s in device.table("firewall.service/custom") if s["name"].startswith("fc_"))
        client.put(f"{CMDB}/firewall.service/custom/{service['name'].replace('/', '%2F')}",
                   params={"vdom": "root"}, json={"tcp-portrange": "1-65535"}).raise_for_status()
    plan, result = sync(adapter, state)
    assert not plan.empty and result.ok, result.error
    check_conformance(device, state, payments_probes())
    assert sync(adapter, state)[0].empty


def test_foreign_objects_are_untouched_and_our_block_is_placed(device: Device,
                                                              make_adapter: AdapterFactory) -> None:
    seed_foreign(device)
    before = foreign_snapshot(device)
    corp2 = next(p["policyid"] for p in before["policy"] if p["name"] == "corp-2")
    adapter = make_adapter(placement={"before": corp2})
    state = payments_state()
    plan, result = sync(adapter, state)
    assert result.ok, result.error
    assert [c.name for c in plan.conflicts] == ["fc_prod_ip_10.244.1.9"]
    order = [(p["name"], p["comments"].startswith("fusion-connector:prod"))
             for p in device.table("firewall/policy")]
    ours = [name for name, owned in order if owned]
    assert order[0][0] == "corp-1" and order[len(ours) + 1][0] == "corp-2"
    assert all(owned for _, owned in order[1:len(ours) + 1])
    # the rules whose group needs the conflicting address are withheld, the rest conform
    sync(adapter, payments_state(reverse=True))
    sync(adapter, DeviceState("fgt", "prod"))
    after = foreign_snapshot(device)
    assert after == before
    assert [p["name"] for p in device.table("firewall/policy")] == ["corp-1", "corp-2", "corp-3"]
    assert_no_collection_delete(device)


def test_missing_placement_anchor_is_a_clear_error(device: Device, make_adapter: AdapterFactory) -> None:
    _, result = sync(make_adapter(placement={"before": 4242}), payments_state())
    assert not result.ok and "placement: policy 4242 does not exist" in str(result.error)


def test_top_placement_puts_the_block_first(device: Device, make_adapter: AdapterFactory) -> None:
    seed_foreign(device)
    adapter = make_adapter()
    state = payments_state([a for a in API if a != "10.244.1.9"])
    sync(adapter, state)
    names = [p["name"] for p in device.table("firewall/policy")]
    assert names[-3:] == ["corp-1", "corp-2", "corp-3"] and len(names) == 3 + len(state.rules)
    check_conformance(device, state, payments_probes())


def test_full_teardown_leaves_nothing_of_ours(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state())
    _, result = sync(adapter, DeviceState("fgt", "prod"))
    assert result.ok, result.error
    for table in ("firewall/address", "firewall/addrgrp", "firewall.service/custom"):
        assert not [e for e in device.table(table) if e["comment"].startswith("fusion-connector:")]
    assert device.table("firewall/policy") == []
    assert_no_collection_delete(device)


@pytest.mark.parametrize("fault", [
    {"status": 503, "times": 4},
    {"status": 500, "times": 3, "method": "POST"},
    {"status": 429, "times": 3, "retryAfter": 0},
    {"dropConnections": 3},
    {"latencyMs": 30, "times": 20},
])
def test_faults_converge(device: Device, make_adapter: AdapterFactory, fault: dict[str, Any]) -> None:
    adapter = make_adapter()
    device.fault(fault)
    state = payments_state()
    _, result = sync(adapter, state)
    assert result.ok, result.error
    check_conformance(device, state, payments_probes())
    assert sync(adapter, state)[0].empty


def test_duplicate_created_by_hand_meanwhile_is_a_clear_error(device: Device,
                                                               make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    state = payments_state()
    actual = adapter.read()
    desired = adapter.render(state)
    from connector.planner.planner import plan as make_plan
    the_plan = make_plan("fgt", "prod", desired, actual, owner_mark=adapter.owner_mark,
                         kind_order=adapter.kind_order, ordered_kinds=adapter.ordered_kinds)
    post(device, "firewall/address", {"name": "fc_prod_ip_10.244.1.9", "subnet": "10.244.1.9/32"})
    result = adapter.apply(the_plan, desired)
    assert not result.ok
    assert "address 'fc_prod_ip_10.244.1.9'" in str(result.error) and "-5" in str(result.error)


def test_unknown_interface_is_a_clear_error_naming_the_policy(device: Device,
                                                               make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(srcintf=["port99"])
    _, result = sync(adapter, payments_state())
    assert not result.ok
    assert "policy 'fc_prod_allow-stripe_" in str(result.error) and "port99" in str(result.error)


def test_wrong_token_is_an_auth_error(device: Device, make_adapter: AdapterFactory) -> None:
    from connector.adapter import DeviceAuthError
    adapter = make_adapter()
    device.app.token = "rotated"
    try:
        with pytest.raises(DeviceAuthError):
            adapter.read()
    finally:
        device.app.token = TOKEN


def test_names_with_slashes_are_percent_encoded(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state())
    sync(adapter, DeviceState("fgt", "prod"))
    deleted = [e["path"].split("firewall/addrgrp/", 1)[1] for e in device.requests()
               if e["method"] == "DELETE" and "firewall/addrgrp/" in e["path"]]
    assert "fc_prod_src_svc/payments/api" in deleted  # one path segment on the wire: `%2F`
    assert not [g for g in device.table("firewall/addrgrp") if g["name"].startswith("fc_prod")]


def test_fresh_adapter_rendering_before_reading_still_converges(device: Device,
                                                                make_adapter: AdapterFactory) -> None:
    sync(make_adapter(), payments_state())
    fresh = make_adapter()
    state = payments_state([*API, "10.244.1.6"])  # extends a range the fresh adapter does not know of
    desired = fresh.render(state)
    actual = fresh.read()
    result = fresh.apply(fresh.plan(desired, actual), desired)
    assert result.ok, result.error
    check_conformance(device, state, payments_probes())
    assert sync(fresh, state)[0].empty


def test_block_moved_by_hand_is_put_back(device: Device, make_adapter: AdapterFactory) -> None:
    seed_foreign(device)
    corp = {p["name"]: p["policyid"] for p in device.table("firewall/policy")}
    adapter = make_adapter(placement={"before": corp["corp-2"]})
    state = payments_state([a for a in API if a != "10.244.1.9"])
    sync(adapter, state)
    placed = [p["name"] for p in device.table("firewall/policy")]
    ours = [p["policyid"] for p in device.table("firewall/policy") if p["name"].startswith("fc_prod")]
    with device.api() as client:  # by hand: the whole block after corp-3, its own order kept
        after = corp["corp-3"]
        for pid in ours:
            client.put(f"{CMDB}/firewall/policy/{pid}", params={"vdom": "root", "action": "move",
                                                                "after": after}).raise_for_status()
            after = pid
    assert [p["name"] for p in device.table("firewall/policy")] != placed
    mark = device.last_seq()
    plan, result = sync(adapter, state)
    assert plan.counts()["update"] == 1 and result.ok, result.error
    assert [e["method"] for e in writes(device, mark)] == ["PUT"] * len(ours)  # moves only
    assert [p["name"] for p in device.table("firewall/policy")] == placed
    assert sync(adapter, state)[0].empty
