"""Source groups of one member: no addrgrp, every reference (policy srcaddr, the group holding it, a
union) uses that member. A flip between one member and two changes exactly the objects referencing
the group, on the device (write counts) and in the incremental renderer (what it re-renders)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from adapters.fortios import renderer as renderer_module
from adapters.fortios.known import KnownPieces
from adapters.fortios.render import ADDRGRP, PolicySettings, policy_name
from adapters.fortios.renderer import Renderer, render_state
from connector.evaluate import Probe
from connector.model import Action, Destination, DeviceState, PortRange, PortSet, Protocol, RuleKind
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import CLUSTER, group, rule, union
from tests.adapters.fortios.test_apply import writes
from tests.adapters.fortios.test_conformance import check_conformance
from tests.adapters.fortios.test_render import source_refs

MARK = "fusion-connector:prod"
SETTINGS = PolicySettings(("port2",), ("port1",))
ONE, TWO = ["10.7.0.5"], ["10.7.0.5", "10.7.0.9"]


def shop_state(cart: list[str], ops: list[str] | None = None, solo: list[str] | None = None,
               internal: bool = False) -> DeviceState:
    """Service shop/cart (pods `cart`) may reach an API on 443 (and with `internal` is denied the
    internal network: a second policy naming cart's sources); namespace shop (cart's pods and two
    more) denies the rest; a cluster rule lets the union of shop and ops (pods `ops`) resolve DNS;
    namespace solo's only Service has all its pods `solo`."""
    ops = ops or ["10.7.1.5"]
    solo = solo or ["10.7.2.1"]
    groups = {g.key: g for g in (group("ns/shop", "shop", [*cart, "10.7.0.20", "10.7.0.30"]),
                                 group("svc/shop/cart", "shop", cart, "cart"),
                                 group("ns/ops", "ops", ops),
                                 union("cr/dns", ["ns/shop", "ns/ops"]),
                                 group("ns/solo", "solo", solo),
                                 group("svc/solo/app", "solo", solo, "app"))}
    destinations = {d.key: d for d in (Destination("es/api", "shop", "api", ("198.51.100.7/32",)),
                                       Destination("es/internal", "shop", "internal", ("10.20.0.0/16",)))}
    port_sets = {p.key: p for p in (
        PortSet("es/api/ports", "shop", "api", (PortRange(Protocol.TCP, 443, 443),)),
        PortSet("dns", "ops", "dns", (PortRange(Protocol.UDP, 53, 53),)))}
    rules = (
        rule("dns", "cr/dns", None, "dns", Action.ALLOW, RuleKind.CLUSTER, ""),
        rule("cart-api", "svc/shop/cart", "es/api", "es/api/ports", Action.ALLOW, namespace="shop"),
        *([rule("cart-internal", "svc/shop/cart", "es/internal", None, Action.DENY, namespace="shop")]
          if internal else []),
        rule("shop-default", "ns/shop", None, None, Action.DENY, RuleKind.DEFAULT, "shop"),
        rule("app-api", "svc/solo/app", "es/api", "es/api/ports", Action.ALLOW, namespace="solo"),
        rule("solo-default", "ns/solo", None, None, Action.DENY, RuleKind.DEFAULT, "solo"),
    )
    return DeviceState("fgt", CLUSTER, groups, destinations, port_sets, rules)


def shop_probes() -> list[Probe]:
    sources = ["10.7.0.5", "10.7.0.9", "10.7.0.20", "10.7.1.5", "10.7.1.9", "10.7.2.1", "10.7.2.3",
               "10.9.9.9"]
    targets = [("198.51.100.7", 443, Protocol.TCP), ("10.20.1.1", 22, Protocol.TCP),
               ("8.8.8.8", 53, Protocol.UDP), ("8.8.8.8", 443, Protocol.TCP)]
    return [Probe(s, d, p, t) for s in sources for d, p, t in targets]


def groups_of(state: DeviceState) -> dict[str, list[str]]:
    return {o.name: o.body["member"] for o in render_state(state, mark=MARK, settings=SETTINGS)
            if o.kind == ADDRGRP}


