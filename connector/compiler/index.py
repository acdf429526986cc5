"""The objects the compiler reads, indexed by what it looks them up by, as read from their
resources: Namespace objects, each namespace's workloads (`NamespaceWorkloads`), node
addresses, EgressIP objects, ExternalServices, and the rules of both scopes. `put` records one
change (None = deleted) and marks what it touches in a `Dirty`.
"""

from __future__ import annotations

from typing import TypeVar

from connector.cluster import Kind, Obj
from connector.compiler.addresses import node_addresses, read_pod, read_slice
from connector.compiler.dirty import Dirty
from connector.compiler.findings import RuleRef
from connector.compiler.resources import ExternalServiceSpec, RuleSpec, read_external_service, read_rule
from connector.compiler.workloads import NamespaceWorkloads
from connector.model import RuleKind

K = TypeVar("K")
V = TypeVar("V")


class ClusterIndex:
    """Every object the compiler reads; `connector_namespace` holds the ExternalServices of
    ClusterEgressRules, so a change there touches every ClusterEgressRule."""

    def __init__(self, connector_namespace: str) -> None:
        self.connector_namespace = connector_namespace
        self.namespaces: dict[str, Obj] = {}
        self.workloads: dict[str, NamespaceWorkloads] = {}
        self.nodes: dict[str, tuple[str, ...]] = {}  # node -> its addresses
        self.egress_ips: dict[str, Obj] = {}
        self.external: dict[tuple[str, str], ExternalServiceSpec] = {}  # (namespace, name)
        self.cluster_rules: dict[str, RuleSpec] = {}
        self.namespace_rules: dict[str, dict[RuleRef, RuleSpec]] = {}

    def put(self, kind: Kind, namespace: str, name: str, obj: Obj | None, dirty: Dirty) -> None:
        """Record object `kind` `namespace`/`name` as `obj` (None = deleted)."""
        if kind == Kind.NAMESPACE:
            put(self.namespaces, name, obj)
            dirty.rebuild(name)
            dirty.namespace_objects.add(name)
        elif kind == Kind.POD:
            self.workload(namespace).put_pod(name, read_pod(obj, namespace) if obj is not None else None)
            dirty.workloads(namespace)
        elif kind == Kind.SERVICE:
            self.workload(namespace).put_service(name, obj is not None)
            dirty.workloads(namespace)
        elif kind == Kind.ENDPOINT_SLICE:
            self.workload(namespace).put_slice(name, read_slice(obj) if obj is not None else None)
            dirty.workloads(namespace)
        elif kind == Kind.NODE:
            put(self.nodes, name, node_addresses(obj) if obj is not None else None)
            dirty.nodes = True
        elif kind == Kind.EGRESS_IP:
            put(self.egress_ips, name, obj)
            dirty.egress_ips = True
        elif kind == Kind.EXTERNAL_SERVICE:
            put(self.external, (namespace, name), read_external_service(obj) if obj is not None else None)
            dirty.rebuild(namespace)
            if namespace == self.connector_namespace:
                dirty.cluster_rules.update(self.cluster_rules)
        elif kind == Kind.CLUSTER_EGRESS_RULE:
            put(self.cluster_rules, name, read_rule(obj, RuleKind.CLUSTER) if obj is not None else None)
            dirty.cluster_rules.add(name)
        elif kind in (Kind.NAMESPACE_EGRESS_RULE, Kind.SERVICE_EGRESS_RULE):
            rule_kind = RuleKind.NAMESPACE if kind == Kind.NAMESPACE_EGRESS_RULE else RuleKind.SERVICE
            put(
                self.namespace_rules.setdefault(namespace, {}),
                RuleRef(rule_kind, namespace, name),
                read_rule(obj, rule_kind) if obj is not None else None,
            )
            dirty.rebuild(namespace)

    def workload(self, namespace: str) -> NamespaceWorkloads:
        """The workloads of `namespace` (created empty on first use)."""
        workloads = self.workloads.get(namespace)
        if workloads is None:
            workloads = self.workloads[namespace] = NamespaceWorkloads()
        return workloads

    def namespace_names(self) -> set[str]:
        """Every namespace with a Namespace object, a rule or workloads."""
        return set(self.namespaces) | set(self.namespace_rules) | set(self.workloads)


def put(mapping: dict[K, V], key: K, value: V | None) -> None:
    """Set `mapping[key]` to `value`, or remove `key` when `value` is None."""
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value
