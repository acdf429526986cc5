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
from dataclasses import dataclass, field
from typing import TypeVar

from connector.cluster import ClusterView, Kind, ObjectChange, object_key
from connector.compiler import hostnet, keys
from connector.compiler.catalog import Catalog
from connector.compiler.destinations import (
    ANNOTATION_RULE,
    Resolved,
    annotation_parts,
    external_parts,
    has_ipv6,
    ipv6_problem,
    parts_have_ipv6,
)
from connector.compiler.dirty import Dirty
from connector.compiler.index import ClusterIndex, put
from connector.compiler.namespaces import NamespaceInfo, annotation_rule_note, namespace_info
from connector.compiler.resources import RuleSpec
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.compiler.sources import (
    Members,
    PodInfo,
    node_members,
    pod_members,
)
from connector.compiler.status import DevicePresence, NamespaceStatus, Problem, Reason, RuleRef, RuleStatus
from connector.compiler.workloads import WorkloadDelta
from connector.model import (
    Action,
    CompiledRule,
    DeviceState,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)

K = TypeVar("K")
V = TypeVar("V")

ANNOTATION_PRIORITY = 500


@dataclass(frozen=True)
class CompileResult:
    """Desired state per device (configuration order), rule statuses, namespace statuses, and the
    devices whose state differs from the previous result of the same compiler (every device after
    `full`); an unchanged device keeps the very same `DeviceState` object."""

    devices: dict[str, DeviceState]
    rules: dict[RuleRef, RuleStatus]
    namespaces: dict[str, NamespaceStatus]
    changed: frozenset[str] = frozenset()


_RuleData = tuple[RuleSpec, tuple[Problem, ...], SourceGroup | None, tuple[DevicePresence, ...]]


@dataclass(frozen=True)
class _RuleInputs:
    """What a namespaced rule compiled from, kept so that a workload change that cannot affect
    the rule reuses its sources and resolved destinations instead of recomputing them."""

    spec: RuleSpec
    sources: SourceGroup | None
    source_problems: tuple[Problem, ...]
    resolved: Resolved
    selected: frozenset[str] = frozenset()  # podSelector rules: the pods selected


