"""Rendering a DeviceState into AS3 objects: mapping, names, limits, canonical round trip."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import given, settings

from adapters.f5 import AS3Adapter
from adapters.f5.declaration import canonical_tenant, split_tenant, tenant_declaration
from adapters.f5.names import MAX_NAME, NameBook, as3_name
from connector.config import Secrets
from connector.model import Action, DeviceState, PortRange, PortSet, Protocol, RuleKind, Tier
from tests.adapters.f5.conftest import make_config
from tests.adapters.f5.scenarios import basic_state, group, rule
from tests.adapters.strategies import device_states

ITEM_NAME = re.compile(r"^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$")


def adapter(cluster: str = "c1", **attach: Any) -> AS3Adapter:
    return AS3Adapter(make_config("https://bigip.example", **attach), cluster,
                      Secrets({"BIGIP_PASSWORD": "x"}))


def shared(a: AS3Adapter, state: DeviceState) -> dict[str, Any]:
    return dict(tenant_declaration(a.tenant, a.render(state))["Shared"])


def afm_rules(items: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for name in sorted(n for n in items if n.startswith("rules_")) for r in items[name]["rules"]]


def test_as3_names_are_valid_bounded_and_stable() -> None:
    for text in ("9lives", "-x-", "ns/..weird name!", "a" * 500, "é", "trailing-"):
        name = as3_name(text)
        assert ITEM_NAME.match(name), name
        assert len(name) <= MAX_NAME
        assert as3_name(text) == name
    assert as3_name("a" * 500) != as3_name("a" * 499)
    assert as3_name("src_payments_svc_api") == "src_payments_svc_api"


def test_name_book_separates_colliding_names_deterministically() -> None:
    book = NameBook()
    book.want("k1", "src_a b")
    book.want("k2", "src_a.b".replace(".", " "))
    book.want("k3", "dst_x")
    assert book.name("k1") != book.name("k2")
    assert book.name("k3") == "dst_x"
    again = NameBook()
    again.want("k2", "src_a b")
    again.want("k1", "src_a b")
    assert (again.name("k1"), again.name("k2")) == (book.name("k1"), book.name("k2"))


def test_mapping_of_the_basic_scenario() -> None:
    a = adapter()
    objects = a.render(basic_state())
    assert objects[0].kind == "tenant" and objects[0].name == "fc_c1"
    assert objects[0].body["label"] == "fusion-connector:c1"
    assert all(o.owner == "fusion-connector:c1" for o in objects)
    items = shared(a, basic_state())
    assert items["egress_policy"]["rules"] == [{"use": "rules_admin"}, {"use": "rules_namespace"},
                                               {"use": "rules_baseline"}, {"use": "rules_default"}]
    vs = items["egress_vs"]
    assert vs["class"] == "Service_L4" and vs["virtualPort"] == 0
    assert vs["virtualAddresses"] == ["0.0.0.0", "::"]
    assert vs["translateServerAddress"] is False and vs["translateServerPort"] is False
    assert vs["policyFirewallEnforced"] == {"use": "egress_policy"}
    assert vs["securityLogProfiles"] == [{"use": "egress_log"}]
    assert items["dst_payments_stripe"]["fqdns"] == ["api.stripe.com"]
    assert items["dst_payments_stripe"]["addresses"] == ["198.51.100.0/24", "2001:db8::1"]
    rules = {r["name"]: r for r in afm_rules(items)}
    assert rules["deny_cluster_block-tor"]["action"] == "reject"
    assert rules["deny_cluster_block-tor"]["loggingEnabled"] is True
    dns = [r for n, r in rules.items() if n.startswith("allow_ns_payments_dns")]
    assert sorted(r["protocol"] for r in dns) == ["tcp", "udp"]
    assert all(r["action"] == "accept-decisively" for r in dns)
    anything = rules["allow_ns_shop_anything"]
    assert anything["protocol"] == "any" and "destination" not in anything


def test_no_logging_means_no_log_profile() -> None:
    state = basic_state()
    state = replace(state, rules=tuple(replace(r, logging=False) for r in state.rules))
    items = shared(adapter(), state)
    assert "egress_log" not in items
    assert "securityLogProfiles" not in items["egress_vs"]


def test_gateways_add_a_pool_and_route_domain_replaces_the_virtual() -> None:
    items = shared(adapter(virtualServer={"address": "0.0.0.0", "gateways": ["192.0.2.1"]}), basic_state())
    assert items["egress_vs"]["pool"] == "egress_gw_pool"
    assert items["egress_vs"]["virtualAddresses"] == ["0.0.0.0"], "IPv4 gateways cannot forward IPv6"
    assert items["egress_gw_pool"]["members"] == [{"servicePort": 0, "serverAddresses": ["192.0.2.1"]}]
    rd = shared(adapter(routeDomain="/Common/rd10"), basic_state())
    assert "egress_vs" not in rd
    assert rd["egress_policy"]["routeDomainEnforcement"] == [{"bigip": "/Common/rd10"}]


def test_nothing_to_enforce_renders_nothing() -> None:
    state = basic_state()
    emptied = replace(state, groups={k: replace(g, members=()) for k, g in state.groups.items()})
    assert adapter().render(emptied) == []
    assert adapter().render(DeviceState(device="d", cluster="c1")) == []


def test_long_kubernetes_names_fit_as3_limits() -> None:
    long_ns = "n" * 63
    g = group("ns/long", long_ns, ["10.1.0.1"], service="s" * 63)
    ports = PortSet("es/long/ports", long_ns, "e" * 63, (PortRange(Protocol.TCP, 1, 2),))
    r = rule("r/long", RuleKind.SERVICE, long_ns, "r" * 63, Tier.NAMESPACE, g.key, None, ports.key,
             Action.ALLOW)
    state = DeviceState(device="d", cluster="c" * 63, groups={g.key: g}, port_sets={ports.key: ports},
                        rules=(r,))
    a = adapter(cluster="c" * 63)
    objects = a.render(state)
    assert len(objects[0].body["label"]) <= 64
    for obj in objects[1:]:
        assert ITEM_NAME.match(obj.name) and len(f"/{a.tenant}/Shared/{obj.name}") <= 255
    assert a.render(state) == objects


def test_non_contiguous_tiers_keep_the_state_order() -> None:
    state = basic_state()
    rules = (state.rules[4], state.rules[0], state.rules[5])
    items = shared(adapter(), replace(state, rules=rules))
    assert items["egress_policy"]["rules"] == [{"use": "rules_baseline"}, {"use": "rules_admin"},
                                               {"use": "rules_default"}]
    items = shared(adapter(), replace(state, rules=(state.rules[0], state.rules[4], state.rules[1])))
    assert [p["use"] for p in items["egress_policy"]["rules"]] == ["rules_admin", "rules_baseline",
                                                                    "rules_namespace"]


@settings(max_examples=40, deadline=None)
@given(device_states())
def test_render_survives_the_device_round_trip(state: DeviceState) -> None:
    a = adapter()
    objects = a.render(state)
    body = tenant_declaration(a.tenant, objects)
    read_back = split_tenant(a.tenant, body)
    assert [(o.kind, o.name, o.body, o.owner) for o in read_back] == [
        (o.kind, o.name, o.body, o.owner) for o in objects]
    assert canonical_tenant(a.tenant, body) == {f"{o.kind}:{o.name}": o.body for o in objects}
