"""Pure rendering of a `DeviceState` into FortiOS objects (kinds address, addrgrp, service, policy).

Contract:
- Sources: each `SourceGroup`'s IPv4 members become address objects shared by content across
  groups: a host is `ipmask` `/32`, a contiguous run of hosts is one `iprange`. Pieces already on
  the device (`known`, from the last read or observation) are reused as long as they still lie
  inside a run, so adding or removing one pod changes O(1) objects; runs are collapsed from scratch
  otherwise. A render costs O(known pieces + group memberships): `known` is indexed once
  (`KnownPieces`) and shared by every group; the output depends only on the inputs.
- Destinations: IPv4 networks become `ipmask` addresses, FQDNs `fqdn` addresses; each destination
  is one `addrgrp`. IPv6 is not rendered (capabilities say so): a rule whose sources or destination
  are left empty is left off the device, never widened.
- Source groups nest: a group holds the groups of a pairwise-disjoint set of other rendered source
  groups it contains (`nested_sources`) plus address objects for its remaining hosts, so a pod
  joining a Service changes the Service's group only (its namespace's group holds that group by
  reference). Every group resolves (recursively) to exactly its model group's IPv4 hosts.
- Groups hold at most 600 members; a larger group holds sub-groups that split its members by a
  stable hash, so one member change touches one sub-group.
- Port sets become `firewall.service/custom` objects (`tcp-portrange` "80 8000-8080", ...).
- Rules become policies in evaluation order: srcaddr the source group, dstaddr the destination
  group (`all` for any), service the port-set object (`ALL` for any), action accept|deny,
  logtraffic all|disable, schedule always, status enable.
- Every object carries the owner mark as the first word of its `comment` (`comments` for policies).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Collection, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from adapters.base.naming import PREFIX, NameRules, make_name, object_name, stable_hash
from connector.model import Action, CompiledRule, Destination, DeviceState, PortSet, Protocol, SourceGroup
from connector.planner.types import DeviceObject

ADDRESS = "address"
ADDRGRP = "addrgrp"
SERVICE = "service"
POLICY = "policy"
KIND_ORDER = (ADDRESS, ADDRGRP, SERVICE, POLICY)

MAX_GROUP_MEMBERS = 600
GROUP_FILL = 400  # average members per sub-group when a group is split
COMMENT_MAX = 255
POLICY_COMMENTS_MAX = 1023

NAMES = NameRules(max_length=79, allowed="A-Za-z0-9_.:/@-", separator="_", replacement="-")
POLICY_NAMES = NameRules(max_length=35, allowed="A-Za-z0-9_.-", separator="_", replacement="-", hash_length=8)

Piece = tuple[int, int]  # inclusive IPv4 range as integers
MEMO_SIZE = 1 << 16  # entries kept by the memoized (pure) address parsing and naming across renders


@dataclass(frozen=True)
class PolicySettings:
    """Device-wide policy fields from the configuration."""

    srcintf: tuple[str, ...]
    dstintf: tuple[str, ...]


@dataclass
class _Addresses:
    """Address objects collected by name (shared by content across groups)."""

    mark: str
    cluster: str
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: dict[str, set[str]] = field(default_factory=dict)

    def add(self, name: str, body: dict[str, Any], identities: Iterable[str]) -> str:
        self.bodies.setdefault(name, body)
        self.identities.setdefault(name, set()).update(identities)
        return name

    def piece(self, piece: Piece, identities: Iterable[str]) -> str:
        name, start, end = _piece_address(self.cluster, piece)
        if name not in self.bodies:
            self.bodies[name] = (ipmask_body(f"{start}/32", self.mark) if start == end else
                                 {"type": "iprange", "start-ip": start, "end-ip": end, "comment": self.mark})
        self.identities.setdefault(name, set()).update(identities)
        return name

    def objects(self) -> list[DeviceObject]:
        return [DeviceObject(ADDRESS, name, self.bodies[name], self.mark,
                             tuple(sorted(self.identities[name]))) for name in sorted(self.bodies)]


def address_name(cluster: str, content: str) -> str:
    return object_name(cluster, "ip", content, NAMES)


@functools.lru_cache(maxsize=MEMO_SIZE)
def _piece_address(cluster: str, piece: Piece) -> tuple[str, str, str]:
    """(name, first address, last address) of the address object covering `piece`."""
    start, end = (str(ipaddress.IPv4Address(v)) for v in piece)
    return address_name(cluster, start if start == end else f"{start}-{end}"), start, end


@functools.lru_cache(maxsize=MEMO_SIZE)
def _ipv4(address: str) -> int | None:
    """The integer of an IPv4 address text; None for IPv6."""
    ip = ipaddress.ip_address(address)
    return int(ip) if ip.version == 4 else None


def ipmask_body(cidr: str, mark: str) -> dict[str, Any]:
    return {"type": "ipmask", "subnet": cidr, "comment": mark}


def _comment(mark: str, text: str, limit: int = COMMENT_MAX) -> str:
    return f"{mark} {text}"[:limit]


class KnownPieces:
    """Index of the address pieces the device holds (from the last read): for each start, the
    distinct ends of the pieces starting there, longest first. Built once per render and shared by
    every group's `collapse`, so a render costs O(known pieces + hosts), not O(groups x known)."""

    __slots__ = ("_ends",)

    def __init__(self, pieces: Iterable[Piece] = ()) -> None:
        ends: dict[int, set[int]] = {}
        for start, end in pieces:
            ends.setdefault(start, set()).add(end)
        self._ends = {start: tuple(sorted(found, reverse=True)) for start, found in ends.items()}

    @classmethod
    def of(cls, known: Iterable[Piece] | KnownPieces) -> KnownPieces:
        """`known` itself when already an index, else its index."""
        return known if isinstance(known, KnownPieces) else cls(known)

    def longest_within(self, start: int, high: int) -> int | None:
        """The end of the longest known piece starting at `start` and ending at most at `high`."""
        return next((end for end in self._ends.get(start, ()) if end <= high), None)

    def __bool__(self) -> bool:
        return bool(self._ends)


