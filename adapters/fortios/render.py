"""FortiOS objects (kinds address, addrgrp, service, policy) for the parts of a `DeviceState`.

Each function here renders one part (a source group, a destination, a port set, a rule) and is
pure; `adapters.fortios.renderer` assembles them into a device's whole object set. Contract of
the objects:
- Sources: a `SourceGroup`'s IPv4 members become address objects shared by content across groups:
  a host is `ipmask` `/32`, a contiguous run of hosts is one `iprange` (`known.collapse`, reusing
  pieces the device holds). A group holds the references of a pairwise-disjoint set of other
  source groups it contains (`nesting`) plus address objects for its remaining hosts. A union group
  (one that `includes` others) holds the references of its rendered included groups plus address
  objects for its own members; it is never expanded into hosts. A group is referenced (by
  policies, unions and the groups holding it) through `Part.refs`: its addrgrp; its one member
  itself when it would hold exactly one (an address or another group's reference: no addrgrp);
  for a union split over the member limit, its sub-groups (no parent addrgrp). Every reference
  resolves (recursively) to exactly its model group's IPv4 hosts (includes resolved).
- Destinations: IPv4 networks become `ipmask` addresses, FQDNs `fqdn` addresses (shared by
  content). A destination of at most `DIRECT_DESTINATION_ADDRESSES` addresses is referenced
  directly from the policies' `dstaddr`; a larger one is one `addrgrp`. IPv6 is not rendered
  (capabilities say so): a rule whose sources or destination are left empty is left off the
  device, never widened.
- Groups hold at most `group_members` members (configuration, default 600); a larger group holds
  sub-groups that split its members by a stable hash, so one member change touches one sub-group.
- Port sets become `firewall.service/custom` objects named by their port ranges
  (`fc_<cluster>_ports_tcp-443_udp-8000-8100`), so equal port sets share one object.
- Rules become policies: srcaddr the source group's references, dstaddr the destination group or
  addresses (`all` for any), service the port object (`ALL` for any), action accept|deny, logtraffic
  all|disable, schedule always, status enable.
- Every object carries the owner mark as the first word of its `comment` (`comments` for policies).
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.base.naming import PREFIX, NameRules, make_name, object_name, stable_hash
from adapters.fortios.known import KnownPieces, Piece, collapse
from connector.model import Action, CompiledRule, Destination, PortSet, Protocol, SourceGroup
from connector.planner.types import DeviceObject

ADDRESS = "address"
ADDRGRP = "addrgrp"
SERVICE = "service"
POLICY = "policy"
KIND_ORDER = (ADDRESS, ADDRGRP, SERVICE, POLICY)

DEFAULT_GROUP_MEMBERS = 600
DIRECT_DESTINATION_ADDRESSES = 8  # a destination of at most this many addresses needs no addrgrp
COMMENT_MAX = 255
POLICY_COMMENTS_MAX = 1023

NAMES = NameRules(max_length=79, allowed="A-Za-z0-9_.:/@-", separator="_", replacement="-")
POLICY_NAMES = NameRules(max_length=35, allowed="A-Za-z0-9_.-", separator="_", replacement="-", hash_length=8)

MEMO_SIZE = 1 << 16  # entries kept by the memoized (pure) address parsing and naming across renders

# address name -> (body, identities behind it) that one part of the state contributes
Addresses = dict[str, tuple[dict[str, Any], frozenset[str]]]


@dataclass(frozen=True)
class PolicySettings:
    """Device-wide policy fields from the configuration."""

    srcintf: tuple[str, ...]
    dstintf: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """What one source group or destination renders to: its addrgrps (children first), the
    addresses it uses, the names a policy references it by (empty: not rendered), and the hosts it
    holds as address pieces (whose known pieces its rendering depends on)."""

    objects: tuple[DeviceObject, ...] = ()
    addresses: Mapping[str, tuple[dict[str, Any], frozenset[str]]] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    pieces_of: frozenset[int] = frozenset()


EMPTY = Part()


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


def group_objects(name: str, members: Sequence[str], comment: str, mark: str, identities: tuple[str, ...],
                  limit: int = DEFAULT_GROUP_MEMBERS, salt: str = "") -> list[DeviceObject]:
    """One addrgrp, or a tree of them when `members` exceed `limit` (children first). A member's
    sub-group is chosen by a stable hash of the member (salted below the top, so a sub-group that
    is still too large splits differently)."""
    if len(members) <= limit:
        body = {"member": sorted(members), "comment": comment}
        return [DeviceObject(ADDRGRP, name, body, mark, identities)]
    # average members per sub-group when a group is split: a sub-group's size varies by about the
    # square root of its mean, so four of those stay below the limit (an overflowing one splits)
    fill = max(2, limit * 2 // 3, limit - 4 * math.isqrt(limit))
    count = 1
    while count * fill < len(members) and count * 2 <= limit:
        count *= 2
    buckets: dict[int, list[str]] = {}
    for member in members:
        buckets.setdefault(int(stable_hash(salt + member, 8), 16) % count, []).append(member)
    if len(buckets) == 1:  # every member hashed alike: split by position instead
        ordered = sorted(members)
        buckets = {index: ordered[index::count] for index in range(count)}
    out: list[DeviceObject] = []
    children: list[str] = []
    for index in sorted(buckets):
        child = make_name([name, f"p{index}"], NAMES)
        children.append(child)
        out.extend(group_objects(child, buckets[index], comment, mark, identities, limit, child + ":"))
    out.extend(group_objects(name, children, comment, mark, identities, limit))
    return out


# --- sources ---------------------------------------------------------------------------------------
def is_union(group: SourceGroup) -> bool:
    """A group that includes others by reference (never expanded into hosts, never nested)."""
    return bool(group.includes) or group.purpose == "union"


def source_hosts(group: SourceGroup) -> dict[int, tuple[str, ...]]:
    """The group's own IPv4 hosts, each with the identities behind it (IPv6 is left out)."""
    behind: dict[int, list[str]] = {}
    for address, identities in group.members:
        host = _ipv4(address)
        if host is not None:
            behind.setdefault(host, []).extend(str(i) for i in identities)
    return {host: tuple(found) for host, found in behind.items()}


