"""ClusterEgressRules: which managed namespaces each selects, and the Admin and Baseline tiers.

A cluster rule selects the managed namespaces its `namespaceSelector` matches (every managed
namespace without one). On each device it becomes one compiled rule per `RulePart` whose source
is the rule's union group `CLUSTER/_cluster/rule/RULE`: the source groups of the selected
namespaces that target the device. A pod change never touches a union group; a namespace joining
or leaving changes one reference. Tiers list the rules by (priority, name).

The source count of a rule is the sum of its selected namespaces' group sizes (kept up to date
as groups resize) minus the addresses counted twice (`SharedAddresses`).
"""

from __future__ import annotations

from connector.compiler import keys
from connector.compiler.catalog import Catalog
from connector.compiler.destinations import Resolved, external_parts
from connector.compiler.index import ClusterIndex
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.resources import RuleSpec
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.model import CompiledRule, RuleKind, RuleOrigin, SourceGroup, Tier

Rules = tuple[CompiledRule, ...]


class ClusterTier:
    """Per cluster rule: its resolved ExternalServices (`resolved`), the namespaces it selects
    (`selection`, and per namespace the rules selecting it, `selecting`), its source count before
    sharing (`source_sum`) and, after `rebuild`, how many namespaces it is compiled for per device
    (`compiled_for`). Per device: the union groups (`unions`) and the Admin and Baseline rules
    (`tiers`)."""

    def __init__(
        self,
        settings: CompileSettings,
        index: ClusterIndex,
        namespaces: NamespaceGroups,
        sharing: SharedAddresses,
        catalog: Catalog,
    ) -> None:
        self._settings = settings
        self._devices = settings.device_names
        self._fqdn_ok = dict(settings.devices)
        self._index = index
        self._namespaces = namespaces
        self._sharing = sharing
        self._catalog = catalog
        self.resolved: dict[str, Resolved] = {}
        self.selection: dict[str, set[str]] = {}
        self.selecting: dict[str, set[str]] = {}
        self.source_sum: dict[str, int] = {}
        self.compiled_for: dict[str, dict[str, int]] = {}
        self.unions: dict[str, dict[str, SourceGroup]] = {d: {} for d in self._devices}
        self.tiers: dict[str, tuple[Rules, Rules]] = {d: ((), ()) for d in self._devices}
        self._sizes: dict[str, int] = {}  # namespace -> addresses in its source group
        # namespace -> (has a source group, devices it targets): what the tiers depend on
        self._presence: dict[str, tuple[bool, tuple[str, ...]]] = {}

    def resize(self, ns: str, size: int) -> None:
        """The source group of `ns` now holds `size` addresses."""
        size_delta = size - self._sizes.get(ns, 0)
        self._sizes[ns] = size
        if size_delta:
            for rule in self.selecting.get(ns, ()):
                self.source_sum[rule] = self.source_sum.get(rule, 0) + size_delta

    def update(self, dirty_rules: set[str], relabelled: set[str], touched: set[str]) -> bool:
        """Refresh the resolution and selection of the `dirty_rules`, the selection of the
        `relabelled` namespaces, and note the `touched` namespaces that gained or lost their group
        or changed devices; True when the tiers must be rebuilt."""
        structural = False
        for name in sorted(dirty_rules):
            spec = self._index.cluster_rules.get(name)
            structural = True
            if spec is None:
                self.resolved.pop(name, None)
                self._select(name, set())
                self.source_sum.pop(name, None)
                continue
            self.resolved[name] = external_parts(
                spec.ref,
                spec.external_services,
                self._settings.connector_namespace,
                self._index.external,
                self._settings.cluster,
                self._fqdn_ok,
            )
            self._select(name, {ns for ns in self._namespaces.info if self._selects(spec, ns)})
        for ns in sorted(relabelled):
            for name, spec in self._index.cluster_rules.items():
                if name in dirty_rules:
                    continue
                selected = self.selection.get(name, set())
                if self._selects(spec, ns) != (ns in selected):
                    self._select(name, selected ^ {ns})
                    structural = True
        for ns in touched:
            info = self._namespaces.info.get(ns)
            presence = (ns in self._namespaces.groups, info.devices if info and info.managed else ())
            if self._presence.get(ns) != presence:
                self._presence[ns] = presence
                structural = structural or bool(self.selecting.get(ns))
        return structural

    def rebuild(self) -> None:
        """Rebuild both tiers of every device: each cluster rule becomes, per device, one compiled
        rule per part whose source is the rule's union group, the groups of the selected
        namespaces that target the device."""
        cluster = self._settings.cluster
        admin: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        baseline: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        self.compiled_for = {}
        self.unions = {d: {} for d in self._devices}
        ordered = sorted(self._index.cluster_rules.values(), key=lambda s: (s.priority, s.ref.name))
        for spec in ordered:
            name = spec.ref.name
            counts = {d: 0 for d in self._devices}
            self.compiled_for[name] = counts
            if not spec.compilable:
                continue
            resolved = self.resolved[name]
            origin = RuleOrigin(RuleKind.CLUSTER, "", name, spec.tier, spec.priority)
            target = admin if spec.tier == Tier.ADMIN else baseline
            included: dict[str, list[str]] = {d: [] for d in self._devices}
            for ns in sorted(self.selection.get(name, ())):
                group = self._namespaces.groups.get(ns)
                if group is None:
                    continue
                for device in self._namespaces.info[ns].devices:
                    if device in included and (spec.devices is None or device in spec.devices):
                        included[device].append(group.key)
            for device, members in included.items():
                if not members or not resolved.parts[device]:
                    continue
                union = SourceGroup(
                    key=keys.union_group(cluster, name),
                    cluster=cluster,
                    namespace="",
                    members=(),
                    rule=name,
                    purpose="union",
                    includes=tuple(members),
                )
                self.unions[device][union.key] = union
                target[device].extend(
                    self._catalog.expand(
                        device, origin, union.key, resolved.parts[device], spec.action, spec.logging,
                        spec.audit,
                    )
                )
                counts[device] = len(members)
        self.tiers = {d: (tuple(admin[d]), tuple(baseline[d])) for d in self._devices}

    def _selects(self, spec: RuleSpec, ns: str) -> bool:
        info = self._namespaces.info.get(ns)
        if info is None or not info.managed or not spec.compilable:
            return False
        return spec.namespace_selector is None or spec.namespace_selector.matches(info.label_map)

    def _select(self, rule: str, namespaces: set[str]) -> None:
        """Cluster rule `rule` now selects `namespaces`."""
        old = self.selection.get(rule, set())
        for ns, step in [(n, -1) for n in old - namespaces] + [(n, 1) for n in namespaces - old]:
            if step < 0:
                self.selecting[ns].discard(rule)
            else:
                self.selecting.setdefault(ns, set()).add(rule)
            group = self._namespaces.groups.get(ns)
            if group is not None:
                self._sharing.select(rule, group.addresses, step)
        if namespaces:
            self.selection[rule] = namespaces
        else:
            self.selection.pop(rule, None)
        self.source_sum[rule] = sum(self._sizes.get(ns, 0) for ns in namespaces)
