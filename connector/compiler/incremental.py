"""The incremental compiler: cluster objects in, one `DeviceState` per device and the status of
every rule and namespace out (docs/architecture.md; what a rule means: docs/resources.md).

Device rule list, first match: the Admin tier (ClusterEgressRules by (priority, name), each with
its union group of the selected namespaces' groups as source), the namespace tier of every
managed namespace (namespaces by name; inside one, by (priority, Service before Namespace,
name)), the Baseline tier, then the namespaces' default actions grouped per action
(`DefaultTier`: unions of the namespaces with one default action, after the shared addresses
whose holders disagree, decided by their first holder by name). Sources of different
namespaces are disjoint unless they share an address, which is reported as `SharedSource`; so
the interleaving across namespaces decides like the per-source evaluation of the rule semantics
(docs/resources.md, "How a rule decides"). A rule whose sources are empty is left off; it is
never widened to "any".

`Compiler` coordinates one collaborator per activity:

| activity | collaborator |
| --- | --- |
| indexing objects, what a batch touched | `ClusterIndex` (index), `Dirty` (dirty) |
| namespace settings and source groups | `NamespaceGroups` (namespace_groups) |
| shared source addresses | `SharedAddresses` (sharing) |
| destinations and port sets per device | `Catalog` (catalog) |
| the namespace tier | `NamespaceTier` (namespace_tier, rule_sources) |
| cluster-rule selection, Admin and Baseline tiers | `ClusterTier` (cluster_tier) |
| default actions | `DefaultTier` (default_tier) |
| rule and namespace statuses | `StatusBoard` (status_board) |
| device states, copy on write | `Assembler` (assembly) |

Incrementality: a change marks its namespace dirty (a node or EgressIP change marks the
namespaces in node or egress-ip mode); only dirty namespaces are recompiled, then cluster rules
whose selection or inputs changed, then device states are reassembled from cached per-namespace
blocks. A full compile runs the same code with everything dirty, so both give equal results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.cluster import ClusterView, Kind, ObjectChange, object_key
from connector.compiler.assembly import Assembler
from connector.compiler.catalog import Catalog
from connector.compiler.cluster_tier import ClusterTier
from connector.compiler.default_tier import DefaultTier
from connector.compiler.dirty import Dirty
from connector.compiler.findings import NamespaceStatus, RuleRef, RuleStatus
from connector.compiler.index import ClusterIndex
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.namespace_tier import NamespaceTier
from connector.compiler.namespaces import NamespaceInfo
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.compiler.status_board import StatusBoard
from connector.compiler.workloads import WorkloadDelta
from connector.model import DeviceState


@dataclass(frozen=True)
class CompileResult:
    """Desired state per device (configuration order), rule statuses, namespace statuses, and the
    devices whose state differs from the previous result of the same compiler (every device after
    `full`); an unchanged device keeps the very same `DeviceState` object."""

    devices: dict[str, DeviceState]
    rules: dict[RuleRef, RuleStatus]
    namespaces: dict[str, NamespaceStatus]
    changed: frozenset[str] = frozenset()


class Compiler:
    """Keeps derived state; `full(view)` compiles everything, `apply(changes)` only what they touch."""

    def __init__(self, settings: CompileSettings) -> None:
        self.settings = settings
        self._reset()

    def _reset(self) -> None:
        settings = self.settings
        self._index = ClusterIndex(settings.connector_namespace)
        self._namespaces = NamespaceGroups(settings, self._index)
        self._sharing = SharedAddresses()
        self._catalog = Catalog(settings.cluster, settings.device_names)
        self._namespace_tier = NamespaceTier(settings, self._index, self._namespaces, self._catalog)
        self._cluster_tier = ClusterTier(
            settings, self._index, self._namespaces, self._sharing, self._catalog
        )
        self._default_tier = DefaultTier(settings, self._namespaces, self._sharing)
        self._statuses = StatusBoard(
            settings, self._index, self._namespaces, self._namespace_tier, self._cluster_tier, self._sharing
        )
        self._assembly = Assembler(
            settings, self._namespace_tier, self._cluster_tier, self._default_tier, self._catalog
        )

    def full(self, view: ClusterView) -> CompileResult:
        """Forget everything and compile the whole view."""
        self._reset()
        dirty = Dirty()
        for kind in Kind:
            for obj in view.list(kind):
                namespace, name = object_key(obj)
                self._index.put(kind, namespace, name, obj, dirty)
        for ns in self._index.namespace_names() | dirty.namespaces:
            dirty.rebuild(ns)
        dirty.cluster_rules |= set(self._index.cluster_rules)
        return self._run(dirty)

    def apply(self, changes: Iterable[ObjectChange]) -> CompileResult:
        """Take a batch of changes and recompile what they touch."""
        self._assembly.begin()
        dirty = Dirty()
        for change in changes:
            self._index.put(change.kind, change.namespace, change.name, change.new, dirty)
        return self._run(dirty)

    def namespace_settings(self) -> Mapping[str, NamespaceInfo]:
        """The settings of every namespace with a Namespace object, as of the last compile
        (read-only; on the compiling thread)."""
        return self._namespaces.info

    def services_of(self, namespace: str, address: str) -> tuple[str, ...]:
        """The Services of `namespace` whose EndpointSlices list `address`, sorted."""
        workloads = self._index.workloads.get(namespace)
        return workloads.services_of(address) if workloads is not None else ()

    @property
    def result(self) -> CompileResult:
        return CompileResult(
            dict(self._assembly.states),
            dict(self._statuses.rules),
            dict(self._statuses.namespaces),
            frozenset(self._assembly.changed),
        )

    def _run(self, dirty: Dirty) -> CompileResult:
        """Recompile what `dirty` names: namespace settings and groups, then the namespace tier,
        then the cluster tier, then statuses, then device states."""
        if dirty.nodes:
            for ns in self._namespaces.in_mode("node"):
                dirty.rebuild(ns)
        relabelled = self._namespaces.refresh_info(dirty)
        touched = set(dirty.namespaces)
        # every touched namespace's delta is taken (and so reset); a rebuilt one does not use it
        deltas: dict[str, WorkloadDelta | None] = {}
        for ns in touched:
            delta = self._index.workload(ns).take_delta()
            deltas[ns] = None if ns in dirty.rebuilt else delta

        flipped: set[str] = set()  # namespaces whose sharing of source addresses changed
        moved: list[str] = []  # addresses that joined or left a namespace group
        for ns in sorted(touched):
            move = self._namespaces.update(ns, deltas[ns])
            if move is not None:
                self._cluster_tier.resize(ns, move.size)
                flipped |= self._sharing.move(ns, move.removed, move.added, self._cluster_tier.selecting)
                moved.extend(move.removed)
                moved.extend(move.added)
        self._assembly.rules_changed(self._default_tier.update(touched, moved))

        changed_groups: set[str] = set()
        for ns in sorted(touched):
            recompiled = self._namespace_tier.compile(ns, deltas[ns])
            changed_groups |= recompiled.groups
            self._assembly.rules_changed(recompiled.devices)
            self._statuses.namespace(ns)
        for ns in sorted(flipped - touched):
            if ns in self._namespace_tier.outputs:
                self._statuses.namespace(ns)

        structural = self._cluster_tier.update(dirty.cluster_rules, relabelled, touched)
        if structural:
            self._cluster_tier.rebuild()
            self._assembly.rules_changed(self.settings.device_names)
        # a deleted rule is due too: its status goes
        due = dirty.cluster_rules | self._sharing.take_due()
        if structural:
            due |= set(self._index.cluster_rules)
        for ns in touched:
            due |= self._cluster_tier.selecting.get(ns, set())
        for name in sorted(due):
            self._statuses.cluster_rule(name)

        self._assembly.assemble(changed_groups)
        return self.result


def compile_cluster(view: ClusterView, settings: CompileSettings) -> CompileResult:
    """A one-shot full compile."""
    return Compiler(settings).full(view)