def collapse(hosts: Collection[int], known: Iterable[Piece] | KnownPieces) -> list[Piece]:
    """Cover the sorted `hosts` with pieces: known pieces inside a contiguous run are kept, the
    rest of each run becomes one new piece per gap between kept pieces."""
    ordered = sorted(set(hosts))
    index = KnownPieces.of(known)
    pieces: list[Piece] = []
    first = 0
    while first < len(ordered):
        last = first
        while last + 1 < len(ordered) and ordered[last + 1] == ordered[last] + 1:
            last += 1
        low, high = ordered[first], ordered[last]
        position, segment = low, low
        while index and position <= high:
            kept = index.longest_within(position, high)
            if kept is None:
                position += 1
                continue
            if segment < position:
                pieces.append((segment, position - 1))
            pieces.append((position, kept))
            position = segment = kept + 1
        if segment <= high:
            pieces.append((segment, high))
        first = last + 1
    return pieces


def _group_objects(name: str, members: list[str], comment: str, mark: str,
                   identities: tuple[str, ...]) -> list[DeviceObject]:
    """One addrgrp, or a tree of them when `members` exceed the per-group limit (children first)."""
    if len(members) <= MAX_GROUP_MEMBERS:
        body = {"member": sorted(members), "comment": comment}
        return [DeviceObject(ADDRGRP, name, body, mark, identities)]
    count = 1
    while count * GROUP_FILL < len(members) and count * 2 <= MAX_GROUP_MEMBERS:
        count *= 2
    buckets: dict[int, list[str]] = {}
    for member in members:
        buckets.setdefault(int(stable_hash(member, 8), 16) % count, []).append(member)
    out: list[DeviceObject] = []
    children: list[str] = []
    for index in sorted(buckets):
        child = make_name([name, f"p{index}"], NAMES)
        children.append(child)
        out.extend(_group_objects(child, buckets[index], comment, mark, identities))
    out.extend(_group_objects(name, children, comment, mark, identities))
    return out


def _source_hosts(group: SourceGroup) -> dict[int, list[str]]:
    """The group's IPv4 hosts, each with the identities behind it (IPv6 is left out)."""
    behind: dict[int, list[str]] = {}
    for address, identities in group.members:
        host = _ipv4(address)
        if host is not None:
            behind.setdefault(host, []).extend(str(i) for i in identities)
    return behind


