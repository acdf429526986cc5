"""The desired-state model: what the compiler produces for each device and adapters translate.

Everything here is immutable plain data with a stable JSON form (`to_json`), so that a compile of
the same cluster always yields equal values and checksums.

Device-independent vocabulary:
- `SourceGroup`: the cluster source addresses (IPv4/IPv6 host addresses) of one identity, each
  member remembering the Kubernetes object behind it.
- `Destination`: the addresses of one ExternalService (IP or CIDR networks, and FQDNs).
- `PortSet`: the ports of one ExternalService (protocol + inclusive range).
- `CompiledRule`: one first-match entry: sources → destination (None = any) on ports (None = any)
  → Allow or Deny, with the origin (rule kind, namespace, name, tier, priority) a human needs.
- `DeviceState`: everything one device must hold, rules in evaluation order; the rules of
  `mode: Audit` resources apart (`staged`), never enforced.
- `Capabilities`: what a device family can enforce (the compiler reports rules that need more).

Keys (`SourceGroup.key`, `Destination.key`, `PortSet.key`, `CompiledRule.key`) are stable logical
identifiers; adapters derive device object names from them (see `adapters.base.naming`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class Tier(StrEnum):
    ADMIN = "Admin"
    NAMESPACE = "Namespace"
    BASELINE = "Baseline"
    DEFAULT = "Default"


class RuleKind(StrEnum):
    CLUSTER = "ClusterEgressRule"
    SERVICE = "ServiceEgressRule"
    NAMESPACE = "NamespaceEgressRule"
    ANNOTATION = "Annotation"
    DEFAULT = "DefaultAction"


class Mode(StrEnum):
    ENFORCE = "Enforce"
    AUDIT = "Audit"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(frozen=True, order=True)
class Identity:
    """The Kubernetes object behind an address: kind (Pod, Node, EgressIP, Namespace), namespace, name."""

    kind: str
    namespace: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class SourceGroup:
    """Cluster source addresses of one identity (a namespace, a Service, a podSelector, ...).

    `members` maps each address (a host address, no prefix length) to the objects behind it.
    `includes` names other groups of the same `DeviceState` whose addresses belong to this group
    too, by reference (a ClusterEgressRule's sources are the union of the selected namespaces'
    groups): a namespace joining the union changes `includes`, a pod joining a namespace changes
    only that namespace's group. Includes never form a loop. `DeviceState.group_addresses` resolves
    them. `namespace`/`service`/`rule` say what the group stands for, for naming and reports.
    """

    key: str
    cluster: str
    namespace: str
    members: tuple[tuple[str, tuple[Identity, ...]], ...]
    service: str = ""
    rule: str = ""
    purpose: str = "namespace"  # namespace | service | pods | egress-ip | node | union
    includes: tuple[str, ...] = ()

    @functools.cached_property
    def addresses(self) -> tuple[str, ...]:
        """The group's own member addresses (not those of the groups it `includes`)."""
        return tuple(address for address, _ in self.members)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "service": self.service,
            "rule": self.rule,
            "purpose": self.purpose,
            "members": [
                {"address": address, "identities": [i.to_json() for i in identities]}
                for address, identities in self.members
            ],
        }
        if self.includes:
            out["includes"] = list(self.includes)
        return out


@dataclass(frozen=True)
class Destination:
    """The addresses of one ExternalService: `networks` are IPs/CIDRs in canonical form
    (`ipaddress.ip_network(..., strict=False)` as str), `fqdns` lower-case names without a dot at the end."""

    key: str
    namespace: str
    name: str
    networks: tuple[str, ...]
    fqdns: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "namespace": self.namespace, "name": self.name,
                "networks": list(self.networks), "fqdns": list(self.fqdns)}


@dataclass(frozen=True, order=True)
class PortRange:
    protocol: Protocol
    start: int
    end: int

    def __str__(self) -> str:
        ports = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        return f"{ports}/{self.protocol.value}"

    def to_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol.value, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class PortSet:
    """Ports of one ExternalService, sorted and merged."""

    key: str
    namespace: str
    name: str
    ranges: tuple[PortRange, ...]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "namespace": self.namespace, "name": self.name,
                "ranges": [r.to_json() for r in self.ranges]}


@dataclass(frozen=True)
class RuleOrigin:
    """Which Kubernetes rule a compiled rule comes from. `namespace` is empty for cluster rules."""

    kind: RuleKind
    namespace: str
    name: str
    tier: Tier
    priority: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "namespace": self.namespace, "name": self.name,
                "tier": self.tier.value, "priority": self.priority}

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.value} {where}{self.name}"


