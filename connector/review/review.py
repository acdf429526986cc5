"""A review: the cluster view compiled before and after a change set, and what differs.

Contract: `run_review(view, settings, changes, ...)` compiles `view` (full), applies the change
set to it (the view is modified) and recompiles incrementally, then gathers a `Review`:
- `changes`: per namespace and source, each destination and port whose decision changes
  (`decisions.decision_changes` per device; a change on several devices is one `Change` listing
  them);
- `refused`: manifests the API server would refuse (they are not applied), and `not_accepted`:
  rules of the change set the connector would not accept after the change (`Accepted` False:
  unknown ExternalService or Service, invalid address, ...). Either makes the review `invalid`
  (the CLI exits 2);
- `capacity`: per device, rules and objects before and after against its limits (when adapters
  are given);
- `flows`: the observed flows whose decision would change (when records are given), else the
  section says why there are none.
`to_json()` follows `schemas/review.schema.json` (docs/review.schema.json), format version 1.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.adapter import Adapter
from connector.cluster import StaticView
from connector.compiler import Compiler, CompileSettings, RuleRef
from connector.flows.record import FlowRecord
from connector.model import RuleKind
from connector.review.capacity import DeviceCapacity, device_capacity
from connector.review.decisions import NAMESPACE, DecisionChange, Memo, StatePair, Verdict, decision_changes
from connector.review.flows import FlowsSection, changed_flows
from connector.review.manifests import ChangeSet, Entry, Refusal

VERSION = 1
RULE_KINDS = {kind.value: kind for kind in (RuleKind.CLUSTER, RuleKind.NAMESPACE, RuleKind.SERVICE)}


@dataclass(frozen=True)
class Change:
    """A destination and port of one source whose decision changes, on `devices`."""

    namespace: str
    source: str
    destination: str
    port: str
    external_service: str
    before: Verdict
    after: Verdict
    devices: tuple[str, ...]

    @property
    def direction(self) -> str:
        """`opens` (to Allow), `closes` (from Allow), or `moves` (same action, another rule, or
        between Deny and no decision)."""
        if self.after.action == "Allow" and self.before.action != "Allow":
            return "opens"
        if self.before.action == "Allow" and self.after.action != "Allow":
            return "closes"
        return "moves"

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "source": self.source, "destination": self.destination,
                "port": self.port, "externalService": self.external_service or None,
                "before": self.before.to_json(), "after": self.after.to_json(),
                "direction": self.direction, "devices": list(self.devices)}


@dataclass(frozen=True)
class NotAccepted:
    """A rule of the change set the connector would not accept: its `Accepted` reason and message."""

    source: str
    rule: str
    reason: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "rule": self.rule, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class Review:
    basis: str
    cluster: str
    devices: tuple[str, ...]
    entries: tuple[Entry, ...]
    refused: tuple[Refusal, ...]
    ignored: tuple[str, ...]
    not_accepted: tuple[NotAccepted, ...]
    changes: tuple[Change, ...]
    capacity: tuple[DeviceCapacity, ...]
    flows: FlowsSection
    warnings: tuple[str, ...] = field(default=())

    @property
    def invalid(self) -> bool:
        return bool(self.refused or self.not_accepted)

    @functools.cached_property
    def namespaces(self) -> list[str]:
        return sorted({c.namespace for c in self.changes})

    def count(self, direction: str) -> int:
        return sum(1 for c in self.changes if c.direction == direction)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "basis": self.basis,
            "cluster": self.cluster,
            "devices": list(self.devices),
            "invalid": self.invalid,
            "summary": {"changes": len(self.changes), "opens": self.count("opens"),
                        "closes": self.count("closes"), "moves": self.count("moves"),
                        "namespaces": len(self.namespaces), "refused": len(self.refused),
                        "notAccepted": len(self.not_accepted),
                        "capacityExceeded": [c.device for c in self.capacity if c.exceeded]},
            "manifests": [e.to_json() for e in self.entries],
            "refused": [r.to_json() for r in self.refused],
            "ignored": list(self.ignored),
            "notAccepted": [n.to_json() for n in self.not_accepted],
            "changes": [c.to_json() for c in self.changes],
            "capacity": [c.to_json() for c in self.capacity],
            "flows": self.flows.to_json(),
            "warnings": list(self.warnings),
        }


def merge(changes: Sequence[DecisionChange], devices: Sequence[str]) -> list[Change]:
    """One `Change` per change equal on several devices, listing them in configuration order. A
    change of a Service or pod group equal to its namespace's (`namespace`) is left out: the
    namespace's line covers it."""
    merged: dict[tuple[Any, ...], list[str]] = {}
    found: dict[tuple[Any, ...], DecisionChange] = {}
    for change in changes:
        merged.setdefault(change.key, []).append(change.device)
        found.setdefault(change.key, change)
    order = {name: index for index, name in enumerate(devices)}
    namespace_wide = {(c.namespace, *key[2:], tuple(merged[key])) for key, c in found.items()
                      if c.source == NAMESPACE}
    found = {key: c for key, c in found.items()
             if c.source == NAMESPACE or (c.namespace, *key[2:], tuple(merged[key])) not in namespace_wide}
    found = _uncovered(found, merged)
    out = [Change(c.namespace, c.source, c.destination, c.port, c.external_service, c.before, c.after,
                  tuple(sorted(set(merged[key]), key=lambda d: order.get(d, len(order)))))
           for key, c in found.items()]
    return sorted(out, key=lambda c: (c.namespace, c.source != NAMESPACE, c.source,
                                      c.destination == "*", c.destination, c.port == "*", c.port))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> tuple[Network, list[Network]] | None:
    """The network of a destination label and its holes (`N except A, B`); None for a name or `*`."""
    whole, _, holes = text.partition(" except ")
    try:
        if not ("/" in whole or ":" in whole or whole[:1].isdigit()):
            return None
        return ipaddress.ip_network(whole), [ipaddress.ip_network(h) for h in holes.split(", ") if h]
    except ValueError:
        return None


