"""Which destinations and ports change decision between two compiled states of one device.

Contract: `decision_changes(before, after)` compares two `DeviceState`s of the same device (the
cluster's sources are the same in both; only rules and ExternalServices differ) and returns a
`DecisionChange` per (namespace, source, destination, port) whose decision differs: another
action, or the same action by another rule. Decisions come from `connector.evaluate.evaluate`
(names taken `EXACT`, as the devices match them).

How it stays exact and small:
- a rule is *changed* when it is new, gone, or differs (itself, its ExternalService's addresses
  or its ports); only traffic a changed rule matches, before or after, can change decision;
- the sources looked at are the addresses of the changed rules' source groups; addresses held by
  the same groups decide alike, so one address per set of groups is evaluated, over the rules of
  those groups only (the first-match order of the device is kept);
- the probes are, per changed rule, each address entry of its ExternalService (its first
  address) and each port range (its first port), plus the entries and ranges of the other rules
  of the same source that lie inside them; a rule without destination or ports adds "any other
  destination" (`*`: an address in no ExternalService of those rules) and "any other port" (`*`);
  a CIDR widened or narrowed adds the part gained or lost, labelled `CIDR except ENTRIES` and
  probed at the first address of each of its pieces;
- what one address finds depends only on its groups, rules, destinations and ports: a `Memo`
  shared across devices reuses it, and a device whose two states equal another's (their rules,
  groups, destinations and port sets) reuses all that device found;
- a slice holding no source group of a changed rule is not looked at; what the destinations and
  port sets of a state hold of each other is worked out once per pair.
A source is named after the groups holding it: `Service NAME`, `pods of NamespaceEgressRule
NAME`, or `namespace` (its pods in no Service or pod group of a rule; egress IPs or nodes in
those source modes).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from connector.evaluate import Probe, SourceIndex, attributed, evaluate
from connector.model import (
    CompiledRule,
    Destination,
    DeviceState,
    PortRange,
    PortSet,
    Protocol,
    RuleKind,
    SourceGroup,
)

ANY = "*"
NAMESPACE = "namespace"
_OTHER_V4 = ("203.0.113.254", "192.0.2.254", "198.51.100.254", "100.64.0.1", "240.0.0.1", "0.0.0.1")
_OTHER_V6 = ("2001:db8:ffff::1", "100::1", "3fff:ffff::1", "::2")


@functools.lru_cache(maxsize=65536)
def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """`ipaddress.ip_network(text)`, parsed once (the same entries are probed for many sources)."""
    return ipaddress.ip_network(text)


@dataclass(frozen=True, order=True)
class Verdict:
    """A decision: `action` Allow, Deny or None (no rule of the connector decides: the device's
    own rulebase does) and the deciding `rule` (`ServiceEgressRule payments/api`), its tier and
    priority."""

    action: str
    rule: str = ""
    tier: str = ""
    priority: int | None = None

    @classmethod
    def of(cls, rule: CompiledRule | None) -> Verdict:
        if rule is None:
            return cls("None")
        origin = rule.origin
        if origin.kind is RuleKind.DEFAULT:
            name = f"the default action of namespace {origin.namespace}"
        elif origin.kind is RuleKind.ANNOTATION:
            name = f"the egress-allow annotation of namespace {origin.namespace}"
        else:
            name = str(origin)
        return cls(rule.action.value, name, origin.tier.value, origin.priority)

    def describe(self) -> str:
        if self.action == "None":
            return "no decision (the firewall's own rulebase)"
        return f"{self.action} by {self.rule}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "rule": self.rule or None, "tier": self.tier or None,
                "priority": self.priority}


@dataclass(frozen=True, order=True)
class DecisionChange:
    """One destination and port of one source whose decision changes on `device`."""

    namespace: str
    source: str
    destination: str
    port: str
    external_service: str
    before: Verdict
    after: Verdict
    device: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str, Verdict, Verdict]:
        """What the change is, whichever device: changes equal but for the device merge."""
        return (self.namespace, self.source, self.destination, self.port, self.external_service,
                self.before, self.after)


@dataclass(frozen=True)
class _Point:
    """A probe point: where it goes (an address or a name), on which port, and its labels."""

    destination: str
    port: int
    protocol: Protocol
    destination_label: str
    port_label: str
    external_service: str


def _changed_rules(before: DeviceState, after: DeviceState) -> tuple[list[CompiledRule], list[CompiledRule]]:
    """(changed rules of `before`, changed rules of `after`) (module docstring)."""
    old = {rule.key: rule for rule in before.rules}
    new = {rule.key: rule for rule in after.rules}

    def same(rule: CompiledRule, other: CompiledRule | None) -> bool:
        if other is None or other != rule:
            return False
        if rule.destination is not None and (before.destinations.get(rule.destination)
                                             != after.destinations.get(rule.destination)):
            return False
        return rule.ports is None or before.port_sets.get(rule.ports) == after.port_sets.get(rule.ports)

    return ([r for r in before.rules if not same(r, new.get(r.key))],
            [r for r in after.rules if not same(r, old.get(r.key))])


def _direct_groups(state: DeviceState, addresses: set[str] | None) -> dict[str, list[str]]:
    """For each of `addresses` (None: every address), the groups of `state` listing it as a member."""
    found: dict[str, list[str]] = {}
    for key, group in state.groups.items():
        for address in group.addresses:
            if addresses is None or address in addresses:
                found.setdefault(address, []).append(key)
    return found


def _rules_by_source(state: DeviceState) -> dict[str, list[tuple[int, CompiledRule]]]:
    out: dict[str, list[tuple[int, CompiledRule]]] = {}
    for position, rule in enumerate(state.rules):
        out.setdefault(rule.source, []).append((position, rule))
    return out


_ADDRESS_GROUP = ""  # the one group of a slice listing its address (no real group has an empty key)


def _slice(state: DeviceState, address: str, holding: Iterable[str],
           by_source: dict[str, list[tuple[int, CompiledRule]]]) -> DeviceState:
    """`state` as one address sees it: the groups holding it, and their rules in the device's
    order. The address is listed once, in a group every holding group includes."""
    keys = sorted(holding)
    rules = sorted((item for key in keys for item in by_source.get(key, ())), key=lambda item: item[0])
    groups = {_ADDRESS_GROUP: SourceGroup(_ADDRESS_GROUP, state.cluster, "", ((address, ()),))}
    groups.update((key, SourceGroup(key, state.cluster, state.groups[key].namespace, (),
                                    includes=(_ADDRESS_GROUP,))) for key in keys)
    held = set(keys)  # a grouped default action keeps the namespace it stands for, as in `state`
    return DeviceState(state.device, state.cluster, groups, state.destinations, state.port_sets,
                       tuple(attributed(state, rule, address, held) for _, rule in rules))


def _entry_label(network: str) -> str:
    net = _net(network)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else network


def _within(inner: str, outer: str) -> bool:
    a, b = _net(inner), _net(outer)
    return a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


def _overlaps(inner: PortRange, outer: PortRange) -> bool:
    return inner.protocol == outer.protocol and inner.start <= outer.end and outer.start <= inner.end


def _other_address(version: int, destinations: Iterable[Destination]) -> str:
    networks = [_net(n) for d in destinations for n in d.networks]
    for candidate in _OTHER_V4 if version == 4 else _OTHER_V6:
        ip = ipaddress.ip_address(candidate)
        if not any(ip in n for n in networks):
            return candidate
    return _OTHER_V4[0] if version == 4 else _OTHER_V6[0]


def _other_port(port_sets: Iterable[PortSet]) -> int:
    taken = [r for s in port_sets for r in s.ranges if r.protocol is Protocol.TCP]
    port = 1
    for r in sorted(taken):
        if r.start <= port <= r.end:
            port = r.end + 1
    return min(port, 65535)


# what one destination or port set of a state holds of another's ((id(state), kind, key, other key)
# -> entries) and the points of a rule among others ((id(state), KIND, key, other keys) -> points);
# kept for one `decision_changes` call (its states stay alive, so ids stay theirs)
Pairs = dict[tuple[Any, ...], tuple[Any, ...]]


def _destination_points(state: DeviceState, rule: CompiledRule, rules: list[CompiledRule],
                        version: int, pairs: Pairs | None = None) -> list[tuple[str, str, str]]:
    """(probe destination, label, ExternalService) for `rule`'s destination and what lies in it."""
    if rule.destination is None:
        used = [state.destinations[r.destination] for r in rules if r.destination is not None]
        entries = [(n, d) for d in used for n in (*d.networks, *d.fqdns)]
        return [*_labelled(entries), (_other_address(version, used), ANY, "")]
    pairs = {} if pairs is None else pairs
    others = tuple(r.destination for r in rules
                   if r.destination is not None and r.destination != rule.destination)
    whole = (id(state), "D", rule.destination, others)
    known = pairs.get(whole)
    if known is not None:
        return list(known)
    target = state.destinations[rule.destination]
    points = [(n, target) for n in (*target.networks, *target.fqdns)]
    for other in rules:
        if other.destination is None or other.destination == rule.destination:
            continue
        key = (id(state), "d", rule.destination, other.destination)
        inside = pairs.get(key)
        if inside is None:
            inner = state.destinations[other.destination]
            inside = pairs[key] = (
                *((n, inner) for n in inner.networks if any(_within(n, outer) for outer in target.networks)),
                *((f, inner) for f in inner.fqdns if f in target.fqdns))
        points.extend(inside)
    labelled = _labelled(points)
    pairs[whole] = tuple(labelled)
    return labelled


