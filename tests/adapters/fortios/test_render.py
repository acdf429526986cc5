"""Pure rendering: collapse of contiguous hosts, reuse of pieces on the device, source groups
holding the groups they contain, group splitting, names within FortiOS limits, IPv6 in
address6/addrgrp6 and srcaddr6/dstaddr6 (a family's pair set only when whole, never widened), bodies
and comments."""

from __future__ import annotations

import functools
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.fortios import FortiOSAdapter
from adapters.fortios.known import KnownPieces, Piece, collapse
from adapters.fortios.nesting import nested_sources
from adapters.fortios.render import (
    ADDRESS,
    ADDRESS6,
    ADDRGRP,
    ADDRGRP6,
    DEFAULT_GROUP_MEMBERS,
    POLICY,
    SERVICE,
    PolicySettings,
    policy_name,
)
from adapters.fortios.renderer import render_state
from connector.model import Action, Destination, DeviceState, PortRange, PortSet, Protocol, SourceGroup
from connector.planner.types import DeviceObject
from tests.adapters.fortios.conftest import AdapterFactory
from tests.adapters.fortios.scenarios import (
    edge_state,
    group,
    nested_states,
    payments_state,
    rule,
    spread_state,
)
from tests.adapters.strategies import device_states

MARK = "fusion-connector:prod"
SETTINGS = PolicySettings(("port2",), ("port1",))


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def test_contiguous_hosts_collapse_into_ranges() -> None:
    hosts = [ip(f"10.0.0.{i}") for i in (1, 2, 3, 5, 7, 8)]
    assert collapse(hosts, ()) == [(hosts[0], hosts[2]), (hosts[3], hosts[3]), (hosts[4], hosts[5])]


def test_known_pieces_are_kept_inside_runs() -> None:
    a = ip("10.0.0.1")
    # on the device: 1-3 and the host 4; 5 is new and stays a host of its own
    pieces = collapse(range(a, a + 5), {(a, a + 2), (a + 3, a + 3)})
    assert pieces == [(a, a + 2), (a + 3, a + 3), (a + 4, a + 4)]
    # a known range that no longer fits (3 left) is not reused
    assert collapse([a, a + 1, a + 3, a + 4], {(a, a + 4)}) == [(a, a + 1), (a + 3, a + 4)]
    # of known pieces starting at one host, the longest that fits is kept
    assert collapse(range(a, a + 5), [(a, a + 1), (a, a + 3), (a, a + 9)]) == [(a, a + 3), (a + 4, a + 4)]


@given(st.sets(st.integers(0, 60), max_size=40), st.sets(st.tuples(st.integers(0, 60), st.integers(0, 8)),
                                                          max_size=10))
@settings(max_examples=100)
def test_collapse_covers_exactly_the_hosts(hosts: set[int], known: set[tuple[int, int]]) -> None:
    pieces = collapse(hosts, {(s, s + n) for s, n in known})
    covered = [h for start, end in pieces for h in range(start, end + 1)]
    assert sorted(covered) == sorted(hosts)


def reference_collapse(hosts: set[int], known: set[Piece]) -> list[Piece]:
    """`collapse` spelled out naively: each run of consecutive hosts, walked host by host, keeps the
    longest known piece starting at the host and ending inside the run."""
    pieces: list[Piece] = []
    runs: list[list[int]] = []
    for host in sorted(hosts):
        if runs and runs[-1][-1] == host - 1:
            runs[-1].append(host)
        else:
            runs.append([host])
    for run in runs:
        position, segment = run[0], run[0]
        while position <= run[-1]:
            fitting = [end for start, end in known if start == position and end <= run[-1]]
            if not fitting:
                position += 1
                continue
            if segment < position:
                pieces.append((segment, position - 1))
            pieces.append((position, max(fitting)))
            position = segment = max(fitting) + 1
        if segment <= run[-1]:
            pieces.append((segment, run[-1]))
    return pieces


@given(st.sets(st.integers(0, 40), max_size=40), st.sets(st.tuples(st.integers(0, 40), st.integers(0, 6)),
                                                          max_size=30))
