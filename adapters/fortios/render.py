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
  directly from the policies' `dstaddr`; a larger one is one `addrgrp`. A rule whose sources or
  destination are left empty is left off the device, never widened.
- IPv6 (FortiOS 6.4 consolidated policy) is rendered alongside, in its own tables: a group's IPv6
  members become `address6` objects (`ipprefix` `/128`, shared by content) held by an `addrgrp6`
  (`src6:<key>`; the same one-member, union and over-the-limit forms as IPv4, without nesting by
  content or range collapsing); a destination's IPv6 networks become `ipprefix` address6 objects
  and its FQDNs `fqdn` address6 objects (`fqdn6:<name>`), referenced directly or through an
  addrgrp6 (`dst6:<key>`). A destination's IPv6 part is rendered only for rules whose source has
  IPv6 members.
- Groups hold at most `group_members` members (configuration, default 600); a larger group holds
  sub-groups that split its members by a stable hash, so one member change touches one sub-group.
- Port sets become `firewall.service/custom` objects named by their port ranges
  (`fc_<cluster>_ports_tcp-443_udp-8000-8100`), so equal port sets share one object.
- Names are unique per FortiOS name table (addresses and addrgrps share one; services; policies):
  each object claims its name for its identity (`ip:<content>`, `fqdn:<name>`, `src:<key>`,
  `dst:<key>`, a sub-group `<parent>#p<index>`, `ports:<content>`, the rule key) from a
  `NameSpace` (`adapters.base.naming.UniqueNames`), and a `Part` lists the identities it claimed.
- Rules become one policy each: srcaddr the source group's references, dstaddr the destination
  group or addresses (`all` for any), and likewise srcaddr6/dstaddr6 for IPv6; a family's pair is
  set only when both its lists are non-empty (else both are empty), and a rule with no pair of
  either family is left off. service the port object (`ALL` for any), action accept|deny,
  logtraffic all|disable, schedule always, status enable.
- Every object carries the owner mark as the first word of its `comment` (`comments` for policies).
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from typing import Protocol as Interface

from adapters.base.naming import PREFIX, NameRules, keyed_name, make_name, object_name, stable_hash
from adapters.fortios.known import KnownPieces, Piece, collapse
from connector.model import Action, CompiledRule, Destination, Identity, PortSet, Protocol, SourceGroup
from connector.netaddr import ipv4_int, ipv4_text
from connector.planner.types import DeviceObject

ADDRESS = "address"
ADDRGRP = "addrgrp"
ADDRESS6 = "address6"
ADDRGRP6 = "addrgrp6"
SERVICE = "service"
POLICY = "policy"
KIND_ORDER = (ADDRESS, ADDRESS6, ADDRGRP, ADDRGRP6, SERVICE, POLICY)
GROUP_KINDS = frozenset({ADDRGRP, ADDRGRP6})
ADDRESS_KIND = {ADDRGRP: ADDRESS, ADDRGRP6: ADDRESS6}  # the address kind a group kind holds

DEFAULT_GROUP_MEMBERS = 600
DIRECT_DESTINATION_ADDRESSES = 8  # a destination of at most this many addresses needs no addrgrp
COMMENT_MAX = 255
POLICY_COMMENTS_MAX = 1023

NAMES = NameRules(max_length=79, allowed="A-Za-z0-9_.:/@-", separator="_", replacement="-")
POLICY_NAMES = NameRules(max_length=35, allowed="A-Za-z0-9_.-", separator="_", replacement="-")

MEMO_SIZE = 1 << 16  # entries kept by the memoized (pure) piece naming across renders
SLOW_MEMO_SIZE = 1 << 12  # entries kept by the memoized parsing of addresses other than dotted quads

# address name -> (body, identities behind it, sorted and distinct) that one part of the state contributes
Addresses = dict[str, tuple[dict[str, Any], tuple[str, ...]]]
Member = tuple[str, str]  # (identity, name) of an addrgrp member
Behind = tuple[Identity, ...]  # the objects behind a host: the compiler's own tuple when one member holds it
_Host = TypeVar("_Host", int, str)  # an IPv4 host (integer) or an IPv6 one (compressed text)


