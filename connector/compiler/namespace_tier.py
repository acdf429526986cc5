"""The namespace tier: one namespace's rules (NamespaceEgressRules, ServiceEgressRules and the
`egress-allow` annotation rule) compiled into a block of rules per device (the default actions are the
default tier's, `default_tier`).

Inside a namespace, rules go by (priority, Service before Namespace, name); a rule with several
ExternalServices becomes consecutive compiled rules, one per `RulePart`. A rule is on a device
when its namespace is managed and targets the device, `spec.devices` (if any) names it, it has
sources and a destination the device can enforce; otherwise its presence says why not. With the
`WorkloadDelta` of a workload-only change, a rule the change cannot affect keeps its sources and
resolved destinations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from connector.compiler import hostnet
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
from connector.compiler.findings import DevicePresence, Problem, Reason, RuleRef, dedupe, unknown_devices
from connector.compiler.index import ClusterIndex, put
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.namespaces import NamespaceInfo, annotation_rule_note
from connector.compiler.resources import RuleSpec
from connector.compiler.rule_sources import FoundSources, RuleSources
from connector.compiler.settings import CompileSettings
from connector.compiler.workloads import WorkloadDelta
from connector.model import Action, CompiledRule, RuleKind, RuleOrigin, SourceGroup, Tier

ANNOTATION_PRIORITY = 500

Rules = tuple[CompiledRule, ...]


@dataclass(frozen=True)
class RuleOutcome:
    """What compiling a namespaced rule found, before source sharing is considered: its spec, the
    problems, its sources, and its presence on each device."""

    spec: RuleSpec
    problems: tuple[Problem, ...]
    sources: SourceGroup | None
    presence: tuple[DevicePresence, ...]


@dataclass(frozen=True)
class _RuleInputs:
    """What a namespaced rule compiled from, kept so that a workload change that cannot affect
    the rule reuses its sources and resolved destinations instead of recomputing them."""

    spec: RuleSpec
    sources: FoundSources
    resolved: Resolved


@dataclass
class NamespaceOutput:
    """One namespace compiled: its source groups by key, its namespace-tier block per device, the
    outcome of each of its rules (the annotation rule's go to `warnings`), and its warnings
    (annotation values, host network pods, the annotation rule's problems)."""

    groups: dict[str, SourceGroup] = field(default_factory=dict)
    blocks: dict[str, Rules] = field(default_factory=dict)
    rules: dict[RuleRef, RuleOutcome] = field(default_factory=dict)
    inputs: dict[RuleRef, _RuleInputs] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class Recompiled(NamedTuple):
    """What recompiling a namespace changed: the keys of source groups whose content changed (or
    that appeared or went), and the devices whose block changed."""

    groups: set[str]
    devices: set[str]


class NamespaceTier:
    """The last compile of every namespace (`outputs`), every namespaced source group by key
    (`groups`), and the pod-mode namespaces with pods on the host network (`host_network`)."""

    def __init__(
        self, settings: CompileSettings, index: ClusterIndex, namespaces: NamespaceGroups, catalog: Catalog
    ) -> None:
        self._settings = settings
        self._devices = settings.device_names
        self._fqdn_ok = dict(settings.devices)
        self._ipv6_ok = {name: caps.ipv6 for name, caps in settings.devices}
        self._index = index
        self._namespaces = namespaces
        self._catalog = catalog
        self.outputs: dict[str, NamespaceOutput] = {}
        self.groups: dict[str, SourceGroup] = {}
        self.host_network: set[str] = set()

    def compile(self, ns: str, delta: WorkloadDelta | None) -> Recompiled:
        """Recompile namespace `ns`: its groups, blocks, rule outcomes and warnings."""
        info = self._namespaces.info.get(ns)
        old = self.outputs.get(ns, NamespaceOutput())
        out = NamespaceOutput()
        cluster = self._settings.cluster
        ns_group = self._namespaces.groups.get(ns)
        if ns_group is not None:
            out.groups[ns_group.key] = ns_group
        finder = (
            RuleSources(cluster, info, self._index.workload(ns), ns_group, self._index.nodes)
            if info is not None and info.managed
            else None
        )
        blocks: dict[str, list[CompiledRule]] = {d: [] for d in self._devices}
        annotation_notes: list[str] = []
        for spec in self._specs(ns, info):
            problems = list(spec.problems)
            present: dict[str, str] = {}
            sources: SourceGroup | None = None
            cached = old.inputs.get(spec.ref) if delta is not None else None
            if cached is not None and cached.spec != spec:
                cached = None
            found: FoundSources | None = None
            if finder is None:
                problems.append(
                    Problem(
                        Reason.NAMESPACE_NOT_MANAGED,
                        f"{spec.ref}: namespace {ns} is not managed by fusion-connector",
                        False,
                    )
                )
            elif spec.compilable:
                found = finder.of(spec, cached.sources if cached is not None else None, delta)
                sources = found.group
                problems.extend(found.problems)
            resolved = cached.resolved if cached is not None else self._resolve(spec, info)
            problems.extend(resolved.problems)
            if found is not None:
                out.inputs[spec.ref] = _RuleInputs(spec, found, resolved)
            if sources is not None:
                out.groups[sources.key] = sources
            problems.extend(unknown_devices(spec.ref, spec.devices, self._devices))
            origin = RuleOrigin(spec.ref.kind, ns, spec.ref.name, Tier.NAMESPACE, spec.priority)
            for device in self._devices:
                reason = _absence(spec, info, sources, device, resolved)
                if reason:
                    present[device] = reason
                    continue
                assert sources is not None
                blocks[device].extend(
                    self._catalog.expand(
                        device, origin, sources.key, resolved.parts[device], spec.action, spec.logging,
                        spec.audit,
                    )
                )
                present[device] = ""
                if not self._ipv6_ok[device] and (
                    has_ipv6(sources.addresses) or parts_have_ipv6(resolved.parts[device])
                ):
                    problems.append(ipv6_problem(spec.ref, device))
            if spec.ref.kind == RuleKind.ANNOTATION:
                annotation_notes = [annotation_rule_note(ns, spec.ref, p.message) for p in dedupe(problems)]
            else:
                presence = tuple(
                    DevicePresence(d, not present[d], present[d] or "compiled") for d in self._devices
                )
                out.rules[spec.ref] = RuleOutcome(spec, tuple(problems), sources, presence)
        out.blocks = {d: tuple(rules) for d, rules in blocks.items()}
        host_warnings = self._host_network_warnings(ns, info)
        out.warnings = info.warnings + host_warnings + tuple(annotation_notes) if info is not None else ()
        self.outputs[ns] = out
        return self._changes(old, out)

    def _changes(self, old: NamespaceOutput, out: NamespaceOutput) -> Recompiled:
        """What changed from the namespace's `old` output to `out`; keeps `groups` up to date."""
        devices = {d for d in self._devices if old.blocks.get(d, ()) != out.blocks.get(d, ())}
        changed: set[str] = set()
        for key in set(old.groups) | set(out.groups):
            new_group = out.groups.get(key)
            if old.groups.get(key) != new_group:
                changed.add(key)
                put(self.groups, key, new_group)
        return Recompiled(changed, devices)

    def _resolve(self, spec: RuleSpec, info: NamespaceInfo | None) -> Resolved:
        """The destinations of `spec` per device (none when it cannot compile)."""
        ns, cluster = spec.ref.namespace, self._settings.cluster
        if not spec.compilable or info is None or not info.managed:
            return Resolved({d: () for d in self._devices}, [])
        if spec.ref.kind == RuleKind.ANNOTATION:
            return annotation_parts(spec.ref, ns, info.allow, cluster, self._fqdn_ok)
        return external_parts(
            spec.ref, spec.external_services, ns, self._index.external, cluster, self._fqdn_ok
        )

    def _specs(self, ns: str, info: NamespaceInfo | None) -> list[RuleSpec]:
        """The rules of `ns` in namespace-tier order, the `egress-allow` annotation's included."""
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

    def _host_network_warnings(self, ns: str, info: NamespaceInfo | None) -> tuple[str, ...]:
        """The namespace's warning about its host network pods (pod and egress-ip modes)."""
        pods = self._index.workload(ns).host_pods() if info is not None and info.managed else []
        if pods and info is not None and info.mode == "pod":
            self.host_network.add(ns)
        else:
            self.host_network.discard(ns)
        if not pods or info is None or info.mode == "node":
            return ()
        return (hostnet.namespace_warning(ns, info.mode, pods),)


def _absence(
    spec: RuleSpec, info: NamespaceInfo | None, sources: SourceGroup | None, device: str, resolved: Resolved
) -> str:
    """Why a namespaced rule is not on `device` ("" when it is)."""
    if info is None or not info.managed:
        return f"namespace {spec.ref.namespace} is not managed"
    if not spec.compilable:
        return "not accepted"
    if device not in info.devices:
        return f"namespace {info.name} does not target this device (annotation fusion-connector.io/devices)"
    if spec.devices is not None and device not in spec.devices:
        return "not selected by spec.devices"
    if sources is None:
        return "no source addresses"
    if not resolved.parts[device]:
        if not any(resolved.parts.values()):
            return "no destination resolves (see the Accepted condition)"
        return "no destination this device can enforce"
    return ""