def _labelled(points: list[tuple[str, Destination]]) -> list[tuple[str, str, str]]:
    out = []
    for entry, destination in points:
        if "/" in entry:
            out.append((str(_net(entry).network_address), _entry_label(entry),
                        f"{destination.namespace}/{destination.name}"))
        else:
            out.append((entry, entry, f"{destination.namespace}/{destination.name}"))
    return out


def _port_points(state: DeviceState, rule: CompiledRule, rules: list[CompiledRule],
                 pairs: Pairs | None = None) -> list[tuple[int, Protocol, str]]:
    """(port, protocol, label) for `rule`'s ports and the ranges of the other rules inside them."""
    if rule.ports is None:
        used = [state.port_sets[r.ports] for r in rules if r.ports is not None]
        ranges = sorted({r for s in used for r in s.ranges})
        return [*((r.start, r.protocol, str(r)) for r in ranges), (_other_port(used), Protocol.TCP, ANY)]
    pairs = {} if pairs is None else pairs
    others = frozenset(r.ports for r in rules if r.ports is not None and r.ports != rule.ports)
    whole = (id(state), "P", rule.ports, others)
    known = pairs.get(whole)
    if known is not None:
        return list(known)
    own = state.port_sets[rule.ports].ranges
    inside = set(own)
    for other in others:
        key = (id(state), "p", rule.ports, other)
        found = pairs.get(key)
        if found is None:
            found = pairs[key] = tuple(r for r in state.port_sets[other].ranges
                                       if any(_overlaps(r, o) for o in own))
        inside.update(found)
    points = [(r.start, r.protocol, str(r)) for r in sorted(inside)]
    pairs[whole] = tuple(points)
    return points