@settings(max_examples=100)
def test_collapse_with_a_shared_index_equals_the_naive_reference(hosts: set[int],
                                                                 starts: set[tuple[int, int]]) -> None:
    known = {(s, s + n) for s, n in starts}
    index = KnownPieces(sorted(known, reverse=True))
    assert collapse(hosts, index) == collapse(hosts, known) == reference_collapse(hosts, known)
    assert collapse(hosts, index) == collapse(sorted(hosts, reverse=True), index)  # index reusable


def pieces_of(objects: list[DeviceObject]) -> list[Piece]:
    out: list[Piece] = []
    for obj in objects:
        if obj.kind == ADDRESS and obj.body["type"] == "iprange":
            out.append((ip(obj.body["start-ip"]), ip(obj.body["end-ip"])))
        elif obj.kind == ADDRESS and obj.body["subnet"].endswith("/32"):
            out.append((ip(obj.body["subnet"][:-3]),) * 2)
    return out


def test_large_state_renders_the_same_however_the_known_pieces_are_given() -> None:
    # 3,000 scattered pods in 30 namespaces (three groups each, two nested) and 700 contiguous pods
    state = spread_state(3000, 30, block=700)
    cold = render_state(state, mark=MARK, settings=SETTINGS)
    known = pieces_of(cold)
    assert len(known) == 3001 and len({o.name for o in cold}) == len(cold)
    for given_as in (set(known), list(reversed(known)), KnownPieces(known), known + known):
        assert render_state(state, mark=MARK, settings=SETTINGS, known=given_as) == cold
    # pods 7 and 8 gone, 3001 new: a render from what the device holds changes O(1) objects
    churned = spread_state(3000, 30, block=700, moved=(7, 8), added=(3001,))
    after = render_state(churned, mark=MARK, settings=SETTINGS, known=set(known))
    assert after == render_state(churned, mark=MARK, settings=SETTINGS, known=KnownPieces(reversed(known)))
    before = {(o.kind, o.name): o for o in cold}
    now = {(o.kind, o.name): o for o in after}
    changed = {ref for ref in before.keys() | now.keys() if before.get(ref) != now.get(ref)}
    assert {ref for ref in changed if ref[0] == ADDRESS} == {
        (ADDRESS, f"fc_prod_ip_{host}") for host in ("10.244.0.7", "10.244.0.8", "10.244.11.185")}
    assert {ref for ref in changed if ref[0] == ADDRESS6} == {
        (ADDRESS6, f"fc_prod_ip_{host}") for host in ("fd00::7", "fd00::8", "fd00::bb9")}
    touched = {f"fc_prod_src_svc/{ns}/{svc}" for ns in ("ns001", "ns007", "ns008") for svc in ("web", "half")}
    touched6 = {f"fc_prod_src6_{kind}" for ns in ("ns001", "ns007", "ns008")
                for kind in (f"ns/{ns}", f"svc/{ns}/web")}
    assert {ref for ref in changed if ref[0] not in (ADDRESS, ADDRESS6)} <= (
        {(ADDRGRP, name) for name in touched} | {(ADDRGRP6, name) for name in touched6})
    by_name = {o.name: o for o in after if o.kind in (ADDRESS, ADDRGRP)}

    @functools.cache
    def hosts_of(name: str) -> frozenset[int]:
        obj = by_name[name]
        if obj.kind == ADDRGRP:
            return frozenset().union(*(hosts_of(member) for member in obj.body["member"]))
        (start, end), = pieces_of([obj])
        return frozenset(range(start, end + 1))

    for key, source in churned.groups.items():
        assert frozenset().union(*map(hosts_of, source_refs(after, churned, key))) == v4_hosts(source)
    # a namespace's group equal to its Service's is that Service's group: no addrgrp of its own
    assert "fc_prod_src_ns/ns001" not in by_name
    assert source_refs(after, churned, "ns/ns001") == ["fc_prod_src_svc/ns001/web"]
    # the contiguous block is one range, referenced by the policy directly
    assert source_refs(after, churned, "ns/blk") == ["fc_prod_ip_10.250.0.0-10.250.2.187"]


