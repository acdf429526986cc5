"""Incremental compiles: each kind of change lands in the result, touches only what it concerns,
and equals a full compile of the same state."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connector.cluster import Kind, ObjectChange, StaticView
from connector.compiler import Compiler, CompileResult, CompileSettings
from connector.compiler.namespace_tier import NamespaceTier, Recompiled
from connector.compiler.workloads import WorkloadDelta
from connector.model import Capabilities, RuleKind
from connector.wiring import load_config_text
from tests.connector.compiler.builders import (
    cluster_rule,
    egress_ip,
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
from tests.connector.compiler.helpers import status

CNS = "fusion-system"


def cluster() -> list[dict[str, Any]]:
    return [
        namespace("a", labels={"env": "prod"}),
        namespace("b", labels={"env": "dev"}),
        namespace("n", annotations={"fusion-connector.io/source-mode": "node"}),
        pod("a", "web-1", "10.0.0.1", labels={"app": "web"}),
        pod("a", "db-1", "10.0.0.2", labels={"app": "db"}),
        pod("b", "x-1", "10.0.1.1"),
        pod("n", "y-1", "10.0.2.1", node="node1"),
        node("node1", "192.168.0.1"),
        service("a", "web"),
        endpoint_slice("a", "web", ["10.0.0.1"]),
        external_service("a", "ext", ["198.51.100.0/24"]),
        external_service(CNS, "ext", ["203.0.113.0/24"]),
        service_rule("a", "web-out", "Allow", "web", externalServices=["ext"]),
        namespace_rule("a", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        cluster_rule(
            "prod", "Deny", namespaceSelector={"matchLabels": {"env": "prod"}}, externalServices=["ext"]
        ),
    ]


class Harness:
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.view = StaticView(objects)
        self.compiler = Compiler(settings())
        self.result = self.compiler.full(self.view)

    def apply(self, *changes: ObjectChange | None) -> CompileResult:
        self.result = self.compiler.apply([c for c in changes if c is not None])
        full = Compiler(settings()).full(self.view)
        assert self.result.devices == full.devices
        assert self.result.rules == full.rules and self.result.namespaces == full.namespaces
        return self.result

    def groups(self, device: str = "fw1") -> dict[str, tuple[str, ...]]:
        return {k: g.addresses for k, g in self.result.devices[device].groups.items()}


def test_deleted_pod_leaves_every_group_in_the_same_compile() -> None:
    h = Harness(cluster())
    assert "10.0.0.1" in h.groups()["c1/a/svc/web"]
    h.apply(h.view.delete(Kind.POD, "a", "web-1"))
    assert "10.0.0.1" not in h.groups()["c1/a"]
    assert "c1/a/svc/web" not in h.groups()  # no endpoint pod left: the rule is left off
    assert not any(r.origin.name == "web-out" for r in h.result.devices["fw1"].rules)
    assert status(h.result, RuleKind.SERVICE, "a", "web-out").sources == 0


def test_pod_label_change_moves_it_between_selector_groups() -> None:
    h = Harness(cluster())
    relabelled = pod("a", "web-1", "10.0.0.1", labels={"app": "db"})
    h.apply(h.view.put(relabelled))
    assert h.groups()["c1/a/pods/dbs"] == ("10.0.0.1", "10.0.0.2")


def test_endpoint_slice_change_updates_the_service_group() -> None:
    h = Harness(cluster())
    h.apply(h.view.put(endpoint_slice("a", "web", ["10.0.0.1", "10.0.0.2"])))
    assert h.groups()["c1/a/svc/web"] == ("10.0.0.1", "10.0.0.2")


def test_namespace_label_change_changes_cluster_rule_selection() -> None:
    h = Harness(cluster())
    def holders() -> set[str]:
        state = h.result.devices["fw1"]
        sources = {r.source for r in state.rules if r.origin.name == "prod"}
        assert sources == {"c1/_cluster/rule/prod"}
        return set(state.groups["c1/_cluster/rule/prod"].includes)

    assert holders() == {"c1/a"}
    h.apply(
        h.view.put(namespace("b", labels={"env": "prod"})), h.view.put(namespace("a", labels={"env": "dev"}))
    )
    assert holders() == {"c1/b"}
    assert status(h.result, RuleKind.CLUSTER, "", "prod").sources == 1


def test_external_service_change_updates_destinations_and_statuses() -> None:
    h = Harness(cluster())
    h.apply(h.view.put(external_service(CNS, "ext", ["203.0.113.0/24", "2001:db8::/32"])))
    assert h.result.devices["fw1"].destinations["c1/fusion-system/ext"].networks == (
        "2001:db8::/32",
        "203.0.113.0/24",
    )
    h.apply(h.view.delete(Kind.EXTERNAL_SERVICE, "a", "ext"))
    assert not status(h.result, RuleKind.SERVICE, "a", "web-out").accepted
    assert "c1/a/ext" not in h.result.devices["fw1"].destinations


def test_node_address_change_in_node_mode() -> None:
    h = Harness(cluster())
    assert h.groups()["c1/n"] == ("192.168.0.1",)
    h.apply(h.view.put(node("node1", "192.168.0.9", "fd00::9")))
    assert h.groups()["c1/n"] == ("192.168.0.9", "fd00::9")


def test_egress_ip_object_changes_reach_egress_ip_namespaces() -> None:
    objects = [
        *cluster(),
        namespace("e", labels={"env": "prod"}, annotations={"fusion-connector.io/source-mode": "egress-ip"}),
    ]
    h = Harness(objects)
    assert "c1/e" not in h.groups()
    h.apply(h.view.put(egress_ip("eip", {"matchLabels": {"env": "prod"}}, "198.18.0.1")))
    assert h.groups()["c1/e"] == ("198.18.0.1",)
    h.apply(h.view.delete(Kind.EGRESS_IP, "", "eip"))
    assert "c1/e" not in h.groups()


def test_rule_and_namespace_deletion() -> None:
    h = Harness(cluster())
    h.apply(
        h.view.delete(Kind.CLUSTER_EGRESS_RULE, "", "prod"),
        h.view.delete(Kind.SERVICE_EGRESS_RULE, "a", "web-out"),
    )
    assert not any(r.origin.name in ("prod", "web-out") for r in h.result.devices["fw1"].rules)
    assert all(ref.name not in ("prod", "web-out") for ref in h.result.rules)
    h.apply(h.view.delete(Kind.NAMESPACE, "", "a"))
    assert "a" not in h.result.namespaces and not any(k.startswith("c1/a") for k in h.groups())


def test_a_pod_change_recompiles_only_its_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(cluster())
    compiled: list[tuple[str, bool]] = []
    original = NamespaceTier.compile

    def spy(self: NamespaceTier, ns: str, delta: WorkloadDelta | None) -> Recompiled:
        compiled.append((ns, delta is not None))
        return original(self, ns, delta)

    monkeypatch.setattr(NamespaceTier, "compile", spy)
    before = h.result
    h.compiler.apply([h.view.put(pod("b", "x-2", "10.0.1.2"))])
    assert compiled == [("b", True)]  # a workload-only change: rules it cannot affect are reused
    after = h.compiler.result
    assert after.devices["fw1"].rules is before.devices["fw1"].rules  # rule list untouched, groups updated
    assert after.devices["fw1"].groups["c1/b"].addresses == ("10.0.1.1", "10.0.1.2")


def test_a_pod_change_reuses_the_groups_of_services_it_is_not_behind() -> None:
    h = Harness(cluster())
    web = h.result.devices["fw1"].groups["c1/a/svc/web"]
    h.apply(h.view.put(pod("a", "other-1", "10.0.0.9", labels={"app": "other"})))
    after = h.result.devices["fw1"]
    assert after.groups["c1/a/svc/web"] is web
    assert "10.0.0.9" in after.groups["c1/a"].addresses


def test_a_selected_pod_changing_its_address_updates_the_selector_group() -> None:
    h = Harness(cluster())
    h.apply(h.view.put(pod("a", "db-1", "10.0.0.7", labels={"app": "db"})))  # still selected, new IP
    assert h.groups()["c1/a/pods/dbs"] == ("10.0.0.7",)


def test_results_are_snapshots() -> None:
    h = Harness(cluster())
    before = h.result
    snapshot = copy.deepcopy(before.devices["fw1"].to_json())
    h.apply(h.view.delete(Kind.POD, "a", "web-1"))
    assert before.devices["fw1"].to_json() == snapshot


def test_settings_from_configuration() -> None:
    config = load_config_text(
        "cluster: prod-eu1\nkubernetes: {connectorNamespace: fc}\nnamespaces: {all: true, exclude: [x]}\n"
        "defaults: {action: Allow, sourceMode: node}\ndevices:\n"
        "- {name: soc, type: rest, url: 'http://127.0.0.1:9090'}\n"
        "- {name: fgt, type: fortios, url: 'https://127.0.0.1:9443', auth: {tokenEnv: T}}\n"
    )
    built = CompileSettings.from_config(config, {"fortios": Capabilities(fqdn=False)})
    assert built.device_names == ("soc", "fgt") and built.cluster == "prod-eu1"
    assert built.connector_namespace == "fc" and built.all_namespaces and built.exclude == frozenset({"x"})
    assert (built.default_action, built.default_source_mode) == ("Allow", "node")
    assert not built.capabilities("fgt").fqdn and built.capabilities("soc").fqdn


class ListItemsView:
    """A view whose objects lack `kind`/`apiVersion`, as items of a Kubernetes list response do."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self._by_kind: dict[Kind, list[dict[str, Any]]] = {}
        for obj in objects:
            item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            self._by_kind.setdefault(StaticView.kind_of(obj), []).append(item)

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        for obj in self._by_kind.get(kind, []):
            if obj["metadata"]["name"] == name and obj["metadata"].get("namespace", "") == namespace:
                return obj
        return None

    def list(self, kind: Kind, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in self._by_kind.get(kind, [])
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]


def test_objects_without_kind_compile_like_full_objects() -> None:
    objects = cluster()
    expected = Compiler(settings()).full(StaticView(objects))
    got = Compiler(settings()).full(ListItemsView(objects))
    assert got.devices == expected.devices and got.rules == expected.rules


def test_result_names_the_devices_that_changed() -> None:
    objects = [*cluster(), namespace("only1", annotations={"fusion-connector.io/devices": "fw1"})]
    h = Harness(objects)
    assert h.result.changed == {"fw1", "fw2"}
    before = h.result
    assert h.apply(h.view.put(pod("only1", "p", "10.0.7.1"))).changed == {"fw1"}
    assert h.result.devices["fw2"] is before.devices["fw2"]
    assert h.apply(h.view.put(pod("only1", "p", "10.0.7.1"))).changed == frozenset()
