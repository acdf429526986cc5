"""First-match evaluation of a compiled `DeviceState`: the rule a device decides traffic with, and
why each rule of the same source before it did not. `explain` and the conformance tests use it;
the tests' oracle evaluates the rule semantics of docs/resources.md ("What a rule means")
independently of it.

Contract:
- `Probe`: traffic from `source` (an IP address) to `destination` (an IP address or a name) on
  `port`/`protocol`; `port` None asks about any port.
- `evaluate(state, probe, names)` walks `state.rules` in order. A rule whose source group does not
  hold `probe.source` is skipped (counted); any other rule either matches, and decides, or becomes
  a `Step` saying why not. The result is an `Evaluation`: `decision` (None: no rule matches, the
  device's own rulebase decides), the `steps` before it, the `skipped` count.
- A step's `outcome`: `NO_MATCH`; `PORT_DEPENDENT` when the probe has no port and the rule would
  match on some ports only; `RESOLUTION_DEPENDENT` when, under `Names.RESOLVED`, the rule matches
  some of the addresses a destination name may resolve to but not all. Neither of the last two
  decides: the walk goes on.
- Names (`Names`): `EXACT` takes a name as traffic known only by that name, which is what the
  devices' name objects match: a rule matches it when its ExternalService lists the name, or a
  wildcard covering it (`name_matches`: `*.example.com` covers one or more labels before
  `example.com`, never `example.com` itself), or when the rule has no destination. `RESOLVED`
  takes a name as traffic to whatever address it resolves to, in the source's address family: a
  rule whose addresses cover that whole family matches too (`Evaluation.reason` says so), one
  holding only some of it is `RESOLUTION_DEPENDENT`.
- `decide(state, probe)` is `evaluate(state, probe).decision` (names `EXACT`).
- A grouped default action (a rule of kind DefaultAction without a namespace: its source is the
  union of the namespaces with that default action, or the shared addresses whose first holder
  has it; docs/architecture.md, "The default tier") decides as the default action of one
  namespace: the `decision` is that rule (same key) with the origin of that namespace's default
  action (`DefaultAction NS/default`), NS being the shared address's first holder by name, else
  the first namespace by name of the union whose group holds the source.
- Audit rules (`state.staged`) never take part in the walk. `would_decide(state, probe, names,
  evaluation)` lists those that would have decided the probe had each of them been enforced on its
  own: the audit rule matches (as a rule of the walk would), and sits before the rule that decides
  (`Evaluation.position`) or no rule decides.
- Regions (the report's decision matrix): `evaluate_region(state, region, candidates)` is the
  same first-match walk for all the traffic to one ExternalService on some ports (`Region`) at
  once, over the rules of one source (`candidates`: their positions, each with whether its
  source holds every address of the traffic's source). A rule matching only part of the region
  (some ports, an overlapping range, some source addresses) does not decide; the first matching
  all of it does. `RegionEvaluation.verdict` is allow, deny, mixed or none.
- `SourceIndex(state)` finds the groups holding an address and their rules without scanning
  every group and rule (built once, O(addresses + rules)); `evaluate` and `would_decide` take it
  for many probes of one state, with the same results.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from connector.model import (
    CompiledRule,
    Destination,
    DeviceState,
    PortRange,
    Protocol,
    RuleKind,
    RuleOrigin,
    SourceGroup,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Probe:
    """Traffic from `source` (an IP) to `destination` (an IP or a name) on `port`/`protocol`
    (`port` None: any port)."""

    source: str
    destination: str
    port: int | None
    protocol: Protocol = Protocol.TCP


class Names(StrEnum):
    """How a destination name is taken (module docstring)."""

    EXACT = "exact"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    """Why a rule of the probe's source did not decide."""

    NO_MATCH = "no-match"
    PORT_DEPENDENT = "port-dependent"
    RESOLUTION_DEPENDENT = "resolution-dependent"


