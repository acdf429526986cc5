"""The egress one workload was observed using: flow records -> destinations and ports.

Contract: `observe(records, target, min_count=1, allowed_only=False)` reads the attributed flow
records and returns an `Observed`:
- only records of `target` count: attributed to its namespace (and, for a Service, listing that
  Service), not ambiguous (an address that changed owner within the clock skew may be another
  workload's); other records are counted in `Observed.foreign`, ambiguous ones left out;
- a flow is *Allow-able* when a rule of the namespace tier can allow it: it was allowed, or denied
  by what such a rule overrides — the namespace's default action, a Baseline ClusterEgressRule, a
  device rule not produced by the connector (the connector's rules come first). A destination
  port (destination, protocol, port) to which a flow was denied by an explicit Deny (an Admin-tier
  ClusterEgressRule, a NamespaceEgressRule or ServiceEgressRule) is left out entirely, its allowed
  flows too: recommend never works around someone's Deny. With `allowed_only`, every other denied
  flow is left out as well;
- a flow is expressible when its destination is an IP address and it has a destination port and a
  protocol an ExternalService names (TCP, UDP, SCTP); others (ICMP, no port) are left out: the only
  rule that would allow them allows every port and protocol;
- `uses`: one `Use` per (destination, protocol, port) of the Allow-able flows whose total count is
  at least `min_count`, with its counts, the flows denied today and by what, first and last seen,
  and the devices that logged them; sorted by protocol, port, address family and address;
- `left_out`: per (reason, detail, destination, protocol, port) the flows not used, sorted.

Pure: no I/O. O(records).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from connector.flows.record import FlowIdentity, FlowRecord, FlowRule

PROTOCOLS = ("TCP", "UDP", "SCTP")  # what an ExternalService port names, in output order
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# Why flows were left out, in the order the output lists them.
AMBIGUOUS = "ambiguous"
EXPLICIT_DENY = "explicit-deny"
DENIED = "denied"
UNEXPRESSIBLE = "unexpressible"
BELOW_MIN_COUNT = "below-min-count"
REASONS = (AMBIGUOUS, EXPLICIT_DENY, DENIED, UNEXPRESSIBLE, BELOW_MIN_COUNT)


@dataclass(frozen=True)
class Target:
    """The workload rules are recommended for: a namespace's pods, or one Service of it."""

    namespace: str
    service: str | None = None

    def __post_init__(self) -> None:
        if len(self.namespace) > 63 or not NAME.match(self.namespace):
            raise ValueError(f"namespace {self.namespace!r} is not a valid namespace name "
                             "(lower-case letters, digits and '-', at most 63)")
        if self.service is not None and (len(self.service) > 63 or not re.match(
                r"^[a-z]([-a-z0-9]*[a-z0-9])?$", self.service)):
            raise ValueError(f"service {self.service!r} is not a valid Service name "
                             "(a lower-case letter, then letters, digits and '-', at most 63)")

    @property
    def label(self) -> str:
        """`Service shop/web` or `namespace shop`."""
        return f"Service {self.namespace}/{self.service}" if self.service else f"namespace {self.namespace}"

    @property
    def rule_kind(self) -> str:
        return "ServiceEgressRule" if self.service else "NamespaceEgressRule"

    def holds(self, identity: FlowIdentity | None) -> bool:
        """Whether a flow of `identity` is this workload's."""
        if identity is None or identity.namespace != self.namespace:
            return False
        return self.service is None or self.service in identity.services


@dataclass(frozen=True)
class Use:
    """The Allow-able flows to one destination address, protocol and port."""

    destination: str
    protocol: str
    port: int
    count: int
    denied: int
    first: datetime
    last: datetime
    devices: tuple[str, ...]
    denied_by: tuple[str, ...] = ()  # what denied the `denied` flows today

    @property
    def key(self) -> tuple[str, int]:
        return self.protocol, self.port


@dataclass(frozen=True)
class LeftOut:
    """Flows not used: `reason` (one of REASONS), `detail` (the denying rule, say), where to."""

    reason: str
    detail: str
    destination: str
    protocol: str
    port: int | None
    count: int

    @property
    def where(self) -> str:
        """`198.51.100.7 443/TCP`, `198.51.100.7 ICMP`."""
        return f"{self.destination} {self.port}/{self.protocol}" if self.port is not None \
            else f"{self.destination} {self.protocol}"


@dataclass(frozen=True)
class Observed:
    """What `observe` found (module docstring). `records` and `flows` count the target's records
    and flows; `foreign` the records of other workloads that were given."""

    target: Target
    min_count: int
    allowed_only: bool
    uses: tuple[Use, ...]
    left_out: tuple[LeftOut, ...] = field(default=())
    records: int = 0
    flows: int = 0
    foreign: int = 0

    @property
    def used_flows(self) -> int:
        return sum(u.count for u in self.uses)


