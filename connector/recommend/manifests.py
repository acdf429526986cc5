"""Manifests from observed egress: ExternalServices grouped per port and protocol, and the rule
that allows them.

Contract: `recommend(observed, priority=500, window="")` returns a `Recommendation` whose
`manifests` are, in order, the ExternalServices then the rule(s), each with a comment saying what
it was derived from:
- destinations are grouped per port and protocol: the (protocol, port) keys used by exactly the
  same set of addresses share one ExternalService, whose `addresses` are those addresses (single
  addresses: a /32 or a /128) and whose `ports` those keys (consecutive ports written as a range).
  Every (address, port, protocol) an ExternalService admits was observed: never wider;
- limits of the resources are kept: at most 1,000 addresses and 64 port entries (256 characters
  each) per ExternalService, 100 ExternalServices per rule; a larger group is split in parts;
- with a Service, one ServiceEgressRule `<service>-observed-egress` for it; without, one
  NamespaceEgressRule `<namespace>-observed-egress` (more, `-part-N`, beyond 100 ExternalServices);
  `action: Allow`, `priority` as given;
- names: `<service or namespace>-observed-<protocol>-<ports>` (the ports of the group, or the
  lowest and how many more when long), at most 63 characters (a long base is cut and given a
  digest, so different bases never meet); a Service named as its namespace is `<name>-svc`, so
  that its manifests and the namespace's never replace each other;
- deterministic: the same `Observed` gives the same manifests, in the same order.

`check(manifests)` validates them against the CRDs offline (connector.crds.validation) and returns
the problems (none expected: a problem is a bug).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.crds.validation import ManifestValidator
from connector.recommend.observed import PROTOCOLS, Observed, Target, Use, address_order

API_VERSION = "fusion-connector.io/v1alpha1"
MAX_ADDRESSES = 1000
MAX_PORT_ENTRIES = 64
MAX_PORT_TEXT = 256
MAX_EXTERNAL_SERVICES = 100
MAX_NAME = 63

Obj = dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    """One object to print, the comment lines (without `# `) that precede it, and the observed
    uses it was derived from."""

    obj: Obj
    comment: tuple[str, ...] = ()
    uses: tuple[Use, ...] = ()

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def label(self) -> str:
        return f"{self.kind} {self.obj['metadata']['namespace']}/{self.name}"


@dataclass(frozen=True)
class Recommendation:
    """The manifests recommended from `observed` (module docstring); `window` describes the
    period the flows were read from."""

    observed: Observed
    manifests: tuple[Manifest, ...] = field(default=())
    window: str = ""

    @property
    def external_services(self) -> tuple[Manifest, ...]:
        return tuple(m for m in self.manifests if m.kind == "ExternalService")

    @property
    def rules(self) -> tuple[Manifest, ...]:
        return tuple(m for m in self.manifests if m.kind != "ExternalService")


def when(moment: datetime) -> str:
    """`2026-12-06T16:20:00Z` (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_name(target: Target) -> str:
    """What the names start with: the Service's name, else the namespace's (module docstring)."""
    if target.service is None:
        return target.namespace
    return f"{target.service}-svc" if target.service == target.namespace else target.service


def name(base: str, suffix: str) -> str:
    """`<base>-<suffix>` within 63 characters: a base too long is cut and given a digest of it."""
    full = f"{base}-{suffix}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(base.encode()).hexdigest()[:6]
    room = max(1, MAX_NAME - len(suffix) - len(digest) - 2)
    return f"{base[:room].rstrip('-')}-{digest}-{suffix}"[:MAX_NAME].rstrip("-")


def runs(ports: Iterable[int]) -> list[tuple[int, int]]:
    """`[80, 443, 8000, 8001, 8002]` -> `[(80, 80), (443, 443), (8000, 8002)]`."""
    out: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if out and out[-1][1] == port - 1:
            out[-1] = (out[-1][0], port)
        else:
            out.append((port, port))
    return out


def port_entries(keys: Iterable[tuple[str, int]]) -> list[tuple[dict[str, str], list[tuple[str, int]]]]:
    """The `ports` entries holding exactly `keys`, each with the keys it holds: per protocol (TCP,
    UDP, SCTP), the ports as comma-separated runs (`8000-8002`), at most 256 characters an entry."""
    by_protocol: dict[str, list[int]] = {}
    for protocol, port in keys:
        by_protocol.setdefault(protocol, []).append(port)
    entries: list[tuple[dict[str, str], list[tuple[str, int]]]] = []
    for protocol in PROTOCOLS:
        text = ""
        held: list[tuple[str, int]] = []
        for start, end in runs(by_protocol.get(protocol, ())):
            run = str(start) if start == end else f"{start}-{end}"
            if text and len(text) + 1 + len(run) > MAX_PORT_TEXT:
                entries.append(({"protocol": protocol, "port": text}, held))
                text, held = "", []
            text = f"{text},{run}" if text else run
            held.extend((protocol, port) for port in range(start, end + 1))
        if text:
            entries.append(({"protocol": protocol, "port": text}, held))
    return entries


def _ports_label(keys: Sequence[tuple[str, int]]) -> str:
    by_protocol: dict[str, list[int]] = {}
    for protocol, port in keys:
        by_protocol.setdefault(protocol, []).append(port)
    return "-".join(f"{p.lower()}-" + "-".join(str(n) for n in sorted(by_protocol[p]))
                    for p in PROTOCOLS if p in by_protocol)


def _label(base: str, keys: Sequence[tuple[str, int]]) -> str:
    """The name suffix of a group: its ports, or the lowest and how many more."""
    full = f"observed-{_ports_label(keys)}"
    if len(keys) == 1 or len(f"{base}-{full}") <= MAX_NAME:
        return full
    protocol, port = keys[0]
    return f"observed-{protocol.lower()}-{port}-and-{len(keys) - 1}-more"


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [items]


def count_text(n: int, what: str) -> str:
    """`1 flow`, `2 flows`, `3 addresses`."""
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}{'es' if what.endswith('s') else 's'}"