def _inside(inner: tuple[Network, list[Network]], outer: tuple[Network, list[Network]]) -> bool:
    """Whether the addresses of `inner` (a network less its holes) are all in `outer`'s."""
    net, holes = inner
    around, gaps = outer
    if net.version != around.version or not net.subnet_of(around):  # type: ignore[arg-type]
        return False
    return all(not gap.overlaps(net) or any(gap.subnet_of(h) for h in holes)  # type: ignore[arg-type]
               for gap in gaps)


def _uncovered(found: dict[tuple[Any, ...], DecisionChange],
               merged: Mapping[tuple[Any, ...], list[str]]) -> dict[tuple[Any, ...], DecisionChange]:
    """`found` without the changes another change says the same of (same source, port, before,
    after and devices) for destinations holding theirs: an address inside a widened CIDR, or a
    part of it, is reported once, as the whole."""
    alike: dict[tuple[Any, ...], list[tuple[tuple[Network, list[Network]], tuple[Any, ...]]]] = {}
    for key in found:
        network = _network(key[2])
        if network is not None:
            alike.setdefault((key[0], key[1], key[3], key[5], key[6], tuple(merged[key])), []).append(
                (network, key))
    covered: set[tuple[Any, ...]] = set()
    for members in alike.values():
        for inner, key in members:
            if any(other != key and outer != inner and _inside(inner, outer) for outer, other in members):
                covered.add(key)
    return {key: change for key, change in found.items() if key not in covered}


def _not_accepted(entries: Sequence[Entry], rules: Mapping[RuleRef, Any]) -> list[NotAccepted]:
    out = []
    for entry in entries:
        kind = RULE_KINDS.get(entry.kind)
        if entry.operation != "apply" or kind is None:
            continue
        status = rules.get(RuleRef(kind, entry.namespace, entry.name))
        if status is not None and not status.accepted:
            out.append(NotAccepted(entry.source, str(status.ref), status.reason.value, status.message))
    return out


def run_review(view: StaticView, settings: CompileSettings, change_set: ChangeSet, *,
               adapters: Mapping[str, Adapter] | None = None, flows: Sequence[FlowRecord] | None = None,
               window: str = "7d", flows_note: str = "", basis: str = "the live cluster",
               warnings: Sequence[str] = ()) -> Review:
    """The review of `change_set` over `view` (module docstring)."""
    compiler = Compiler(settings)
    before = compiler.full(view)
    after = compiler.apply(change_set.apply(view))
    devices = settings.device_names
    found: list[DecisionChange] = []
    pairs: dict[str, StatePair] = {}
    memo = Memo()
    for device in devices:
        old, new = before.devices[device], after.devices[device]
        pairs[device] = StatePair(old, new)
        found.extend(decision_changes(old, new, memo))
    capacity = tuple(device_capacity(adapters[d], before.devices[d], after.devices[d])
                     for d in devices if adapters and d in adapters)
    if flows is None:
        section = FlowsSection(False, window, flows_note or "no flow records were read")
    else:
        section = changed_flows(pairs, flows, window)
    return Review(basis, settings.cluster, devices, tuple(change_set.entries), tuple(change_set.refused),
                  tuple(change_set.ignored), tuple(_not_accepted(change_set.entries, after.rules)),
                  tuple(merge(found, devices)), capacity, section, tuple(warnings))
