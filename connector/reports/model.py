"""The reconciliation report as plain immutable data (docs/report.md).

`Report.to_json()` is the documented JSON form (docs/report.md, docs/report.schema.json); the CSV
and HTML renderings are derived from it. Times are timezone-aware UTC; durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.planner.capacity import TableUsage
from connector.security import TransportWarning

SCHEMA_VERSION = 1
RULE_KINDS = ("ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule", "Annotation", "DefaultAction")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a `Z`, to the second; None stays None."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, order=True)
class IdentityRef:
    """A Kubernetes object behind a device object: `Kind/namespace/name` (namespace "" when
    cluster-scoped or unknown)."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> IdentityRef:
        """`Kind/ns/name`, `Kind/name`, `Kind ns/name`, `Kind name`, or a bare text (kind "")."""
        if " " in text:
            kind, _, rest = text.partition(" ")
            namespace, _, name = rest.rpartition("/")
            return cls(kind, namespace, name)
        parts = text.split("/")
        if len(parts) >= 3:
            return cls(parts[0], parts[1], "/".join(parts[2:]))
        if len(parts) == 2:
            return cls(parts[0], "", parts[1])
        return cls("", "", text)

    def __str__(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class DeviceSummary:
    """One device: its sync status from the store, the outcome of this report's read, its
    table usage against its capacity as of the latest plan (empty when not known), and how it
    numbers its rules (`rule_numbering`: scheme and label of `RuleNumbers`; None when this report
    did not read them)."""

    name: str
    type: str
    url: str
    last_read_at: datetime | None
    last_write_at: datetime | None
    last_sync_at: datetime | None
    in_sync: bool | None
    last_error: str | None
    read_error: str | None
    open_findings: int
    resolved_findings: int
    capacity: tuple[TableUsage, ...] = ()
    rule_numbering: tuple[str, str] | None = None  # (scheme, label) of its entries' `device_numbers`

    @property
    def capacity_exceeded(self) -> tuple[TableUsage, ...]:
        """The tables above their limit: the device's plans are refused until they fit."""
        return tuple(t for t in self.capacity if t.over)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "url": self.url,
                "lastReadAt": iso(self.last_read_at), "lastWriteAt": iso(self.last_write_at),
                "lastSyncAt": iso(self.last_sync_at), "inSync": self.in_sync,
                "lastError": self.last_error, "readError": self.read_error,
                "openFindings": self.open_findings, "resolvedFindings": self.resolved_findings,
                "capacity": [{**t.to_json(), "exceeded": t.over} for t in self.capacity],
                "ruleNumbering": None if self.rule_numbering is None else {
                    "scheme": self.rule_numbering[0], "label": self.rule_numbering[1]}}


@dataclass(frozen=True)
class ReportFinding:
    """A stored drift finding as the report shows it (the store's `DriftFinding` with its identities
    parsed): `type` missing | unexpected | different; open while `resolved_at` is None.
    `open_seconds` is how long the device was (or still is) out of policy."""

    id: int
    device: str
    type: str
    object_kind: str
    object_name: str
    identities: tuple[IdentityRef, ...]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    open_seconds: float
    detail: dict[str, Any]

    @property
    def status(self) -> str:
        return "open" if self.resolved_at is None else "resolved"

    @property
    def namespaces(self) -> list[str]:
        return sorted({i.namespace for i in self.identities if i.namespace}
                      | {i.name for i in self.identities if i.kind == "Namespace"})

    @property
    def services(self) -> list[str]:
        return sorted({f"{i.namespace}/{i.name}" for i in self.identities if i.kind == "Service"})

    @property
    def rules(self) -> list[str]:
        return sorted({str(i) for i in self.identities if i.kind in RULE_KINDS})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "device": self.device, "status": self.status, "type": self.type,
                "objectKind": self.object_kind, "objectName": self.object_name,
                "identities": [i.to_json() for i in self.identities],
                "namespaces": self.namespaces, "services": self.services, "rules": self.rules,
                "firstSeen": iso(self.first_seen), "lastSeen": iso(self.last_seen),
                "resolvedAt": iso(self.resolved_at), "openSeconds": round(self.open_seconds, 3),
                "detail": self.detail}


@dataclass(frozen=True)
class RuleName:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class EgressDestination:
    """An ExternalService as compiled: networks (IP/CIDR) and FQDNs."""

    namespace: str
    name: str
    networks: tuple[str, ...]
    fqdns: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "networks": list(self.networks),
                "fqdns": list(self.fqdns)}


