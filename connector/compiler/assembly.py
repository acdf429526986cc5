"""Device states assembled from the tiers, copy on write.

A device's rule list is its Admin tier, the namespace-tier block of every namespace (by name),
its Baseline tier, then the default tier (`default_tier`). Its groups, destinations and port sets
are those its rules refer to (a union group brings the groups it includes). When no device rule
list changed, only the groups, destinations and port sets that changed are replaced, in copies
of the previous mappings; everything unchanged stays the very same object, and a device whose
state is equal keeps its previous `DeviceState`.

The compiled rules of `mode: Audit` resources (`CompiledRule.audit`) are taken out of the rule
list into `DeviceState.staged`, each with the position it would have in the enforced list, and
with the groups, destinations and port sets they reference.
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.compiler.catalog import Catalog
from connector.compiler.cluster_tier import ClusterTier
from connector.compiler.default_tier import DefaultTier
from connector.compiler.namespace_tier import NamespaceTier
from connector.compiler.settings import CompileSettings
from connector.model import CompiledRule, Destination, DeviceState, PortSet, SourceGroup, StagedRules


class Assembler:
    """The `DeviceState` of every device (`states`), and the devices whose state changed since
    `begin` (`changed`; every device before the first `begin`)."""

    def __init__(
        self,
        settings: CompileSettings,
        namespace_tier: NamespaceTier,
        cluster_tier: ClusterTier,
        default_tier: DefaultTier,
        catalog: Catalog,
    ) -> None:
        self._cluster = settings.cluster
        self._devices = settings.device_names
        self._namespace_tier = namespace_tier
        self._cluster_tier = cluster_tier
        self._default_tier = default_tier
        self._catalog = catalog
        self.states: dict[str, DeviceState] = {
            d: DeviceState(device=d, cluster=self._cluster) for d in self._devices
        }
        self.changed: set[str] = set(self._devices)
        self._rules_dirty: set[str] = set(self._devices)  # devices whose rule list must be rebuilt

    def begin(self) -> None:
        """Start a batch: no device has changed yet."""
        self.changed = set()

    def rules_changed(self, devices: Iterable[str]) -> None:
        """The rule lists of `devices` must be rebuilt at the next `assemble`."""
        self._rules_dirty.update(devices)

    def assemble(self, changed_groups: set[str]) -> None:
        """Bring every device state up to date; `changed_groups` are the keys of the namespaced
        source groups that changed since the last call."""
        changed_objects = self._catalog.take_changed()
        groups_by_key = self._namespace_tier.groups
        order = sorted(self._namespace_tier.outputs) if self._rules_dirty else []
        for device in self._devices:
            state = self.states[device]
            if device in self._rules_dirty:
                state = self._rebuilt(device, order, groups_by_key)
            else:
                group_updates = changed_groups.intersection(state.groups)
                object_updates = {
                    k for k in changed_objects if k in state.destinations or k in state.port_sets
                }
                staged = state.staged
                if staged.rules:
                    staged = self._updated_staged(device, staged, changed_groups, changed_objects)
                if not group_updates and not object_updates and staged is state.staged:
                    continue
                # copy on write: unchanged mappings are shared with the previous (immutable) state
                groups = state.groups
                if group_updates:
                    groups = dict(groups)
                    for key in group_updates:
                        groups[key] = groups_by_key[key]
                destinations, port_sets = state.destinations, state.port_sets
                if object_updates:
                    destinations, port_sets = dict(destinations), dict(port_sets)
                    for key in object_updates:
                        if key in destinations:
                            destinations[key] = self._catalog.destinations[device][key]
                        if key in port_sets:
                            port_sets[key] = self._catalog.port_sets[device][key]
                state = DeviceState(
                    device=device,
                    cluster=self._cluster,
                    groups=groups,
                    destinations=destinations,
                    port_sets=port_sets,
                    rules=state.rules,
                    staged=staged,
                )
            if state != self.states[device]:
                self.changed.add(device)
                self.states[device] = state
        self._rules_dirty = set()

    def _rebuilt(self, device: str, order: list[str], groups_by_key: dict[str, SourceGroup]) -> DeviceState:
        """The state of `device` with its rule list rebuilt from the tiers (namespaces in `order`)."""
        admin, baseline = self._cluster_tier.tiers[device]
        middle: list[CompiledRule] = []
        for ns in order:
            middle.extend(self._namespace_tier.outputs[ns].blocks.get(device, ()))
        every = admin + tuple(middle) + baseline + self._default_tier.rules[device]
        rules: list[CompiledRule] = []
        audit: list[CompiledRule] = []
        positions: list[int] = []
        for rule in every:
            if rule.audit:
                audit.append(rule)
                positions.append(len(rules))
            else:
                rules.append(rule)
        groups, destinations, port_sets = self._referenced(device, rules, groups_by_key)
        staged = StagedRules()
        if audit:
            staged_groups, staged_destinations, staged_ports = self._referenced(device, audit, groups_by_key)
            staged = StagedRules(tuple(audit), tuple(positions), staged_groups, staged_destinations,
                                 staged_ports)
        return DeviceState(
            device=device,
            cluster=self._cluster,
            groups=groups,
            destinations=destinations,
            port_sets=port_sets,
            rules=tuple(rules),
            staged=staged,
        )

    def _referenced(
        self, device: str, rules: list[CompiledRule], groups_by_key: dict[str, SourceGroup]
    ) -> tuple[dict[str, SourceGroup], dict[str, Destination], dict[str, PortSet]]:
        """The groups (a union with the groups it includes), destinations and port sets `rules` use."""
        unions = self._cluster_tier.unions[device]
        own = self._default_tier.groups[device]
        groups: dict[str, SourceGroup] = {}
        for r in rules:
            if r.source in groups:
                continue
            union = unions.get(r.source) or own.get(r.source)
            if union is None:
                groups[r.source] = groups_by_key[r.source]
                continue
            groups[r.source] = union
            for inner in union.includes:
                groups[inner] = groups_by_key[inner]
        known = self._catalog.destinations[device]
        destinations = {r.destination: known[r.destination] for r in rules if r.destination is not None}
        known_ports = self._catalog.port_sets[device]
        port_sets = {r.ports: known_ports[r.ports] for r in rules if r.ports is not None}
        return groups, destinations, port_sets

    def _updated_staged(
        self, device: str, staged: StagedRules, changed_groups: set[str], changed_objects: set[str]
    ) -> StagedRules:
        """`staged` with the groups, destinations and port sets that changed replaced (copy on
        write; the same object when none of them is used by the audit rules)."""
        group_updates = changed_groups.intersection(staged.groups)
        object_updates = {k for k in changed_objects if k in staged.destinations or k in staged.port_sets}
        if not group_updates and not object_updates:
            return staged
        groups = staged.groups
        if group_updates:
            groups = dict(groups)
            for key in group_updates:
                groups[key] = self._namespace_tier.groups[key]
        destinations, port_sets = staged.destinations, staged.port_sets
        if object_updates:
            destinations, port_sets = dict(destinations), dict(port_sets)
            for key in object_updates:
                if key in destinations:
                    destinations[key] = self._catalog.destinations[device][key]
                if key in port_sets:
                    port_sets[key] = self._catalog.port_sets[device][key]
        return StagedRules(staged.rules, staged.positions, groups, destinations, port_sets)
