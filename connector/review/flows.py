"""Observed flows whose decision the change would flip: the flow records of the window, each
evaluated on its device before and after the change (`connector.evaluate`, through the same
per-address slices as the decision diff).

Contract: `changed_flows(pairs, records)` takes the before/after `StatePair` per device and the
attributed `FlowRecord`s (of the window) and returns one `FlowChange` per (namespace, source,
destination, port/protocol, before, after), counts added up over records and devices, most
frequent first. A record of a device not compiled, without a destination port, or of a protocol
rules do not name (ICMP, numbers) is counted in `FlowsSection.skipped`, not evaluated.

Extension point: the CLI obtains records through a `FlowSource` (`records(window)`); when no flow
store is configured, `FlowsSection.available` is False with the `note` saying why, and a review
is complete without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from typing import Protocol as TypingProtocol

from connector.evaluate import Probe, evaluate
from connector.flows.record import FlowRecord
from connector.model import Protocol
from connector.review.decisions import StatePair, Verdict, source_label, source_namespaces


class FlowSource(TypingProtocol):
    """Where a review reads observed flows from (the flow record store)."""

    def records(self, window: timedelta) -> Sequence[FlowRecord]: ...


@dataclass(frozen=True)
class FlowChange:
    """Observed flows (`count` of them) from one source to one destination and port whose
    decision changes."""

    namespace: str
    source: str
    destination: str
    port: str
    before: Verdict
    after: Verdict
    count: int
    devices: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace or None, "source": self.source, "destination": self.destination,
                "port": self.port, "before": self.before.to_json(), "after": self.after.to_json(),
                "count": self.count, "devices": list(self.devices)}


@dataclass(frozen=True)
class FlowsSection:
    """The observed-flows part of a review: `available` False means no records could be read
    (`note` says why); `window` as given; `examined` records; `skipped` records not evaluated."""

    available: bool
    window: str
    note: str = ""
    examined: int = 0
    skipped: int = 0
    changes: tuple[FlowChange, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"available": self.available, "window": self.window, "note": self.note or None,
                "examined": self.examined, "skipped": self.skipped,
                "changes": [c.to_json() for c in self.changes]}


def _source(record: FlowRecord, pair: StatePair,
            held: tuple[frozenset[str], frozenset[str]]) -> tuple[str, str]:
    identity = record.identity
    if identity is not None and identity.pod:
        return identity.namespace, f"Pod {identity.pod}"
    groups = pair.groups(held)
    namespaces = source_namespaces(groups)
    namespace = identity.namespace if identity is not None else (namespaces[0] if namespaces else "")
    return namespace, f"{source_label(groups)} ({record.line.src})"


def changed_flows(pairs: Mapping[str, StatePair], records: Iterable[FlowRecord], window: str) -> FlowsSection:
    """The observed flows whose decision changes (module docstring)."""
    totals: dict[tuple[str, str, str, str, Verdict, Verdict], tuple[int, set[str]]] = {}
    examined = skipped = 0
    for record in records:
        examined += 1
        line = record.line
        pair = pairs.get(line.device)
        try:
            protocol = Protocol(line.protocol.upper())
        except ValueError:
            protocol = None
        if pair is None or protocol is None or line.dst_port is None:
            skipped += 1
            continue
        try:
            held = pair.holding(line.src)
            old, new = pair.slices(line.src, held)
            probe = Probe(line.src, line.dst, line.dst_port, protocol)
            was = Verdict.of(evaluate(old, probe).decision)
            becomes = Verdict.of(evaluate(new, probe).decision)
        except ValueError:  # not an IP address as a source
            skipped += 1
            continue
        if was == becomes:
            continue
        namespace, source = _source(record, pair, held)
        key = (namespace, source, line.dst, f"{line.dst_port}/{protocol.value}", was, becomes)
        count, devices = totals.get(key, (0, set()))
        totals[key] = (count + line.count, devices | {line.device})
    changes = [FlowChange(ns, source, dst, port, was, becomes, count, tuple(sorted(devices)))
               for (ns, source, dst, port, was, becomes), (count, devices) in totals.items()]
    changes.sort(key=lambda c: (-c.count, c.namespace, c.source, c.destination, c.port))
    return FlowsSection(True, window, examined=examined, skipped=skipped, changes=tuple(changes))
