"""The report's "Observed egress": attributed flow records summed per namespace and Service.

Contract: `observed_egress(records)` is pure and O(records): every record counts (its `count`)
once under its namespace and once under each of its Services, keyed by destination, port,
protocol, action and deciding rule. Records with no cluster identity are only counted
(`unattributed`), and so are those from a node or egress IP several namespaces share (`shared`:
the identity names no namespace). Sources are ordered by namespace, the Namespace before its Services; each
source's destinations denied first, then the most flows first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from connector.flows.record import FlowRecord
from connector.reports.model import ObservedDestination, ObservedEgress, ObservedRule, ObservedSource

_Key = tuple[str, int | None, str, str, ObservedRule | None]


@dataclass
class _Sum:
    count: int
    first: datetime
    last: datetime
    devices: set[str] = field(default_factory=set)
    device_rules: set[str] = field(default_factory=set)


def _rule(record: FlowRecord) -> ObservedRule | None:
    rule = record.rule
    return ObservedRule(rule.kind, rule.namespace, rule.name, rule.tier) if rule is not None else None


def observed_egress(records: Iterable[FlowRecord]) -> ObservedEgress:
    """See the module docstring."""
    sums: dict[tuple[str, str], dict[_Key, _Sum]] = {}
    flows = unattributed = ambiguous = shared = 0
    for record in records:
        line = record.line
        flows += line.count
        if record.ambiguous:
            ambiguous += line.count
        identity = record.identity
        if identity is None:
            unattributed += line.count
            continue
        if not identity.namespace:
            shared += line.count
            continue
        key: _Key = (line.dst, line.dst_port, line.protocol, line.action, _rule(record))
        device_rule = line.device_rule if line.device_rule is not None else line.device_rule_id
        for source in ((identity.namespace, ""), *((identity.namespace, s) for s in identity.services)):
            by_key = sums.setdefault(source, {})
            total = by_key.get(key)
            if total is None:
                total = by_key[key] = _Sum(0, line.time, line.time)
            total.count += line.count
            total.first = min(total.first, line.time)
            total.last = max(total.last, line.time)
            total.devices.add(line.device)
            if record.rule is None and device_rule:
                total.device_rules.add(device_rule)
    sources = []
    for (namespace, service) in sorted(sums):
        destinations = sorted(
            (ObservedDestination(destination=dst, port=port, protocol=protocol, action=action, rule=rule,
                                 count=total.count, devices=tuple(sorted(total.devices)),
                                 device_rules=tuple(sorted(total.device_rules)), first_seen=total.first,
                                 last_seen=total.last)
             for (dst, port, protocol, action, rule), total in sums[namespace, service].items()),
            key=lambda d: (d.action != "Deny", -d.count, d.destination, d.port or 0, d.protocol, str(d.rule)))
        sources.append(ObservedSource("Service" if service else "Namespace", namespace, service,
                                      tuple(destinations)))
    return ObservedEgress(flows=flows, unattributed=unattributed, ambiguous=ambiguous, shared=shared,
                          sources=tuple(sources))