def test_single_member_groups_are_referenced_by_their_member() -> None:
    state = shop_state(ONE)
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    groups = {o.name: o.body["member"] for o in objects if o.kind == ADDRGRP}
    # cart (one pod) and ops (one pod) have no addrgrp; solo's group would hold app's only: none either
    assert sorted(groups) == ["fc_prod_src_cr/dns", "fc_prod_src_ns/shop"]
    assert groups["fc_prod_src_ns/shop"] == ["fc_prod_ip_10.7.0.20", "fc_prod_ip_10.7.0.30",
                                             "fc_prod_ip_10.7.0.5"]
    assert groups["fc_prod_src_cr/dns"] == ["fc_prod_ip_10.7.1.5", "fc_prod_src_ns/shop"]
    assert source_refs(objects, state, "svc/shop/cart") == ["fc_prod_ip_10.7.0.5"]
    assert source_refs(objects, state, "ns/solo") == source_refs(objects, state, "svc/solo/app") == [
        "fc_prod_ip_10.7.2.1"]
    # the chain: solo holds app's group when app has two pods, and is referenced by it
    grown = shop_state(ONE, solo=["10.7.2.1", "10.7.2.3"])
    objects = render_state(grown, mark=MARK, settings=SETTINGS)
    assert "fc_prod_src_ns/solo" not in {o.name for o in objects}
    assert source_refs(objects, grown, "ns/solo") == source_refs(objects, grown, "svc/solo/app") == [
        "fc_prod_src_svc/solo/app"]
    # contiguous pods are one range: still one member
    ranged = shop_state(["10.7.0.5", "10.7.0.6"])
    assert "fc_prod_src_svc/shop/cart" not in groups_of(ranged)


def test_a_single_member_group_named_by_several_policies_keeps_its_addrgrp(
        device: Device, make_adapter: AdapterFactory) -> None:
    # a flip would rewrite every policy naming the group: with two of them, pod churn costs member
    # changes only
    one, two = shop_state(ONE, internal=True), shop_state(TWO, internal=True)
    assert "fc_prod_src_svc/shop/cart" in groups_of(one)
    adapter = make_adapter()
    assert sync(adapter, one)[1].ok
    check_conformance(device, one, shop_probes())
    mark = device.last_seq()
    assert sync(adapter, two)[1].ok
    assert _made(device, mark) == [("POST", "firewall/address"),
                                   ("POST", "firewall/addrgrp/fc_prod_src_svc/shop/cart/member")]
    check_conformance(device, two, shop_probes())


def _made(device: Device, mark: int) -> list[tuple[str, str]]:
    """(method, path below /cmdb/ with a policy id replaced by its name)."""
    ids = {str(p["policyid"]): p["name"] for p in device.table("firewall/policy")}
    out = []
    for entry in writes(device, mark):
        path = unquote(entry["path"]).split("/cmdb/", 1)[1]
        table, _, rest = path.partition("firewall/policy/")
        out.append((entry["method"], f"firewall/policy/{ids.get(rest, rest)}" if rest else table))
    return out


def _policy(state: DeviceState, key: str) -> str:
    return "firewall/policy/" + policy_name(CLUSTER, next(r for r in state.rules if r.key == key))