def rule_label(rule: FlowRule | None, device_rule: str | None = None) -> str:
    """What decided a flow, for people: `the default action of namespace shop`,
    `ClusterEgressRule block-ssh (Admin tier)`, `NamespaceEgressRule shop/deny-db`, `the device's
    own rule 7`."""
    if rule is None:
        return f"the device's own rule {device_rule}" if device_rule else "the device's own rulebase"
    if rule.kind == "DefaultAction":
        return f"the default action of namespace {rule.namespace}"
    where = f"{rule.namespace}/" if rule.namespace else ""
    tier = f" ({rule.tier} tier)" if rule.kind == "ClusterEgressRule" and rule.tier else ""
    return f"{rule.kind} {where}{rule.name}{tier}"


def overridable(rule: FlowRule | None) -> bool:
    """Whether a namespace-tier Allow rule decides before the Deny `rule` (module docstring)."""
    if rule is None or rule.kind == "DefaultAction":
        return True
    return rule.kind == "ClusterEgressRule" and rule.tier == "Baseline"


@functools.lru_cache(maxsize=1 << 16)
def canonical_address(text: str) -> str | None:
    """`text` as a canonical IP address (`2001:db8::1`), None when it is not one (cached: flows
    repeat their destinations)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _canonical(text: str) -> str:
    return canonical_address(text) or text


def address_order(text: str) -> tuple[int, int, str]:
    """Sort key: IPv4 before IPv6, numerically; anything else after, by text."""
    if canonical_address(text) is None:
        return 9, 0, text
    ip = ipaddress.ip_address(text)
    return ip.version, int(ip), ""


@dataclass
class _Tally:
    count: int = 0
    denied: int = 0
    first: datetime | None = None
    last: datetime | None = None
    devices: set[str] = field(default_factory=set)
    denied_by: set[str] = field(default_factory=set)

    def add(self, record: FlowRecord, denied_by: str | None) -> None:
        line = record.line
        self.count += line.count
        self.first = line.time if self.first is None else min(self.first, line.time)
        self.last = line.time if self.last is None else max(self.last, line.time)
        self.devices.add(line.device)
        if denied_by is not None:
            self.denied += line.count
            self.denied_by.add(denied_by)


def _device_rule(record: FlowRecord) -> str | None:
    line = record.line
    return line.device_rule if line.device_rule is not None else line.device_rule_id


def observe(records: Iterable[FlowRecord], target: Target, *, min_count: int = 1,
            allowed_only: bool = False) -> Observed:
    """The Allow-able egress of `target` in `records` (module docstring)."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, not {min_count}")
    tallies: dict[tuple[str, str, int], _Tally] = {}
    left: dict[tuple[str, str, str, str, int | None], int] = {}
    denied_explicitly: dict[tuple[str, str, int | None], str] = {}  # destination port -> a denying rule
    mine = flows = foreign = 0

    def leave(reason: str, detail: str, record: FlowRecord) -> None:
        line = record.line
        key = (reason, detail, _canonical(line.dst), line.protocol.upper(), line.dst_port)
        left[key] = left.get(key, 0) + line.count

    for record in records:
        if not target.holds(record.identity) and not (record.ambiguous and any(
                target.holds(c) for c in record.candidates)):
            foreign += 1
            continue
        mine += 1
        line = record.line
        flows += line.count
        if record.ambiguous:
            leave(AMBIGUOUS, "", record)
            continue
        denied_by: str | None = None
        if line.action != "Allow":
            denied_by = rule_label(record.rule, _device_rule(record))
            if not overridable(record.rule):
                leave(EXPLICIT_DENY, denied_by, record)
                where = (_canonical(line.dst), line.protocol.upper(), line.dst_port)
                denied_explicitly[where] = min(denied_by, denied_explicitly.get(where, denied_by))
                continue
            if allowed_only:
                leave(DENIED, denied_by, record)
                continue
        protocol = line.protocol.upper()
        destination = canonical_address(line.dst)
        port = line.dst_port
        if destination is None or protocol not in PROTOCOLS or port is None or not 0 < port < 65536:
            leave(UNEXPRESSIBLE, "", record)
            continue
        tallies.setdefault((destination, protocol, port), _Tally()).add(record, denied_by)
    uses: list[Use] = []
    for (destination, protocol, port), tally in tallies.items():
        assert tally.first is not None and tally.last is not None
        rule = denied_explicitly.get((destination, protocol, port))
        if rule is not None:  # the whole destination port: recommend never works around that Deny
            key = (EXPLICIT_DENY, rule, destination, protocol, port)
            left[key] = left.get(key, 0) + tally.count
            continue
        if tally.count < min_count:
            left[(BELOW_MIN_COUNT, "", destination, protocol, port)] = tally.count
            continue
        uses.append(Use(destination, protocol, port, tally.count, tally.denied, tally.first, tally.last,
                        tuple(sorted(tally.devices)), tuple(sorted(tally.denied_by))))
    uses.sort(key=lambda u: (PROTOCOLS.index(u.protocol), u.port, address_order(u.destination)))
    left_out = [LeftOut(reason, detail, destination, protocol, port, count)
                for (reason, detail, destination, protocol, port), count in left.items()]
    left_out.sort(key=lambda o: (REASONS.index(o.reason), o.detail, address_order(o.destination),
                                 o.protocol, -1 if o.port is None else o.port))
    return Observed(target, min_count, allowed_only, tuple(uses), tuple(left_out), mine, flows, foreign)