def _difference(networks: Iterable[str], minus: Iterable[str]) -> list[str]:
    """The parts of `networks` outside every network of `minus` (as CIDRs, in order)."""
    taken = [_net(n) for n in minus]
    pieces = [_net(n) for n in networks]
    for hole in taken:
        kept: list[Any] = []
        for piece in pieces:
            if piece.version != hole.version or not piece.overlaps(hole):
                kept.append(piece)
            elif not piece.subnet_of(hole):  # type: ignore[arg-type]
                kept.extend(piece.address_exclude(hole))  # type: ignore[arg-type]
        pieces = kept
    return [str(p) for p in sorted(pieces, key=lambda n: (n.version, n))]


def _changed_parts(before: DeviceState, after: DeviceState, rule: CompiledRule) -> list[tuple[str, str, str]]:
    """When `rule`'s ExternalService changed addresses, the parts added or removed, each probed at
    its own first address: a network that gained (or lost) addresses around entries it already
    had is labelled `NETWORK except ENTRIES` (a widened CIDR's new part is not the old one)."""
    if rule.destination is None:
        return []
    old, new = before.destinations.get(rule.destination), after.destinations.get(rule.destination)
    if old is None or new is None or old.networks == new.networks:
        return []
    out: list[tuple[str, str, str]] = []
    for networks, others, destination in ((new.networks, old.networks, new),
                                          (old.networks, new.networks, old)):
        for network in networks:
            pieces = _difference([network], others)
            if not pieces or pieces == [network]:
                continue  # unchanged, or a whole entry (probed as an entry of its ExternalService)
            net = _net(network)
            inside = [_net(o) for o in others]
            held = [_entry_label(str(o)) for o in inside if o.version == net.version and o.overlaps(net)]
            label = f"{_entry_label(network)} except {', '.join(held)}"
            service = f"{destination.namespace}/{destination.name}"
            out.extend((str(_net(p).network_address), label, service) for p in pieces)
    return out


