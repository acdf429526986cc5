"""The cluster as the compiler sees it: raw Kubernetes JSON objects by kind.

`ClusterView` is what the watch cache (`connector.sources`) offers and what the compiler reads;
`StaticView` is an in-memory view for tests, `explain` from files, and benchmarks. Objects are the
API server's JSON dicts, never client model objects. `ObjectChange` is one change notification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

Obj = dict[str, Any]


class Kind(StrEnum):
    NAMESPACE = "namespaces"
    POD = "pods"
    SERVICE = "services"
    ENDPOINT_SLICE = "endpointslices"
    NODE = "nodes"
    EXTERNAL_SERVICE = "externalservices"
    CLUSTER_EGRESS_RULE = "clusteregressrules"
    NAMESPACE_EGRESS_RULE = "namespaceegressrules"
    SERVICE_EGRESS_RULE = "serviceegressrules"
    EGRESS_IP = "egressips"


@dataclass(frozen=True)
class KindInfo:
    kind: Kind
    group: str  # "" for the core API
    version: str
    object_kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        """URL path of the collection (all namespaces when `namespace` is None)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.kind.value}"
        return f"{prefix}/{self.kind.value}"


GROUP = "fusion-connector.io"
VERSION = "v1alpha1"

KINDS: dict[Kind, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(Kind.NAMESPACE, "", "v1", "Namespace", False),
        KindInfo(Kind.POD, "", "v1", "Pod", True),
        KindInfo(Kind.SERVICE, "", "v1", "Service", True),
        KindInfo(Kind.ENDPOINT_SLICE, "discovery.k8s.io", "v1", "EndpointSlice", True),
        KindInfo(Kind.NODE, "", "v1", "Node", False),
        KindInfo(Kind.EXTERNAL_SERVICE, GROUP, VERSION, "ExternalService", True),
        KindInfo(Kind.CLUSTER_EGRESS_RULE, GROUP, VERSION, "ClusterEgressRule", False),
        KindInfo(Kind.NAMESPACE_EGRESS_RULE, GROUP, VERSION, "NamespaceEgressRule", True),
        KindInfo(Kind.SERVICE_EGRESS_RULE, GROUP, VERSION, "ServiceEgressRule", True),
        KindInfo(Kind.EGRESS_IP, "k8s.ovn.org", "v1", "EgressIP", False),
    )
}

BY_OBJECT_KIND: dict[str, KindInfo] = {info.object_kind: info for info in KINDS.values()}


def object_key(obj: Obj) -> tuple[str, str]:
    """(namespace, name) of a Kubernetes object; namespace is "" for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


@dataclass(frozen=True)
class ObjectChange:
    """One object added (old None), modified, or deleted (new None). `observed` is False for a
    deletion no watch event reported: a relist (after 410 Gone, or of a kind no longer served)
    found the object gone."""

    kind: Kind
    namespace: str
    name: str
    old: Obj | None
    new: Obj | None
    observed: bool = True

    @property
    def type(self) -> str:
        if self.old is None:
            return "ADDED"
        if self.new is None:
            return "DELETED"
        return "MODIFIED"


class ClusterView(Protocol):
    """Read access to cached cluster objects. Returned dicts must not be mutated."""

    def get(self, kind: Kind, namespace: str, name: str) -> Obj | None: ...

    def list(self, kind: Kind, namespace: str | None = None) -> list[Obj]: ...


class StaticView:
    """A `ClusterView` over objects held in memory; `apply` takes changes for incremental tests."""

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self._objects: dict[Kind, dict[tuple[str, str], Obj]] = {kind: {} for kind in Kind}
        for obj in objects:
            self.put(obj)

    @staticmethod
    def kind_of(obj: Obj) -> Kind:
        info = BY_OBJECT_KIND.get(str(obj.get("kind")))
        if info is None:
            raise ValueError(f"unsupported kind {obj.get('kind')!r}")
        return info.kind

    def put(self, obj: Obj) -> ObjectChange:
        """Add or replace `obj`; returns the change."""
        kind = self.kind_of(obj)
        key = object_key(obj)
        old = self._objects[kind].get(key)
        self._objects[kind][key] = obj
        return ObjectChange(kind, key[0], key[1], old, obj)

    def delete(self, kind: Kind, namespace: str, name: str) -> ObjectChange | None:
        old = self._objects[kind].pop((namespace, name), None)
        return ObjectChange(kind, namespace, name, old, None) if old is not None else None

    def get(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        return self._objects[kind].get((namespace, name))

    def list(self, kind: Kind, namespace: str | None = None) -> list[Obj]:
        items = self._objects[kind]
        if namespace is None:
            return list(items.values())
        return [obj for (ns, _), obj in items.items() if ns == namespace]
