"""Each namespace's settings (`NamespaceInfo`, read from its Namespace object and the EgressIP
objects) and its source group `CLUSTER/NS`: the active pods' IPs in pod mode, the egress IPs in
egress-ip mode, the addresses of the nodes running its active pods in node mode. A managed
namespace without any such address has no group.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from connector.compiler import keys
from connector.compiler.addresses import Members, node_members
from connector.compiler.destinations import has_ipv6
from connector.compiler.dirty import Dirty
from connector.compiler.index import ClusterIndex, put
from connector.compiler.namespaces import NamespaceInfo, namespace_info
from connector.compiler.settings import CompileSettings
from connector.compiler.workloads import WorkloadDelta
from connector.model import SourceGroup

_PURPOSES = {"pod": "namespace", "egress-ip": "egress-ip", "node": "node"}


@dataclass(frozen=True)
class GroupMove:
    """How a namespace's source group changed: the addresses that left and joined, and its size."""

    removed: Collection[str]
    added: Collection[str]
    size: int


class NamespaceGroups:
    """The `NamespaceInfo` of every namespace with a Namespace object (`info`), the source group of
    every managed namespace that has source addresses (`groups`), and the namespaces whose source
    group holds an IPv6 address (`ipv6`)."""

    def __init__(self, settings: CompileSettings, index: ClusterIndex) -> None:
        self._settings = settings
        self._index = index
        self.info: dict[str, NamespaceInfo] = {}
        self.groups: dict[str, SourceGroup] = {}
        self.ipv6: set[str] = set()

    def in_mode(self, mode: str) -> list[str]:
        """The namespaces in source mode `mode`."""
        return [ns for ns, info in self.info.items() if info.mode == mode]

    def refresh_info(self, dirty: Dirty) -> set[str]:
        """Re-read the namespaces whose Namespace object changed (every namespace when an EgressIP
        changed), marking those whose settings changed for a rebuild; returns those whose labels or
        managed flag changed (cluster rules may select them differently)."""
        relabelled: set[str] = set()
        candidates = dirty.namespace_objects
        if dirty.egress_ips:
            candidates = candidates | set(self.info) | set(self._index.namespaces)
        for ns in sorted(candidates):
            old = self.info.get(ns)
            obj = self._index.namespaces.get(ns)
            new = (
                namespace_info(obj, self._settings, self._index.egress_ips.values())
                if obj is not None
                else None
            )
            if old != new:
                dirty.rebuild(ns)
                if old is None or new is None or (old.labels, old.managed) != (new.labels, new.managed):
                    relabelled.add(ns)
            put(self.info, ns, new)
        return relabelled

    def update(self, ns: str, delta: WorkloadDelta | None) -> GroupMove | None:
        """Recompute the source group of `ns`; None when it did not change. With the `delta` of a
        workload-only change in pod source mode, the addresses that joined or left come from it
        instead of comparing the whole old and new groups."""
        info = self.info.get(ns)
        old = self.groups.get(ns)
        new: SourceGroup | None = None
        if info is not None and info.managed:
            members = self._members(info)
            if members:
                cluster = self._settings.cluster
                new = SourceGroup(
                    key=keys.namespace_group(cluster, ns),
                    cluster=cluster,
                    namespace=ns,
                    members=members,
                    purpose=_PURPOSES[info.mode],
                )
        if old == new:
            return None
        put(self.groups, ns, new)
        by_delta = delta is not None and info is not None and info.mode == "pod"
        if by_delta and delta is not None and old is not None and new is not None:
            ipv6 = self._index.workload(ns).has_ipv6
            removed, added = delta.removed, delta.added
        else:
            ipv6 = new is not None and has_ipv6(new.addresses)
            before = set(old.addresses) if old else set()
            after = set(new.addresses) if new else set()
            removed, added = before - after, after - before
        if ipv6:
            self.ipv6.add(ns)
        else:
            self.ipv6.discard(ns)
        return GroupMove(removed, added, len(new.addresses) if new else 0)

    def _members(self, info: NamespaceInfo) -> Members:
        if info.mode == "egress-ip":
            return info.egress_ips
        workloads = self._index.workload(info.name)
        if info.mode == "node":
            return node_members(workloads.active_pods(), self._index.nodes)
        return workloads.members()
