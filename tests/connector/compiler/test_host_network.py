"""hostNetwork pods: their address is the node's, so in pod and egress-ip source modes they are left
out of every source group and the rules that lose one say so (`SharedSource`), as does the
namespace; in node mode the node's address is the source anyway."""

from __future__ import annotations

from typing import Any

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileResult, Reason
from connector.model import RuleKind
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    namespace,
    namespace_rule,
    node,
    pod,
    service,
    service_rule,
    settings,
)
from tests.connector.compiler.helpers import compile_objects, reasons, status, verdict

MODE = "fusion-connector.io/source-mode"
NODE_IP = "192.168.0.1"


def shop(annotations: dict[str, str] | None = None, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        namespace("shop", annotations=annotations, labels={"team": "shop"}),
        pod("shop", "web-1", "10.0.0.1", node="n1", labels={"app": "web"}),
        pod("shop", "agent-1", NODE_IP, node="n1", labels={"app": "web"}, host_network=True),
        pod("shop", "db-1", "10.0.0.2", node="n2", labels={"app": "db"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", ["10.0.0.1", NODE_IP]),
        service("shop", "agent"),
        endpoint_slice("shop", "agent", [NODE_IP]),
        node("n1", NODE_IP),
        node("n2", "192.168.0.2"),
        service_rule("shop", "web-out", "Allow", "web"),
        service_rule("shop", "agent-out", "Allow", "agent"),
        namespace_rule("shop", "all", "Deny"),
        namespace_rule("shop", "webs", "Allow", podSelector={"matchLabels": {"app": "web"}}),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        cluster_rule("everyone", "Deny"),
        cluster_rule("others", "Deny", namespaceSelector={"matchLabels": {"team": "other"}}),
        *extra,
    ]


def addresses_in_groups(result: CompileResult, device: str = "fw1") -> set[str]:
    return {a for group in result.devices[device].groups.values() for a in group.addresses}


def test_pod_mode_leaves_host_network_pods_out_of_every_group() -> None:
    result = compile_objects(shop())
    assert NODE_IP not in addresses_in_groups(result)
    assert addresses_in_groups(result) == {"10.0.0.1", "10.0.0.2"}
    assert verdict(result, "fw1", NODE_IP, "9.9.9.9", 443) is None  # no rule of shop applies to the node
    assert verdict(result, "fw1", "10.0.0.1", "9.9.9.9", 443) == ("ClusterEgressRule", "", "everyone", "Deny")


def test_rules_that_lose_a_host_network_pod_report_it() -> None:
    result = compile_objects(shop())
    for kind, name in (
        (RuleKind.SERVICE, "web-out"),
        (RuleKind.NAMESPACE, "all"),
        (RuleKind.NAMESPACE, "webs"),
        (RuleKind.CLUSTER, "everyone"),
    ):
        rule = status(result, kind, "" if kind == RuleKind.CLUSTER else "shop", name)
        assert rule.accepted and Reason.SHARED_SOURCE in {p.reason for p in rule.problems}, name
        assert "shop/agent-1" in rule.message and NODE_IP in rule.message and "host network" in rule.message
    assert Reason.SHARED_SOURCE not in reasons(result, RuleKind.NAMESPACE, "shop", "dbs")
    assert Reason.SHARED_SOURCE not in reasons(result, RuleKind.CLUSTER, "", "others")  # shop not selected
    assert status(result, RuleKind.SERVICE, "shop", "web-out").sources == 1


def test_a_rule_whose_only_source_is_host_network_is_left_off() -> None:
    result = compile_objects(shop())
    agent = status(result, RuleKind.SERVICE, "shop", "agent-out")
    assert agent.sources == 0 and not any(d.present for d in agent.devices)
    assert Reason.SHARED_SOURCE in {p.reason for p in agent.problems}
    assert not any(r.origin.name == "agent-out" for r in result.devices["fw1"].rules)


def test_namespace_warns_about_host_network_pods() -> None:
    warnings = compile_objects(shop()).namespaces["shop"].warnings
    (line,) = [w for w in warnings if "host network" in w]
    assert "namespace shop" in line and "agent-1" in line and "n1" in line and NODE_IP in line
    assert "\n" not in line


def test_egress_ip_mode_warns_that_host_network_traffic_is_not_covered() -> None:
    result = compile_objects(
        shop({MODE: "egress-ip", "fusion-connector.io/egress-ips": "198.18.0.1"})
    )
    assert addresses_in_groups(result) == {"198.18.0.1"}
    assert any("agent-1" in w and "host network" in w for w in result.namespaces["shop"].warnings)


def test_node_mode_keeps_node_addresses_and_says_nothing() -> None:
    result = compile_objects(shop({MODE: "node"}))
    assert result.devices["fw1"].groups["c1/shop"].addresses == (NODE_IP, "192.168.0.2")
    assert result.devices["fw1"].groups["c1/shop/svc/agent"].addresses == (NODE_IP,)
    assert not any("host network" in w for w in result.namespaces["shop"].warnings)
    for ref, rule in result.rules.items():
        assert "host network" not in rule.message, ref


def test_host_network_pod_shared_with_another_namespace_is_no_longer_shared() -> None:
    objects = shop(
        None,
        namespace("other", labels={"team": "other"}),
        pod("other", "agent-2", NODE_IP, node="n1", host_network=True),
        pod("other", "app-1", "10.0.9.1", node="n1"),
    )
    result = compile_objects(objects)
    assert result.namespaces["shop"].shared_addresses == ()
    assert result.namespaces["other"].shared_addresses == ()
    assert "other/agent-2" in status(result, RuleKind.CLUSTER, "", "others").message


class Harness:
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.view = StaticView(objects)
        self.compiler = Compiler(settings())
        self.result = self.compiler.full(self.view)

    def put(self, obj: dict[str, Any]) -> CompileResult:
        change = self.view.put(obj)
        self.result = self.compiler.apply([change] if change is not None else [])
        full = Compiler(settings()).full(self.view)
        assert self.result.devices == full.devices
        assert self.result.rules == full.rules and self.result.namespaces == full.namespaces
        return self.result


def test_a_pod_switching_host_network_or_address_updates_incrementally() -> None:
    h = Harness(shop())
    # web-1 becomes a host network pod (recreated under the same name): it leaves every group
    result = h.put(pod("shop", "web-1", NODE_IP, node="n1", labels={"app": "web"}, host_network=True))
    assert "10.0.0.1" not in addresses_in_groups(result)
    assert "shop/web-1" in status(result, RuleKind.NAMESPACE, "shop", "webs").message
    # agent-1 leaves the host network with a pod address: it joins the groups, the notes go
    result = h.put(pod("shop", "agent-1", "10.0.0.7", node="n1", labels={"app": "web"}))
    assert "10.0.0.7" in result.devices["fw1"].groups["c1/shop"].addresses
    assert "shop/agent-1" not in status(result, RuleKind.NAMESPACE, "shop", "all").message
    # web-1 moves to another node: the note names the new address
    h.put(node("n3", "192.168.0.3"))
    result = h.put(pod("shop", "web-1", "192.168.0.3", node="n3", labels={"app": "web"}, host_network=True))
    assert "192.168.0.3" in status(result, RuleKind.CLUSTER, "", "everyone").message
    assert NODE_IP not in status(result, RuleKind.CLUSTER, "", "everyone").message
    # and back to a pod address
    result = h.put(pod("shop", "web-1", "10.0.0.1", node="n1", labels={"app": "web"}))
    assert "10.0.0.1" in result.devices["fw1"].groups["c1/shop"].addresses
    assert all("host network" not in w for w in result.namespaces["shop"].warnings)
    assert Reason.SHARED_SOURCE not in reasons(result, RuleKind.CLUSTER, "", "everyone")


def test_a_host_network_pod_without_an_address_yet_is_not_reported() -> None:
    objects = [
        namespace("shop"),
        pod("shop", "web-1", "10.0.0.1", node="n1", labels={"app": "web"}),
        pod("shop", "agent-1", [], node="n1", labels={"app": "web"}, host_network=True, phase="Pending"),
        namespace_rule("shop", "webs", "Allow", podSelector={"matchLabels": {"app": "web"}}),
        cluster_rule("everyone", "Deny"),
    ]
    result = compile_objects(objects)
    assert result.namespaces["shop"].warnings == ()
    assert all(not rule.problems for rule in result.rules.values())