@dataclass
class _NamespaceOutput:
    groups: dict[str, SourceGroup] = field(default_factory=dict)
    blocks: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    defaults: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    statuses: dict[RuleRef, RuleStatus] = field(default_factory=dict)
    # per rule: (spec, problems found without sharing, sources, presence per device)
    rule_data: dict[RuleRef, _RuleData] = field(default_factory=dict)
    inputs: dict[RuleRef, _RuleInputs] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


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

        self._info: dict[str, NamespaceInfo] = {}
        self._ns_group: dict[str, SourceGroup] = {}
        self._sharing = SharedAddresses()
        self._ns_ipv6: set[str] = set()  # namespaces with an IPv6 source address
        self._ns_host: set[str] = set()  # pod-mode namespaces with pods on the host network
        self._outputs: dict[str, _NamespaceOutput] = {}
        self._groups: dict[str, SourceGroup] = {}
        self._catalog = Catalog(self.settings.cluster, self._devices)

        self._cluster_resolved: dict[str, Resolved] = {}
        self._selection: dict[str, set[str]] = {}
        self._selecting: dict[str, set[str]] = {}
        self._sizes: dict[str, int] = {}
        self._rule_sums: dict[str, int] = {}
        self._presence: dict[str, tuple[bool, tuple[str, ...]]] = {}
        # device -> union group key -> the union source group of a cluster rule
        self._unions: dict[str, dict[str, SourceGroup]] = {d: {} for d in self._devices}
        self._cluster_present: dict[str, dict[str, int]] = {}
        self._tiers: dict[str, tuple[tuple[CompiledRule, ...], tuple[CompiledRule, ...]]] = {
            d: ((), ()) for d in self._devices
        }

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
            for ns in [ns for ns, info in self._info.items() if info.mode == "node"]:
                dirty.rebuild(ns)
        relabelled: set[str] = set()
        candidates = dirty.namespace_objects
        if dirty.egress_ips:
            candidates = candidates | set(self._info) | set(self._index.namespaces)
        for ns in sorted(candidates):
            old = self._info.get(ns)
            obj = self._index.namespaces.get(ns)
            new = (
                namespace_info(obj, self.settings, self._index.egress_ips.values())
                if obj is not None
                else None
            )
            if old != new:
                dirty.rebuild(ns)
                if old is None or new is None or (old.labels, old.managed) != (new.labels, new.managed):
                    relabelled.add(ns)
            put(self._info, ns, new)

        changed_groups: set[str] = set()
        touched = set(dirty.namespaces)
        flipped: set[str] = set()
        # every touched namespace's delta is taken (and so reset); a rebuilt one does not use it
        deltas: dict[str, WorkloadDelta | None] = {}
        for ns in touched:
            delta = self._index.workload(ns).take_delta()
            deltas[ns] = None if ns in dirty.rebuilt else delta
        for ns in sorted(touched):
            flipped |= self._update_namespace_group(ns, deltas[ns])
        for ns in sorted(touched):
            changed_groups |= self._compile_namespace(ns, deltas[ns])
        for ns in sorted(flipped - touched):
            if ns in self._outputs:
                self._refresh_statuses(ns)
        structural = self._update_cluster(dirty.cluster_rules, relabelled, touched)
        if structural:
            self._rebuild_tiers()
        statuses_due = set(dirty.cluster_rules) if not structural else set(self._index.cluster_rules)
        statuses_due |= self._sharing.take_due()
        for ns in touched:
            statuses_due |= self._selecting.get(ns, set())
        for name in sorted(statuses_due):
            self._cluster_status(name)

        self._assemble(changed_groups)
        return self.result

    # ----------------------------------------------------------------- namespace groups
    def _namespace_members(self, info: NamespaceInfo) -> Members:
        if info.mode == "egress-ip":
            return info.egress_ips
        workloads = self._index.workload(info.name)
        if info.mode == "node":
            return node_members(workloads.active_pods(), self._index.nodes)
        return workloads.members()

    def _update_namespace_group(self, ns: str, delta: WorkloadDelta | None) -> set[str]:
        """Recompute the namespace's source group; returns namespaces whose sharing changed.
        With the `delta` of a workload-only change in pod source mode, the addresses that joined or
        left come from it instead of comparing the whole old and new groups."""
        info = self._info.get(ns)
        old = self._ns_group.get(ns)
        new: SourceGroup | None = None
        if info is not None and info.managed:
            members = self._namespace_members(info)
            purpose = {"pod": "namespace", "egress-ip": "egress-ip", "node": "node"}[info.mode]
            if members:
                new = SourceGroup(
                    key=keys.namespace_group(self.settings.cluster, ns),
                    cluster=self.settings.cluster,
                    namespace=ns,
                    members=members,
                    purpose=purpose,
                )
        if old == new:
            return set()
        put(self._ns_group, ns, new)
        by_delta = delta is not None and info is not None and info.mode == "pod" and old is not None \
            and new is not None
        ipv6 = self._index.workload(ns).has_ipv6 if by_delta else new is not None and has_ipv6(new.addresses)
        if ipv6:
            self._ns_ipv6.add(ns)
        else:
            self._ns_ipv6.discard(ns)
        if by_delta:
            assert delta is not None and new is not None
            removed, added = delta.removed, delta.added
        else:
            before = set(old.addresses) if old else set()
            after = set(new.addresses) if new else set()
            removed, added = before - after, after - before
        size = len(new.addresses) if new else 0
        size_delta = size - (len(old.addresses) if old else 0)
        self._sizes[ns] = size
        if size_delta:
            for rule in self._selecting.get(ns, ()):
                self._rule_sums[rule] = self._rule_sums.get(rule, 0) + size_delta
        return self._sharing.move(ns, removed, added, self._selecting)

    # ----------------------------------------------------------------- namespace tier
    def _rule_sources(
        self, spec: RuleSpec, info: NamespaceInfo, problems: list[Problem], selected: set[str] | None = None
    ) -> SourceGroup | None:
        """The source group of a namespaced rule (None = no sources), adding problems found. For a
        podSelector rule, `selected` (the names of the active pods it selects) is used when given."""
        ns = info.name
        ns_group = self._ns_group.get(ns)
        cluster = self.settings.cluster
        workloads = self._index.workload(ns)
        if spec.ref.kind == RuleKind.SERVICE:
            if spec.service not in workloads.services:
                problems.append(
                    Problem(
                        Reason.SERVICE_NOT_FOUND,
                        f"{spec.ref}: spec.service: Service {ns}/{spec.service} not found",
                        True,
                    )
                )
                return None
            pods = workloads.service_pods(spec.service)
            key = keys.service_group(cluster, ns, spec.service)
            service, rule = spec.service, ""
        elif spec.pod_selector is not None:
            if selected is None:
                selected = self._select_pods(spec, ns)
            pods = [workloads.pods[name] for name in sorted(selected)]
            key = keys.pods_group(cluster, ns, spec.ref.name)
            service, rule = "", spec.ref.name
        else:
            if info.mode == "pod":
                self._without_host_network(spec, info, workloads.host_pods(), problems)
            return ns_group
        if info.mode != "node":
            pods = self._without_host_network(spec, info, pods, problems)
        if info.mode == "egress-ip":
            if pods and ns_group is not None:
                problems.append(
                    Problem(
                        Reason.SOURCE_WIDENED,
                        f"{spec.ref}: namespace {ns} uses source mode egress-ip; the rule applies"
                        " to the whole namespace's egress IPs",
                        False,
                    )
                )
                return ns_group
            return None
        if info.mode == "node":
            members = node_members(pods, self._index.nodes)
            purpose = "node"
        else:
            members = pod_members(pods)
            purpose = "service" if spec.ref.kind == RuleKind.SERVICE else "pods"
        if not members:
            return None
        return SourceGroup(
            key=key,
            cluster=cluster,
            namespace=ns,
            members=members,
            service=service,
            rule=rule,
            purpose=purpose,
        )

    def _without_host_network(
        self, spec: RuleSpec, info: NamespaceInfo, pods: list[PodInfo], problems: list[Problem]
    ) -> list[PodInfo]:
        """`pods` without those on the host network; in pod mode a rule that loses one says so
        (the annotation rule's notes go to the namespace, which has its own warning)."""
        host = [(info.name, pod) for pod in pods if pod.host_network and pod.ips]
        if not host:
            return [pod for pod in pods if not pod.host_network]
        if info.mode == "pod" and spec.ref.kind != RuleKind.ANNOTATION:
            problems.append(hostnet.rule_problem(str(spec.ref), host))
        return [pod for pod in pods if not pod.host_network]

    def _host_network_warnings(self, ns: str, info: NamespaceInfo | None) -> tuple[str, ...]:
        """The namespace's warning about its host network pods (pod and egress-ip modes)."""
        pods = self._index.workload(ns).host_pods() if info is not None and info.managed else []
        if pods and info is not None and info.mode == "pod":
            self._ns_host.add(ns)
        else:
            self._ns_host.discard(ns)
        if not pods or info is None or info.mode == "node":
            return ()
        return (hostnet.namespace_warning(ns, info.mode, pods),)

    def _sources_of(
        self,
        spec: RuleSpec,
        info: NamespaceInfo,
        cached: _RuleInputs | None,
        delta: WorkloadDelta | None,
    ) -> tuple[SourceGroup | None, list[Problem], set[str]]:
        """(sources, problems found resolving them, pods selected) of a compilable rule of a
        managed namespace; reused from `cached` when the workload `delta` cannot affect them."""
        if spec.ref.kind == RuleKind.SERVICE:
            if cached is not None and delta is not None and spec.service not in delta.services:
                return cached.sources, list(cached.source_problems), set()
        elif spec.pod_selector is not None and cached is not None and delta is not None:
            selected = self._reselect_pods(spec, cached.selected, delta.pods)
            if cached.selected.isdisjoint(p.name for p in delta.pods) and selected == cached.selected:
                return cached.sources, list(cached.source_problems), selected
            problems: list[Problem] = []
            return self._rule_sources(spec, info, problems, selected), problems, selected
        problems = []
        selected = self._select_pods(spec, info.name) if spec.pod_selector is not None and \
            spec.ref.kind != RuleKind.SERVICE else set()
        return self._rule_sources(spec, info, problems, selected), problems, selected

    def _select_pods(self, spec: RuleSpec, ns: str) -> set[str]:
        """Names of the active pods of `ns` that the rule's podSelector selects."""
        selector = spec.pod_selector
        assert selector is not None
        pods = self._index.workload(ns).pods.values()
        return {p.name for p in pods if p.active and selector.matches(dict(p.labels))}

    def _reselect_pods(self, spec: RuleSpec, selected: frozenset[str], changed: list[PodInfo]) -> set[str]:
        """`selected` updated for the pods in `changed` (old and new versions of changed pods)."""
        selector = spec.pod_selector
        assert selector is not None
        out = set(selected)
        pods = self._index.workload(spec.ref.namespace).pods
        for name in {p.name for p in changed}:
            pod = pods.get(name)
            if pod is not None and pod.active and selector.matches(dict(pod.labels)):
                out.add(name)
            else:
                out.discard(name)
        return out

    def _namespace_specs(self, ns: str, info: NamespaceInfo | None) -> list[RuleSpec]:
        specs = list(self._index.namespace_rules.get(ns, {}).values())
        if info is not None and info.managed and info.allow:
            specs.append(
                RuleSpec(
                    ref=RuleRef(RuleKind.ANNOTATION, ns, ANNOTATION_RULE),
                    generation=0,
                    tier=Tier.NAMESPACE,
                    priority=ANNOTATION_PRIORITY,
                    action=Action.ALLOW,
                    logging=False,
                    devices=None,
                    external_services=None,
                    namespace_selector=None,
                    pod_selector=None,
                    service="",
                    problems=(),
                )
            )
        return sorted(specs, key=RuleSpec.order_key)

    def _compile_namespace(self, ns: str, delta: WorkloadDelta | None) -> set[str]:
        """Recompile one namespace's groups, namespace-tier blocks, default rules and statuses;
        returns the group keys whose content changed. With the `delta` of a workload-only change,
        a rule the change cannot affect keeps its sources and resolved destinations."""
        info = self._info.get(ns)
        old = self._outputs.get(ns, _NamespaceOutput())
        out = _NamespaceOutput()
        cluster = self.settings.cluster
        ns_group = self._ns_group.get(ns)
        if ns_group is not None:
            out.groups[ns_group.key] = ns_group
        blocks: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        annotation_notes: list[str] = []
        for spec in self._namespace_specs(ns, info):
            problems = list(spec.problems)
            present: dict[str, str] = {}
            sources: SourceGroup | None = None
            cached = old.inputs.get(spec.ref) if delta is not None else None
            if cached is not None and cached.spec != spec:
                cached = None
            if info is None or not info.managed:
                problems.append(
                    Problem(
                        Reason.NAMESPACE_NOT_MANAGED,
                        f"{spec.ref}: namespace {ns} is not managed by fusion-connector",
                        False,
                    )
                )
            elif spec.compilable:
                sources, source_problems, selected = self._sources_of(spec, info, cached, delta)
                problems.extend(source_problems)
            resolved = Resolved({d: () for d in self._devices}, [])
            if cached is not None:
                resolved = cached.resolved
                problems.extend(resolved.problems)
            elif spec.compilable and info is not None and info.managed:
                if spec.ref.kind == RuleKind.ANNOTATION:
                    resolved = annotation_parts(
                        spec.ref, ns, info.allow, self.settings.cluster, self._fqdn_ok
                    )
                else:
                    resolved = external_parts(
                        spec.ref,
                        spec.external_services,
                        ns,
                        self._index.external,
                        self.settings.cluster,
                        self._fqdn_ok,
                    )
                problems.extend(resolved.problems)
            if spec.compilable and info is not None and info.managed:
                out.inputs[spec.ref] = _RuleInputs(
                    spec, sources, tuple(source_problems), resolved, frozenset(selected)
                )
            if sources is not None:
                out.groups[sources.key] = sources
            problems.extend(self._unknown_devices(spec))
            origin = RuleOrigin(spec.ref.kind, ns, spec.ref.name, Tier.NAMESPACE, spec.priority)
            for device in self._devices:
                reason = self._absence(spec, info, sources, device, resolved)
                if reason:
                    present[device] = reason
                    continue
                assert sources is not None
                compiled = self._catalog.expand(
                    device, origin, sources.key, resolved.parts[device], spec.action, spec.logging
                )
                blocks[device].extend(compiled)
                present[device] = ""
                if not self._ipv6_ok[device] and (
                    has_ipv6(sources.addresses) or parts_have_ipv6(resolved.parts[device])
                ):
                    problems.append(ipv6_problem(spec.ref, device))
            if spec.ref.kind == RuleKind.ANNOTATION:
                annotation_notes = [annotation_rule_note(ns, spec.ref, p.message) for p in _dedupe(problems)]
            else:
                presence = tuple(
                    DevicePresence(d, not present[d], present[d] or "compiled") for d in self._devices
                )
                out.rule_data[spec.ref] = (spec, tuple(problems), sources, presence)
        out.blocks = {d: tuple(rules) for d, rules in blocks.items()}
        if info is not None and info.managed and info.default_action != "None" and ns_group is not None:
            origin = RuleOrigin(RuleKind.DEFAULT, ns, "default", Tier.DEFAULT, 0)
            for device in info.devices:
                out.defaults[device] = (
                    CompiledRule(
                        key=keys.default_rule(cluster, ns),
                        origin=origin,
                        source=ns_group.key,
                        destination=None,
                        ports=None,
                        action=Action(info.default_action),
                    ),
                )
        host_warnings = self._host_network_warnings(ns, info)
        out.warnings = info.warnings + host_warnings + tuple(annotation_notes) if info is not None else ()
        self._outputs[ns] = out
        self._refresh_statuses(ns, old.statuses)
        for device in self._devices:
            if old.blocks.get(device, ()) != out.blocks.get(device, ()) or old.defaults.get(
                device, ()
            ) != out.defaults.get(device, ()):
                self._device_rules_dirty.add(device)
        changed: set[str] = set()
        for key in set(old.groups) | set(out.groups):
            new_group = out.groups.get(key)
            if old.groups.get(key) != new_group:
                changed.add(key)
                put(self._groups, key, new_group)
        return changed

    def _refresh_statuses(self, ns: str, previous: dict[RuleRef, RuleStatus] | None = None) -> None:
        """(Re)build the statuses of a namespace and its rules from the last compile of it and the
        current sharing of source addresses."""
        out = self._outputs[ns]
        for ref in previous if previous is not None else out.statuses:
            self._rule_status.pop(ref, None)
        out.statuses = {}
        for ref, (spec, problems, sources, presence) in out.rule_data.items():
            found = list(problems)
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
            out.statuses[ref] = RuleStatus(
                ref=ref,
                observed_generation=spec.generation,
                problems=_dedupe(found),
                sources=len(sources.addresses) if sources else 0,
                devices=presence,
            )
        self._rule_status.update(out.statuses)
        info = self._info.get(ns)
        if info is None:
            self._ns_status.pop(ns, None)
            return
        ns_group = self._ns_group.get(ns)
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

    def _unknown_devices(self, spec: RuleSpec) -> list[Problem]:
        unknown = [d for d in spec.devices or () if d not in self._devices]
        if not unknown:
            return []
        return [
            Problem(
                Reason.UNKNOWN_DEVICE,
                f"{spec.ref}: spec.devices: no configured device named {', '.join(unknown)}",
                False,
            )
        ]

    def _absence(
        self,
        spec: RuleSpec,
        info: NamespaceInfo | None,
        sources: SourceGroup | None,
        device: str,
        resolved: Resolved,
    ) -> str:
        """Why a namespaced rule is not on `device` ("" when it is)."""
        if info is None or not info.managed:
            return f"namespace {spec.ref.namespace} is not managed"
        if not spec.compilable:
            return "not accepted"
        if device not in info.devices:
            return (
                f"namespace {info.name} does not target this device (annotation fusion-connector.io/devices)"
            )
        if spec.devices is not None and device not in spec.devices:
            return "not selected by spec.devices"
        if sources is None:
            return "no source addresses"
        if not resolved.parts[device]:
            if not any(resolved.parts.values()):
                return "no destination resolves (see the Accepted condition)"
            return "no destination this device can enforce"
        return ""

    # ----------------------------------------------------------------- cluster rules
    def _selects(self, spec: RuleSpec, ns: str) -> bool:
        info = self._info.get(ns)
        if info is None or not info.managed or not spec.compilable:
            return False
        return spec.namespace_selector is None or spec.namespace_selector.matches(info.label_map)

    def _set_selection(self, rule: str, namespaces: set[str]) -> None:
        old = self._selection.get(rule, set())
        for ns, step in [(n, -1) for n in old - namespaces] + [(n, 1) for n in namespaces - old]:
            if step < 0:
                self._selecting[ns].discard(rule)
            else:
                self._selecting.setdefault(ns, set()).add(rule)
            group = self._ns_group.get(ns)
            if group is not None:
                self._sharing.select(rule, group.addresses, step)
        if namespaces:
            self._selection[rule] = namespaces
        else:
            self._selection.pop(rule, None)
        self._rule_sums[rule] = sum(self._sizes.get(ns, 0) for ns in namespaces)

    def _update_cluster(self, dirty_rules: set[str], relabelled: set[str], touched: set[str]) -> bool:
        """Refresh cluster-rule resolution and selection; True when the tier lists must be rebuilt."""
        structural = False
        for name in sorted(dirty_rules):
            spec = self._index.cluster_rules.get(name)
            structural = True
            if spec is None:
                self._cluster_resolved.pop(name, None)
                self._set_selection(name, set())
                self._rule_sums.pop(name, None)
                self._rule_status.pop(RuleRef(RuleKind.CLUSTER, "", name), None)
                continue
            self._cluster_resolved[name] = external_parts(
                spec.ref,
                spec.external_services,
                self.settings.connector_namespace,
                self._index.external,
                self.settings.cluster,
                self._fqdn_ok,
            )
            self._set_selection(name, {ns for ns in self._info if self._selects(spec, ns)})
        for ns in sorted(relabelled):
            for name, spec in self._index.cluster_rules.items():
                if name in dirty_rules:
                    continue
                selected = self._selection.get(name, set())
                if self._selects(spec, ns) != (ns in selected):
                    self._set_selection(name, selected ^ {ns})
                    structural = True
        for ns in touched:
            info = self._info.get(ns)
            presence = (ns in self._ns_group, info.devices if info and info.managed else ())
            if self._presence.get(ns) != presence:
                self._presence[ns] = presence
                structural = structural or bool(self._selecting.get(ns))
        return structural

    def _rebuild_tiers(self) -> None:
        """Each cluster rule becomes, per device, one compiled rule per destination whose source is
        the rule's union group: the groups of the selected namespaces that target the device."""
        admin: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        baseline: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        self._cluster_present = {}
        self._unions = {d: {} for d in self._devices}
        ordered = sorted(self._index.cluster_rules.values(), key=lambda s: (s.priority, s.ref.name))
        for spec in ordered:
            name = spec.ref.name
            counts = {d: 0 for d in self._devices}
            self._cluster_present[name] = counts
            if not spec.compilable:
                continue
            resolved = self._cluster_resolved[name]
            origin = RuleOrigin(RuleKind.CLUSTER, "", name, spec.tier, spec.priority)
            target = admin if spec.tier == Tier.ADMIN else baseline
            included: dict[str, list[str]] = {d: [] for d in self._devices}
            for ns in sorted(self._selection.get(name, ())):
                group = self._ns_group.get(ns)
                if group is None:
                    continue
                for device in self._info[ns].devices:
                    if device in included and (spec.devices is None or device in spec.devices):
                        included[device].append(group.key)
            for device, members in included.items():
                if not members or not resolved.parts[device]:
                    continue
                union = SourceGroup(
                    key=keys.union_group(self.settings.cluster, name),
                    cluster=self.settings.cluster,
                    namespace="",
                    members=(),
                    rule=name,
                    purpose="union",
                    includes=tuple(members),
                )
                self._unions[device][union.key] = union
                target[device].extend(
                    self._catalog.expand(
                        device, origin, union.key, resolved.parts[device], spec.action, spec.logging
                    )
                )
                counts[device] = len(members)
        self._tiers = {d: (tuple(admin[d]), tuple(baseline[d])) for d in self._devices}
        self._device_rules_dirty.update(self._devices)

    def _cluster_status(self, name: str) -> None:
        spec = self._index.cluster_rules.get(name)
        if spec is None:
            return
        problems = list(spec.problems)
        resolved = self._cluster_resolved.get(name)
        if resolved is not None:
            problems.extend(resolved.problems)
        problems.extend(self._unknown_devices(spec))
        selected = self._selection.get(name, set())
        sources = self._rule_sums.get(name, 0) - self._sharing.duplicates(name)
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
            (ns, p) for ns in sorted(selected & self._ns_host) for p in self._index.workload(ns).host_pods()
        ]
        if host:
            problems.append(hostnet.rule_problem(str(spec.ref), host))
        counts = self._cluster_present.get(name, {})
        for device, count in counts.items():
            if (
                count
                and not self._ipv6_ok[device]
                and resolved is not None
                and (
                    parts_have_ipv6(resolved.parts[device])
                    or any(device in self._info[ns].devices for ns in selected & self._ns_ipv6)
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
            elif not any(device in self._info[ns].devices for ns in selected):
                message = "no selected namespace targets this device (annotation fusion-connector.io/devices)"
            else:
                message = "no source addresses"
            presence.append(DevicePresence(device, bool(count), message))
        self._rule_status[spec.ref] = RuleStatus(
            ref=spec.ref,
            observed_generation=spec.generation,
            problems=_dedupe(problems),
            sources=sources,
            devices=tuple(presence),
        )

    # ----------------------------------------------------------------- devices
    def _assemble(self, changed_groups: set[str]) -> None:
        changed_objects = self._catalog.take_changed()
        order = sorted(self._outputs) if self._device_rules_dirty else []
        for device in self._devices:
            state = self._states[device]
            if device in self._device_rules_dirty:
                admin, baseline = self._tiers[device]
                middle: list[CompiledRule] = []
                defaults: list[CompiledRule] = []
                for ns in order:
                    output = self._outputs[ns]
                    middle.extend(output.blocks.get(device, ()))
                    defaults.extend(output.defaults.get(device, ()))
                rules = admin + tuple(middle) + baseline + tuple(defaults)
                unions = self._unions[device]
                groups: dict[str, SourceGroup] = {}
                for r in rules:
                    if r.source in groups:
                        continue
                    union = unions.get(r.source)
                    if union is None:
                        groups[r.source] = self._groups[r.source]
                        continue
                    groups[r.source] = union
                    for inner in union.includes:
                        groups[inner] = self._groups[inner]
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
                        groups[key] = self._groups[key]
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


def _dedupe(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(set(problems)))


def compile_cluster(view: ClusterView, settings: CompileSettings) -> CompileResult:
    """A one-shot full compile."""
    return Compiler(settings).full(view)
