"""The resource types the mock serves: built-in kinds plus kinds registered by CRDs.

A `ResourceType` says where a kind lives (group, version, plural), how it is named, whether it is
namespaced, whether it has a status subresource and, for custom resources, the CRD version's
OpenAPI schema. `Registry` is the thread-safe table the router, discovery and store consult.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False
    schema: dict[str, Any] | None = None
    return_deleted: bool = False
    categories: tuple[str, ...] = ()
    list_kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        """(group, plural): identifies the stored collection across versions."""
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """`plural.group` as errors name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    status: bool = False,
    returns: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group,
        version,
        plural,
        kind.lower(),
        kind,
        namespaced,
        short,
        status,
        return_deleted=returns,
        categories=categories,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", False, ("ns",), status=True, returns=True),
    _builtin("", "v1", "pods", "Pod", True, ("po",), status=True, returns=True, categories=("all",)),
    _builtin("", "v1", "services", "Service", True, ("svc",), status=True, returns=True, categories=("all",)),
    _builtin("", "v1", "nodes", "Node", False, ("no",), status=True),
    _builtin("", "v1", "events", "Event", True, ("ev",)),
    _builtin("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _builtin("", "v1", "secrets", "Secret", True),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", True),
    _builtin("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        False,
        extra={"verbs": ["create"], "virtual": True},
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        False,
        extra={"verbs": ["create"], "virtual": True},
    ),
    ResourceType(
        "k8s.ovn.org",
        "v1",
        "egressips",
        "egressip",
        "EgressIP",
        False,
        ("eip",),
        True,
        custom=True,
        return_deleted=True,
    ),
)

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")


class Registry:
    """Served resource types by (group, version, plural); CRDs add and remove entries at runtime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._preferred: dict[str, str] = {}
        for rtype in BUILTINS:
            self.add(rtype)

    def reset(self) -> None:
        with self._lock:
            self._types.clear()
            self._preferred.clear()
        for rtype in BUILTINS:
            self.add(rtype)

    def add(self, rtype: ResourceType, preferred: bool = False) -> None:
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
            if preferred or rtype.group not in self._preferred:
                self._preferred[rtype.group] = rtype.version

    def remove_group_plural(self, group: str, plural: str) -> None:
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[key]
            if group and not any(k[0] == group for k in self._types):
                self._preferred.pop(group, None)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for (g, v, _), rtype in self._types.items():
                if g == group and v == version and rtype.kind == kind:
                    return rtype
        return None

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first (the core group "" included)."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for g, v, _ in self._types:
                versions = out.setdefault(g, [])
                if v not in versions:
                    versions.append(v)
            for g, versions in out.items():
                preferred = self._preferred.get(g)
                if preferred in versions:
                    versions.remove(preferred)
                    versions.insert(0, preferred)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return [t for (g, v, _), t in self._types.items() if g == group and v == version]