class NameSpace(Interface):
    """Where objects claim their names (`adapters.base.naming.UniqueNames`)."""

    def acquire(self, ident: str, base: str) -> str: ...


class _Claims:
    """Claims names from `space`, remembering the identities claimed (a part's `claims`)."""

    def __init__(self, space: NameSpace) -> None:
        self.space = space
        self.idents: list[str] = []

    def __call__(self, ident: str, base: str) -> str:
        self.idents.append(ident)
        return self.space.acquire(ident, base)


@dataclass(frozen=True)
class PolicySettings:
    """Device-wide policy fields from the configuration."""

    srcintf: tuple[str, ...]
    dstintf: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """What one source group or destination renders to: its addrgrps (children first), the
    addresses it uses, the names a policy references it by (empty: not rendered) and their
    identities, the identities whose names it claimed (one entry per claim), and for a source
    group the piece each of its addresses covers. (The hosts a
    source group holds as address pieces, whose known pieces its rendering depends on, are the
    renderer's to find: they are not kept here.)"""

    objects: tuple[DeviceObject, ...] = ()
    addresses: Mapping[str, tuple[dict[str, Any], tuple[str, ...]]] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    ref_ids: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    pieces: tuple[Piece, ...] = ()  # a source group's address pieces, in the order of `addresses`

    @property
    def members(self) -> tuple[Member, ...]:
        """(identity, name) of each reference."""
        return tuple(zip(self.ref_ids, self.refs, strict=True))


EMPTY = Part()


def address_name(cluster: str, content: str) -> str:
    return object_name(cluster, "ip", content, NAMES)


@functools.lru_cache(maxsize=MEMO_SIZE)
def _piece_address(cluster: str, piece: Piece) -> tuple[str, str, str, str]:
    """(identity, preferred name, first address, last address) of the address covering `piece`."""
    start, end = (ipv4_text(v) for v in piece)
    content = start if start == end else f"{start}-{end}"
    return "ip:" + content, address_name(cluster, content), start, end


def _ipv4(address: str) -> int | None:
    """The integer of an IPv4 address text; None for IPv6. A plain dotted quad is read by the fast
    path (nothing kept: a cache of every pod address would cost more memory than it saves time)."""
    fast = ipv4_int(address)
    return fast if fast is not None else _other_ipv4(address)


@functools.lru_cache(maxsize=SLOW_MEMO_SIZE)
def _other_ipv4(address: str) -> int | None:
    ip = ipaddress.ip_address(address)
    return int(ip) if ip.version == 4 else None


def ipmask_body(cidr: str, mark: str) -> dict[str, Any]:
    return {"type": "ipmask", "subnet": cidr, "comment": mark}


def ipprefix_body(cidr: str, mark: str) -> dict[str, Any]:
    """An address6 covering the IPv6 network `cidr` (`a:b::/n`, compressed)."""
    return {"type": "ipprefix", "ip6": cidr, "comment": mark}


def _comment(mark: str, text: str, limit: int = COMMENT_MAX) -> str:
    return f"{mark} {text}"[:limit]


def group_objects(ident: str, base: str, members: Sequence[Member], comment: str, mark: str,
                  identities: tuple[str, ...], names: Callable[[str, str], str],
                  limit: int = DEFAULT_GROUP_MEMBERS, salt: str = "",
                  kind: str = ADDRGRP) -> list[DeviceObject]:
    """One group of `kind` (addrgrp or addrgrp6) for identity `ident` (preferred name `base`)
    holding `members`, or a tree of them when `members` exceed `limit` (`split_group`, then the
    parent). Names come from `names(ident, base)`."""
    if len(members) <= limit:
        body = {"member": sorted(name for _, name in members), "comment": comment}
        return [DeviceObject(kind, names(ident, base), body, mark, identities)]
    out, children = split_group(ident, base, members, comment, mark, identities, names, limit, salt, kind)
    return out + group_objects(ident, base, children, comment, mark, identities, names, limit, kind=kind)


