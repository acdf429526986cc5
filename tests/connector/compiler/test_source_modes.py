"""Source modes (docs/resources.md, "Source modes"): pod, egress-ip (annotation or OVN EgressIP),
node; widening and shared sources reported on the rules."""

from __future__ import annotations

from typing import Any

from connector.compiler import Reason
from connector.model import Identity, RuleKind
from tests.connector.compiler.builders import (
    cluster_rule,
    egress_ip,
    endpoint_slice,
    namespace,
    namespace_rule,
    node,
    pod,
    service,
    service_rule,
)
from tests.connector.compiler.helpers import compile_objects, reasons, status, verdict

MODE = "fusion-connector.io/source-mode"
EGRESS_IPS = "fusion-connector.io/egress-ips"


def shop(
    annotations: dict[str, str], *extra: dict[str, Any], labels: dict[str, str] | None = None
) -> list[Any]:
    return [
        namespace("shop", annotations=annotations, labels=labels),
        pod("shop", "web-1", "10.0.0.1", node="n1", labels={"app": "web"}),
        pod("shop", "db-1", "10.0.0.2", node="n2", labels={"app": "db"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", ["10.0.0.1"]),
        node("n1", "192.168.0.1", "fd00:1::1"),
        node("n2", "192.168.0.2"),
        node("n3", "192.168.0.3"),
        *extra,
    ]


def test_pod_mode_members_carry_pod_identity() -> None:
    group = compile_objects(shop({})).devices["fw1"].groups["c1/shop"]
    assert group.members == (
        ("10.0.0.1", (Identity("Pod", "shop", "web-1"),)),
        ("10.0.0.2", (Identity("Pod", "shop", "db-1"),)),
    )
    assert group.purpose == "namespace"


def test_egress_ip_mode_from_annotation_widens_service_and_pod_rules() -> None:
    objects = shop(
        {MODE: "egress-ip", EGRESS_IPS: "198.18.0.1, 198.18.0.2, nonsense"},
        service_rule("shop", "web-out", "Allow", "web"),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        namespace_rule("shop", "nobody", "Deny", podSelector={"matchLabels": {"app": "none"}}),
    )
    result = compile_objects(objects)
    state = result.devices["fw1"]
    assert set(state.groups) == {"c1/shop", "c1/_cluster/default/deny"}
    group = state.groups["c1/shop"]
    assert group.addresses == ("198.18.0.1", "198.18.0.2") and group.purpose == "egress-ip"
    assert group.members[0][1] == (Identity("Namespace", "", "shop"),)
    assert verdict(result, "fw1", "198.18.0.2", "9.9.9.9", 1) == (
        "ServiceEgressRule",
        "shop",
        "web-out",
        "Allow",
    )
    for name, kind in (("web-out", RuleKind.SERVICE), ("dbs", RuleKind.NAMESPACE)):
        rule_status = status(result, kind, "shop", name)
        assert rule_status.accepted and rule_status.reason == Reason.SOURCE_WIDENED
        assert "egress-ip" in rule_status.message
    nobody = status(result, RuleKind.NAMESPACE, "shop", "nobody")
    assert nobody.sources == 0 and not any(p.present for p in nobody.devices)
    assert "fusion-connector.io/egress-ips" in result.namespaces["shop"].warnings[0]


def test_egress_ip_mode_discovers_ovn_egress_ips() -> None:
    objects = shop(
        {MODE: "egress-ip"},
        egress_ip("eip-prod", {"matchLabels": {"env": "prod"}}, "198.18.1.1"),
        egress_ip("eip-dev", {"matchLabels": {"env": "dev"}}, "198.18.2.2"),
        labels={"env": "prod"},
    )
    group = compile_objects(objects).devices["fw1"].groups["c1/shop"]
    assert group.members == (("198.18.1.1", (Identity("EgressIP", "", "eip-prod"),)),)


def test_egress_ip_mode_without_egress_ips_leaves_rules_off() -> None:
    result = compile_objects(shop({MODE: "egress-ip"}, namespace_rule("shop", "r", "Allow")))
    assert result.devices["fw1"].rules == ()
    assert any("egress-ip" in w for w in result.namespaces["shop"].warnings)


def test_shared_egress_ip_is_reported() -> None:
    objects = shop(
        {MODE: "egress-ip", EGRESS_IPS: "198.18.0.1"},
        namespace_rule("shop", "r", "Allow"),
        namespace("other", annotations={MODE: "egress-ip", EGRESS_IPS: "198.18.0.1"}),
        cluster_rule("everyone", "Deny", namespaceSelector={"matchLabels": {"team": "x"}}),
    )
    result = compile_objects(objects)
    rule_status = status(result, RuleKind.NAMESPACE, "shop", "r")
    assert rule_status.accepted and Reason.SHARED_SOURCE in {p.reason for p in rule_status.problems}
    assert "source address 198.18.0.1 also source" in rule_status.message
    assert result.namespaces["shop"].shared_addresses == ("198.18.0.1",)


def test_node_mode_uses_node_addresses() -> None:
    objects = shop(
        {MODE: "node"},
        service_rule("shop", "web-out", "Allow", "web"),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
    )
    state = compile_objects(objects).devices["fw1"]
    assert state.groups["c1/shop"].addresses == ("192.168.0.1", "192.168.0.2", "fd00:1::1")
    assert state.groups["c1/shop"].members[0][1] == (Identity("Node", "", "n1"),)
    assert state.groups["c1/shop/svc/web"].addresses == ("192.168.0.1", "fd00:1::1")
    assert state.groups["c1/shop/pods/dbs"].addresses == ("192.168.0.2",)


def test_node_mode_shared_nodes_are_reported_on_namespace_and_cluster_rules() -> None:
    objects = shop(
        {MODE: "node"},
        service_rule("shop", "web-out", "Allow", "web"),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        namespace("other", annotations={MODE: "node"}, labels={"team": "other"}),
        pod("other", "o-1", "10.0.9.1", node="n1"),
        cluster_rule("other-only", "Deny", namespaceSelector={"matchLabels": {"team": "other"}}),
        cluster_rule("all", "Deny"),
    )
    result = compile_objects(objects)
    assert Reason.SHARED_SOURCE in reasons(result, RuleKind.SERVICE, "shop", "web-out")
    assert Reason.SHARED_SOURCE not in reasons(result, RuleKind.NAMESPACE, "shop", "dbs")  # n2 is not shared
    assert Reason.SHARED_SOURCE in reasons(result, RuleKind.CLUSTER, "", "other-only")
    assert Reason.SHARED_SOURCE not in reasons(
        result, RuleKind.CLUSTER, "", "all"
    )  # both namespaces selected
    # distinct addresses: shop has n1 (2 IPs) + n2, other has n1 (2 IPs): 3 distinct
    assert status(result, RuleKind.CLUSTER, "", "all").sources == 3
    assert result.namespaces["other"].shared_addresses == ("192.168.0.1", "fd00:1::1")


def test_unknown_source_mode_falls_back_with_warning() -> None:
    result = compile_objects(shop({MODE: "bridge"}))
    assert result.namespaces["shop"].source_mode == "pod"
    assert "fusion-connector.io/source-mode" in result.namespaces["shop"].warnings[0]