def _points(before: DeviceState, after: DeviceState, changed: Iterable[tuple[DeviceState, CompiledRule]],
            rules_before: list[CompiledRule], rules_after: list[CompiledRule], version: int,
            pairs: Pairs | None = None) -> list[_Point]:
    seen: dict[tuple[str, int, Protocol], _Point] = {}
    for state, rule in changed:
        rules = rules_before if state is before else rules_after
        destinations = _destination_points(state, rule, rules, version, pairs)
        ports = _port_points(state, rule, rules, pairs)
        for destination, label, service in [*destinations, *_changed_parts(before, after, rule)]:
            for port, protocol, port_label in ports:
                key = (destination, port, protocol)
                if key not in seen:
                    seen[key] = _Point(destination, port, protocol, label, port_label, service)
    return list(seen.values())


def source_label(groups: Iterable[SourceGroup]) -> str:
    services = sorted({g.service for g in groups if g.purpose == "service" and g.service})
    selected = sorted({g.rule for g in groups if g.purpose == "pods" and g.rule})
    parts = []
    if services:
        parts.append(("Service " if len(services) == 1 else "Services ") + ", ".join(services))
    if selected:
        parts.append("pods of NamespaceEgressRule " + ", ".join(selected))
    return " + ".join(parts) or NAMESPACE


