"""Assemble a `Report` from a compile result and the store (pure apart from the store's queries).

`build_report` is what both `fusion-connector report` and the controller's `/report` call: the
caller compiles the cluster and, for fresh drift findings, reads the devices first (a plan-only
reconcile pass records them); the report itself never contacts a device.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from connector.adapter.base import RuleNumbers
from connector.cluster import ClusterView, Kind
from connector.compiler import CompileResult
from connector.model import DeviceState, Mode, RuleKind
from connector.planner.capacity import CapacityReport
from connector.reports.egress import effective_egress
from connector.reports.model import (
    AuditRule,
    DeviceSummary,
    HistoryChange,
    HistoryEntry,
    IdentityRef,
    NamespaceWarning,
    Report,
    ReportFinding,
    RuleName,
    UnprogrammedRule,
)
from connector.reports.observed import observed_egress
from connector.security import TransportWarning
from connector.store import DriftFinding, Store
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowFilter, FlowRecordRepository

DEFAULT_WINDOW = timedelta(days=7)
# Absences the configuration asks for (a rule's `devices`, a namespace's devices annotation):
# not a failure to program.
_INTENDED_ABSENCE = ("not selected by spec.devices", "does not target this device",
                     "no selected namespace targets this device")


_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> timedelta:
    """A report window such as `7d`, `36h`, `90m`, `2w` or `3600s`; ValueError otherwise, also for
    a window so long that it would start before the calendar does."""
    match = _WINDOW.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a window such as 7d, 36h, 90m, 2w or 3600s")
    try:
        window = timedelta(seconds=float(match.group(1)) * _WINDOW_UNITS[match.group(2)])
        utcnow() - window
    except OverflowError:
        raise ValueError(f"{text!r} is too long: give a window such as 7d, 36h, 90m, 2w or 3600s") from None
    return window


def build_report(compiled: CompileResult, store: Store, *, view: ClusterView | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 device: str | None = None, read_errors: Mapping[str, str] | None = None,
                 configured: Collection[str] | None = None,
                 capacity: Mapping[str, CapacityReport] | None = None,
                 transport: Sequence[TransportWarning] = (),
                 numbers: Mapping[str, RuleNumbers] | None = None) -> Report:
    """The report of `store.cluster` over [since, until) (default: the last 7 days up to now).

    `view` lists the Services of managed namespaces for the egress section (without it, only
    Services with rules of their own); `device` restricts every section to that device;
    `read_errors` are the devices this report's read failed on (device → error); `configured`
    names the devices of the configuration (default: those of `compiled`); `capacity` is each
    device's table usage as of its latest plan; `transport` the weakenings of transport security of
    the configuration (`connector.security.transport_warnings`; with `device`, those of that
    device and of the Kubernetes API are kept). Every namespace's annotation warnings are listed
    whatever `device` is. Observed egress sums the flow records of the window (of `device`).
    `numbers` are each device's own rule numbers as the caller read them (`Adapter.rule_numbers`;
    a device without them shows the connector's order only)."""
    until = until or utcnow()
    since = since or until - DEFAULT_WINDOW
    read_errors = dict(read_errors or {})
    numbers = dict(numbers or {})
    names = list(configured if configured is not None else compiled.devices)
    if device is not None:
        names = [n for n in names if n == device]
    wanted = set(names)
    owned = {(o.device, o.kind, o.name): o.identities for o in store.objects.objects(device)}
    sources = {name: _rule_sources(state) for name, state in compiled.devices.items() if name in wanted}
    findings = tuple(sorted(
        (_finding(f, until, owned, sources.get(f.device, {}))
         for f in store.drift.findings(since, until, device=device) if f.device in wanted),
        key=lambda f: (f.resolved_at is not None, f.device, f.first_seen, f.object_kind, f.object_name)))
    statuses = {s.name: s for s in store.devices.statuses()}
    devices = []
    for name in names:
        status = statuses.get(name)
        mine = [f for f in findings if f.device == name]
        devices.append(DeviceSummary(
            name=name, type=status.type if status else "", url=status.url if status else "",
            last_read_at=status.last_read_at if status else None,
            last_write_at=status.last_write_at if status else None,
            last_sync_at=status.last_sync_at if status else None,
            in_sync=status.in_sync if status else None,
            last_error=status.last_error if status else None,
            read_error=read_errors.get(name),
            open_findings=sum(1 for f in mine if f.resolved_at is None),
            resolved_findings=sum(1 for f in mine if f.resolved_at is not None),
            capacity=capacity[name].tables if capacity and name in capacity else (),
            rule_numbering=(numbers[name].scheme, numbers[name].label) if name in numbers else None))
    history = tuple(
        HistoryEntry(id=r.id, device=r.device, applied_at=r.applied_at, result=r.result.value,
                     counts=dict(r.counts), duration_seconds=r.duration_seconds, error=r.error,
                     forced=r.forced, triggers=r.triggers,
                     changes=tuple(HistoryChange(str(c.get("op", "")), str(c.get("kind", "")),
                                                 str(c.get("name", "")),
                                                 tuple(str(i) for i in c.get("identities") or ()))
                                   for c in r.changes))
        for r in store.audit.window(since, until, device=device) if r.device in wanted)
    return Report(
        cluster=store.cluster, generated_at=until, since=since, until=until, devices=tuple(devices),
        findings=findings, egress=effective_egress(compiled, store.cluster, view, names, numbers),
        rules_not_programmed=unprogrammed_rules(compiled, wanted), history=history,
        namespace_warnings=namespace_warnings(compiled),
        transport_warnings=tuple(w for w in transport if device is None or w.device in ("", device)),
        observed=observed_egress(FlowRecordRepository(store.session, store.cluster).query(
            FlowFilter(since=since, until=until, device=device))),
        audit_rules=audit_rules(compiled, view))


