"""The incremental compiler: cluster objects in, one `DeviceState` per device and the status of
every rule and namespace out (DESIGN sections 3 and 4).

Device rule list, first match: Admin tier (ClusterEgressRules by (priority, name), each expanded
per selected namespace with that namespace's source group), the namespace tier of every managed
namespace (namespaces by name; inside one, by (priority, Service before Namespace, name)), the
Baseline tier, then every namespace's default action. Sources of different namespaces are
disjoint unless they share an address, which is reported as `SharedSource`; so the interleaving
across namespaces decides like the per-source evaluation of section 4. A rule with several
ExternalServices becomes consecutive compiled rules, one per ExternalService, which is the same
under first match. A rule whose sources are empty is left off; it is never widened to "any".

Sources: a Service's are its endpoint pods (EndpointSlices with the `kubernetes.io/service-name`
label, ready or not) that are active pods of the namespace, with all their IPs (a single-stack
Service lists one family, the pod still sends from both); addresses of other origins in a slice
are ignored, so a rule never covers an address outside the identities it names. Pods on the host
network hold their node's address: pod-mode sources leave them out and say so (`hostnet`).

Keys: `keys` builds every key (stable; adapters derive device object names from them).

Incrementality: objects are indexed per namespace. A change marks its namespace dirty (a node or
EgressIP change marks the namespaces in node or egress-ip mode); only dirty namespaces are
recompiled, then cluster rules whose selection or inputs changed, then device lists are
reassembled from cached per-namespace blocks. A full compile runs the same code with everything
dirty, so both give equal results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from connector.cluster import ClusterView, Kind, ObjectChange, object_key
from connector.compiler import hostnet
from connector.compiler.catalog import Catalog
from connector.compiler.cluster_tier import ClusterTier
from connector.compiler.destinations import (
    ipv6_problem,
    parts_have_ipv6,
)
from connector.compiler.dirty import Dirty
from connector.compiler.index import ClusterIndex
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.namespace_tier import NamespaceTier
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.compiler.status import (
    DevicePresence,
    NamespaceStatus,
    Problem,
    Reason,
    RuleRef,
    RuleStatus,
    dedupe,
    unknown_devices,
)
from connector.compiler.workloads import WorkloadDelta
from connector.model import (
    CompiledRule,
    DeviceState,
    RuleKind,
    SourceGroup,
)

K = TypeVar("K")
V = TypeVar("V")

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
        self._devices = settings.device_names
        self._fqdn_ok = {name: caps.fqdn for name, caps in settings.devices}
        self._ipv6_ok = {name: caps.ipv6 for name, caps in settings.devices}
        self._reset()

    # ----------------------------------------------------------------- state
    def _reset(self) -> None:
        self._index = ClusterIndex(self.settings.connector_namespace)

        self._namespaces = NamespaceGroups(self.settings, self._index)
        self._sharing = SharedAddresses()
        self._catalog = Catalog(self.settings.cluster, self._devices)
        self._namespace_tier = NamespaceTier(self.settings, self._index, self._namespaces, self._catalog)
        self._cluster_tier = ClusterTier(
            self.settings, self._index, self._namespaces, self._sharing, self._catalog
        )
        self._rule_refs: dict[str, tuple[RuleRef, ...]] = {}  # namespace -> its rules with a status

        self._rule_status: dict[RuleRef, RuleStatus] = {}
        self._ns_status: dict[str, NamespaceStatus] = {}
        self._states: dict[str, DeviceState] = {
            d: DeviceState(device=d, cluster=self.settings.cluster) for d in self._devices
        }
        self._device_rules_dirty: set[str] = set(self._devices)
        self._changed_devices: set[str] = set(self._devices)

    # ----------------------------------------------------------------- entry points
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
        self._changed_devices = set()
        dirty = Dirty()
        for change in changes:
            self._index.put(change.kind, change.namespace, change.name, change.new, dirty)
        return self._run(dirty)

    @property
    def result(self) -> CompileResult:
        return CompileResult(
            dict(self._states),
            dict(self._rule_status),
            dict(self._ns_status),
            frozenset(self._changed_devices),
        )

    # ----------------------------------------------------------------- pipeline
    def _run(self, dirty: Dirty) -> CompileResult:
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
        flipped: set[str] = set()
        for ns in sorted(touched):
            move = self._namespaces.update(ns, deltas[ns])
            if move is not None:
                self._cluster_tier.resize(ns, move.size)
                flipped |= self._sharing.move(ns, move.removed, move.added, self._cluster_tier.selecting)
        changed_groups: set[str] = set()
        for ns in sorted(touched):
            recompiled = self._namespace_tier.compile(ns, deltas[ns])
            changed_groups |= recompiled.groups
            self._device_rules_dirty |= recompiled.devices
            self._refresh_statuses(ns)
        for ns in sorted(flipped - touched):
            if ns in self._namespace_tier.outputs:
                self._refresh_statuses(ns)
        structural = self._cluster_tier.update(dirty.cluster_rules, relabelled, touched)
        if structural:
            self._cluster_tier.rebuild()
            self._device_rules_dirty.update(self._devices)
        # a deleted rule is due too: its status goes
        statuses_due = dirty.cluster_rules | self._sharing.take_due()
        if structural:
            statuses_due |= set(self._index.cluster_rules)
        for ns in touched:
            statuses_due |= self._cluster_tier.selecting.get(ns, set())
        for name in sorted(statuses_due):
            self._cluster_status(name)

        self._assemble(changed_groups)
        return self.result

    def _refresh_statuses(self, ns: str) -> None:
        """(Re)build the statuses of a namespace and its rules from the last compile of it and the
        current sharing of source addresses."""
        out = self._namespace_tier.outputs[ns]
        for ref in self._rule_refs.pop(ns, ()):
            self._rule_status.pop(ref, None)
        for ref, outcome in out.rules.items():
            sources = outcome.sources
            found = list(outcome.problems)
            shared = self._sharing.among(sources.addresses) if sources is not None else ()
            if shared:
                found.append(
                    Problem(
                        Reason.SHARED_SOURCE,
                        f"{ref}: {_some(shared)} also source traffic of other namespaces (see their"
                        " status); the firewall applies the rule to their traffic too",
                        False,
                    )
                )
            self._rule_status[ref] = RuleStatus(
                ref=ref,
                observed_generation=outcome.spec.generation,
                problems=dedupe(found),
                sources=len(sources.addresses) if sources else 0,
                devices=outcome.presence,
            )
        self._rule_refs[ns] = tuple(out.rules)
        info = self._namespaces.info.get(ns)
        if info is None:
            self._ns_status.pop(ns, None)
            return
        ns_group = self._namespaces.groups.get(ns)
        self._ns_status[ns] = NamespaceStatus(
            name=ns,
            managed=info.managed,
            source_mode=info.mode,
            default_action=info.default_action,
            devices=info.devices if info.managed else (),
            sources=len(ns_group.addresses) if ns_group else 0,
            shared_addresses=self._sharing.among(ns_group.addresses) if ns_group else (),
            warnings=out.warnings,
        )

    # ----------------------------------------------------------------- cluster rules
    def _cluster_status(self, name: str) -> None:
        spec = self._index.cluster_rules.get(name)
        if spec is None:
            self._rule_status.pop(RuleRef(RuleKind.CLUSTER, "", name), None)
            return
        problems = list(spec.problems)
        resolved = self._cluster_tier.resolved.get(name)
        if resolved is not None:
            problems.extend(resolved.problems)
        problems.extend(unknown_devices(spec.ref, spec.devices, self._devices))
        selected = self._cluster_tier.selection.get(name, set())
        sources = self._cluster_tier.source_sum.get(name, 0) - self._sharing.duplicates(name)
        outside = self._sharing.outside(name)
        if outside:
            problems.append(
                Problem(
                    Reason.SHARED_SOURCE,
                    f"{spec.ref}: {_some(outside)} of the selected namespaces"
                    " also source traffic of namespaces the rule does not select; the firewall applies"
                    " the rule to their traffic too",
                    False,
                )
            )
        host = [
            (ns, p)
            for ns in sorted(selected & self._namespace_tier.host_network)
            for p in self._index.workload(ns).host_pods()
        ]
        if host:
            problems.append(hostnet.rule_problem(str(spec.ref), host))
        counts = self._cluster_tier.compiled_for.get(name, {})
        for device, count in counts.items():
            if (
                count
                and not self._ipv6_ok[device]
                and resolved is not None
                and (
                    parts_have_ipv6(resolved.parts[device])
                    or any(
                        device in self._namespaces.info[ns].devices for ns in selected & self._namespaces.ipv6
                    )
                )
            ):
                problems.append(ipv6_problem(spec.ref, device))
        presence = []
        for device in self._devices:
            count = counts.get(device, 0)
            if count:
                message = f"compiled for {count} namespace(s)"
            elif not spec.compilable:
                message = "not accepted"
            elif spec.devices is not None and device not in spec.devices:
                message = "not selected by spec.devices"
            elif not selected:
                message = "selects no managed namespace"
            elif resolved is not None and not any(resolved.parts.values()):
                message = "no destination resolves (see the Accepted condition)"
            elif resolved is not None and not resolved.parts[device]:
                message = "no destination this device can enforce"
            elif not any(device in self._namespaces.info[ns].devices for ns in selected):
                message = "no selected namespace targets this device (annotation fusion-connector.io/devices)"
            else:
                message = "no source addresses"
            presence.append(DevicePresence(device, bool(count), message))
        self._rule_status[spec.ref] = RuleStatus(
            ref=spec.ref,
            observed_generation=spec.generation,
            problems=dedupe(problems),
            sources=sources,
            devices=tuple(presence),
        )

    # ----------------------------------------------------------------- devices
    def _assemble(self, changed_groups: set[str]) -> None:
        changed_objects = self._catalog.take_changed()
        order = sorted(self._namespace_tier.outputs) if self._device_rules_dirty else []
        for device in self._devices:
            state = self._states[device]
            if device in self._device_rules_dirty:
                admin, baseline = self._cluster_tier.tiers[device]
                middle: list[CompiledRule] = []
                defaults: list[CompiledRule] = []
                for ns in order:
                    output = self._namespace_tier.outputs[ns]
                    middle.extend(output.blocks.get(device, ()))
                    defaults.extend(output.defaults.get(device, ()))
                rules = admin + tuple(middle) + baseline + tuple(defaults)
                unions = self._cluster_tier.unions[device]
                groups: dict[str, SourceGroup] = {}
                for r in rules:
                    if r.source in groups:
                        continue
                    union = unions.get(r.source)
                    if union is None:
                        groups[r.source] = self._namespace_tier.groups[r.source]
                        continue
                    groups[r.source] = union
                    for inner in union.includes:
                        groups[inner] = self._namespace_tier.groups[inner]
                destinations = {
                    r.destination: self._catalog.destinations[device][r.destination]
                    for r in rules
                    if r.destination is not None
                }
                port_sets = {
                    r.ports: self._catalog.port_sets[device][r.ports] for r in rules if r.ports is not None
                }
                state = DeviceState(
                    device=device,
                    cluster=self.settings.cluster,
                    groups=groups,
                    destinations=destinations,
                    port_sets=port_sets,
                    rules=rules,
                )
            else:
                group_updates = changed_groups.intersection(state.groups)
                object_updates = {
                    k for k in changed_objects if k in state.destinations or k in state.port_sets
                }
                if not group_updates and not object_updates:
                    continue
                # copy on write: unchanged mappings are shared with the previous (immutable) state
                groups = state.groups
                if group_updates:
                    groups = dict(groups)
                    for key in group_updates:
                        groups[key] = self._namespace_tier.groups[key]
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
                    cluster=self.settings.cluster,
                    groups=groups,
                    destinations=destinations,
                    port_sets=port_sets,
                    rules=state.rules,
                )
            if state != self._states[device]:
                self._changed_devices.add(device)
                self._states[device] = state
        self._device_rules_dirty = set()


def _some(addresses: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """`address(es) a, b, c` naming at most `limit` of them."""
    shown = ", ".join(addresses[:limit])
    more = f" and {len(addresses) - limit} more" if len(addresses) > limit else ""
    return f"source address{'es' if len(addresses) > 1 else ''} {shown}{more}"


def compile_cluster(view: ClusterView, settings: CompileSettings) -> CompileResult:
    """A one-shot full compile."""
    return Compiler(settings).full(view)