def _use_line(use: Use) -> str:
    denied = ""
    if use.denied:
        denied = f", {use.denied:,} of them denied today by {', '.join(use.denied_by)}"
    span = when(use.first) if use.first == use.last else f"{when(use.first)} to {when(use.last)}"
    return (f"  {use.destination} {use.port}/{use.protocol}: {count_text(use.count, 'flow')}{denied}, "
            f"seen {span}, devices {', '.join(use.devices)}")


def _key_order(key: tuple[str, int]) -> tuple[int, int]:
    return PROTOCOLS.index(key[0]), key[1]


def _groups(uses: Sequence[Use]) -> list[tuple[list[str], list[tuple[str, int]]]]:
    """(addresses, keys) per set of addresses sharing their (protocol, port) keys, by lowest key."""
    by_key: dict[tuple[str, int], set[str]] = {}
    for use in uses:
        by_key.setdefault(use.key, set()).add(use.destination)
    by_addresses: dict[frozenset[str], list[tuple[str, int]]] = {}
    for key, addresses in by_key.items():
        by_addresses.setdefault(frozenset(addresses), []).append(key)
    groups = [(sorted(addresses, key=address_order), sorted(keys, key=_key_order))
              for addresses, keys in by_addresses.items()]
    groups.sort(key=lambda g: _key_order(g[1][0]))
    return groups


