"""explain: parsing of --from/--to, and the decision per device with the rules considered."""

from __future__ import annotations

from typing import Any

import pytest

from connector.cluster import StaticView
from connector.evaluate import Probe, decide
from connector.explain import ExplainInputError, explain, parse_destination, parse_source
from connector.model import Protocol, RuleKind, Tier
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    node,
    pod,
    service,
    service_rule,
    settings,
)
from tests.connector.compiler.helpers import compile_objects

CNS = "fusion-system"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shop/web-1", {"namespace": "shop", "pod": "web-1"}),
        ("shop/svc/web", {"namespace": "shop", "service": "web"}),
        ("10.0.0.1", {"ip": "10.0.0.1"}),
        ("FD00::0001", {"ip": "fd00::1"}),
    ],
)
def test_parse_source(text: str, expected: dict[str, str]) -> None:
    spec = parse_source(text)
    assert {k: v for k, v in vars(spec).items() if v and k != "text"} == expected


@pytest.mark.parametrize("text", ["shop", "shop/svc/web/x", "Shop/Web", "shop/deploy/web", "", "10.0.0.300"])
def test_parse_source_errors(text: str) -> None:
    with pytest.raises(ExplainInputError, match="NS/POD, NS/svc/NAME or an IP address"):
        parse_source(text)


@pytest.mark.parametrize(
    ("text", "host", "port", "protocol"),
    [
        ("api.github.com", "api.github.com", None, "TCP"),
        ("API.GitHub.com.:443", "api.github.com", 443, "TCP"),
        ("1.2.3.4:53/udp", "1.2.3.4", 53, "UDP"),
        ("2001:db8::1", "2001:db8::1", None, "TCP"),
        ("[2001:DB8::1]:443/SCTP", "2001:db8::1", 443, "SCTP"),
        ("[2001:db8::1]", "2001:db8::1", None, "TCP"),
    ],
)
def test_parse_destination(text: str, host: str, port: int | None, protocol: str) -> None:
    spec = parse_destination(text)
    assert (spec.host, spec.port, spec.protocol.value) == (host, port, protocol)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api.github.com:99999", "1..65535"),
        ("api.github.com:https", "1..65535"),
        ("example.com:443/ICMP", "TCP, UDP or SCTP"),
        ("not_valid!", "HOST"),
        ("[2001:db8::1:443", "IPv6"),
        ("api.github.com:", "missing"),
        ("", "HOST"),
    ],
)
def test_parse_destination_errors(text: str, message: str) -> None:
    with pytest.raises(ExplainInputError, match=message):
        parse_destination(text)