def test_bodies_names_and_marks() -> None:
    objects = render_state(payments_state(), mark=MARK, settings=SETTINGS)
    by_kind: dict[str, list[str]] = {}
    for obj in objects:
        by_kind.setdefault(obj.kind, []).append(obj.name)
        assert obj.owner == MARK
        comment = obj.body["comments" if obj.kind == POLICY else "comment"]
        assert comment.split()[0] == MARK
        assert len(obj.name) <= (35 if obj.kind == POLICY else 79)
    assert "fc_prod_ip_10.244.1.2-10.244.1.5" in by_kind[ADDRESS]
    assert "fc_prod_fqdn_api.stripe.com" in by_kind[ADDRESS]
    assert "fc_prod_ip_10.20.30.0/24" in by_kind[ADDRESS]
    assert not [name for name in by_kind[ADDRESS] if ":" in name.split("_ip_")[-1]]  # IPv6 is apart
    # the Service's one IPv6 pod is held by an addrgrp6 (several policies name the group); IPv6
    # networks and FQDNs are address6 objects
    assert sorted(by_kind[ADDRESS6]) == ["fc_prod_fqdn6_api.stripe.com", "fc_prod_ip_2001:db8:1::/48",
                                         "fc_prod_ip_2001:db8::/64", "fc_prod_ip_fd00::10"]
    assert by_kind[ADDRGRP6] == ["fc_prod_src6_svc/payments/api"]
    bodies6 = {obj.name: obj.body for obj in objects if obj.kind == ADDRESS6}
    assert bodies6["fc_prod_ip_fd00::10"] == {"type": "ipprefix", "ip6": "fd00::10/128", "comment": MARK}
    assert bodies6["fc_prod_fqdn6_api.stripe.com"]["fqdn"] == "api.stripe.com"
    assert "fc_prod_src_svc/payments/api" in by_kind[ADDRGRP]
    services = {obj.name: obj.body for obj in objects if obj.kind == SERVICE}
    assert services["fc_prod_ports_tcp-5432_tcp-8000-8080"]["tcp-portrange"] == "5432 8000-8080"
    policies = [obj for obj in objects if obj.kind == POLICY]
    # one policy per rule, each family's pair set when both its sides are: deny-v6 (an IPv6-only
    # destination) is IPv6 only, deny-internal (IPv4 only) has no IPv6 pair, shop has no IPv6 pod
    assert [p.name.rsplit("_", 1)[0] for p in policies] == [
        "fc_prod_allow-stripe", "fc_prod_allow-db", "fc_prod_deny-v6", "fc_prod_deny-internal",
        "fc_prod_shop-dns", "fc_prod_payments-default"]
    pairs = {p.name.rsplit("_", 1)[0]: (p.body["srcaddr"], p.body["dstaddr"], p.body["srcaddr6"],
                                        p.body["dstaddr6"]) for p in policies}
    src6 = ["fc_prod_src6_svc/payments/api"]
    assert pairs["fc_prod_deny-v6"] == ([], [], src6, ["fc_prod_ip_2001:db8:1::/48"])
    assert pairs["fc_prod_deny-internal"][2:] == ([], [])
    assert pairs["fc_prod_allow-db"][2:] == (src6, ["fc_prod_ip_2001:db8::/64"])
    assert pairs["fc_prod_allow-stripe"][3] == ["fc_prod_fqdn6_api.stripe.com"]
    assert pairs["fc_prod_shop-dns"] == (["fc_prod_ip_10.244.2.7-10.244.2.8"], ["all"], [], [])
    assert pairs["fc_prod_payments-default"][2:] == (src6, ["all"])
    db = policies[1].body
    assert (db["action"], db["logtraffic"], db["schedule"], db["srcintf"], db["dstintf"]) == \
        ("accept", "all", "always", ["port2"], ["port1"])
    assert policies[-1].body["dstaddr"] == ["all"] and policies[-1].body["service"] == ["ALL"]
    assert policies[-1].body["action"] == "deny" and policies[-1].body["logtraffic"] == "disable"