def split_group(ident: str, base: str, members: Sequence[Member], comment: str, mark: str,
                identities: tuple[str, ...], names: Callable[[str, str], str], limit: int,
                salt: str = "", kind: str = ADDRGRP) -> tuple[list[DeviceObject], list[Member]]:
    """The sub-groups of a group whose `members` exceed `limit` (children first) and the
    (identity, name) of the top ones. A member's sub-group is chosen by a stable hash of its
    identity (salted below the top, so a sub-group that is still too large splits differently),
    so the split never depends on names."""
    # average members per sub-group when a group is split: a sub-group's size varies by about the
    # square root of its mean, so four of those stay below the limit (an overflowing one splits)
    fill = max(2, limit * 2 // 3, limit - 4 * math.isqrt(limit))
    count = 1
    while count * fill < len(members) and count * 2 <= limit:
        count *= 2
    buckets: dict[int, list[Member]] = {}
    for member in members:
        buckets.setdefault(int(stable_hash(salt + member[0], 8), 16) % count, []).append(member)
    if len(buckets) == 1:  # every member hashed alike: split by position instead
        ordered = sorted(members)
        buckets = {index: ordered[index::count] for index in range(count)}
    out: list[DeviceObject] = []
    children: list[Member] = []
    for index in sorted(buckets):
        child, child_base = f"{ident}#p{index}", make_name([base, f"p{index}"], NAMES)
        made = group_objects(child, child_base, buckets[index], comment, mark, identities, names, limit,
                             child + ":", kind)
        children.append((child, made[-1].name))
        out.extend(made)
    return out, children


# --- sources ---------------------------------------------------------------------------------------
def is_union(group: SourceGroup) -> bool:
    """A group that includes others by reference (never expanded into hosts, never nested)."""
    return bool(group.includes) or group.purpose == "union"


def _hosts(group: SourceGroup, host_of: Callable[[str], _Host | None]) -> dict[_Host, Behind]:
    """The group's own hosts that `host_of` reads (None: another family), each with the objects
    behind it. A host held by one member keeps that member's own tuple (no copy)."""
    behind: dict[_Host, Behind] = {}
    for address, identities in group.members:
        host = host_of(address)
        if host is not None:
            found = behind.get(host)
            behind[host] = identities if found is None else found + identities
    return behind


def source_hosts(group: SourceGroup) -> dict[int, Behind]:
    """The group's own IPv4 hosts, each with the objects behind it (IPv6 is left out). A host held
    by one member keeps that member's own tuple (no copy)."""
    return _hosts(group, _ipv4)


def source_hosts_after(old: SourceGroup, behind: dict[int, Behind],
                       new: SourceGroup) -> tuple[dict[int, Behind], set[int] | None]:
    """`source_hosts(new)`, given `behind == source_hosts(old)` (updated in place and returned),
    and the hosts whose objects changed (None: any may have). Only the members that are not the
    very same objects in both are parsed (the compiler keeps an unchanged pod's member tuple), so
    a change of a few members costs a walk over the member tuples, not a parse of every member."""
    if old.members is new.members:
        return behind, set()
    kept = {id(member) for member in new.members}
    gone = [member for member in old.members if id(member) not in kept]
    kept = {id(member) for member in old.members}
    came = [member for member in new.members if id(member) not in kept]
    if 2 * (len(gone) + len(came)) > len(new.members):
        return source_hosts(new), None
    touched: set[int] = set()
    for address, identities in gone:
        host = _ipv4(address)
        if host is not None:
            if behind.get(host) is not identities:  # a host held by several members: parse all
                return source_hosts(new), None
            del behind[host]
            touched.add(host)
    for address, identities in came:
        host = _ipv4(address)
        if host is not None:
            if host in behind:
                return source_hosts(new), None
            behind[host] = identities
            touched.add(host)
    return behind, touched


def _ipv6(address: str) -> str | None:
    """The compressed text of an IPv6 address; None for IPv4."""
    return None if ipv4_int(address) is not None else _other_ipv6(address)


@functools.lru_cache(maxsize=SLOW_MEMO_SIZE)
def _other_ipv6(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    return ip.compressed if ip.version == 6 else None


def source_hosts6(group: SourceGroup) -> dict[str, Behind]:
    """The group's own IPv6 hosts (compressed text), each with the objects behind it."""
    return _hosts(group, _ipv6)


def identity_texts(identities: Iterable[Identity]) -> tuple[str, ...]:
    """The identities' texts, sorted and distinct (an address's `identities`)."""
    return tuple(sorted({str(identity) for identity in identities}))


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


def render_source(group: SourceGroup, behind: Mapping[int, Behind], held: Iterable[Member],
                  remaining: frozenset[int], known: KnownPieces, mark: str, cluster: str,
                  limit: int, names: NameSpace, single: bool = True, previous: Part | None = None,
                  touched: Collection[int] | None = None) -> Part:
    """A source group holding the references `held` ((identity, name) pairs covering its hosts
    outside `remaining`; for a union: the references of its rendered included groups) plus address
    pieces for the hosts in `remaining` (keys of `behind`). EMPTY when it would hold nothing; with
    `single`, no addrgrp when it would hold one member (referenced by that member); a union split
    over `limit` is referenced by its sub-groups. `previous`: this group's part as rendered from
    the same `behind` except at the hosts `touched` (None: anywhere); a piece it had that holds no
    touched host keeps its body and identities (not made again from every host)."""
    claim = _Claims(names)
    addresses: Addresses = {}
    members = dict(held)
    reuse: dict[Piece, tuple[dict[str, Any], tuple[str, ...]]] = {}
    if previous is not None and touched is not None:
        reuse = dict(zip(previous.pieces, previous.addresses.values(), strict=True))
    pieces = tuple(collapse(remaining, known))
    for piece in pieces:
        ident, base, start, end = _piece_address(cluster, piece)
        name = claim(ident, base)
        entry = reuse.get(piece)
        if entry is None or any(piece[0] <= host <= piece[1] for host in touched or ()):
            body = (ipmask_body(f"{start}/32", mark) if start == end else
                    {"type": "iprange", "start-ip": start, "end-ip": end, "comment": mark})
            entry = body, identity_texts(i for host in range(piece[0], piece[1] + 1)
                                         for i in behind.get(host, ()))
        addresses[name] = entry
        members[ident] = name
    if not members:
        return EMPTY
    if len(members) == 1 and single:
        return Part((), addresses, tuple(members.values()), tuple(members), tuple(claim.idents), pieces)
    comment, identity = _source_comment(group, mark)
    ident, base = "src:" + group.key, source_group_name(cluster, group.key)
    if is_union(group) and len(members) > limit:  # split: policies and unions list the sub-groups
        objects, children = split_group(ident, base, tuple(members.items()), comment, mark, identity, claim,
                                        limit)
        return Part(tuple(objects), addresses, tuple(name for _, name in children),
                    tuple(child for child, _ in children), tuple(claim.idents), pieces)
    objects = group_objects(ident, base, tuple(members.items()), comment, mark, identity, claim, limit)
    return Part(tuple(objects), addresses, (objects[-1].name,), (ident,), tuple(claim.idents), pieces)


def render_source6(group: SourceGroup, behind: Mapping[str, Behind], held: Iterable[Member],
                   mark: str, cluster: str, limit: int, names: NameSpace, single: bool = True) -> Part:
    """The IPv6 side of a source group: an addrgrp6 holding `held` (a union's rendered included
    groups' IPv6 references) plus one address6 per own IPv6 host; EMPTY when it would hold nothing;
    with `single`, no addrgrp6 for one member; a union over `limit` is referenced by its sub-groups."""
    claim = _Claims(names)
    addresses: Addresses = {}
    members = dict(held)
    for host in sorted(behind):
        ident = "ip:" + host
        name = claim(ident, address_name(cluster, host))
        addresses[name] = (ipprefix_body(f"{host}/128", mark), identity_texts(behind[host]))
        members[ident] = name
    if not members:
        return EMPTY
    if len(members) == 1 and single:
        return Part((), addresses, tuple(members.values()), ref_ids=tuple(members),
                    claims=tuple(claim.idents))
    comment, identity = _source_comment(group, mark)
    ident, base = "src6:" + group.key, object_name(cluster, "src6", group.key, NAMES)
    if is_union(group) and len(members) > limit:
        objects, children = split_group(ident, base, tuple(members.items()), comment, mark, identity, claim,
                                        limit, kind=ADDRGRP6)
        return Part(tuple(objects), addresses, tuple(name for _, name in children),
                    ref_ids=tuple(child for child, _ in children), claims=tuple(claim.idents))
    objects = group_objects(ident, base, tuple(members.items()), comment, mark, identity, claim, limit,
                            kind=ADDRGRP6)
    return Part(tuple(objects), addresses, (objects[-1].name,), ref_ids=(ident,), claims=tuple(claim.idents))


# --- destinations and ports ------------------------------------------------------------------------
def render_destination(destination: Destination, mark: str, cluster: str, limit: int, names: NameSpace,
                       direct: int = DIRECT_DESTINATION_ADDRESSES, version: int = 4) -> Part:
    """A destination's addresses of IP `version` (4: address/addrgrp, 6: address6/addrgrp6; FQDNs
    in both), referenced directly when at most `direct`, else through a group."""
    identity = f"ExternalService/{destination.namespace}/{destination.name}"
    ids = (identity,)
    claim = _Claims(names)
    addresses: Addresses = {}
    members: dict[str, str] = {}
    full = 32 if version == 4 else 128
    for network in destination.networks:
        net = ipaddress.ip_network(network, strict=False)
        if net.version != version:
            continue
        content = str(net.network_address) if net.prefixlen == full else str(net)
        name = claim("ip:" + content, address_name(cluster, content))
        body = ipmask_body(str(net), mark) if version == 4 else ipprefix_body(str(net), mark)
        addresses[name] = (body, ids)
        members[name] = "ip:" + content
    tag = "fqdn" if version == 4 else "fqdn6"
    for fqdn in destination.fqdns:
        name = claim(f"{tag}:{fqdn}", object_name(cluster, tag, fqdn, NAMES))
        addresses[name] = ({"type": "fqdn", "fqdn": fqdn, "comment": mark}, ids)
        members[name] = f"{tag}:{fqdn}"
    if not addresses:
        return EMPTY
    if len(members) <= direct:
        refs = sorted(members)
        return Part((), addresses, tuple(refs), ref_ids=tuple(members[name] for name in refs),
                    claims=tuple(claim.idents))
    dst = "dst" if version == 4 else "dst6"
    ident = f"{dst}:{destination.key}"
    objects = tuple(group_objects(ident, object_name(cluster, dst, destination.key, NAMES),
                                  [(member, name) for name, member in members.items()],
                                  _comment(mark, f"destination {destination.namespace}/{destination.name}"),
                                  mark, (identity,), claim, limit,
                                  kind=ADDRGRP if version == 4 else ADDRGRP6))
    return Part(objects, addresses, (objects[-1].name,), ref_ids=(ident,), claims=tuple(claim.idents))


def port_ranges(port_set: PortSet) -> dict[str, str]:
    """`tcp-portrange`/`udp-portrange`/`sctp-portrange` strings of a port set ("" when none)."""
    out = {}
    for protocol, key in ((Protocol.TCP, "tcp-portrange"), (Protocol.UDP, "udp-portrange"),
                          (Protocol.SCTP, "sctp-portrange")):
        items = [str(r.start) if r.start == r.end else f"{r.start}-{r.end}"
                 for r in sorted(port_set.ranges) if r.protocol == protocol]
        out[key] = " ".join(items)
    return out


def render_service(port_set: PortSet, mark: str, cluster: str) -> tuple[str, str, dict[str, Any], str] | None:
    """(name identity, preferred name, body, identity) of the custom service for a port set; None
    when it has no ports. They depend on the port ranges only, so equal port sets share one object."""
    ranges = port_ranges(port_set)
    if not any(ranges.values()):
        return None
    content = "_".join(f"{key.split('-')[0]}-{item}"
                       for key, value in ranges.items() for item in value.split())
    body = {"protocol": "TCP/UDP/SCTP", **ranges,
            "comment": _comment(mark, "ports " + " ".join(f"{key.split('-')[0]} {value}"
                                                          for key, value in ranges.items() if value))}
    return ("ports:" + content, object_name(cluster, "ports", content, NAMES), body,
            f"ExternalService/{port_set.namespace}/{port_set.name}")


# --- policies --------------------------------------------------------------------------------------
def policy_name(cluster: str, rule: CompiledRule) -> str:
    """The preferred name of a rule's policy: `fc_<cluster>_<rule name>` shortened, then 10 hex
    digits of a hash of the rule's key (a rule name repeats across namespaces)."""
    return keyed_name([PREFIX, cluster, rule.origin.name], rule.key, POLICY_NAMES)


def render_policy(rule: CompiledRule, name: str, sources: Sequence[str], destinations: Sequence[str],
                  service: str, settings: PolicySettings, mark: str, sources6: Sequence[str] = (),
                  destinations6: Sequence[str] = ()) -> DeviceObject:
    """The policy of `rule`; each family's pair is kept only when both its lists are non-empty."""
    origin = rule.origin
    text = f"{origin} tier={origin.tier.value} priority={origin.priority} key={rule.key}"
    v4 = bool(sources) and bool(destinations)
    v6 = bool(sources6) and bool(destinations6)
    body = {"srcintf": list(settings.srcintf), "dstintf": list(settings.dstintf),
            "srcaddr": list(sources) if v4 else [], "dstaddr": list(destinations) if v4 else [],
            "srcaddr6": list(sources6) if v6 else [], "dstaddr6": list(destinations6) if v6 else [],
            "service": [service],
            "action": "accept" if rule.action is Action.ALLOW else "deny",
            "schedule": "always", "logtraffic": "all" if rule.logging else "disable", "status": "enable",
            "comments": _comment(mark, text, POLICY_COMMENTS_MAX)}
    identity = f"{origin.kind.value}/{origin.namespace}/{origin.name}" if origin.namespace \
        else f"{origin.kind.value}/{origin.name}"
    return DeviceObject(POLICY, name, body, mark, (identity,))


def references(obj: DeviceObject) -> list[tuple[str, str]]:
    """The (kind, name) refs an object's body points at (a member may be an address or a group)."""
    body: Mapping[str, Any] = obj.body
    names: list[str] = []
    names6: list[str] = []
    refs: list[tuple[str, str]] = []
    if obj.kind == ADDRGRP:
        names = list(body.get("member", ()))
    elif obj.kind == ADDRGRP6:
        names6 = list(body.get("member", ()))
    elif obj.kind == POLICY:
        names = list(body.get("srcaddr", ())) + list(body.get("dstaddr", ()))
        names6 = list(body.get("srcaddr6", ())) + list(body.get("dstaddr6", ()))
        refs.extend((SERVICE, name) for name in body.get("service", ()))
    for name in names:
        refs.extend(((ADDRESS, name), (ADDRGRP, name)))
    for name in names6:
        refs.extend(((ADDRESS6, name), (ADDRGRP6, name)))
    return refs