def cluster(*extra: Any, annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        namespace("shop", annotations=annotations),
        pod("shop", "web-1", ["10.0.0.1", "fd00::1"], labels={"app": "web"}),
        pod("shop", "db-1", "10.0.0.2", labels={"app": "db"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", ["10.0.0.1"]),
        external_service("shop", "github", ["api.github.com", "140.82.112.0/20"], [{"port": "443"}]),
        external_service(CNS, "tor", ["185.220.0.0/16"]),
        service_rule("shop", "web-github", "Allow", "web", externalServices=["github"], priority=100),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        cluster_rule("no-tor", "Deny", externalServices=["tor"]),
        *extra,
    ]


def run(objects: list[dict[str, Any]], source: str, destination: str, **config: Any) -> Any:
    result = compile_objects(objects, settings(**config))
    return explain(StaticView(objects), result, source, destination)


def test_deciding_rule_tier_and_considered_rules() -> None:
    explanation = run(cluster(), "shop/web-1", "api.github.com:80")
    assert explanation.identity == "Pod shop/web-1 (namespace shop, source mode pod)"
    device = explanation.devices[0]
    assert device.decision is not None and device.decision.origin.kind == RuleKind.DEFAULT
    assert device.action == "Deny" and device.tier == "Default"
    reasons = [(c.rule.origin.name, c.outcome, c.reason) for c in device.considered]
    assert reasons[0] == (  # a name may resolve into the tor network: the walk goes on
        "no-tor",
        "resolution-dependent",
        "matches if api.github.com resolves to an address in ExternalService fusion-system/tor"
        " (185.220.0.0/16)",
    )
    assert reasons[1] == ("web-github", "no-match", "port 80/TCP is not among 443/TCP")
    assert device.skipped == 1  # dbs: the pod is not in its group
    assert any("default action of namespace shop" in n for n in device.notes)


def test_admin_rule_decides_before_service_rule() -> None:
    objects = cluster(
        external_service(CNS, "github", ["140.82.112.0/20"]),
        cluster_rule("no-github", "Deny", externalServices=["github"], priority=10),
    )
    explanation = run(objects, "shop/svc/web", "140.82.113.1:443")
    device = explanation.devices[0]
    assert device.decision is not None and device.decision.origin.name == "no-github"
    assert device.decision.origin.tier == Tier.ADMIN and device.considered == ()
    assert explanation.identity.startswith("Service shop/web")


def test_without_port_lists_port_dependent_rules() -> None:
    explanation = run(cluster(), "shop/web-1", "140.82.113.1")
    device = explanation.devices[0]
    assert device.decision is not None and device.decision.origin.kind == RuleKind.DEFAULT
    assert [(c.rule.origin.name, c.outcome) for c in device.considered] == [
        ("no-tor", "no-match"),
        ("web-github", "port-dependent"),
    ]
    assert device.considered[1].reason == "matches only ports 443/TCP"
    assert any("no port given" in n for n in explanation.notes)


def test_source_address_follows_destination_family() -> None:
    objects = cluster(
        external_service("shop", "v6", ["2001:db8::/32"]),
        namespace_rule("shop", "v6", "Allow", externalServices=["v6"]),
    )
    explanation = run(objects, "shop/web-1", "[2001:db8::1]:443")
    assert explanation.devices[0].source_address == "fd00::1"
    assert explanation.devices[0].decision.origin.name == "v6"  # type: ignore[union-attr]
    assert explanation.source_addresses == ("10.0.0.1", "fd00::1")


def test_ip_source_and_unknown_ip() -> None:
    explanation = run(cluster(), "10.0.0.2", "9.9.9.9:22")
    assert explanation.identity == "address 10.0.0.2 (Pod/shop/db-1)"
    assert explanation.devices[0].decision.origin.name == "dbs"  # type: ignore[union-attr]
    unknown = run(cluster(), "172.16.0.1", "9.9.9.9:22")
    assert unknown.devices[0].decision is None
    assert "no source group" in unknown.devices[0].notes[0]


def test_unmanaged_namespace_and_default_none() -> None:
    free = run([namespace("free", managed=False), pod("free", "p", "10.9.0.1")], "free/p", "1.1.1.1:443")
    assert all(d.decision is None for d in free.devices)
    assert any("not managed" in n for n in free.notes)
    none = run(
        cluster(annotations={"fusion-connector.io/default-action": "None"}), "shop/web-1", "1.1.1.1:22"
    )
    assert none.devices[0].decision is None and none.devices[0].action == "None"


def test_device_targeting_and_fqdn_notes() -> None:
    objects = cluster(namespace_rule("shop", "gh", "Allow", externalServices=["github"], devices=["fw2"]))
    explanation = run(objects, "shop/db-1", "api.github.com:443", no_fqdn=("fw2",))
    by_device = {d.device: d for d in explanation.devices}
    assert by_device["fw1"].decision.origin.name == "dbs"  # type: ignore[union-attr]
    assert by_device["fw2"].decision.origin.name == "dbs"  # type: ignore[union-attr]
    explanation = run(
        cluster(namespace_rule("shop", "gh", "Allow", externalServices=["github"], priority=10)),
        "shop/db-1",
        "api.github.com:443",
        no_fqdn=("fw2",),
    )
    by_device = {d.device: d for d in explanation.devices}
    assert by_device["fw1"].decision.origin.name == "gh"  # type: ignore[union-attr]
    assert by_device["fw2"].decision.origin.name == "dbs"  # type: ignore[union-attr]


def test_node_mode_and_egress_ip_notes() -> None:
    objects = cluster(node("node1", "192.168.0.1"), annotations={"fusion-connector.io/source-mode": "node"})
    explanation = run(objects, "shop/db-1", "1.1.1.1:22")
    assert explanation.source_addresses == ("192.168.0.1",)
    assert any("source mode node" in n for n in explanation.notes)
    objects = cluster(
        annotations={
            "fusion-connector.io/source-mode": "egress-ip",
            "fusion-connector.io/egress-ips": "198.18.0.1",
        }
    )
    explanation = run(objects, "shop/svc/web", "140.82.113.1:443")
    assert explanation.source_addresses == ("198.18.0.1",)
    device = explanation.devices[0]
    assert device.decision.origin.name == "web-github"  # type: ignore[union-attr]
    assert any("SourceWidened" in n for n in device.notes)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nowhere/p", "namespace nowhere not found"),
        ("shop/ghost", "pod shop/ghost not found"),
        ("shop/svc/ghost", "Service shop/ghost not found"),
    ],
)
def test_unknown_objects(source: str, message: str) -> None:
    with pytest.raises(ExplainInputError, match=message):
        run(cluster(), source, "1.1.1.1")


