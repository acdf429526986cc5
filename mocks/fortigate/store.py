"""The configuration database of the FortiGate mock: per-VDOM tables with FortiOS validation.

Contract (mirrors FortiOS 6.4 cmdb behaviour, see `docs/adapters.md`):
- Tables: `firewall/address`, `firewall/addrgrp`, `firewall/address6`, `firewall/addrgrp6`,
  `firewall.service/custom`, `firewall/policy`. Names are unique per table (`-5` duplicate on
  create), the addresses and groups of one family sharing one namespace (an address named like a
  group, or a group like an address: `-163`; IPv4 and IPv6 names are separate, `all` is in both);
  policies are a list kept in evaluation order, `policyid` assigned on create when absent or 0,
  policy names required and unique per VDOM. Predefined: addresses and IPv6 addresses `all` and
  `none`, services `ALL`, `HTTPS`, `DNS`, schedules `always`/`none`, the interfaces given at start.
- IPv6 (FortiOS 6.4 consolidated policy): `address6` is `ipprefix` (`ip6`, default type),
  `iprange` or `fqdn`; `addrgrp6` members are IPv6 addresses and groups. A policy holds an IPv4
  pair (`srcaddr` and `dstaddr`, names of address/addrgrp) and/or an IPv6 pair (`srcaddr6` and
  `dstaddr6`, names of address6/addrgrp6): a list of a pair without the other is `-20`, a policy
  with neither pair is `-20` (`srcaddr` is required); an IPv6-only policy reads back with empty
  `srcaddr`/`dstaddr`, every policy with all four lists.
- Limits: names ≤ 79, policy names ≤ 35, `comment` ≤ 255, policy `comments` ≤ 1023, addrgrp
  members ≤ 600 (`-1` invalid length). Table sizes (`table_sizes`, table → most entries, every
  entry counted, predefined ones included): a create in a full table fails with `-4` (maximum
  number of entries reached); updates and deletes are unaffected.
- Referential integrity: addrgrp members and policy addresses must exist (`-3`); services too;
  deleting an object still referenced fails with `-23`; a collection purge deletes only
  unreferenced entries and keeps the predefined ones (`PREDEFINED`).
- Subnets are stored and returned as `a.b.c.d m.m.m.m` whatever form was written; `ip6` as
  `address/prefix` in compressed lowercase (`2001:db8::/64`; a bare address is `/128`).
- Cost: a write costs O(its entry) whatever the table sizes (as on a FortiGate): policies are
  indexed by id and name, references counted (a delete scans for its referrers only when some
  remain, to name them).
Failures raise `CmdbError(http_status, error_code, message)`.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ADDRESS = "firewall/address"
ADDRGRP = "firewall/addrgrp"
ADDRESS6 = "firewall/address6"
ADDRGRP6 = "firewall/addrgrp6"
SERVICE = "firewall.service/custom"
POLICY = "firewall/policy"
TABLES = (ADDRESS, ADDRGRP, ADDRESS6, ADDRGRP6, SERVICE, POLICY)
# address table -> (group table, policy source list, policy destination list), per family
FAMILIES = {ADDRESS: (ADDRGRP, "srcaddr", "dstaddr"), ADDRESS6: (ADDRGRP6, "srcaddr6", "dstaddr6")}
ADDRESS_OF = {ADDRESS: ADDRESS, ADDRGRP: ADDRESS, ADDRESS6: ADDRESS6, ADDRGRP6: ADDRESS6}
GROUPS = frozenset({ADDRGRP, ADDRGRP6})
ADDRESS_LISTS = ("srcaddr", "dstaddr", "srcaddr6", "dstaddr6")

NAME_MAX = 79
POLICY_NAME_MAX = 35
COMMENT_MAX = 255
POLICY_COMMENTS_MAX = 1023
GROUP_MEMBERS_MAX = 600

SCHEDULES = frozenset({"always", "none", "default-darrell-schedule"})
DEFAULT_INTERFACES = ("any", "port1", "port2", "port3", "port4", "port5", "port6", "port7", "port8",
                      "internal", "wan1", "wan2", "dmz", "lan")

# error codes
E_INVALID_LENGTH = -1
E_NOT_FOUND = -3
E_TABLE_FULL = -4
E_DUPLICATE = -5
E_INVALID_IP = -8
E_INVALID_NETMASK = -9
E_BLANK = -20
E_IN_USE = -23
E_END_BEFORE_START = -73
E_ADDRESS_GROUP_NAME = -163
E_INVALID_PORT_RANGE = -363
E_INVALID_VALUE = -651

PREDEFINED = {ADDRESS: frozenset({"all", "none"}), ADDRESS6: frozenset({"all", "none"}),
              SERVICE: frozenset({"ALL", "HTTPS", "DNS"})}


class CmdbError(Exception):
    def __init__(self, http_status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


def _fail(code: int, message: str) -> CmdbError:
    return CmdbError(500, code, message)


def normalize_subnet(value: Any) -> str:
    """`a.b.c.d m.m.m.m` for the accepted input forms (`ip mask`, `ip/mask`, `ip/len`)."""
    if not isinstance(value, str):
        raise _fail(E_INVALID_IP, f"invalid subnet {value!r}")
    text = value.strip().replace(" ", "/", 1) if " " in value.strip() else value.strip()
    if "/" not in text:
        text += "/32"
    address, _, mask = text.partition("/")
    try:
        host = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise _fail(E_INVALID_IP, f"invalid subnet {value!r}") from exc
    try:
        network = ipaddress.IPv4Network(f"{host}/{mask}", strict=False)
    except ValueError as exc:
        raise _fail(E_INVALID_NETMASK, f"invalid netmask in subnet {value!r}") from exc
    return f"{host} {network.netmask}"


def normalize_ip6(value: Any) -> str:
    """`address/prefix` (compressed, lowercase) for `a:b::/n` or a bare address (`/128`)."""
    if not isinstance(value, str):
        raise _fail(E_INVALID_IP, f"invalid ip6 {value!r}")
    address, _, prefix = value.strip().partition("/")
    try:
        host = ipaddress.IPv6Address(address)
    except ValueError as exc:
        raise _fail(E_INVALID_IP, f"invalid ip6 {value!r}") from exc
    try:
        network = ipaddress.IPv6Network(f"{host}/{prefix or 128}", strict=False)
    except ValueError as exc:
        raise _fail(E_INVALID_NETMASK, f"invalid prefix length in ip6 {value!r}") from exc
    return f"{host.compressed}/{network.prefixlen}"


def _ipv6(value: Any, what: str) -> str:
    try:
        return ipaddress.IPv6Address(str(value)).compressed
    except ValueError as exc:
        raise _fail(E_INVALID_IP, f"invalid {what} {value!r}") from exc


def _ipv4(value: Any, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError as exc:
        raise _fail(E_INVALID_IP, f"invalid {what} {value!r}") from exc


def _check_length(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise _fail(E_INVALID_VALUE, f"{what} must be a string")
    if len(value) > limit:
        raise _fail(E_INVALID_LENGTH, f"{what} is longer than {limit} characters")
    return value


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list):
        raise _fail(E_INVALID_VALUE, f"{what} must be a list of {{\"name\": ...}}")
    out: list[str] = []
    seen: set[str] = set()
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(E_BLANK, f"{what}: entry without a name")
        _check_length(name, NAME_MAX, f"{what} name")
        if name in seen:
            raise _fail(E_DUPLICATE, f"{what}: duplicate entry {name!r}")
        seen.add(name)
        out.append(name)
    return out


def _name_list(names: list[str]) -> list[dict[str, str]]:
    return [{"name": n, "q_origin_key": n} for n in names]


@dataclass
class Vdom:
    """The tables of one VDOM. Named tables map name → entry; policies are an ordered list."""

    name: str
    interfaces: frozenset[str]
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    # group table -> group name -> member names
    _members: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    table_sizes: dict[str, int] = field(default_factory=dict)  # table -> most entries; shared, may change
    # indexes, so a write costs O(its entry) whatever the table sizes (as on a FortiGate):
    # policyid (text) -> policy, policy name -> policy, and (address table or SERVICE, name) -> how
    # many group members and policy lists reference it
    _policy_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    _policy_names: dict[str, dict[str, Any]] = field(default_factory=dict)
    _uses: Counter[tuple[str, str]] = field(default_factory=Counter)
    _top_policyid: int | None = None  # the highest policyid, None when to be worked out

    def __post_init__(self) -> None:
        for table in (ADDRESS, ADDRGRP, ADDRESS6, ADDRGRP6, SERVICE):
            self.tables.setdefault(table, {})
        for group in GROUPS:
            self._members.setdefault(group, {})
        self.tables[ADDRESS]["all"] = self._address_entry({"name": "all", "subnet": "0.0.0.0/0"})
        self.tables[ADDRESS]["none"] = self._address_entry({"name": "none", "subnet": "0.0.0.0/32"})
        self.tables[ADDRESS6]["all"] = self._address6_entry({"name": "all", "ip6": "::/0"})
        self.tables[ADDRESS6]["none"] = self._address6_entry({"name": "none", "ip6": "::/128"})
        self.tables[SERVICE]["ALL"] = self._service_entry({"name": "ALL", "protocol": "IP"})
        self.tables[SERVICE]["HTTPS"] = self._service_entry({"name": "HTTPS", "tcp-portrange": "443"})
        self.tables[SERVICE]["DNS"] = self._service_entry(
            {"name": "DNS", "tcp-portrange": "53", "udp-portrange": "53"})

    # --- reading -------------------------------------------------------------------------------
    def entries(self, table: str) -> list[dict[str, Any]]:
        if table == POLICY:
            return self.policies
        return list(self.tables[table].values())

    def get(self, table: str, mkey: str) -> dict[str, Any] | None:
        if table == POLICY:
            return self._policy_ids.get(mkey)
        return self.tables[table].get(mkey)

    def _count(self, table: str) -> int:
        return len(self.policies) if table == POLICY else len(self.tables[table])

    # --- references ----------------------------------------------------------------------------
    def _address_exists(self, name: str, family: str = ADDRESS) -> bool:
        """Whether `name` is an address or group of `family` (ADDRESS or ADDRESS6)."""
        return name in self.tables[family] or name in self.tables[FAMILIES[family][0]]

    def referrers(self, table: str, name: str) -> list[str]:
        """Descriptions of the entries that reference `name` of `table`."""
        out: list[str] = []
        family = ADDRESS_OF.get(table)
        if not self._uses[(family or table, name)]:
            return out
        if family is not None:
            group_table, src, dst = FAMILIES[family]
            kind = group_table.rpartition("/")[2]
            out.extend(f"{kind} {group}" for group, members in self._members[group_table].items()
                       if name in members)
            for policy in self.policies:
                if any(a["name"] == name for a in policy[src] + policy[dst]):
                    out.append(f"policy {policy['policyid']}")
        elif table == SERVICE:
            for policy in self.policies:
                if any(s["name"] == name for s in policy["service"]):
                    out.append(f"policy {policy['policyid']}")
        return out

    # --- writing -------------------------------------------------------------------------------
    def _check_room(self, table: str) -> None:
        size = self.table_sizes.get(table)
        if size is None:
            return
        used = self._count(table)
        if used >= size:
            raise _fail(E_TABLE_FULL,
                        f"Maximum number of entries has been reached ({table}: {used} of {size})")

    def create(self, table: str, body: dict[str, Any]) -> str | int:
        if table == POLICY:
            self._check_room(table)
            return self._create_policy(body)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(E_BLANK, "name is required")
        _check_length(name, NAME_MAX, "name")
        if name in self.tables[table]:
            raise _fail(E_DUPLICATE, f"object already exists (mkey='{name}')")
        if table in ADDRESS_OF and self._address_exists(name, ADDRESS_OF[table]):
            raise _fail(E_ADDRESS_GROUP_NAME, "Address names and address group names cannot be the same "
                                              f"(mkey='{name}')")
        self._check_room(table)
        entry = self._build(table, body, None)
        self._put(table, name, entry)
        return name

    def update(self, table: str, mkey: str, body: dict[str, Any]) -> str | int:
        current = self.get(table, mkey)
        if current is None:
            raise CmdbError(404, None, f"entry {mkey!r} not found")
        if table == POLICY:
            merged = {**current, **body, "policyid": current["policyid"]}
            entry = self._policy_entry(merged, current)
            self._index_policy(current, -1)
            current.clear()  # in place: the list keeps its order without a search
            current.update(entry)
            self._index_policy(current, +1)
            return int(current["policyid"])
        if "name" in body and body["name"] != mkey:
            raise _fail(E_INVALID_VALUE, "renaming through PUT is not supported by this mock")
        merged = {**current, **body}
        self._put(table, mkey, self._build(table, merged, current))
        return mkey

    def delete(self, table: str, mkey: str) -> str | int:
        current = self.get(table, mkey)
        if current is None:
            raise CmdbError(404, None, f"entry {mkey!r} not found")
        if table == POLICY:
            self._remove_policy(current)
            return int(current["policyid"])
        users = self.referrers(table, mkey)
        if users:
            raise _fail(E_IN_USE, f"The entry is used by other {len(users)} entries: {', '.join(users[:5])}")
        self._drop(table, mkey)
        return mkey

    def purge(self, table: str) -> int:
        """DELETE on a collection URL: remove every unreferenced entry (one pass)."""
        if table == POLICY:
            count = len(self.policies)
            for policy in self.policies:
                self._index_policy(policy, -1)
            self.policies.clear()
            return count
        kept = PREDEFINED.get(table, frozenset())
        doomed = [name for name in self.tables[table] if name not in kept and not self.referrers(table, name)]
        for name in doomed:
            self._drop(table, name)
        return len(doomed)

    def add_member(self, group: str, body: dict[str, Any], table: str = ADDRGRP) -> str:
        entry = self.tables[table].get(group)
        if entry is None:
            raise CmdbError(404, None, f"{table} {group!r} not found")
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(E_BLANK, "member name is required")
        members = [m["name"] for m in entry["member"]]
        if name in members:
            raise _fail(E_DUPLICATE, f"member already exists (mkey='{name}')")
        grown = {**entry, "member": _name_list([*members, name])}
        self._put(table, group, self._build(table, grown, entry))
        return name

    def delete_member(self, group: str, member: str, table: str = ADDRGRP) -> str:
        entry = self.tables[table].get(group)
        if entry is None or not any(m["name"] == member for m in entry["member"]):
            raise CmdbError(404, None, f"member {member!r} of {table} {group!r} not found")
        remaining = [m["name"] for m in entry["member"] if m["name"] != member]
        if not remaining:
            raise _fail(E_BLANK, f"{table} {group!r} cannot be left without members")
        entry["member"] = _name_list(remaining)
        self._put(table, group, entry)  # member sets and reference counts in step
        return member

    def move(self, policyid: str, before: str | None, after: str | None) -> int:
        policy = self.get(POLICY, policyid)
        if policy is None:
            raise CmdbError(404, None, f"policy {policyid} not found")
        target_id = before if before is not None else after
        target = self.get(POLICY, str(target_id)) if target_id is not None else None
        if target is None:
            raise _fail(E_NOT_FOUND, f"move target policy {target_id} not found")
        if target is policy:
            return int(policy["policyid"])
        self.policies.remove(policy)
        index = self.policies.index(target)
        self.policies.insert(index if before is not None else index + 1, policy)
        return int(policy["policyid"])

    def _put(self, table: str, name: str, entry: dict[str, Any]) -> None:
        self.tables[table][name] = entry
        if table in GROUPS:
            family = ADDRESS_OF[table]
            self._use(family, self._members[table].get(name, ()), -1)
            members = frozenset(m["name"] for m in entry["member"])
            self._members[table][name] = members
            self._use(family, members, +1)

    def _drop(self, table: str, name: str) -> None:
        del self.tables[table][name]
        if table in GROUPS:
            self._use(ADDRESS_OF[table], self._members[table].pop(name, ()), -1)

    def _use(self, table: str, names: Iterable[str], step: int) -> None:
        uses = self._uses
        for name in names:
            uses[(table, name)] += step

    def _index_policy(self, policy: dict[str, Any], step: int) -> None:
        """Count (step +1) or uncount (-1) the references of `policy`; index (or unindex) it by id
        and name."""
        for family, (_, src, dst) in FAMILIES.items():
            self._use(family, (a["name"] for a in policy[src] + policy[dst]), step)
        self._use(SERVICE, (s["name"] for s in policy["service"]), step)
        policyid = int(policy["policyid"])
        if step > 0:
            if self._top_policyid is not None and policyid > self._top_policyid:
                self._top_policyid = policyid
            self._policy_ids[str(policyid)] = policy
            self._policy_names[policy["name"]] = policy
        else:
            if policyid == self._top_policyid:
                self._top_policyid = None
            self._policy_ids.pop(str(policyid), None)
            self._policy_names.pop(policy["name"], None)

    def _max_policyid(self) -> int:
        """The highest policyid in use (0 when none), remembered until that policy goes."""
        if self._top_policyid is None:
            self._top_policyid = max((int(p["policyid"]) for p in self.policies), default=0)
        return self._top_policyid

    def _remove_policy(self, policy: dict[str, Any]) -> None:
        self.policies.remove(policy)
        self._index_policy(policy, -1)

    # --- validation ----------------------------------------------------------------------------
    def _build(self, table: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        if table == ADDRESS:
            return self._address_entry(body, current)
        if table == ADDRESS6:
            return self._address6_entry(body, current)
        if table in GROUPS:
            return self._addrgrp_entry(body, current, table)
        return self._service_entry(body, current)

    @staticmethod
    def _common(body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        comment = _check_length(body.get("comment", ""), COMMENT_MAX, "comment")
        color = body.get("color", 0)
        if not isinstance(color, int) or not 0 <= color <= 32:
            raise _fail(E_INVALID_VALUE, "color must be an integer 0-32")
        return {"name": body["name"], "q_origin_key": body["name"],
                "uuid": current["uuid"] if current else str(uuid.uuid4()),
                "comment": comment, "color": color}

    def _address_entry(self, body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = self._common(body, current)
        kind = body.get("type", "ipmask")
        entry.update({"type": kind, "associated-interface": "", "allow-routing": "disable",
                      "fabric-object": "disable", "subnet": "0.0.0.0 0.0.0.0",
                      "start-ip": "0.0.0.0", "end-ip": "0.0.0.0", "fqdn": ""})
        if kind == "ipmask":
            entry["subnet"] = normalize_subnet(body.get("subnet", "0.0.0.0 0.0.0.0"))
        elif kind == "iprange":
            entry.update(_ip_range(body, _ipv4, ipaddress.IPv4Address))
        elif kind == "fqdn":
            entry["fqdn"] = _fqdn(body)
        else:
            raise _fail(E_INVALID_VALUE, f"address type {kind!r} is not supported by this mock")
        return entry

    def _address6_entry(self, body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = self._common(body, current)
        kind = body.get("type", "ipprefix")
        entry.update({"type": kind, "ip6": "::/0", "start-ip": "::", "end-ip": "::", "fqdn": "",
                      "host-type": "any", "fabric-object": "disable"})
        if kind == "ipprefix":
            entry["ip6"] = normalize_ip6(body.get("ip6", "::/0"))
        elif kind == "iprange":
            entry.update(_ip_range(body, _ipv6, ipaddress.IPv6Address))
        elif kind == "fqdn":
            entry["fqdn"] = _fqdn(body)
        else:
            raise _fail(E_INVALID_VALUE, f"address6 type {kind!r} is not supported by this mock")
        return entry

    def _addrgrp_entry(self, body: dict[str, Any], current: dict[str, Any] | None = None,
                       table: str = ADDRGRP) -> dict[str, Any]:
        family = ADDRESS_OF[table]
        entry = self._common(body, current)
        members = _names(body.get("member", []), "member")
        if not members:
            raise _fail(E_BLANK, "member is required")
        if len(members) > GROUP_MEMBERS_MAX:
            raise _fail(E_INVALID_LENGTH, f"member has more than {GROUP_MEMBERS_MAX} entries")
        for member in members:
            if member == body["name"]:
                raise _fail(E_INVALID_VALUE, "a group cannot contain itself")
            if not self._address_exists(member, family):
                kinds = "address or addrgrp" if family == ADDRESS else "address6 or addrgrp6"
                raise _fail(E_NOT_FOUND, f"member {member!r} not found in {kinds}")
        if self._would_cycle(body["name"], members, table):
            raise _fail(E_INVALID_VALUE, "group nesting loop")
        if table == ADDRGRP:
            entry.update({"type": "default", "member": _name_list(members), "exclude": "disable",
                          "exclude-member": [], "allow-routing": "disable", "fabric-object": "disable"})
        else:
            entry.update({"member": _name_list(members), "fabric-object": "disable"})
        return entry

    def _would_cycle(self, name: str, members: list[str], table: str = ADDRGRP) -> bool:
        stack = list(members)
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current == name:
                return True
            if current in seen:
                continue
            seen.add(current)
            group = self.tables[table].get(current)
            if group:
                stack.extend(m["name"] for m in group["member"])
        return False

    def _service_entry(self, body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = self._common(body, current)
        protocol = body.get("protocol", "TCP/UDP/SCTP")
        if protocol not in ("TCP/UDP/SCTP", "IP", "ICMP", "ICMP6"):
            raise _fail(E_INVALID_VALUE, f"protocol {protocol!r} is not supported")
        entry.update({"protocol": protocol, "protocol-number": int(body.get("protocol-number", 0)),
                      "proxy": "disable", "category": "", "iprange": "0.0.0.0", "fqdn": ""})
        for key in ("tcp-portrange", "udp-portrange", "sctp-portrange"):
            value = body.get(key, "")
            if not isinstance(value, str):
                raise _fail(E_INVALID_VALUE, f"{key} must be a string")
            for item in value.split():
                _check_port_item(item, key)
            entry[key] = " ".join(value.split())
        if protocol == "TCP/UDP/SCTP" and not any(entry[k] for k in ("tcp-portrange", "udp-portrange",
                                                                      "sctp-portrange")):
            raise _fail(E_BLANK, "a TCP/UDP/SCTP service needs a port range")
        return entry

    def _create_policy(self, body: dict[str, Any]) -> int:
        policyid = body.get("policyid") or 0
        if not isinstance(policyid, int) or not 0 <= policyid <= 4294967294:
            raise _fail(E_INVALID_VALUE, "policyid must be an integer 0-4294967294")
        if policyid and self.get(POLICY, str(policyid)) is not None:
            raise _fail(E_DUPLICATE, f"object already exists (mkey='{policyid}')")
        if not policyid:
            policyid = self._max_policyid() + 1
        entry = self._policy_entry({**body, "policyid": policyid}, None)
        self.policies.append(entry)
        self._index_policy(entry, +1)
        return policyid

    def _policy_entry(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        name = _check_length(body.get("name", ""), POLICY_NAME_MAX, "name")
        if not name:
            raise _fail(E_BLANK, "policy name is required")
        holder = self._policy_names.get(name)
        if holder is not None and holder is not current:
            raise _fail(E_DUPLICATE, f"a policy named {name!r} already exists")
        comments = _check_length(body.get("comments", ""), POLICY_COMMENTS_MAX, "comments")
        lists: dict[str, list[str]] = {}
        for key in ("srcintf", "dstintf", *ADDRESS_LISTS, "service"):
            lists[key] = _names(body.get(key, []), key)
            if not lists[key] and key not in ADDRESS_LISTS:
                raise _fail(E_BLANK, f"{key} is required")
        for key in ("srcintf", "dstintf"):
            for item in lists[key]:
                if item not in self.interfaces:
                    raise _fail(E_NOT_FOUND, f"{key}: interface {item!r} not found")
        for family, (group_table, src, dst) in FAMILIES.items():
            if bool(lists[src]) != bool(lists[dst]):
                missing, present = (src, dst) if lists[dst] else (dst, src)
                raise _fail(E_BLANK, f"{missing} is required when {present} is set")
            for key in (src, dst):
                for item in lists[key]:
                    if not self._address_exists(item, family):
                        kinds = f"{family.rpartition('/')[2]} or {group_table.rpartition('/')[2]}"
                        raise _fail(E_NOT_FOUND, f"{key}: {item!r} not found in {kinds}")
        if not any(lists[key] for key in ADDRESS_LISTS):
            raise _fail(E_BLANK, "srcaddr is required (or srcaddr6 and dstaddr6)")
        for item in lists["service"]:
            if item not in self.tables[SERVICE]:
                raise _fail(E_NOT_FOUND, f"service {item!r} not found")
        choices = {"action": ("accept", "deny", "ipsec"), "logtraffic": ("all", "utm", "disable"),
                   "status": ("enable", "disable")}
        defaults = {"action": "deny", "logtraffic": "utm", "status": "enable"}
        entry: dict[str, Any] = {"policyid": int(body["policyid"]), "q_origin_key": int(body["policyid"]),
                                 "name": name, "uuid": current["uuid"] if current else str(uuid.uuid4()),
                                 "comments": comments}
        for key, allowed in choices.items():
            value = body.get(key, defaults[key])
            if value not in allowed:
                raise _fail(E_INVALID_VALUE, f"{key} must be one of {', '.join(allowed)}")
            entry[key] = value
        schedule = body.get("schedule", "")
        if schedule not in SCHEDULES:
            raise _fail(E_NOT_FOUND, f"schedule {schedule!r} not found")
        entry["schedule"] = schedule
        for key, names in lists.items():
            entry[key] = _name_list(names)
        entry.update({"nat": body.get("nat", "disable"), "srcaddr-negate": "disable",
                      "dstaddr-negate": "disable", "service-negate": "disable"})
        return copy.deepcopy(entry)


def _check_port_item(item: str, key: str) -> None:
    dst = item.split(":", 1)[0]
    bounds = dst.split("-", 1)
    try:
        low, high = int(bounds[0]), int(bounds[-1])
    except ValueError as exc:
        raise _fail(E_INVALID_PORT_RANGE, f"{key}: invalid port range {item!r}") from exc
    if not (0 <= low <= high <= 65535):
        raise _fail(E_INVALID_PORT_RANGE, f"{key}: invalid port range {item!r}")


def _ip_range(body: dict[str, Any], parse: Callable[[Any, str], str],
              address: Callable[[str], ipaddress.IPv4Address | ipaddress.IPv6Address]) -> dict[str, str]:
    """`start-ip`/`end-ip` of an iprange address of either family, in order."""
    start, end = parse(body.get("start-ip"), "start-ip"), parse(body.get("end-ip"), "end-ip")
    if address(start) > address(end):  # type: ignore[operator]
        raise _fail(E_END_BEFORE_START, "End IP cannot be smaller than the start IP")
    return {"start-ip": start, "end-ip": end}


def _fqdn(body: dict[str, Any]) -> str:
    """The `fqdn` of an fqdn address of either family."""
    fqdn: str = _check_length(body.get("fqdn", ""), 255, "fqdn")
    if not fqdn:
        raise _fail(E_BLANK, "fqdn is required")
    return fqdn