def _external_services(observed: Observed, base: str) -> list[Manifest]:
    namespace = observed.target.namespace
    by_use = {(u.destination, u.key): u for u in observed.uses}
    out: list[Manifest] = []
    for addresses, keys in _groups(observed.uses):
        label = _label(base, keys)
        entry_parts = _chunks(port_entries(keys), MAX_PORT_ENTRIES)
        address_parts = _chunks(addresses, MAX_ADDRESSES)
        parts = [(a, e) for a in address_parts for e in entry_parts]
        for number, (part_addresses, entries) in enumerate(parts, start=1):
            title = name(base, label if len(parts) == 1 else f"{label}-part-{number}")
            uses = tuple(by_use[(a, k)] for _, held in entries for k in held for a in part_addresses)
            denied = sum(u.denied for u in uses)
            ports = ", ".join(f"{e['port']}/{e['protocol']}" for e, _ in entries)
            head = (f"ExternalService {namespace}/{title}: {count_text(len(part_addresses), 'address')} "
                    f"on {ports}, observed from {observed.target.label}: "
                    f"{count_text(sum(u.count for u in uses), 'flow')}"
                    + (f", {denied:,} of them denied today" if denied else ""))
            obj: Obj = {"apiVersion": API_VERSION, "kind": "ExternalService",
                        "metadata": {"name": title, "namespace": namespace},
                        "spec": {"addresses": list(part_addresses), "ports": [dict(e) for e, _ in entries]}}
            out.append(Manifest(obj, (head, *(_use_line(u) for u in uses)), uses))
    return out


def _rule_comment(observed: Observed, rule: str, uses: Sequence[Use], window: str) -> list[str]:
    devices = sorted({d for u in uses for d in u.devices})
    addresses = {u.destination for u in uses}
    flows = sum(u.count for u in uses)
    lines = [f"{observed.target.rule_kind} {observed.target.namespace}/{rule}: allows the egress observed "
             f"from {observed.target.label}" + (f" in {window}" if window else ""),
             f"  {count_text(flows, 'flow')} to {count_text(len(uses), 'destination port')} "
             f"({count_text(len(addresses), 'address')}), first seen {when(min(u.first for u in uses))}, "
             f"last seen {when(max(u.last for u in uses))}, devices {', '.join(devices)}"]
    denied = [u for u in uses if u.denied]
    if denied:
        by = sorted({b for u in denied for b in u.denied_by})
        lines.append(f"  denied today: {count_text(sum(u.denied for u in denied), 'flow')} to "
                     f"{count_text(len(denied), 'destination port')}, by {', '.join(by)}; "
                     "this rule allows them")
    else:
        lines.append("  every one of these flows was allowed today")
    return lines


def _rules(observed: Observed, base: str, services: Sequence[Manifest], priority: int,
           window: str) -> list[Manifest]:
    target = observed.target
    parts = _chunks(list(services), MAX_EXTERNAL_SERVICES)
    out: list[Manifest] = []
    for number, part in enumerate(parts, start=1):
        rule = name(base, "observed-egress" if len(parts) == 1 else f"observed-egress-part-{number}")
        spec: Obj = {"service": target.service} if target.service else {}
        spec.update({"action": "Allow", "priority": priority, "externalServices": [m.name for m in part]})
        obj: Obj = {"apiVersion": API_VERSION, "kind": target.rule_kind,
                    "metadata": {"name": rule, "namespace": target.namespace}, "spec": spec}
        uses = tuple(u for m in part for u in m.uses)
        out.append(Manifest(obj, tuple(_rule_comment(observed, rule, uses, window)), uses))
    return out


def recommend(observed: Observed, *, priority: int = 500, window: str = "") -> Recommendation:
    """The manifests allowing exactly `observed.uses` (module docstring)."""
    if not 0 <= priority <= 1000:
        raise ValueError(f"priority must be within 0..1000, not {priority}")
    if not observed.uses:
        return Recommendation(observed, (), window)
    base = base_name(observed.target)
    services = _external_services(observed, base)
    return Recommendation(observed, (*services, *_rules(observed, base, services, priority, window)), window)


@functools.cache
def _validator() -> ManifestValidator:
    return ManifestValidator()  # reading the CRDs takes a while: once a process


def check(manifests: Iterable[Manifest], validator: ManifestValidator | None = None) -> list[str]:
    """The problems the API server would refuse `manifests` for (`Kind ns/name: message`)."""
    validator = validator or _validator()
    problems = []
    for manifest in manifests:
        checked = validator.check(manifest.obj)
        if checked.refused:
            problems.append(f"{manifest.label}: {checked.message}")
    return problems