@dataclass(frozen=True)
class Step:
    """A rule of the probe's source that did not decide, with its `outcome` and the `reason`."""

    rule: CompiledRule
    outcome: Outcome
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.key,
            "origin": self.rule.origin.to_json(),
            "action": self.rule.action.value,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Evaluation:
    """The first matching rule (`decision`, None when none matches), the `steps` before it, the
    number of rules `skipped` (for other sources), whether any source group holds the probe's
    source (`source_held`), and `reason`: how the decision matched when it is not plain (a name
    matched by a destination covering every address)."""

    decision: CompiledRule | None
    steps: tuple[Step, ...]
    skipped: int
    source_held: bool
    reason: str = ""
    position: int = 0  # the index of `decision` in the state's rules (their number when None)


@dataclass(frozen=True)
class _Verdict:
    outcome: Outcome | None  # None: the rule matches
    reason: str = ""


_MATCH = _Verdict(None)


def _is_ip(value: str) -> bool:
    return address_of(value) is not None


def _label(target: Destination) -> str:
    return f"ExternalService {target.namespace}/{target.name}"


def _whole_family(networks: list[IPNetwork]) -> bool:
    """Whether `networks` (of one address family) together hold every address of that family."""
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return (any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(v4))
            or any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(v6)))


def name_matches(entry: str, name: str) -> bool:
    """Whether the FQDN entry `entry` of a destination (lower case, no final dot) covers the
    destination name `name` (lower case, no final dot): equal names, or `entry` a wildcard
    `*.example.com` and `name` one or more labels followed by `.example.com`."""
    if entry.startswith("*."):
        suffix = entry[1:]  # ".example.com"
        return len(name) > len(suffix) and name.endswith(suffix) and not name.startswith(".")
    return entry == name


def _name_verdict(target: Destination, name: str, names: Names, version: int) -> _Verdict:
    """A destination `name` against `target` (no FQDN of it covers the name)."""
    label = _label(target)
    covered = "an FQDN of" if not any(f.startswith("*.") for f in target.fqdns) else "covered by an FQDN of"
    not_listed = f"{name} is not {covered} {label} ({', '.join(target.fqdns) or 'no FQDN entries'})"
    if names is Names.EXACT:
        return _Verdict(Outcome.NO_MATCH, not_listed)
    family = f"IPv{version}"
    networks = [n for n in map(ipaddress.ip_network, target.networks) if n.version == version]
    if not networks:
        return _Verdict(Outcome.NO_MATCH, f"{not_listed}, and it holds no {family} address")
    held = f"{label} ({', '.join(str(n) for n in networks)})"
    if _whole_family(networks):
        return _Verdict(None, f"{held} holds every {family} address: it matches whatever {name} resolves to")
    return _Verdict(Outcome.RESOLUTION_DEPENDENT, f"matches if {name} resolves to an address in {held}")


def _destination_verdict(state: DeviceState, rule: CompiledRule, probe: Probe, names: Names,
                         version: int) -> _Verdict:
    if rule.destination is None:
        return _MATCH
    target = state.destinations[rule.destination]
    if _is_ip(probe.destination):
        ip = address_of(probe.destination)
        if any(ip in _network(n) for n in target.networks):
            return _MATCH
        extra = f"; its FQDNs ({', '.join(target.fqdns)}) match names, not addresses" if target.fqdns else ""
        held = ", ".join(target.networks) or "no IP entries"
        return _Verdict(Outcome.NO_MATCH, f"{probe.destination} is not in {_label(target)} ({held}){extra}")
    name = probe.destination.lower().rstrip(".")
    if name in target.fqdns:
        return _MATCH
    wildcard = next((f for f in target.fqdns if f.startswith("*.") and name_matches(f, name)), None)
    if wildcard is not None:
        return _Verdict(None, f"{name} is covered by {wildcard} of {_label(target)}")
    return _name_verdict(target, name, names, version)


def _port_verdict(state: DeviceState, rule: CompiledRule, probe: Probe) -> _Verdict:
    if rule.ports is None:
        return _MATCH
    ranges = state.port_sets[rule.ports].ranges
    listed = ", ".join(str(r) for r in ranges)
    if probe.port is None:
        return _Verdict(Outcome.PORT_DEPENDENT, f"matches only ports {listed}")
    if any(r.protocol == probe.protocol and r.start <= probe.port <= r.end for r in ranges):
        return _MATCH
    return _Verdict(Outcome.NO_MATCH, f"port {probe.port}/{probe.protocol.value} is not among {listed}")