def nested_sources(hosts: Mapping[str, Set[int]],
                   rank: Mapping[str, tuple[int, str]]) -> dict[str, list[str]]:
    """For each key of `hosts` (non-empty host sets), the keys of the groups it holds by reference.

    `C` lies inside `G` when C's hosts are a proper subset of G's, or equal to them and
    `rank[C] < rank[G]` (so the relation is a strict order: no nesting loop). G holds a greedy
    selection of the groups inside it, pairwise disjoint: first those inside no other candidate,
    then the rest, each by key. The choice depends only on subset/disjointness relations and keys,
    never on sizes, so growing or shrinking a group changes it only when a relation changes."""
    by_host: dict[int, list[str]] = {}
    for key in sorted(hosts):
        for host in hosts[key]:
            by_host.setdefault(host, []).append(key)
    inside: dict[str, set[str]] = {key: set() for key in hosts}
    for inner, members in hosts.items():
        for outer in by_host[min(members)]:
            held = hosts[outer]
            if outer != inner and len(members) <= len(held) and members <= held and (
                    len(members) < len(held) or rank[inner] < rank[outer]):
                inside[outer].add(inner)
    chosen: dict[str, list[str]] = {}
    for outer, candidates in inside.items():
        maximal = candidates.difference(*(inside[other] for other in candidates))
        picked: list[str] = []
        covered: set[int] = set()
        for candidate in sorted(candidates, key=lambda c: (c not in maximal, c)):
            if covered.isdisjoint(hosts[candidate]):
                picked.append(candidate)
                covered.update(hosts[candidate])
        chosen[outer] = picked
    return chosen


def source_group_name(cluster: str, key: str) -> str:
    return object_name(cluster, "src", key, NAMES)


def _source_group(group: SourceGroup, behind: Mapping[int, list[str]], subgroups: Iterable[str],
                  covered: Set[int], addresses: _Addresses, known: KnownPieces, mark: str,
                  cluster: str) -> list[DeviceObject]:
    """The group's objects: `subgroups` (group names covering the hosts in `covered`) plus address
    pieces for its other hosts."""
    remaining = [host for host in behind if host not in covered]
    members = list(subgroups) + [addresses.piece(piece, (i for host in range(piece[0], piece[1] + 1)
                                                         for i in behind.get(host, ())))
                                 for piece in collapse(remaining, known)]
    what = group.service or group.rule
    descriptor = f"source {group.purpose} {group.namespace}{'/' + what if what else ''}"
    identity = (f"Service/{group.namespace}/{group.service}" if group.service
                else f"Namespace/{group.namespace}")
    return _group_objects(source_group_name(cluster, group.key), members,
                          _comment(mark, descriptor), mark, (identity,))


def _sources(state: DeviceState, keys: Iterable[str], addresses: _Addresses, known: KnownPieces,
             mark: str) -> dict[str, list[DeviceObject]]:
    """The objects of each source group in `keys` that has IPv4 hosts, nested (`nested_sources`)."""
    behind = {key: hosts for key in keys if (hosts := _source_hosts(state.groups[key]))}
    host_sets = {key: frozenset(hosts) for key, hosts in behind.items()}
    rank = {key: (int(state.groups[key].purpose == "namespace"), key) for key in behind}
    nesting = nested_sources(host_sets, rank)
    out: dict[str, list[DeviceObject]] = {}
    for key in sorted(behind):
        inner = nesting[key]
        covered = frozenset().union(*(host_sets[c] for c in inner))
        out[key] = _source_group(state.groups[key], behind[key],
                                 [source_group_name(state.cluster, c) for c in inner], covered,
                                 addresses, known, mark, state.cluster)
    return out


def _destination(destination: Destination, addresses: _Addresses, mark: str,
                 cluster: str) -> list[DeviceObject]:
    identity = f"ExternalService/{destination.namespace}/{destination.name}"
    members: list[str] = []
    for network in destination.networks:
        net = ipaddress.ip_network(network, strict=False)
        if net.version != 4:
            continue
        content = str(net.network_address) if net.prefixlen == 32 else str(net)
        body = ipmask_body(str(net), mark)
        members.append(addresses.add(address_name(cluster, content), body, (identity,)))
    for fqdn in destination.fqdns:
        members.append(addresses.add(object_name(cluster, "fqdn", fqdn, NAMES),
                                     {"type": "fqdn", "fqdn": fqdn, "comment": mark}, (identity,)))
    if not members:
        return []
    return _group_objects(object_name(cluster, "dst", destination.key, NAMES), sorted(set(members)),
                          _comment(mark, f"destination {destination.namespace}/{destination.name}"), mark,
                          (identity,))


def port_ranges(port_set: PortSet) -> dict[str, str]:
    """`tcp-portrange`/`udp-portrange`/`sctp-portrange` strings of a port set ("" when none)."""
    out = {}
    for protocol, key in ((Protocol.TCP, "tcp-portrange"), (Protocol.UDP, "udp-portrange"),
                          (Protocol.SCTP, "sctp-portrange")):
        items = [str(r.start) if r.start == r.end else f"{r.start}-{r.end}"
                 for r in sorted(port_set.ranges) if r.protocol == protocol]
        out[key] = " ".join(items)
    return out


