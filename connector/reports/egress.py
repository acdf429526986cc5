"""Effective egress: for every managed namespace and Service, the compiled rules that decide its
traffic on each device, in first-match order (pure; agrees with `connector.explain`).

A rule applies to a source when the rule's source group holds one of the source's addresses. The
addresses of a source are those the firewall sees: for a namespace, its source group (pod IPs,
egress IPs or node IPs by source mode); for a Service in `pod` mode, every IP of the pods behind
its endpoints, in `egress-ip` mode the namespace's egress IPs, in `node` mode the InternalIPs of
the nodes hosting those pods.

Each source's device entry also carries the decision matrix's cells (`DeviceEgress.decisions`):
per ExternalService its namespace's entries name (on any device), with the ports they name for
it, and for every other destination, what the source's entries on that device decide, by
`connector.evaluate.evaluate_region` (the first-match walk `explain` uses). Entries carry the
device's own numbers of their rule when the caller passes what the device holds (`numbers`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from connector.adapter.base import RuleNumbers
from connector.cluster import ClusterView, Kind
from connector.compiler import CompileResult
from connector.compiler.addresses import PodInfo, node_addresses, read_pod, read_slice
from connector.evaluate import Region, RegionMemo, attributed, evaluate_region
from connector.model import CompiledRule, DeviceState, PortRange, RuleKind
from connector.reports.model import (
    DeviceEgress,
    EgressDecision,
    EgressDestination,
    EgressEntry,
    EgressSource,
    RuleName,
)


def _address_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return (ip.version, int(ip))


def _sorted(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(addresses), key=_address_key))


def _namespace_addresses(compiled: CompileResult, cluster: str, namespace: str) -> tuple[str, ...]:
    key = f"{cluster}/{namespace}"
    return _sorted(a for state in compiled.devices.values() if key in state.groups
                   for a in state.groups[key].addresses)


def _by_namespace(view: ClusterView, kind: Kind) -> dict[str, list[dict[str, Any]]]:
    """Every object of `kind`, by namespace: one list call (views may scan on each filtered one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in view.list(kind):
        out.setdefault(str((obj.get("metadata") or {}).get("namespace") or ""), []).append(obj)
    return out


class _Workloads:
    """The Services, EndpointSlices and pods of the view, read once."""

    def __init__(self, view: ClusterView) -> None:
        self.view = view
        self.services = _by_namespace(view, Kind.SERVICE)
        self.slices = _by_namespace(view, Kind.ENDPOINT_SLICE)
        self.pods = _by_namespace(view, Kind.POD)

    def service_addresses(self, compiled: CompileResult, cluster: str, namespace: str,
                          mode: str) -> dict[str, tuple[str, ...]]:
        """The source addresses of every Service of `namespace`."""
        names = [_name(obj) for obj in self.services.get(namespace, ())]
        if mode == "egress-ip":
            return dict.fromkeys(names, _namespace_addresses(compiled, cluster, namespace))
        endpoints: dict[str, set[str]] = {}
        for obj in self.slices.get(namespace, ()):
            slice_ = read_slice(obj)
            endpoints.setdefault(slice_.service, set()).update(slice_.addresses)
        pod_of: dict[str, PodInfo] = {}
        for pod in (read_pod(obj) for obj in self.pods.get(namespace, ())):
            for ip in pod.ips:
                pod_of[ip] = pod
        out: dict[str, tuple[str, ...]] = {}
        for name in names:
            pods = {pod_of[a].name: pod_of[a] for a in endpoints.get(name, ()) if a in pod_of}.values()
            if mode == "node":
                out[name] = _sorted(a for p in pods if p.node
                                    for a in node_addresses(self.view.get(Kind.NODE, "", p.node) or {}))
            else:
                out[name] = _sorted(ip for p in pods for ip in p.ips)
        return out


def _grouped_services(compiled: CompileResult) -> dict[str, dict[str, tuple[str, ...]]]:
    """Without a view: the Services that have a source group of their own, by namespace."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for state in compiled.devices.values():
        for group in state.groups.values():
            if group.service:
                services = out.setdefault(group.namespace, {})
                services[group.service] = _sorted((*services.get(group.service, ()), *group.addresses))
    return out


def _name(obj: dict[str, object]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, dict) else ""


def _covers(earlier: CompiledRule, rule: CompiledRule) -> bool:
    return (earlier.destination is None or earlier.destination == rule.destination) and (
        earlier.ports is None or earlier.ports == rule.ports)


class DeviceIndex:
    """One device's rules indexed by source address, so that a source's entries cost what they
    hold, not the size of the rulebase."""

    def __init__(self, state: DeviceState, numbers: RuleNumbers | None = None) -> None:
        self.state = state
        self.numbers = numbers
        self.groups_of: dict[str, set[str]] = {}
        for key, group in state.groups.items():
            for address in group.addresses:
                self.groups_of.setdefault(address, set()).add(key)
        self.rules_of: dict[str, list[int]] = {}
        for position, rule in enumerate(state.rules):
            self.rules_of.setdefault(rule.source, []).append(position)

    def egress(self, addresses: Sequence[str]) -> DeviceEgress:
        """The rules applying to a source with `addresses`, in evaluation order."""
        state = self.state
        if not addresses:
            return DeviceEgress(state.device, (), "no source address now: no rule applies")
        held: dict[str, int] = {}
        for address in set(addresses):
            for key in state.including(self.groups_of.get(address, ())):
                held[key] = held.get(key, 0) + 1
        positions = sorted(p for key in held for p in self.rules_of.get(key, ()))
        entries: list[EgressEntry] = []
        deciding: list[CompiledRule] = []  # earlier entries that apply to every address
        whole = len(set(addresses))
        for position in positions:
            rule = state.rules[position]
            applies_to = "all" if held[rule.source] == whole else "some"
            entries.append(self._entry(position + 1, self._attributed(rule, addresses), applies_to,
                                       any(_covers(earlier, rule) for earlier in deciding)))
            if applies_to == "all":
                deciding.append(rule)
        note = "" if entries else "no compiled rule applies: the device's own rulebase decides"
        if entries and not any(e.destination is None and e.ports is None and e.applies_to == "all"
                               for e in entries):
            note = "traffic no entry matches is left to the device's own rulebase"
        return DeviceEgress(state.device, tuple(entries), note)

    def _attributed(self, rule: CompiledRule, addresses: Sequence[str]) -> CompiledRule:
        """`rule`, a grouped default action with the origin of the namespace default it stands for
        as `explain` gives it (`connector.evaluate.attributed`) for the first of `addresses` (sorted
        by address, as the sources list them) its source holds."""
        if rule.origin.kind is not RuleKind.DEFAULT or rule.origin.namespace:
            return rule
        for address in addresses:
            holding = self.state.including(self.groups_of.get(address, ()))
            if rule.source in holding:
                return attributed(self.state, rule, address, holding)
        return rule

    def _entry(self, position: int, rule: CompiledRule, applies_to: str, shadowed: bool) -> EgressEntry:
        destination = None
        if rule.destination is not None:
            target = self.state.destinations[rule.destination]
            destination = EgressDestination(target.namespace, target.name, target.networks, target.fqdns)
        ports = None
        if rule.ports is not None:
            ports = tuple(str(r) for r in self.state.port_sets[rule.ports].ranges)
        origin = rule.origin
        return EgressEntry(
            position=position, rule_key=rule.key,
            rule=RuleName(origin.kind.value, origin.namespace, origin.name), tier=origin.tier.value,
            priority=origin.priority, action=rule.action.value, logging=rule.logging,
            destination=destination, ports=ports, applies_to=applies_to, shadowed=shadowed,
            device_numbers=self.numbers.numbers.get(rule.key, ()) if self.numbers is not None else ())

    def decisions(self, egress: DeviceEgress, regions: Sequence[Region],
                  memos: Sequence[RegionMemo]) -> tuple[EgressDecision, ...]:
        """The matrix cells of the source behind `egress` (this device's entries) for `regions`;
        `memos` (one per region, shared by the sources of a namespace on this device) keep what
        each destination and port set covers."""
        candidates = [(e.position - 1, e.applies_to == "all") for e in egress.entries if not e.shadowed]
        out = []
        for region, memo in zip(regions, memos, strict=True):
            ports = tuple(str(r) for r in region.ports) if region.ports is not None else None
            found = evaluate_region(self.state, region, candidates, memo)
            out.append(EgressDecision(region.service, ports, found.verdict,
                                      found.decision[0] + 1 if found.decision is not None else None,
                                      tuple(p + 1 for p, _ in found.partial)))
        return tuple(out)


def namespace_regions(sources: Sequence[EgressSource], states: Mapping[str, DeviceState]) -> list[Region]:
    """The matrix rows of one namespace: each ExternalService its sources' entries name on any
    device (addresses and FQDNs merged over the devices' variants; the ports those entries name,
    None when one names any port), by namespace and name, then every other destination."""
    networks: dict[tuple[str, str], set[str]] = {}
    fqdns: dict[tuple[str, str], set[str]] = {}
    ports: dict[tuple[str, str], set[PortRange] | None] = {}
    for source in sources:
        for device in source.devices:
            state = states[device.device]
            for entry in device.entries:
                target = entry.destination
                if target is None:
                    continue
                key = (target.namespace, target.name)
                networks.setdefault(key, set()).update(target.networks)
                fqdns.setdefault(key, set()).update(target.fqdns)
                known = ports.get(key, set())
                rule = state.rules[entry.position - 1]
                if known is None or rule.ports is None:
                    ports[key] = None
                else:
                    ports[key] = known | set(state.port_sets[rule.ports].ranges)
    regions = [Region(key, tuple(sorted(networks[key])), tuple(sorted(fqdns[key])),
                      tuple(sorted(found)) if (found := ports[key]) is not None else None)
               for key in sorted(networks)]
    regions.append(Region(None))
    return regions


def device_egress(state: DeviceState, addresses: Sequence[str]) -> DeviceEgress:
    """The rules of `state` applying to a source with `addresses`, in evaluation order."""
    return DeviceIndex(state).egress(addresses)


def _with_decisions(sources: list[EgressSource], indexes: Sequence[DeviceIndex]) -> list[EgressSource]:
    """`sources` (one namespace's) with the matrix cells of each device entry."""
    regions = namespace_regions(sources, {index.state.device: index.state for index in indexes})
    by_device = {index.state.device: index for index in indexes}
    memos: dict[str, list[RegionMemo]] = {name: [{} for _ in regions] for name in by_device}
    return [replace(source, devices=tuple(
        replace(d, decisions=by_device[d.device].decisions(d, regions, memos[d.device]))
        for d in source.devices)) for source in sources]


def effective_egress(compiled: CompileResult, cluster: str, view: ClusterView | None = None,
                     devices: Sequence[str] | None = None,
                     numbers: Mapping[str, RuleNumbers] | None = None) -> tuple[EgressSource, ...]:
    """Every managed namespace, then each of its Services (from `view`; without a view, the
    Services that have a source group of their own), with the rules deciding on each device
    (`devices`: only these) and the decision matrix's cells; `numbers`: each device's own rule
    numbers as the caller read them."""
    numbers = numbers or {}
    indexes = [DeviceIndex(s, numbers.get(name)) for name, s in compiled.devices.items()
               if devices is None or name in devices]
    workloads = _Workloads(view) if view is not None else None
    grouped = _grouped_services(compiled) if view is None else {}
    out: list[EgressSource] = []
    for ns in sorted(n for n, status in compiled.namespaces.items() if status.managed):
        mode = compiled.namespaces[ns].source_mode
        addresses = _namespace_addresses(compiled, cluster, ns)
        mine = [EgressSource("Namespace", ns, "", mode, addresses,
                             tuple(index.egress(addresses) for index in indexes))]
        if workloads is not None:
            services = workloads.service_addresses(compiled, cluster, ns, mode)
        else:
            services = grouped.get(ns, {})
        for service in sorted(services):
            mine.append(EgressSource("Service", ns, service, mode, services[service],
                                     tuple(index.egress(services[service]) for index in indexes)))
        out.extend(_with_decisions(mine, indexes))
    return tuple(out)