def test_explanation_agrees_with_the_device_decision() -> None:
    objects = cluster()
    result = compile_objects(objects)
    view = StaticView(objects)
    for source_pod, ip in (("web-1", "10.0.0.1"), ("db-1", "10.0.0.2")):
        for host, port in (
            ("api.github.com", 443),
            ("140.82.113.1", 80),
            ("185.220.1.1", 443),
            ("8.8.8.8", 53),
        ):
            explanation = explain(view, result, f"shop/{source_pod}", f"{host}:{port}")
            for device in explanation.devices:
                expected = decide(result.devices[device.device], Probe(ip, host, port, Protocol.TCP))
                assert device.decision == expected
    assert explanation.to_json()["devices"][0]["decision"]["rule"] == "c1/shop/ns/dbs/any"


def test_text_rendering() -> None:
    lines = run(cluster(), "shop/web-1", "api.github.com:80").lines()
    assert lines[0] == (
        "from Pod shop/web-1 (namespace shop, source mode pod) [10.0.0.1, fd00::1]"
        " to api.github.com port 80/TCP"
    )
    decided = ("fw1: Deny by DefaultAction shop/default (tier Default, priority 0,"
               " rule c1/_cluster/default/deny)")
    assert decided in lines
    assert (
        "  considered ServiceEgressRule shop/web-github (Allow): no-match: port 80/TCP is not among 443/TCP"
        in lines
    )
    assert "  1 rule(s) for other sources skipped" in lines


def test_a_name_is_decided_by_a_rule_holding_every_address_and_resolution_dependent_ones_are_listed() -> None:
    objects = cluster(
        external_service("shop", "web-anywhere", ["0.0.0.0/0"], [{"port": "80"}]),
        namespace_rule("shop", "plain-http", "Allow", externalServices=["web-anywhere"], priority=200),
    )
    explanation = run(objects, "shop/web-1", "api.stripe.com:80")
    assert any(n.startswith("api.stripe.com is a name: rules listing it, and rules holding every IPv4"
                            " address, match whatever it resolves to") for n in explanation.notes)
    device = explanation.devices[0]
    assert device.decision is not None and device.decision.origin.name == "plain-http"
    assert ("ExternalService shop/web-anywhere (0.0.0.0/0) holds every IPv4 address: it matches whatever"
            " api.stripe.com resolves to") in device.notes
    assert [(c.rule.origin.name, c.outcome) for c in device.considered] == [
        ("no-tor", "resolution-dependent"),
        ("web-github", "no-match"),
    ]
    lines = explanation.lines()
    assert ("  considered ClusterEgressRule no-tor (Deny): resolution-dependent: matches if api.stripe.com"
            " resolves to an address in ExternalService fusion-system/tor (185.220.0.0/16)") in lines
    as_json = explanation.to_json()["devices"][0]
    assert as_json["decision"]["origin"]["name"] == "plain-http"
    assert as_json["considered"][0]["outcome"] == "resolution-dependent"
