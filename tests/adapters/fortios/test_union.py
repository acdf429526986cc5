"""Union source groups (a ClusterEgressRule's namespaces, by reference): rendered as an addrgrp of
the included groups' references, never expanded; one reference is used directly; empty parts left
out, never widened; a namespace joining or leaving costs O(1) writes, also when the union is split
beyond the configured member limit (the policy then lists the sub-groups)."""

from __future__ import annotations

from adapters.fortios.render import ADDRGRP, POLICY, PolicySettings
from adapters.fortios.renderer import render_state
from connector.evaluate import Probe
from connector.model import DeviceState, Protocol
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import union_probes, union_state
from tests.adapters.fortios.test_apply import writes
from tests.adapters.fortios.test_conformance import check_conformance
from tests.adapters.fortios.test_render import resolve_source, source_refs, v4_hosts

MARK = "fusion-connector:prod"
SETTINGS = PolicySettings(("port2",), ("port1",))


def test_union_holds_its_rendered_namespaces_by_reference() -> None:
    state = union_state()
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP}
    # ns/v6 has no IPv4 pod: not rendered and not referenced; ns/a's pods are one range, which the
    # union (and ns/a's policy) references directly: ns/a has no addrgrp
    assert groups["fc_prod_src_cr/web"] == ["fc_prod_ip_10.5.0.1-10.5.0.3", "fc_prod_src_ns/b"]
    assert "fc_prod_src_ns/v6" not in groups and "fc_prod_src_ns/a" not in groups
    # ns/b is rendered although only the union (and its own rule) references it; ns/c is unused
    assert "fc_prod_src_ns/b" in groups and "fc_prod_src_ns/c" not in groups
    # the lockdown union has no IPv4 host: no group; its policy is IPv6 only (ns/v6's one pod)
    assert "fc_prod_src_cr/lockdown" not in groups
    policies = [o for o in objects if o.kind == POLICY]
    assert [p.body["srcaddr"] for p in policies] == [
        [], ["fc_prod_src_cr/web"], ["fc_prod_ip_10.5.0.1-10.5.0.3"], ["fc_prod_src_ns/b"]]
    # web's destination is IPv4 only: no IPv6 pair (its union's addrgrp6 is rendered all the same)
    assert [p.body["srcaddr6"] for p in policies] == [["fc_prod_ip_fd00::1"], [], [], ["fc_prod_ip_fd00::5"]]
    assert {o.name: o.body["member"] for o in objects if o.kind == "addrgrp6"} == {
        "fc_prod_src6_cr/web": ["fc_prod_ip_fd00::1", "fc_prod_ip_fd00::5"]}
    policies = policies[1:]
    assert policies[0].body["dstaddr"] == ["fc_prod_ip_203.0.113.0/24"]  # one address: no addrgrp
    for key in ("cr/web", "ns/a", "ns/b"):
        assert resolve_source(objects, state, key) == {
            h for inner in state.group_keys(key) for h in v4_hosts(state.groups[inner])}


def test_a_union_of_one_reference_is_that_reference() -> None:
    state = union_state(("ns/b", "ns/v6"))
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    assert "fc_prod_src_cr/web" not in {o.name for o in objects}
    assert source_refs(objects, state, "cr/web") == ["fc_prod_src_ns/b"]
    assert source_refs(objects, state, "ns/b") == ["fc_prod_src_ns/b"]
    state = union_state(("ns/a",))
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    assert source_refs(objects, state, "cr/web") == ["fc_prod_ip_10.5.0.1-10.5.0.3"]
    assert [o.name for o in objects if o.kind == ADDRGRP] == ["fc_prod_src_ns/b"]  # b-any's source