def _verdict(state: DeviceState, rule: CompiledRule, probe: Probe, names: Names, version: int) -> _Verdict:
    """Whether `rule` (of the probe's source) matches: destination first, then ports."""
    destination = _destination_verdict(state, rule, probe, names, version)
    if destination.outcome is Outcome.NO_MATCH:
        return destination
    ports = _port_verdict(state, rule, probe)
    if ports.outcome is Outcome.NO_MATCH:
        return ports
    if destination.outcome is None:  # a match, or port-dependent
        return destination if ports.outcome is None else ports
    # The destination depends on resolution; the ports match, or depend on the port.
    return _Verdict(Outcome.RESOLUTION_DEPENDENT, "; ".join(filter(None, [destination.reason, ports.reason])))


def source_groups(state: DeviceState, source: str) -> set[str]:
    """The keys of the groups of `state` holding the address `source`, includes resolved."""
    address = ipaddress.ip_address(source)
    return state.including(key for key, group in state.groups.items()
                           if any(ipaddress.ip_address(a) == address for a in group.addresses))


def attributed(state: DeviceState, rule: CompiledRule, source: str, holding: set[str]) -> CompiledRule:
    """`rule` deciding traffic from `source` (whose groups in `state` are `holding`); a grouped
    default action with the origin of the namespace default it stands for (module docstring)."""
    origin = rule.origin
    if origin.kind is not RuleKind.DEFAULT or origin.namespace:
        return rule
    group = state.groups.get(rule.source)
    if group is None:
        return rule
    namespace = ""
    if group.includes:
        includes = group.includes  # sorted by key: namespace groups `CLUSTER/NS` in namespace order
        for key in sorted(holding):
            at = bisect.bisect_left(includes, key)
            if at < len(includes) and includes[at] == key:
                namespace = state.groups[key].namespace
                break
    else:
        address = _canonical(source)
        for member, identities in group.members:
            if member == address and identities:
                namespace = identities[0].name
                break
    if not namespace:
        return rule
    attributed = RuleOrigin(RuleKind.DEFAULT, namespace, "default", origin.tier, 0)
    return dataclasses.replace(rule, origin=attributed)


class SourceIndex:
    """For many probes of one state: the groups holding each address (includes resolved) and the
    positions of the rules of each group. Built in O(addresses + rules); `update` follows a later
    state of the same device in O(groups + the addresses of the groups that changed), plus
    O(rules) when the rule list changed."""

    def __init__(self, state: DeviceState) -> None:
        self.state = state
        self._groups: dict[str, SourceGroup] = {}
        self._direct: dict[str, set[str]] = {}
        self._rules: tuple[CompiledRule, ...] | None = None
        self._positions: dict[str, list[int]] = {}
        self.update(state)

    def update(self, state: DeviceState) -> None:
        """Index `state` instead, reusing what its unchanged groups (the same objects) hold."""
        old, new = self._groups, state.groups
        direct = self._direct
        for key, group in old.items():
            if new.get(key) is not group:
                for address in group.addresses:
                    keys = direct.get(address)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del direct[address]
        for key, group in new.items():
            if old.get(key) is not group:
                for address in group.addresses:  # members are canonical host addresses
                    direct.setdefault(address, set()).add(key)
        self._groups = dict(new)
        if state.rules is not self._rules:
            positions: dict[str, list[int]] = {}
            for position, rule in enumerate(state.rules):
                positions.setdefault(rule.source, []).append(position)
            self._positions = positions
            self._rules = state.rules
        self.state = state

    def holding(self, source: str) -> set[str]:
        """The keys of the groups holding the address `source`."""
        keys = self._direct.get(_canonical(source))
        return self.state.including(keys) if keys else set()

    def positions(self, holding: set[str]) -> list[int]:
        """The positions, in order, of the rules whose source is one of the groups `holding`."""
        found = [p for key in holding for p in self._positions.get(key, ())]
        found.sort()
        return found


