"""What a batch of changes touched: gathered while the changes are indexed, consumed by one
compile run, then dropped.

A namespace is *dirty* when anything that feeds it changed; it is *rebuilt* (every rule
recompiled) unless only its workloads (pods, Services, EndpointSlices) changed, in which case a
rule the workload delta cannot affect keeps its sources and resolved destinations.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Dirty:
    """The namespaces, Namespace objects and ClusterEgressRules a batch touched, and whether any
    node or EgressIP changed (which touches the namespaces in node and egress-ip modes)."""

    namespaces: set[str] = field(default_factory=set)  # to recompile
    rebuilt: set[str] = field(default_factory=set)  # of those, to recompile every rule of
    namespace_objects: set[str] = field(default_factory=set)  # Namespace objects to re-read
    cluster_rules: set[str] = field(default_factory=set)
    nodes: bool = False
    egress_ips: bool = False

    def workloads(self, namespace: str) -> None:
        """A pod, Service or EndpointSlice of `namespace` changed."""
        self.namespaces.add(namespace)

    def rebuild(self, namespace: str) -> None:
        """Something other than a workload of `namespace` changed: recompile all of it."""
        self.namespaces.add(namespace)
        self.rebuilt.add(namespace)