def _sorted_policies(made: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Policy updates run in parallel: their order among themselves is not fixed."""
    first = next((i for i, (_, path) in enumerate(made) if path.startswith("firewall/policy/")), len(made))
    last = max((i for i, (_, path) in enumerate(made) if path.startswith("firewall/policy/")), default=first)
    return made[:first] + sorted(made[first:last + 1]) + made[last + 1:]


def test_a_service_flipping_to_two_members_and_back_rewrites_what_references_it(
        device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    one, two = shop_state(ONE), shop_state(TWO)
    assert sync(adapter, one)[1].ok
    check_conformance(device, one, shop_probes())
    mark = device.last_seq()
    assert sync(adapter, two)[1].ok
    # the new pod and the Service's new group; the namespace's group swaps the pod's address for the
    # Service's group; cart's policy now names the group: one write per referencing object
    policies = [("PUT", _policy(two, "cart-api"))]
    assert _sorted_policies(_made(device, mark)) == [
        ("POST", "firewall/address"),
        ("POST", "firewall/addrgrp"),
        ("POST", "firewall/addrgrp/fc_prod_src_ns/shop/member"),
        ("DELETE", "firewall/addrgrp/fc_prod_src_ns/shop/member/fc_prod_ip_10.7.0.5"),
        *policies]
    check_conformance(device, two, shop_probes())
    assert sync(adapter, two)[0].empty
    mark = device.last_seq()
    assert sync(adapter, one)[1].ok
    assert _sorted_policies(_made(device, mark)) == [
        ("POST", "firewall/addrgrp/fc_prod_src_ns/shop/member"),
        ("DELETE", "firewall/addrgrp/fc_prod_src_ns/shop/member/fc_prod_src_svc/shop/cart"),
        *policies,
        ("DELETE", "firewall/addrgrp/fc_prod_src_svc/shop/cart"),
        ("DELETE", "firewall/address/fc_prod_ip_10.7.0.9")]
    check_conformance(device, one, shop_probes())
    assert sync(adapter, one)[0].empty


def test_a_namespace_in_a_union_flipping_swaps_the_union_member_only(
        device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    one, two = shop_state(TWO), shop_state(TWO, ops=["10.7.1.5", "10.7.1.9"])
    assert sync(adapter, one)[1].ok
    mark = device.last_seq()
    assert sync(adapter, two)[1].ok
    assert _made(device, mark) == [
        ("POST", "firewall/address"),
        ("POST", "firewall/addrgrp"),
        ("POST", "firewall/addrgrp/fc_prod_src_cr/dns/member"),
        ("DELETE", "firewall/addrgrp/fc_prod_src_cr/dns/member/fc_prod_ip_10.7.1.5")]
    check_conformance(device, two, shop_probes())
    mark = device.last_seq()
    assert sync(adapter, one)[1].ok
    assert _made(device, mark) == [
        ("POST", "firewall/addrgrp/fc_prod_src_cr/dns/member"),
        ("DELETE", "firewall/addrgrp/fc_prod_src_cr/dns/member/fc_prod_src_ns/ops"),
        ("DELETE", "firewall/addrgrp/fc_prod_src_ns/ops"),
        ("DELETE", "firewall/address/fc_prod_ip_10.7.1.9")]
    check_conformance(device, one, shop_probes())


def test_a_chain_of_single_members_flips_together(device: Device, make_adapter: AdapterFactory) -> None:
    # solo's group is app's reference: app gaining a pod changes both policies, creates one group
    adapter = make_adapter()
    one, two = shop_state(ONE), shop_state(ONE, solo=["10.7.2.1", "10.7.2.3"])
    assert sync(adapter, one)[1].ok
    mark = device.last_seq()
    assert sync(adapter, two)[1].ok
    assert _sorted_policies(_made(device, mark)) == [
        ("POST", "firewall/address"), ("POST", "firewall/addrgrp"),
        *sorted([("PUT", _policy(two, "app-api")), ("PUT", _policy(two, "solo-default"))])]
    check_conformance(device, two, shop_probes())
    assert sync(adapter, two)[0].empty


Calls = dict[str, list[str]]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """The source groups and rules the renderer renders again, by key."""
    calls: Calls = {"sources": [], "policies": []}
    render_source, render_policy = renderer_module.render_source, renderer_module.render_policy

    def source(group: Any, *args: Any) -> Any:
        calls["sources"].append(group.key)
        return render_source(group, *args)

    def policy(rule: Any, *args: Any) -> Any:
        calls["policies"].append(rule.key)
        return render_policy(rule, *args)

    monkeypatch.setattr(renderer_module, "render_source", source)
    monkeypatch.setattr(renderer_module, "render_policy", policy)
    return calls


@pytest.mark.parametrize(("before", "after", "sources", "policies"), [
    (shop_state(ONE), shop_state(TWO), ["ns/shop", "svc/shop/cart"], ["cart-api"]),
    (shop_state(TWO), shop_state(ONE), ["ns/shop", "svc/shop/cart"], ["cart-api"]),
    (shop_state(ONE, internal=True), shop_state(TWO, internal=True), ["ns/shop", "svc/shop/cart"], []),
    (shop_state(ONE), shop_state(ONE, ops=["10.7.1.5", "10.7.1.9"]), ["cr/dns", "ns/ops"], []),
    (shop_state(ONE), shop_state(ONE, solo=["10.7.2.1", "10.7.2.3"]), ["ns/solo", "svc/solo/app"],
     ["app-api", "solo-default"]),
])
def test_a_flip_re_renders_only_what_references_the_group(counted: Calls, before: DeviceState,
                                                          after: DeviceState, sources: list[str],
                                                          policies: list[str]) -> None:
    renderer = Renderer(mark=MARK, settings=SETTINGS)
    known = KnownPieces()
    renderer.render(before, known)
    counted["sources"].clear()
    counted["policies"].clear()
    objects = renderer.render(after, known)
    assert sorted(counted["sources"]) == sources and sorted(counted["policies"]) == policies
    assert objects == render_state(after, mark=MARK, settings=SETTINGS)