def test_union_with_own_members_and_an_included_union() -> None:
    state = union_state()
    outer = type(state.groups["cr/web"])("cr/outer", "prod", "", (("10.5.9.9", ()),), rule="outer",
                                         purpose="union", includes=("cr/web", "ns/v6"))
    rules = (*state.rules, state.rules[1].__class__("outer", state.rules[1].origin, "cr/outer", None, None,
                                                    state.rules[1].action))
    state = DeviceState("fgt", "prod", {**state.groups, "cr/outer": outer}, state.destinations,
                        state.port_sets, rules)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP}
    assert groups["fc_prod_src_cr/outer"] == ["fc_prod_ip_10.5.9.9", "fc_prod_src_cr/web"]
    assert resolve_source(objects, state, "cr/outer") == {
        h for inner in state.group_keys("cr/outer") for h in v4_hosts(state.groups[inner])}


def test_union_rules_decide_like_the_model(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    for state in (union_state(), union_state(("ns/b",)), union_state(("ns/v6",))):
        _, result = sync(adapter, state)
        assert result.ok, result.error
        check_conformance(device, state, union_probes())
        assert sync(adapter, state)[0].empty


def test_a_namespace_joining_or_leaving_the_union_costs_o1_writes(device: Device,
                                                                   make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    extra = {"ns/c": ["10.5.2.9"]}
    assert sync(adapter, union_state(extra=extra))[1].ok
    mark = device.last_seq()
    joined = union_state(("ns/a", "ns/b", "ns/v6", "ns/c"), extra=extra)
    _, result = sync(adapter, joined)
    made = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in writes(device, mark)]
    # ns/c's address is new (no rule used it before; one pod: no group of its own), then one member add
    assert result.ok and made == [("POST", "address"), ("POST", "member")], made
    check_conformance(device, joined, union_probes())
    mark = device.last_seq()
    _, result = sync(adapter, union_state(extra=extra))
    made = [(e["method"], e["path"]) for e in writes(device, mark)]  # the member and the address
    assert result.ok and [m for m, _ in made] == ["DELETE"] * 2 and "/member/" in made[0][1], made
    extra = {"ns/c": ["10.5.2.9", "10.5.2.20"]}  # a namespace with a group of its own joins and leaves
    assert sync(adapter, union_state(extra=extra))[1].ok
    mark = device.last_seq()
    _, result = sync(adapter, union_state(("ns/a", "ns/b", "ns/v6", "ns/c"), extra=extra))
    made = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in writes(device, mark)]
    assert result.ok and made == [("POST", "address"), ("POST", "address"), ("POST", "addrgrp"),
                                  ("POST", "member")], made
    mark = device.last_seq()
    _, result = sync(adapter, union_state(extra=extra))
    made = [(e["method"], e["path"]) for e in writes(device, mark)]  # the member, group and addresses
    assert result.ok and [m for m, _ in made] == ["DELETE"] * 4 and "/member/" in made[0][1], made


def test_a_union_over_the_member_limit_is_split_and_one_join_touches_one_subgroup(
        device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(capacity={"groupMembers": 8})
    extra = {f"ns/n{i:02d}": [f"10.6.{i}.1"] for i in range(30)}
    members = ("ns/a", "ns/b", *[f"ns/n{i:02d}" for i in range(29)])
    state = union_state(members, extra=extra)
    assert sync(adapter, state)[1].ok
    groups = {g["name"]: [m["name"] for m in g["member"]] for g in device.table("firewall/addrgrp")}
    assert all(len(found) <= 8 for found in groups.values())
    # split: the policy lists the sub-groups, there is no parent group
    web = next(p for p in device.table("firewall/policy") if p["name"].startswith("fc_prod_web_"))
    subgroups = [a["name"] for a in web["srcaddr"]]
    assert len(subgroups) > 1 and set(subgroups) <= set(groups) and "fc_prod_src_cr/web" not in groups
    assert all(name.startswith("fc_prod_src_cr/web_p") for name in subgroups)
    check_conformance(device, state, union_probes())
    mark = device.last_seq()
    joined = union_state((*members, "ns/n29"), extra=extra)
    _, result = sync(adapter, joined)
    made = [e["method"] + " " + e["path"].rsplit("/", 1)[-1] for e in writes(device, mark)]
    assert result.ok and made == ["POST address", "POST member"], made
    assert sync(adapter, joined)[0].empty
    check_conformance(device, joined, [*union_probes(), Probe("10.6.29.1", "203.0.113.5", 443, Protocol.TCP)])