def test_rule_with_ipv6_only_sources_is_an_ipv6_only_policy() -> None:
    v6 = group("ns/v6", "v6", ["fd00::1", "fd00::2"])
    rules = (rule("all-v6", v6.key, None, None, Action.ALLOW),)
    state = DeviceState("fgt", "prod", {v6.key: v6}, {}, {}, rules)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    assert [(o.kind, o.name) for o in objects] == [
        (ADDRESS6, "fc_prod_ip_fd00::1"), (ADDRESS6, "fc_prod_ip_fd00::2"), (ADDRGRP6, "fc_prod_src6_ns/v6"),
        (POLICY, objects[-1].name)]
    assert objects[2].body["member"] == ["fc_prod_ip_fd00::1", "fc_prod_ip_fd00::2"]
    body = objects[-1].body
    assert (body["srcaddr"], body["dstaddr"], body["srcaddr6"], body["dstaddr6"]) == (
        [], [], ["fc_prod_src6_ns/v6"], ["all"])


def test_ipv6_destination_for_ipv4_only_sources_is_left_off_never_widened() -> None:
    v4 = group("ns/v4", "v4", ["10.0.0.1"])
    dest = Destination("es/v4/six", "v4", "six", ("2001:db8::/64",))
    rules = (rule("six", v4.key, dest.key, None, Action.ALLOW),)
    state = DeviceState("fgt", "prod", {v4.key: v4}, {dest.key: dest}, {}, rules)
    assert [o for o in render_state(state, mark=MARK, settings=SETTINGS) if o.kind == POLICY] == []


def test_large_ipv6_groups_split_under_the_member_limit() -> None:
    hosts = [f"fd00::{i:x}" for i in range(1, 1501)]
    big = group("svc/a/b", "a", hosts, "b")
    rules = (rule("r", big.key, None, None, Action.ALLOW),)
    state = DeviceState("fgt", "prod", {big.key: big}, {}, {}, rules)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP6}
    assert all(len(members) <= DEFAULT_GROUP_MEMBERS for members in groups.values())
    top = groups["fc_prod_src6_svc/a/b"]
    assert set(top) <= set(groups) and sum(len(groups[child]) for child in top) == 1500
    grown = group("svc/a/b", "a", [*hosts, "fd00::ffff"], "b")
    after = render_state(DeviceState("fgt", "prod", {grown.key: grown}, {}, {}, rules), mark=MARK,
                         settings=SETTINGS)
    groups2 = {o.name: o.body["member"] for o in after if o.kind == ADDRGRP6}
    assert sum(1 for name in groups2 if groups2[name] != groups.get(name)) == 1


def test_large_groups_nest_with_stable_assignment() -> None:
    base = ip("10.100.0.0")
    hosts = [str(ipaddress.IPv4Address(base + 2 * i)) for i in range(2000)]
    big = group("svc/a/b", "a", hosts, "b")
    rules = (rule("r", big.key, None, None, Action.ALLOW),)
    state = DeviceState("fgt", "prod", {big.key: big}, {}, {}, rules)
    groups = {o.name: o.body["member"] for o in render_state(state, mark=MARK, settings=SETTINGS)
              if o.kind == ADDRGRP}
    assert all(len(members) <= DEFAULT_GROUP_MEMBERS for members in groups.values())
    top = groups["fc_prod_src_svc/a/b"]
    assert set(top) <= set(groups) and sum(len(groups[child]) for child in top) == 2000
    grown = group("svc/a/b", "a", [*hosts, "10.200.0.1"], "b")
    state2 = DeviceState("fgt", "prod", {grown.key: grown}, {}, {}, state.rules)
    groups2 = {o.name: o.body["member"] for o in render_state(state2, mark=MARK, settings=SETTINGS)
               if o.kind == ADDRGRP}
    assert sum(1 for name in groups2 if groups2[name] != groups.get(name)) == 1


@given(device_states())
@settings(max_examples=40, deadline=None)
def test_render_is_deterministic_and_within_limits(state: DeviceState) -> None:
    first = render_state(state, mark=MARK, settings=SETTINGS)
    assert first == render_state(state, mark=MARK, settings=SETTINGS)
    names = [(o.kind, o.name) for o in first]
    assert len(names) == len(set(names))
    for obj in first:
        assert len(obj.name) <= (35 if obj.kind == POLICY else 79)
        assert len(obj.body["comments" if obj.kind == POLICY else "comment"]) <= (1023 if obj.kind == POLICY
                                                                                 else 255)