@dataclass(frozen=True)
class EgressEntry:
    """One compiled rule that applies to a source on a device, in evaluation order.

    `destination` None = any destination; `ports` None = any port. `applies_to` is "all" when the
    rule's source group holds every source address, "some" otherwise (e.g. a podSelector).
    `shadowed`: an earlier entry applying to all addresses covers the same destination and ports,
    so this one never decides. `position` is the entry's place in the connector's first-match list
    for the device (from 1); `device_numbers` the device's own numbers of the rule as this report
    read them (a FortiOS policy ID, ...; several when the device holds it as several entries; empty
    when not known)."""

    position: int
    rule_key: str
    rule: RuleName
    tier: str
    priority: int
    action: str
    logging: bool
    destination: EgressDestination | None
    ports: tuple[str, ...] | None
    applies_to: str
    shadowed: bool
    device_numbers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "ruleKey": self.rule_key, "rule": self.rule.to_json(),
                "tier": self.tier, "priority": self.priority, "action": self.action,
                "logging": self.logging,
                "destination": self.destination.to_json() if self.destination is not None else None,
                "ports": list(self.ports) if self.ports is not None else None,
                "appliesTo": self.applies_to, "shadowed": self.shadowed,
                "deviceNumbers": list(self.device_numbers)}


@dataclass(frozen=True)
class EgressDecision:
    """A cell of the decision matrix: what the source's entries on the device decide for traffic to
    one ExternalService (`destination` namespace, name; None: every other destination) on `ports`
    (the ports the namespace's rules name for it; None: any), computed by
    `connector.evaluate.evaluate_region`: `decision` allow | deny | mixed | none; `decided_by` the
    `position` of the entry deciding the rest of it (None: none does), `partly` those of the
    earlier entries deciding part of it."""

    destination: tuple[str, str] | None
    ports: tuple[str, ...] | None
    decision: str
    decided_by: int | None
    partly: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        where = None if self.destination is None else {"namespace": self.destination[0],
                                                        "name": self.destination[1]}
        return {"destination": where, "ports": list(self.ports) if self.ports is not None else None,
                "decision": self.decision, "decidedBy": self.decided_by, "partly": list(self.partly)}


@dataclass(frozen=True)
class DeviceEgress:
    """What decides a source's egress on one device, entries in evaluation order; traffic no entry
    matches is left to the device's own rulebase. `note` explains an empty list. `decisions`: one
    per ExternalService the namespace's entries name on any device, then other destinations."""

    device: str
    entries: tuple[EgressEntry, ...]
    note: str
    decisions: tuple[EgressDecision, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "entries": [e.to_json() for e in self.entries], "note": self.note,
                "decisions": [d.to_json() for d in self.decisions]}


@dataclass(frozen=True)
class EgressSource:
    """A managed namespace (`kind` Namespace, `service` "") or one of its Services."""

    kind: str
    namespace: str
    service: str
    source_mode: str
    addresses: tuple[str, ...]
    devices: tuple[DeviceEgress, ...]

    @property
    def label(self) -> str:
        return f"Service {self.namespace}/{self.service}" if self.service else f"Namespace {self.namespace}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "service": self.service,
                "sourceMode": self.source_mode, "addresses": list(self.addresses),
                "devices": [d.to_json() for d in self.devices]}


@dataclass(frozen=True)
class UnprogrammedRule:
    """A rule that is not accepted, or not present on some device it selects, and why."""

    rule: RuleName
    accepted: bool
    reason: str
    message: str
    sources: int
    devices: tuple[tuple[str, str], ...]  # (device, why not present)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule.to_json(), "accepted": self.accepted, "reason": self.reason,
                "message": self.message, "sources": self.sources,
                "devices": [{"name": name, "message": message} for name, message in self.devices]}


@dataclass(frozen=True)
class HistoryChange:
    op: str
    kind: str
    name: str
    identities: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "name": self.name, "identities": list(self.identities)}


@dataclass(frozen=True)
class HistoryEntry:
    """One audit log entry: a plan applied (or refused) on a device."""

    id: int
    device: str
    applied_at: datetime
    result: str
    counts: dict[str, int]
    duration_seconds: float
    error: str | None
    forced: bool
    triggers: tuple[str, ...]
    changes: tuple[HistoryChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "device": self.device, "appliedAt": iso(self.applied_at),
                "result": self.result, "counts": dict(self.counts),
                "durationSeconds": round(self.duration_seconds, 3), "error": self.error,
                "forced": self.forced, "triggers": list(self.triggers),
                "changes": [c.to_json() for c in self.changes]}


@dataclass(frozen=True)
class NamespaceWarning:
    """A namespace warning of the compiler (an annotation value it could not use as written, pods
    on the host network left out), saying what it did instead."""

    namespace: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"namespace": self.namespace, "message": self.message}


@dataclass(frozen=True)
class ObservedRule:
    """The Kubernetes rule that decided observed flows (`kind` DefaultAction for a namespace's
    default action); `namespace` "" for a ClusterEgressRule."""

    kind: str
    namespace: str
    name: str
    tier: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "tier": self.tier}


@dataclass(frozen=True)
class ObservedDestination:
    """Flows the firewalls logged from one source to one destination, port and protocol, with one
    action and one deciding rule (None: a device rule that is not ours, listed in `device_rules`)."""

    destination: str
    port: int | None
    protocol: str
    action: str
    rule: ObservedRule | None
    count: int
    devices: tuple[str, ...]
    device_rules: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime

    @property
    def target(self) -> str:
        """`203.0.113.7:443/TCP`, `[2001:db8::1]:443/TCP`, `198.51.100.1/ICMP`."""
        host = self.destination
        if ":" in host and self.port is not None:
            host = f"[{host}]"
        return f"{host}{'' if self.port is None else f':{self.port}'}/{self.protocol}"

    def to_json(self) -> dict[str, Any]:
        return {"destination": self.destination, "port": self.port, "protocol": self.protocol,
                "action": self.action, "rule": self.rule.to_json() if self.rule else None,
                "count": self.count, "devices": list(self.devices), "deviceRules": list(self.device_rules),
                "firstSeen": iso(self.first_seen), "lastSeen": iso(self.last_seen)}