def _version(address: str) -> int:
    ip = address_of(address)
    if ip is None:
        raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 address")
    return ip.version


def _canonical(address: str) -> str:
    ip = address_of(address)
    return address if ip is None else str(ip)


@functools.lru_cache(maxsize=1 << 16)
def address_of(text: str) -> IPAddress | None:
    """`text` as an IP address, None when it is not one (cached: traffic repeats addresses)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 14)
def _network(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


def evaluate(state: DeviceState, probe: Probe, names: Names = Names.EXACT,
             index: SourceIndex | None = None) -> Evaluation:
    """The first-match walk of `state.rules` for `probe` (module docstring); with the `index` of
    `state`, only the rules of the probe's source are visited (the rest are counted skipped)."""
    version = _version(probe.source)
    if index is None:
        holding = source_groups(state, probe.source)
        candidates: Iterable[int] = range(len(state.rules))
    else:
        holding = index.holding(probe.source)
        candidates = index.positions(holding)
    rules = state.rules
    steps: list[Step] = []
    visited = 0
    for position in candidates:
        rule = rules[position]
        if rule.source not in holding:
            continue
        visited += 1
        verdict = _verdict(state, rule, probe, names, version)
        if verdict.outcome is None:
            decision = attributed(state, rule, probe.source, holding)
            return Evaluation(decision, tuple(steps), position + 1 - visited, True, verdict.reason, position)
        steps.append(Step(rule, verdict.outcome, verdict.reason))
    return Evaluation(None, tuple(steps), len(rules) - visited, bool(holding), position=len(rules))


def would_decide(state: DeviceState, probe: Probe, evaluation: Evaluation, names: Names = Names.EXACT,
                 index: SourceIndex | None = None) -> tuple[CompiledRule, ...]:
    """The audit rules of `state` that would have decided `probe` had each been enforced on its
    own (module docstring); `evaluation` is `evaluate(state, probe, names)`, `index` the
    `SourceIndex` of `state.as_staged()` when there is one."""
    staged = state.staged
    if not staged.rules:
        return ()
    alone = index.state if index is not None else state.as_staged()
    holding = index.holding(probe.source) if index is not None else source_groups(alone, probe.source)
    if not holding:
        return ()
    version = _version(probe.source)
    candidates = index.positions(holding) if index is not None else range(len(staged.rules))
    out: list[CompiledRule] = []
    for i in candidates:
        rule = staged.rules[i]
        if staged.positions[i] > evaluation.position:
            break
        if rule.source in holding and _verdict(alone, rule, probe, names, version).outcome is None:
            out.append(rule)
    return tuple(out)


def decide(state: DeviceState, probe: Probe) -> CompiledRule | None:
    """The first rule of `state` that matches `probe`, or None (no decision by the connector)."""
    return evaluate(state, probe).decision


# --- regions: the first-match walk for a whole destination at once (the report's decision matrix) --


class Cover(Enum):
    """How much of a `Region` a rule's destination and ports match."""

    NONE = 0
    PART = 1
    ALL = 2


@dataclass(frozen=True)
class Region:
    """Traffic to one ExternalService (`service`: namespace, name; `networks` and `fqdns` as the
    devices hold it) on `ports` (None: any port and protocol); with `service` None, traffic to
    every address and name no named ExternalService holds ("other destinations": a destination
    holding every address of a family, such as 0.0.0.0/0, still counts for that family)."""

    service: tuple[str, str] | None
    networks: tuple[str, ...] = ()
    fqdns: tuple[str, ...] = ()
    ports: tuple[PortRange, ...] | None = None


@dataclass(frozen=True)
class RegionEvaluation:
    """The first-match walk of a source's rules for a `Region`: `decision` (position, rule) is the
    first rule matching all of it (None: none does), `partial` the earlier rules matching part of
    it (by port, address or because their source holds only some of the source's addresses)."""

    decision: tuple[int, CompiledRule] | None
    partial: tuple[tuple[int, CompiledRule], ...]

    @property
    def verdict(self) -> str:
        """`allow` / `deny`: every part of the region is decided that way; `mixed`: parts are
        decided differently, or part is left to the device's own rulebase; `none`: no rule
        matches any of it (the device's own rulebase decides)."""
        if self.decision is None:
            return "mixed" if self.partial else "none"
        actions = {rule.action for _, rule in self.partial} | {self.decision[1].action}
        return self.decision[1].action.value.lower() if len(actions) == 1 else "mixed"