def source_rank(group: SourceGroup) -> tuple[int, str]:
    """Between groups of equal hosts, a namespace's group holds the other."""
    return (int(group.purpose == "namespace"), group.key)


def source_group_name(cluster: str, key: str) -> str:
    return object_name(cluster, "src", key, NAMES)


def _source_comment(group: SourceGroup, mark: str) -> tuple[str, tuple[str, ...]]:
    what = group.service or group.rule
    descriptor = f"source {group.purpose} {group.namespace}{'/' + what if what else ''}"
    if group.service:
        identity = f"Service/{group.namespace}/{group.service}"
    elif is_union(group):
        identity = f"ClusterEgressRule/{group.rule}" if group.rule else f"SourceGroup/{group.key}"
    else:
        identity = f"Namespace/{group.namespace}"
    return _comment(mark, descriptor), (identity,)


def render_source(group: SourceGroup, behind: Mapping[int, tuple[str, ...]], held: Iterable[str],
                  covered: Collection[int], known: KnownPieces, mark: str, cluster: str,
                  limit: int, single: bool = True) -> Part:
    """A source group holding the references `held` (which cover the hosts in `covered`; for a
    union: the references of its rendered included groups) plus address pieces for its other
    hosts. EMPTY when it would hold nothing; with `single`, no addrgrp when it would hold one member
    (referenced by that member); a union split over `limit` is referenced by its sub-groups."""
    remaining = frozenset(host for host in behind if host not in covered)
    addresses: Addresses = {}
    members = dict.fromkeys(held)
    for piece in collapse(remaining, known):
        name, start, end = _piece_address(cluster, piece)
        body = (ipmask_body(f"{start}/32", mark) if start == end else
                {"type": "iprange", "start-ip": start, "end-ip": end, "comment": mark})
        ids = frozenset(i for host in range(piece[0], piece[1] + 1) for i in behind.get(host, ()))
        addresses[name] = (body, ids)
        members[name] = None
    if not members:
        return EMPTY
    if len(members) == 1 and single:
        return Part((), addresses, tuple(members), remaining)
    name = source_group_name(cluster, group.key)
    comment, identity = _source_comment(group, mark)
    objects = tuple(group_objects(name, list(members), comment, mark, identity, limit))
    if len(objects) > 1 and is_union(group):  # split: policies and unions list the sub-groups
        return Part(objects[:-1], addresses, tuple(objects[-1].body["member"]), remaining)
    return Part(objects, addresses, (name,), remaining)


