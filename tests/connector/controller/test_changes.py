"""Which watch changes reach the compiler, and their audit names."""

from __future__ import annotations

from typing import Any

from connector.cluster import Kind, ObjectChange
from connector.controller.changes import meaningful, trigger_name, trigger_names


def rule(rv: str, generation: int = 1, status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "NamespaceEgressRule", "metadata": {
        "name": "r", "namespace": "ns", "resourceVersion": rv, "generation": generation},
        "spec": {"action": "Allow", **spec}}
    if status is not None:
        obj["status"] = status
    return obj


def test_status_only_update_of_a_rule_is_ignored() -> None:
    change = ObjectChange(Kind.NAMESPACE_EGRESS_RULE, "ns", "r", rule("1"),
                          rule("2", status={"sources": 3}))
    assert not meaningful(change)


def test_spec_label_add_and_delete_changes_are_kept() -> None:
    assert meaningful(ObjectChange(Kind.NAMESPACE_EGRESS_RULE, "ns", "r", rule("1"),
                                   rule("2", generation=2, priority=5)))
    labelled = rule("2")
    labelled["metadata"]["labels"] = {"a": "b"}
    assert meaningful(ObjectChange(Kind.NAMESPACE_EGRESS_RULE, "ns", "r", rule("1"), labelled))
    assert meaningful(ObjectChange(Kind.NAMESPACE_EGRESS_RULE, "ns", "r", None, rule("1")))
    assert meaningful(ObjectChange(Kind.NAMESPACE_EGRESS_RULE, "ns", "r", rule("1"), None))


def test_pod_status_changes_are_kept() -> None:
    old = {"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}, "status": {}}
    new = {"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "2"},
           "status": {"podIPs": [{"ip": "10.0.0.1"}]}}
    assert meaningful(ObjectChange(Kind.POD, "ns", "p", old, new))


def test_trigger_names() -> None:
    pod = ObjectChange(Kind.POD, "payments", "api-1", None, {})
    rule_change = ObjectChange(Kind.CLUSTER_EGRESS_RULE, "", "block", None, {})
    assert trigger_name(pod) == "Pod/payments/api-1"
    assert trigger_name(rule_change) == "ClusterEgressRule/block"
    assert trigger_names([pod, rule_change, pod]) == ["Pod/payments/api-1", "ClusterEgressRule/block"]