def _service(port_set: PortSet, mark: str, cluster: str) -> DeviceObject | None:
    ranges = port_ranges(port_set)
    if not any(ranges.values()):
        return None
    body = {"protocol": "TCP/UDP/SCTP", **ranges,
            "comment": _comment(mark, f"ports {port_set.namespace}/{port_set.name}")}
    return DeviceObject(SERVICE, object_name(cluster, "ports", port_set.key, NAMES), body, mark,
                        (f"ExternalService/{port_set.namespace}/{port_set.name}",))


def policy_name(cluster: str, rule: CompiledRule) -> str:
    return make_name([PREFIX, cluster, rule.origin.name, stable_hash(rule.key, 6)], POLICY_NAMES)


def _policy(rule: CompiledRule, source: str, destination: str, service: str, settings: PolicySettings,
            mark: str, cluster: str) -> DeviceObject:
    origin = rule.origin
    text = f"{origin} tier={origin.tier.value} priority={origin.priority} key={rule.key}"
    body = {"srcintf": list(settings.srcintf), "dstintf": list(settings.dstintf),
            "srcaddr": [source], "dstaddr": [destination], "service": [service],
            "action": "accept" if rule.action is Action.ALLOW else "deny",
            "schedule": "always", "logtraffic": "all" if rule.logging else "disable", "status": "enable",
            "comments": _comment(mark, text, POLICY_COMMENTS_MAX)}
    identity = f"{origin.kind.value}/{origin.namespace}/{origin.name}" if origin.namespace \
        else f"{origin.kind.value}/{origin.name}"
    return DeviceObject(POLICY, policy_name(cluster, rule), body, mark, (identity,))


def render_state(state: DeviceState, *, mark: str, settings: PolicySettings,
                 known: Iterable[Piece] | KnownPieces = ()) -> list[DeviceObject]:
    """Every object the device must hold for `state`, addresses first, policies in rule order.
    `known`: the address pieces the device holds (deterministic: the output depends on the set
    only, never on its order)."""
    cluster = state.cluster
    index = KnownPieces.of(known)
    addresses = _Addresses(mark, cluster)
    groups: list[DeviceObject] = []
    top: dict[str, str] = {}  # model key -> top-level group name
    used_sources = {rule.source for rule in state.rules}
    used_destinations = {rule.destination for rule in state.rules if rule.destination is not None}
    used_ports = {rule.ports for rule in state.rules if rule.ports is not None}
    for key, rendered in _sources(state, sorted(used_sources & set(state.groups)), addresses, index,
                                  mark).items():
        groups.extend(rendered)
        top["src:" + key] = rendered[-1].name
    for key in sorted(used_destinations & set(state.destinations)):
        rendered = _destination(state.destinations[key], addresses, mark, cluster)
        if rendered:
            groups.extend(rendered)
            top["dst:" + key] = rendered[-1].name
    services: dict[str, DeviceObject] = {}
    for key in sorted(used_ports & set(state.port_sets)):
        service = _service(state.port_sets[key], mark, cluster)
        if service is not None:
            services[key] = service
    policies: list[DeviceObject] = []
    for rule in state.rules:
        source = top.get("src:" + rule.source)
        destination = "all" if rule.destination is None else top.get("dst:" + rule.destination)
        service_name = "ALL" if rule.ports is None else (
            services[rule.ports].name if rule.ports in services else None)
        if source is None or destination is None or service_name is None:
            continue
        policies.append(_policy(rule, source, destination, service_name, settings, mark, cluster))
    unique_groups = list({obj.name: obj for obj in groups}.values())
    return addresses.objects() + unique_groups + list(services.values()) + policies


def references(obj: DeviceObject) -> list[tuple[str, str]]:
    """The (kind, name) refs an object's body points at (a member may be an address or a group)."""
    body: Mapping[str, Any] = obj.body
    names: list[str] = []
    refs: list[tuple[str, str]] = []
    if obj.kind == ADDRGRP:
        names = list(body.get("member", ()))
    elif obj.kind == POLICY:
        names = list(body.get("srcaddr", ())) + list(body.get("dstaddr", ()))
        refs.extend((SERVICE, name) for name in body.get("service", ()))
    for name in names:
        refs.extend(((ADDRESS, name), (ADDRGRP, name)))
    return refs