_RULE_KINDS = {RuleKind.CLUSTER: Kind.CLUSTER_EGRESS_RULE, RuleKind.NAMESPACE: Kind.NAMESPACE_EGRESS_RULE,
               RuleKind.SERVICE: Kind.SERVICE_EGRESS_RULE}


def audit_rules(compiled: CompileResult, view: ClusterView | None) -> tuple[AuditRule, ...]:
    """Every rule in Audit mode with the counts of its `status.audit` in `view` (None without a
    view, or before the connector has written them), by kind, namespace and name."""
    out = []
    for ref in sorted(compiled.rules):
        if compiled.rules[ref].mode is not Mode.AUDIT:
            continue
        obj = view.get(_RULE_KINDS[ref.kind], ref.namespace, ref.name) if view is not None else None
        audit = ((obj or {}).get("status") or {}).get("audit")
        matched = changed = None
        since: datetime | None = None
        if isinstance(audit, dict):
            matched, changed = _count(audit.get("matched")), _count(audit.get("wouldChange"))
            since = _time(audit.get("since"))
        out.append(AuditRule(RuleName(ref.kind.value, ref.namespace, ref.name), matched, changed, since))
    return tuple(out)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def namespace_warnings(compiled: CompileResult) -> tuple[NamespaceWarning, ...]:
    """Every namespace's annotation warnings, by namespace, in the compiler's order."""
    return tuple(NamespaceWarning(name, message) for name in sorted(compiled.namespaces)
                 for message in compiled.namespaces[name].warnings)


RuleSources = Mapping[tuple[str, str, str], frozenset[IdentityRef]]


def _finding(stored: DriftFinding, now: datetime, owned: Mapping[tuple[str, str, str], tuple[str, ...]],
             sources: RuleSources) -> ReportFinding:
    texts = stored.identities or owned.get((stored.device, stored.kind, stored.name), ())
    identities = {IdentityRef.parse(t) for t in texts}
    for identity in list(identities):
        identities |= sources.get((identity.kind, identity.namespace, identity.name), frozenset())
    end = stored.resolved_at or now
    return ReportFinding(id=stored.id, device=stored.device, type=stored.finding.value,
                         object_kind=stored.kind, object_name=stored.name,
                         identities=tuple(sorted(identities)),
                         first_seen=stored.first_seen, last_seen=stored.last_seen,
                         resolved_at=stored.resolved_at,
                         open_seconds=max(0.0, (end - stored.first_seen).total_seconds()),
                         detail=dict(stored.detail))


def _rule_sources(state: DeviceState) -> RuleSources:
    """For each rule compiled on the device (kind, namespace, name): the namespaces and Services
    of its sources."""
    out: dict[tuple[str, str, str], set[IdentityRef]] = {}
    for rule in state.rules:
        origin = rule.origin
        behind = out.setdefault((origin.kind.value, origin.namespace, origin.name), set())
        for key in state.group_keys(rule.source):
            group = state.groups[key]
            if group.namespace:
                behind.add(IdentityRef("Namespace", "", group.namespace))
            if group.service:
                behind.add(IdentityRef("Service", group.namespace, group.service))
    return {key: frozenset(value) for key, value in out.items()}


def unprogrammed_rules(compiled: CompileResult, devices: Collection[str]) -> tuple[UnprogrammedRule, ...]:
    """Rules not accepted, or absent from some of `devices` they should be on, with the reasons
    (absences the rule's `devices` or the namespace's devices annotation ask for are left out)."""
    out = []
    for ref in sorted(compiled.rules):
        status = compiled.rules[ref]
        missing = tuple((p.device, p.message) for p in status.devices
                        if not p.present and p.device in devices
                        and not any(text in p.message for text in _INTENDED_ABSENCE))
        if status.accepted and not missing:
            continue
        out.append(UnprogrammedRule(rule=RuleName(ref.kind.value, ref.namespace, ref.name),
                                    accepted=status.accepted, reason=status.reason.value,
                                    message=status.message, sources=status.sources, devices=missing))
    return tuple(out)