@dataclass(frozen=True)
class CompiledRule:
    """One entry of a device's first-match list.

    Matches traffic whose source is in `source` (a SourceGroup key), whose destination is in
    `destination` (a Destination key; None = any address) and whose port/protocol is in `ports`
    (a PortSet key; None = any port and protocol). `audit`: it comes from a `mode: Audit` rule,
    so it is never enforced (it belongs in `DeviceState.staged`).
    """

    key: str
    origin: RuleOrigin
    source: str
    destination: str | None
    ports: str | None
    action: Action
    logging: bool = False
    audit: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "origin": self.origin.to_json(), "source": self.source,
               "destination": self.destination, "ports": self.ports, "action": self.action.value,
               "logging": self.logging}
        if self.audit:
            out["mode"] = Mode.AUDIT.value
        return out


@dataclass(frozen=True)
class StagedRules:
    """The audit rules of a device (`CompiledRule.audit`), in evaluation order, with what they
    reference. `positions[i]` is where `rules[i]` would sit had it been enforced: the number of
    the device's enforced rules before it. Never part of the device's decision."""

    rules: tuple[CompiledRule, ...] = ()
    positions: tuple[int, ...] = ()
    groups: dict[str, SourceGroup] = field(default_factory=dict)
    destinations: dict[str, Destination] = field(default_factory=dict)
    port_sets: dict[str, PortSet] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self.rules],
            "positions": list(self.positions),
            "groups": [self.groups[k].to_json() for k in sorted(self.groups)],
            "destinations": [self.destinations[k].to_json() for k in sorted(self.destinations)],
            "portSets": [self.port_sets[k].to_json() for k in sorted(self.port_sets)],
        }


@dataclass(frozen=True)
class DeviceState:
    """Everything one device must hold for one cluster; `rules` are in evaluation order and only
    reference groups, destinations and port sets present here. `staged` holds the audit rules
    apart (with their own groups, destinations and port sets): a device that can stage rules
    holds them unenforced, others do not hold them; `as_staged()` is them as a state."""

    device: str
    cluster: str
    groups: dict[str, SourceGroup] = field(default_factory=dict)
    destinations: dict[str, Destination] = field(default_factory=dict)
    port_sets: dict[str, PortSet] = field(default_factory=dict)
    rules: tuple[CompiledRule, ...] = ()
    staged: StagedRules = field(default_factory=StagedRules)

    def as_staged(self) -> DeviceState:
        """The audit rules as a state of their own (rules in order, what they reference)."""
        staged = self.staged
        return DeviceState(device=self.device, cluster=self.cluster, groups=staged.groups,
                           destinations=staged.destinations, port_sets=staged.port_sets,
                           rules=staged.rules)

    def group_keys(self, key: str) -> tuple[str, ...]:
        """`key` and every group it includes, transitively (each once, `key` first)."""
        out = [key]
        seen = {key}
        index = 0
        while index < len(out):
            for inner in self.groups[out[index]].includes:
                if inner not in seen:
                    seen.add(inner)
                    out.append(inner)
            index += 1
        return tuple(out)

    @functools.cached_property
    def _parents(self) -> dict[str, tuple[str, ...]]:
        """For each group another group includes, the groups including it."""
        parents: dict[str, list[str]] = {}
        for key, group in self.groups.items():
            for inner in group.includes:
                parents.setdefault(inner, []).append(key)
        return {inner: tuple(outer) for inner, outer in parents.items()}

    def including(self, keys: Iterable[str]) -> set[str]:
        """`keys` and every group that includes one of them, transitively: the groups holding an
        address when `keys` are the groups that list it as a member."""
        found = set(keys)
        parents = self._parents
        frontier = list(found) if parents else []
        while frontier:
            for parent in parents.get(frontier.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    frontier.append(parent)
        return found

    def group_addresses(self, key: str) -> frozenset[str]:
        """Every address of group `key`, includes resolved."""
        return frozenset(a for inner in self.group_keys(key) for a in self.groups[inner].addresses)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "device": self.device,
            "cluster": self.cluster,
            "groups": [self.groups[k].to_json() for k in sorted(self.groups)],
            "destinations": [self.destinations[k].to_json() for k in sorted(self.destinations)],
            "portSets": [self.port_sets[k].to_json() for k in sorted(self.port_sets)],
            "rules": [r.to_json() for r in self.rules],
        }
        if self.staged.rules:
            out["staged"] = self.staged.to_json()
        return out

    def checksum(self) -> str:
        return checksum(self.to_json())


@dataclass(frozen=True)
class Capabilities:
    """What a device family can enforce; the compiler reports rules that need more."""

    fqdn: bool = True
    wildcard_fqdn: bool = True  # `*.example.com` names (with `fqdn`)
    ipv6: bool = True
    logging: bool = True
    incremental_members: bool = False  # group membership changes cost O(changed members) writes


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(value: Any) -> str:
    """SHA-256 hex digest of the canonical JSON form of `value`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