@dataclass(frozen=True)
class ObservedSource:
    """A namespace (every flow of its sources) or one of its Services (the flows of its pods),
    with the destinations it was seen reaching: denied first, then the most flows first."""

    kind: str  # Namespace | Service
    namespace: str
    service: str
    destinations: tuple[ObservedDestination, ...]

    @property
    def flows(self) -> int:
        return sum(d.count for d in self.destinations)

    @property
    def denied(self) -> int:
        return sum(d.count for d in self.destinations if d.action == "Deny")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "service": self.service,
                "flows": self.flows, "deniedFlows": self.denied,
                "destinations": [d.to_json() for d in self.destinations]}


@dataclass(frozen=True)
class ObservedEgress:
    """The flows the firewalls logged in the window, attributed (docs/flows.md): per namespace and
    Service the destinations seen. `flows` counts every flow (attributed or not); `unattributed`
    those from addresses of no cluster identity; `ambiguous` those whose source changed owner
    within the clock skew (counted under the owner at the flow's time when there is one);
    `shared` those from a node or egress IP several namespaces share (no namespace to list
    them under)."""

    flows: int = 0
    unattributed: int = 0
    ambiguous: int = 0
    sources: tuple[ObservedSource, ...] = ()
    shared: int = 0

    def to_json(self) -> dict[str, Any]:
        denied = sum(s.denied for s in self.sources if s.kind == "Namespace")
        return {"flows": self.flows, "deniedFlows": denied,
                "unattributedFlows": self.unattributed, "ambiguousFlows": self.ambiguous,
                "sharedFlows": self.shared,
                "sources": [s.to_json() for s in self.sources]}


@dataclass(frozen=True)
class AuditRule:
    """A rule in Audit mode (never enforced) and the observed flows it would have decided had it
    been enforced (`matched`), of which `would_change` would have been decided differently, counted
    `since` (from its `status.audit`; None while the connector has counted nothing for it)."""

    rule: RuleName
    matched: int | None
    would_change: int | None
    since: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule.to_json(), "matched": self.matched, "wouldChange": self.would_change,
                "since": iso(self.since) if self.since else None}


def transport_json(warning: TransportWarning) -> dict[str, str]:
    """A weakening of transport security: `device` ("" for the Kubernetes API), `reason`, `message`."""
    return {"device": warning.device, "reason": warning.reason, "message": warning.message}


@dataclass(frozen=True)
class Report:
    cluster: str
    generated_at: datetime
    since: datetime
    until: datetime
    devices: tuple[DeviceSummary, ...]
    findings: tuple[ReportFinding, ...]
    egress: tuple[EgressSource, ...]
    rules_not_programmed: tuple[UnprogrammedRule, ...]
    history: tuple[HistoryEntry, ...]
    namespace_warnings: tuple[NamespaceWarning, ...] = ()
    transport_warnings: tuple[TransportWarning, ...] = ()
    observed: ObservedEgress = ObservedEgress()
    audit_rules: tuple[AuditRule, ...] = ()

    @property
    def unreadable(self) -> list[str]:
        """Devices this report could not read."""
        return [d.name for d in self.devices if d.read_error is not None]

    def summary(self) -> dict[str, int]:
        return {
            "devices": len(self.devices),
            "devicesInSync": sum(1 for d in self.devices if d.in_sync),
            "devicesUnreadable": len(self.unreadable),
            "openFindings": sum(1 for f in self.findings if f.resolved_at is None),
            "resolvedFindings": sum(1 for f in self.findings if f.resolved_at is not None),
            "rulesNotProgrammed": len(self.rules_not_programmed),
            "appliedPlans": len(self.history),
            "namespaceWarnings": len(self.namespace_warnings),
            "transportWarnings": len(self.transport_warnings),
            "observedFlows": self.observed.flows,
            "auditRules": len(self.audit_rules),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "cluster": self.cluster,
            "generatedAt": iso(self.generated_at),
            "window": {"since": iso(self.since), "until": iso(self.until)},
            "summary": self.summary(),
            "devices": [d.to_json() for d in self.devices],
            "findings": [f.to_json() for f in self.findings],
            "egress": [s.to_json() for s in self.egress],
            "rulesNotProgrammed": [r.to_json() for r in self.rules_not_programmed],
            "history": [h.to_json() for h in self.history],
            "namespaceWarnings": [w.to_json() for w in self.namespace_warnings],
            "transportWarnings": [transport_json(w) for w in self.transport_warnings],
            "observedEgress": self.observed.to_json(),
            "auditRules": [a.to_json() for a in self.audit_rules],
        }