def test_capabilities_are_honest() -> None:
    caps = FortiOSAdapter.capabilities
    assert (caps.ipv6, caps.fqdn, caps.logging, caps.incremental_members) == (True, True, True, True)
    assert FortiOSAdapter.kind_order == ("address", "address6", "addrgrp", "addrgrp6", "service", "policy")
    assert FortiOSAdapter.ordered_kinds == frozenset({"policy"})


def resolve(objects: list[DeviceObject], name: str) -> set[int]:
    """The IPv4 hosts a rendered address or group stands for, groups resolved recursively."""
    by_name = {o.name: o for o in objects if o.kind in (ADDRESS, ADDRGRP)}
    obj = by_name[name]
    if obj.kind == ADDRGRP:
        return set().union(*(resolve(objects, member) for member in obj.body["member"]))
    if obj.body["type"] == "iprange":
        return set(range(ip(obj.body["start-ip"]), ip(obj.body["end-ip"]) + 1))
    network = ipaddress.IPv4Network(obj.body["subnet"])
    return set(range(int(network.network_address), int(network.broadcast_address) + 1))


def v4_hosts(source: SourceGroup) -> set[int]:
    return {ip(a) for a in source.addresses if ipaddress.ip_address(a).version == 4}


def source_refs(objects: list[DeviceObject], state: DeviceState, key: str) -> list[str]:
    """What group `key` is referenced by: the `srcaddr` of the policy of a rule whose source it is
    (empty when no such policy is rendered)."""
    names = {policy_name(state.cluster, r) for r in state.rules if r.source == key}
    found: list[list[str]] = [o.body["srcaddr"] for o in objects if o.kind == POLICY and o.name in names]
    assert all(refs == found[0] for refs in found)
    return found[0] if found else []


def resolve_source(objects: list[DeviceObject], state: DeviceState, key: str) -> set[int]:
    """The IPv4 hosts the references of group `key` stand for."""
    return set().union(*(resolve(objects, ref) for ref in source_refs(objects, state, key)))


def source_groups(objects: list[DeviceObject], state: DeviceState) -> dict[str, list[str]]:
    """Members of the addrgrps named after a source group of `state` (not sub-groups)."""
    names = {f"fc_{state.cluster}_src_{key}" for key in state.groups}
    return {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP and o.name in names}


def test_namespace_group_holds_its_services_groups() -> None:
    objects = render_state(edge_state(), mark=MARK, settings=SETTINGS)
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP}
    assert groups["fc_prod_src_ns/edge"] == ["fc_prod_ip_10.244.3.30", "fc_prod_src_svc/edge/gateway",
                                             "fc_prod_src_svc/edge/web"]
    assert groups["fc_prod_src_svc/edge/gateway"] == [
        "fc_prod_ip_10.244.3.10", "fc_prod_ip_10.244.3.2-10.244.3.3", "fc_prod_ip_10.244.3.20"]
    for key, source in edge_state().groups.items():
        assert resolve(objects, f"fc_prod_src_{key}") == v4_hosts(source)
    # a pod joining gateway (and so the namespace) changes gateway's group only
    grown = render_state(edge_state(["10.244.3.50"]), mark=MARK, settings=SETTINGS)
    before = {(o.kind, o.name): o for o in objects}
    changed = {ref for ref, o in {(o.kind, o.name): o for o in grown}.items() if before.get(ref) != o}
    assert changed == {(ADDRESS, "fc_prod_ip_10.244.3.50"), (ADDRGRP, "fc_prod_src_svc/edge/gateway")}
    assert len(grown) == len(objects) + 1


def test_nesting_is_a_strict_order_chosen_from_relations_only() -> None:
    rank = {key: (int(key.startswith("ns")), key) for key in ("ns", "a", "b", "c", "same")}
    hosts = {"ns": {1, 2, 3, 4, 5, 6}, "a": {1, 2}, "b": {2, 3}, "c": {5}, "same": {1, 2, 3, 4, 5, 6}}
    chosen = nested_sources(hosts, rank)
    # equal sets: the namespace's group holds the other, never both ways
    assert chosen["ns"] == ["same"] and chosen["same"] == ["a", "c"]
    assert chosen["a"] == chosen["b"] == chosen["c"] == []
    # a group growing without a relation changing (b still overlapping a) changes no choice
    bigger = {**hosts, "b": {2, 3, 4}}
    assert nested_sources(bigger, rank) == chosen