# --- destinations and ports ------------------------------------------------------------------------
def render_destination(destination: Destination, mark: str, cluster: str, limit: int,
                       direct: int = DIRECT_DESTINATION_ADDRESSES) -> Part:
    """A destination's addresses, referenced directly when at most `direct`, else through an addrgrp."""
    identity = f"ExternalService/{destination.namespace}/{destination.name}"
    ids = frozenset({identity})
    addresses: Addresses = {}
    for network in destination.networks:
        net = ipaddress.ip_network(network, strict=False)
        if net.version != 4:
            continue
        content = str(net.network_address) if net.prefixlen == 32 else str(net)
        addresses[address_name(cluster, content)] = (ipmask_body(str(net), mark), ids)
    for fqdn in destination.fqdns:
        addresses[object_name(cluster, "fqdn", fqdn, NAMES)] = (
            {"type": "fqdn", "fqdn": fqdn, "comment": mark}, ids)
    if not addresses:
        return EMPTY
    members = sorted(addresses)
    if len(members) <= direct:
        return Part((), addresses, tuple(members))
    objects = tuple(group_objects(object_name(cluster, "dst", destination.key, NAMES), members,
                                  _comment(mark, f"destination {destination.namespace}/{destination.name}"),
                                  mark, (identity,), limit))
    return Part(objects, addresses, (objects[-1].name,))


def port_ranges(port_set: PortSet) -> dict[str, str]:
    """`tcp-portrange`/`udp-portrange`/`sctp-portrange` strings of a port set ("" when none)."""
    out = {}
    for protocol, key in ((Protocol.TCP, "tcp-portrange"), (Protocol.UDP, "udp-portrange"),
                          (Protocol.SCTP, "sctp-portrange")):
        items = [str(r.start) if r.start == r.end else f"{r.start}-{r.end}"
                 for r in sorted(port_set.ranges) if r.protocol == protocol]
        out[key] = " ".join(items)
    return out


def render_service(port_set: PortSet, mark: str, cluster: str) -> tuple[str, dict[str, Any], str] | None:
    """(name, body, identity) of the custom service for a port set; None when it has no ports. The
    name and body depend on the port ranges only, so equal port sets share one object."""
    ranges = port_ranges(port_set)
    if not any(ranges.values()):
        return None
    content = "_".join(f"{key.split('-')[0]}-{item}"
                       for key, value in ranges.items() for item in value.split())
    body = {"protocol": "TCP/UDP/SCTP", **ranges,
            "comment": _comment(mark, "ports " + " ".join(f"{key.split('-')[0]} {value}"
                                                          for key, value in ranges.items() if value))}
    return (object_name(cluster, "ports", content, NAMES), body,
            f"ExternalService/{port_set.namespace}/{port_set.name}")


# --- policies --------------------------------------------------------------------------------------
def policy_name(cluster: str, rule: CompiledRule) -> str:
    return make_name([PREFIX, cluster, rule.origin.name, stable_hash(rule.key, 6)], POLICY_NAMES)


def render_policy(rule: CompiledRule, sources: Sequence[str], destinations: Sequence[str], service: str,
                  settings: PolicySettings, mark: str, cluster: str) -> DeviceObject:
    origin = rule.origin
    text = f"{origin} tier={origin.tier.value} priority={origin.priority} key={rule.key}"
    body = {"srcintf": list(settings.srcintf), "dstintf": list(settings.dstintf),
            "srcaddr": list(sources), "dstaddr": list(destinations), "service": [service],
            "action": "accept" if rule.action is Action.ALLOW else "deny",
            "schedule": "always", "logtraffic": "all" if rule.logging else "disable", "status": "enable",
            "comments": _comment(mark, text, POLICY_COMMENTS_MAX)}
    identity = f"{origin.kind.value}/{origin.namespace}/{origin.name}" if origin.namespace \
        else f"{origin.kind.value}/{origin.name}"
    return DeviceObject(POLICY, policy_name(cluster, rule), body, mark, (identity,))


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
