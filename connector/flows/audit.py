"""Audit counts: the observed flows each audit rule (`mode: Audit`) would have decided had it been
enforced, and how many of them would have been decided differently. Pure: attributed records and
the compiled device states in, counts out; the matching is `connector.evaluate`'s.

Contract of `count_audit(records, states, indexes)`:
- A record counts when it is attributed (`identity` set) and its device has audit rules in
  `states` (`DeviceState.staged`); others are skipped.
- Its probe is (src, dst, dstPort, protocol). Without a destination port, or for a protocol other
  than TCP, UDP or SCTP (ICMP, ...), the probe has no port: only rules without ports match it.
- The audit rules that would decide it are `evaluate.would_decide` on the device's state (each
  audit rule as if it alone were enforced, at its place in the rule list). Each of them counts the
  record's `count` as `matched`, and as `would_change` when its action differs from the record's
  action (what the device did). A rule compiled into several device rules counts a record once.
- The states are those compiled now: a record is judged by the rules and group members of the
  current compile, not of its own time.
- `SourceIndexes` keeps a `SourceIndex` per device, so a record costs the rules of its own
  source; a new state of the device updates it when a record first needs it, in O(groups + the
  members of the groups that changed) (the first state: O(addresses + rules)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.evaluate import Probe, SourceIndex, address_of, evaluate, would_decide
from connector.flows.record import FlowRecord
from connector.model import DeviceState, Protocol

AuditKey = tuple[str, str, str]  # (rule kind, namespace, name)


@dataclass(frozen=True)
class AuditCount:
    """Flows an audit rule would have decided (`matched`), and those of them whose decision would
    have changed (`would_change`)."""

    matched: int = 0
    would_change: int = 0

    def __add__(self, other: AuditCount) -> AuditCount:
        return AuditCount(self.matched + other.matched, self.would_change + other.would_change)


class SourceIndexes:
    """The `SourceIndex` of each device's current state and of its audit rules (see the module
    docstring); a new state object of the device updates them (`SourceIndex.update`)."""

    def __init__(self) -> None:
        self._indexes: dict[str, tuple[SourceIndex, SourceIndex]] = {}

    def of(self, state: DeviceState) -> tuple[SourceIndex, SourceIndex]:
        """(enforced rules' index, audit rules' index) of `state`."""
        known = self._indexes.get(state.device)
        if known is None:
            known = (SourceIndex(state), SourceIndex(state.as_staged()))
            self._indexes[state.device] = known
        elif known[0].state is not state:
            known[0].update(state)
            known[1].update(state.as_staged())
        return known


_PROTOCOLS = {p.value: p for p in Protocol}


def probe_of(record: FlowRecord) -> Probe | None:
    """The probe a record stands for (module docstring), None when its addresses are not IPs."""
    line = record.line
    if address_of(line.src) is None or address_of(line.dst) is None:
        return None
    protocol = _PROTOCOLS.get(line.protocol.upper())
    if protocol is None or line.dst_port is None:
        return Probe(line.src, line.dst, None)
    return Probe(line.src, line.dst, line.dst_port, protocol)


def count_audit(records: Iterable[FlowRecord], states: Mapping[str, DeviceState],
                indexes: SourceIndexes | None = None) -> dict[AuditKey, AuditCount]:
    """Counts per audit rule for `records` against the device `states` (module docstring)."""
    indexes = indexes or SourceIndexes()
    counts: dict[AuditKey, AuditCount] = {}
    for record in records:
        state = states.get(record.line.device)
        if record.identity is None or state is None or not state.staged.rules:
            continue
        probe = probe_of(record)
        if probe is None:
            continue
        enforced_index, staged_index = indexes.of(state)
        if not staged_index.holding(probe.source):
            continue
        evaluation = evaluate(state, probe, index=enforced_index)
        rules = would_decide(state, probe, evaluation, index=staged_index)
        seen: set[AuditKey] = set()
        for rule in rules:
            key = (rule.origin.kind.value, rule.origin.namespace, rule.origin.name)
            if key in seen:
                continue
            seen.add(key)
            changed = record.count if rule.action.value != record.line.action else 0
            counts[key] = counts.get(key, AuditCount()) + AuditCount(record.count, changed)
    return counts