@given(nested_states())
@settings(max_examples=40, deadline=None)
def test_nested_groups_resolve_exactly_to_their_hosts(state: DeviceState) -> None:
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    groups = {o.name: o for o in objects if o.kind == ADDRGRP}
    assert all(0 < len(g.body["member"]) <= DEFAULT_GROUP_MEMBERS for g in groups.values())
    assert all(len(members) > 1 for members in source_groups(objects, state).values())  # one: direct
    for key, source in state.groups.items():
        name, refs = f"fc_prod_src_{key}", source_refs(objects, state, key)
        if not v4_hosts(source):
            assert refs == [] and name not in groups
            continue
        assert resolve_source(objects, state, key) == v4_hosts(source)
        assert len(refs) == 1 and (name in groups) == (refs[0] == name)
    # every member exists (`resolve` would fail otherwise) and no group holds itself, even indirectly
    def walk(name: str, trail: frozenset[str]) -> None:
        assert name not in trail, f"nesting loop through {name}"
        for member in groups[name].body["member"]:
            if member in groups:
                walk(member, trail | {name})

    for name in groups:
        walk(name, frozenset())


def test_equal_port_sets_share_one_service_named_by_its_ports() -> None:
    base = payments_state()
    same = PortSet("es/shop/web/ports", "shop", "web", (PortRange(Protocol.TCP, 443, 443),))
    rules = (*base.rules, rule("shop-web", "ns/shop", None, same.key, Action.ALLOW, namespace="shop"))
    state = DeviceState("fgt", "prod", base.groups, base.destinations, {**base.port_sets, same.key: same},
                        rules)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    services = {o.name: o for o in objects if o.kind == SERVICE}
    assert sorted(services) == ["fc_prod_ports_tcp-443", "fc_prod_ports_tcp-5432_tcp-8000-8080",
                                "fc_prod_ports_udp-53"]
    assert services["fc_prod_ports_tcp-443"].identities == ("ExternalService/payments/stripe",
                                                            "ExternalService/shop/web")
    assert services["fc_prod_ports_tcp-443"].body["comment"] == f"{MARK} ports tcp 443"
    policies = {o.name.rsplit("_", 1)[0]: o.body["service"] for o in objects if o.kind == POLICY}
    assert policies["fc_prod_allow-stripe"] == policies["fc_prod_shop-web"] == ["fc_prod_ports_tcp-443"]


def test_small_destinations_are_referenced_directly_large_ones_through_a_group() -> None:
    base = payments_state()
    large = Destination("es/payments/db", "payments", "db",
                        (*(f"10.30.{i}.0/24" for i in range(8)), "2001:db8::/64"), ("db.example",))
    state = DeviceState("fgt", "prod", base.groups, {**base.destinations, large.key: large}, base.port_sets,
                        base.rules)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    policies = {o.name.rsplit("_", 1)[0]: o.body["dstaddr"] for o in objects if o.kind == POLICY}
    assert policies["fc_prod_allow-stripe"] == ["fc_prod_fqdn_api.stripe.com"]
    assert policies["fc_prod_deny-internal"] == ["fc_prod_ip_10.20.0.0/16"]
    assert policies["fc_prod_allow-db"] == ["fc_prod_dst_es/payments/db"]  # nine IPv4/FQDN addresses
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP}
    assert len(groups["fc_prod_dst_es/payments/db"]) == 9
    assert [name for name in groups if "_dst_" in name] == ["fc_prod_dst_es/payments/db"]


def test_member_limit_comes_from_the_configuration(make_adapter: AdapterFactory) -> None:
    state = spread_state(300, 2, block=130)
    adapter = make_adapter(capacity={"groupMembers": 40})
    groups = [o for o in adapter.render(state) if o.kind == ADDRGRP]
    assert max(len(g.body["member"]) for g in groups) <= 40
    assert any(g.name.startswith("fc_prod_src_svc/ns000/web_p") for g in groups)  # split beyond 40
    for key, source in state.groups.items():
        assert resolve_source(adapter.render(state), state, key) == v4_hosts(source)