class StatePair:
    """Two states of one device, seen from one source address at a time: `slices(address)` gives
    each state as that address sees it (the groups holding it, their rules in the device's order)."""

    def __init__(self, before: DeviceState, after: DeviceState) -> None:
        self.before = before
        self.after = after
        self._direct: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self._by_source = (_rules_by_source(before), _rules_by_source(after))
        self._held: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[frozenset[str], frozenset[str]]] = {}
        self.pairs: Pairs = {}

    def _index(self, addresses: set[str] | None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if addresses is not None:
            return _direct_groups(self.before, addresses), _direct_groups(self.after, addresses)
        if self._direct is None:
            self._direct = (_direct_groups(self.before, None), _direct_groups(self.after, None))
        return self._direct

    def direct(self, address: str, index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None,
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The groups listing `address` as a member, before and after."""
        found = index or self._index(None)
        return tuple(found[0].get(address, ())), tuple(found[1].get(address, ()))

    def holding(self, address: str, index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None,
                ) -> tuple[frozenset[str], frozenset[str]]:
        """The groups holding `address` before and after (members, and the groups including them)."""
        direct = self.direct(address, index)
        held = self._held.get(direct)
        if held is None:
            held = self._held[direct] = (frozenset(self.before.including(direct[0])),
                                         frozenset(self.after.including(direct[1])))
        return held

    def slices(self, address: str,
               held: tuple[frozenset[str], frozenset[str]]) -> tuple[DeviceState, DeviceState]:
        return (_slice(self.before, address, held[0], self._by_source[0]),
                _slice(self.after, address, held[1], self._by_source[1]))

    def groups(self, held: tuple[frozenset[str], frozenset[str]]) -> list[SourceGroup]:
        return [self.before.groups[k] for k in held[0]] + [self.after.groups[k] for k in held[1]]


def source_namespaces(groups: Iterable[SourceGroup]) -> list[str]:
    """The namespaces of the (non-union) groups holding an address."""
    return sorted({g.namespace for g in groups if g.purpose != "union" and g.namespace})


class Memo:
    """What the devices of one review found so far: per slice (`slices`: what an address with the
    same groups and rules found), and per device (`devices`: a device whose two states equal
    another's, as they usually do, finds the same changes)."""

    def __init__(self) -> None:
        self.slices: dict[tuple[Any, ...], list[DecisionChange]] = {}
        self.devices: list[tuple[DeviceState, DeviceState, list[DecisionChange]]] = []

    def device(self, before: DeviceState, after: DeviceState) -> list[DecisionChange] | None:
        """The changes found for states equal to `before` and `after` (their rules, groups,
        destinations and port sets: what decides), or None."""
        for old, new, found in self.devices:
            if _deciding(old) == _deciding(before) and _deciding(new) == _deciding(after):
                return found
        return None


def _deciding(state: DeviceState) -> tuple[Any, ...]:
    return state.rules, state.groups, state.destinations, state.port_sets


def decision_changes(before: DeviceState, after: DeviceState,
                     memo: Memo | None = None) -> list[DecisionChange]:
    """Every decision that differs between `before` and `after` (module docstring), sorted.
    `memo`, shared across the devices of one review, reuses what another device found (`Memo`)."""
    if before is after:
        return []
    memo = Memo() if memo is None else memo
    known = memo.device(before, after)
    if known is not None:
        return [dataclasses.replace(c, device=before.device) for c in known]  # sorted: one device
    found = _device_changes(before, after, memo)
    memo.devices.append((before, after, found))
    return found


def _device_changes(before: DeviceState, after: DeviceState, memo: Memo) -> list[DecisionChange]:
    changed_before, changed_after = _changed_rules(before, after)
    if not changed_before and not changed_after:
        return []
    affected: set[str] = set()
    for state, rules in ((before, changed_before), (after, changed_after)):
        for source in {r.source for r in rules}:
            affected |= state.group_addresses(source)
    pair = StatePair(before, after)
    index = pair._index(affected)
    changed_keys = {r.key for r in changed_before} | {r.key for r in changed_after}
    # the groups a changed rule applies to: a slice holding none of them has no change to find
    changed_sources = ({r.source for r in before.rules if r.key in changed_keys},
                       {r.source for r in after.rules if r.key in changed_keys})
    results: dict[tuple[Any, ...], DecisionChange] = {}
    seen: set[tuple[frozenset[str], frozenset[str]]] = set()
    directs: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for address in sorted(affected):
        direct = pair.direct(address, index)
        if direct in directs:  # held by the same groups as an address already looked at
            continue
        directs.add(direct)
        held = pair.holding(address, index)
        if held in seen:
            continue
        seen.add(held)
        if held[0].isdisjoint(changed_sources[0]) and held[1].isdisjoint(changed_sources[1]):
            continue
        for change in _address_changes(pair, address, held, changed_keys, memo):
            results.setdefault(change.key, change)
    return sorted(results.values())


def _slice_key(old: DeviceState, new: DeviceState, held: tuple[frozenset[str], frozenset[str]],
               changed_keys: set[str], version: int) -> tuple[Any, ...]:
    """What decides the changes of one slice: its groups and rules, with their destinations and
    ports, before and after (not the device)."""
    def content(state: DeviceState) -> tuple[Any, ...]:
        return (state.rules,
                tuple(state.destinations[r.destination] for r in state.rules if r.destination is not None),
                tuple(state.port_sets[r.ports] for r in state.rules if r.ports is not None),
                tuple(r.key in changed_keys for r in state.rules))
    return held, version, content(old), content(new)


def _address_changes(pair: StatePair, address: str, held: tuple[frozenset[str], frozenset[str]],
                     changed_keys: set[str], memo: Memo) -> Iterator[DecisionChange]:
    device = pair.before.device
    old, new = pair.slices(address, held)
    version = ipaddress.ip_address(address).version
    key = _slice_key(old, new, held, changed_keys, version)
    known = memo.slices.get(key)
    if known is None:
        known = memo.slices[key] = list(_slice_changes(pair, old, new, address, held, changed_keys, version))
    for change in known:
        yield dataclasses.replace(change, device=device) if change.device != device else change


class _SliceIndex(SourceIndex):
    """The `SourceIndex` of a slice: its one address is held by every group of it, so what holds
    it and the positions of their rules are worked out once, not per probe."""

    def __init__(self, state: DeviceState) -> None:
        super().__init__(state)
        self._holding: set[str] | None = None
        self._found: list[int] | None = None

    def holding(self, source: str) -> set[str]:
        if self._holding is None:
            self._holding = super().holding(source)
        return self._holding

    def positions(self, holding: set[str]) -> list[int]:
        if self._found is None or holding is not self._holding:
            self._found = super().positions(holding)
        return self._found


def _slice_changes(pair: StatePair, old: DeviceState, new: DeviceState, address: str,
                   held: tuple[frozenset[str], frozenset[str]], changed_keys: set[str],
                   version: int) -> Iterator[DecisionChange]:
    before, after = pair.before, pair.after
    changed = [(before, r) for r in old.rules if r.key in changed_keys]
    changed += [(after, r) for r in new.rules if r.key in changed_keys]
    if not changed:
        return
    points = _points(before, after, changed, list(old.rules), list(new.rules), version, pair.pairs)
    groups = pair.groups(held)
    namespaces = source_namespaces(groups)
    label = source_label(groups)
    indexes = _SliceIndex(old), _SliceIndex(new)
    for point in points:
        probe = Probe(address, point.destination, point.port, point.protocol)
        was = Verdict.of(evaluate(old, probe, index=indexes[0]).decision)
        becomes = Verdict.of(evaluate(new, probe, index=indexes[1]).decision)
        if was == becomes:
            continue
        for namespace in namespaces:
            yield DecisionChange(namespace, label, point.destination_label, point.port_label,
                                 point.external_service, was, becomes, before.device)