RegionMemo = dict[tuple[str | None, str | None], Cover]


def evaluate_region(state: DeviceState, region: Region, candidates: Iterable[tuple[int, bool]],
                    memo: RegionMemo | None = None) -> RegionEvaluation:
    """The first-match walk over the rules of `state` at `candidates` (their positions, in order,
    each with whether the rule's source holds every address of the traffic's source) for traffic
    to `region`; `memo` (one per state and region) keeps each destination and port set's cover."""
    memo = {} if memo is None else memo
    partial: list[tuple[int, CompiledRule]] = []
    for position, whole in candidates:
        rule = state.rules[position]
        key = (rule.destination, rule.ports)
        cover = memo.get(key)
        if cover is None:
            cover = memo[key] = _rule_cover(state, rule, region)
        if cover is Cover.NONE:
            continue
        if cover is Cover.PART or not whole:
            partial.append((position, rule))
            continue
        return RegionEvaluation((position, rule), tuple(partial))
    return RegionEvaluation(None, tuple(partial))


def _rule_cover(state: DeviceState, rule: CompiledRule, region: Region) -> Cover:
    target = state.destinations[rule.destination] if rule.destination is not None else None
    destination = _destination_cover(target, region)
    if destination is Cover.NONE:
        return Cover.NONE
    ports = _ports_cover(state.port_sets[rule.ports].ranges if rule.ports is not None else None, region.ports)
    return min(destination, ports, key=lambda c: c.value)


def _ports_cover(rule: tuple[PortRange, ...] | None, region: tuple[PortRange, ...] | None) -> Cover:
    if rule is None:
        return Cover.ALL
    if region is None:
        return Cover.PART
    covered_all, touched = True, False
    for wanted in region:
        spans = sorted((r.start, r.end) for r in rule
                       if r.protocol == wanted.protocol and r.end >= wanted.start and r.start <= wanted.end)
        touched = touched or bool(spans)
        cursor = wanted.start
        for start, end in spans:
            if start > cursor:
                break
            cursor = max(cursor, end + 1)
        covered_all = covered_all and cursor > wanted.end
    if covered_all:
        return Cover.ALL
    return Cover.PART if touched else Cover.NONE


def _families(networks: Iterable[IPNetwork]) -> tuple[bool, bool]:
    """Whether `networks` hold every IPv4 and every IPv6 address."""
    found = list(networks)
    return (_whole_family([n for n in found if n.version == 4]),
            _whole_family([n for n in found if n.version == 6]))


def _within(inner: IPNetwork, outer: IPNetwork) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _destination_cover(target: Destination | None, region: Region) -> Cover:
    """Names are compared by name (`name_matches`); a destination holding every address of both
    families matches any name, one holding a whole family matches part of it."""
    if target is None:
        return Cover.ALL
    if region.service is not None and (target.namespace, target.name) == region.service:
        return Cover.ALL
    networks = [_network(n) for n in target.networks]
    all4, all6 = _families(networks)
    if region.service is None:
        return Cover.ALL if all4 and all6 else Cover.PART if all4 or all6 else Cover.NONE
    wanted = [_network(n) for n in region.networks]
    nets_covered = all(any(_within(n, e) for e in networks) for n in wanted)
    names_covered = (all4 and all6) or all(any(name_matches(e, n) for e in target.fqdns)
                                           for n in region.fqdns)
    if (wanted or region.fqdns) and nets_covered and names_covered:
        return Cover.ALL
    if any(n.version == e.version and n.overlaps(e) for n in wanted for e in networks):
        return Cover.PART
    if any(name_matches(e, n) or name_matches(n, e) for n in region.fqdns for e in target.fqdns) \
            or (region.fqdns and (all4 or all6)):
        return Cover.PART
    return Cover.NONE
