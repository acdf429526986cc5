"""`?action=schema` of the served cmdb tables, in FortiOS's schema shape.

`table_schema(table)` is what `GET /api/v2/cmdb/<table>?action=schema` puts in `results`:
`{"name", "path", "category": "table", "help", "mkey", "mkey_type", "children": {field: ...}}`,
each child `{"name", "category": "unitary"|"table", "type", "help"}` plus, as the field has them,
`size` (longest string), `options` (`[{"name": value}]`), `min-value`/`max-value`, `max-entries`
(longest list) and `mkey` (of a child table). `tree_schema()` lists every served table's schema
(`GET /api/v2/cmdb?action=schema`). Field names, sizes, options and bounds follow the FortiOS
6.4.14 cmdb swagger for the fields this mock stores (`address6`/`addrgrp6`, absent from the
swagger subset at hand, follow the FortiOS 6.4 CLI reference); fortiosapi reads `mkey` from it.
"""

from __future__ import annotations

from typing import Any

from mocks.fortigate.store import ADDRESS, ADDRESS6, ADDRGRP, ADDRGRP6, POLICY, SERVICE

_ON_OFF = ("enable", "disable")


def _string(help_text: str, size: int | None = None, kind: str = "string") -> dict[str, Any]:
    out: dict[str, Any] = {"category": "unitary", "type": kind, "help": help_text}
    if size is not None:
        out["size"] = size
    return out


def _option(help_text: str, *options: str) -> dict[str, Any]:
    return {"category": "unitary", "type": "option", "help": help_text,
            "options": [{"name": value} for value in options]}


def _integer(help_text: str, low: int, high: int) -> dict[str, Any]:
    return {"category": "unitary", "type": "integer", "help": help_text, "min-value": low, "max-value": high}


def _names(help_text: str, max_entries: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"category": "table", "type": "", "help": help_text, "mkey": "name",
                           "mkey_type": "string",
                           "children": {"name": {"name": "name", **_string("Name.", 79)}}}
    if max_entries is not None:
        out["max-entries"] = max_entries
    return out


_COMMON: dict[str, dict[str, Any]] = {
    "uuid": _string("Universally Unique Identifier (UUID; automatically assigned but can be manually reset).",
                    kind="uuid"),
    "comment": _string("Comment.", 255, "var-string"),
    "color": _integer("Color of icon on the GUI.", 0, 32),
}

_TABLES: dict[str, tuple[str, str, str, dict[str, dict[str, Any]]]] = {
    ADDRESS: ("Configure IPv4 addresses.", "name", "string", {
        "name": _string("Address name.", 79),
        "uuid": _COMMON["uuid"],
        "type": _option("Type of address.", "ipmask", "iprange", "fqdn", "geography", "wildcard",
                        "dynamic", "interface-subnet", "mac"),
        "subnet": _string("IP address and subnet mask of address.", kind="ipv4-classnet-any"),
        "start-ip": _string("First IP address (inclusive) in the range for the address.",
                            kind="ipv4-address-any"),
        "end-ip": _string("Final IP address (inclusive) in the range for the address.",
                          kind="ipv4-address-any"),
        "fqdn": _string("Fully Qualified Domain Name address.", 255),
        "associated-interface": _string("Network interface associated with address.", 35),
        "allow-routing": _option("Enable/disable use of this address in the static route configuration.",
                                 *_ON_OFF),
        "fabric-object": _option("Security Fabric global object setting.", *_ON_OFF),
        "comment": _COMMON["comment"],
        "color": _COMMON["color"],
    }),
    ADDRGRP: ("Configure IPv4 address groups.", "name", "string", {
        "name": _string("Address group name.", 79),
        "uuid": _COMMON["uuid"],
        "type": _option("Address group type.", "default", "folder"),
        "member": _names("Address objects contained within the group.", 600),
        "exclude": _option("Enable/disable address exclusion.", *_ON_OFF),
        "exclude-member": _names("Address exclusion member."),
        "comment": _COMMON["comment"],
        "color": _COMMON["color"],
        "allow-routing": _option("Enable/disable use of this group in the static route configuration.",
                                 *_ON_OFF),
        "fabric-object": _option("Security Fabric global object setting.", *_ON_OFF),
    }),
    ADDRESS6: ("Configure IPv6 firewall addresses.", "name", "string", {
        "name": _string("Address name.", 79),
        "uuid": _COMMON["uuid"],
        "type": _option("Type of IPv6 address object.", "ipprefix", "iprange", "fqdn", "geography",
                        "dynamic", "template"),
        "ip6": _string("IPv6 address prefix (format: xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx/xxx).",
                       kind="ipv6-network"),
        "start-ip": _string("First IP address (inclusive) in the range for the address.",
                            kind="ipv6-address"),
        "end-ip": _string("Final IP address (inclusive) in the range for the address.", kind="ipv6-address"),
        "fqdn": _string("Fully qualified domain name.", 255),
        "host-type": _option("Host type.", "any", "specific"),
        "fabric-object": _option("Security Fabric global object setting.", *_ON_OFF),
        "comment": _COMMON["comment"],
        "color": _COMMON["color"],
    }),
    ADDRGRP6: ("Configure IPv6 address groups.", "name", "string", {
        "name": _string("IPv6 address group name.", 79),
        "uuid": _COMMON["uuid"],
        "member": _names("Address objects contained within the group.", 600),
        "comment": _COMMON["comment"],
        "color": _COMMON["color"],
        "fabric-object": _option("Security Fabric global object setting.", *_ON_OFF),
    }),
    SERVICE: ("Configure custom services.", "name", "string", {
        "name": _string("Custom service name.", 79),
        "protocol": _option("Protocol type based on IANA numbers.", "TCP/UDP/SCTP", "ICMP", "ICMP6", "IP",
                            "HTTP", "FTP", "CONNECT", "SOCKS-TCP", "SOCKS-UDP", "ALL"),
        "protocol-number": _integer("IP protocol number.", 0, 254),
        "tcp-portrange": _string("Multiple TCP port ranges.", kind="user"),
        "udp-portrange": _string("Multiple UDP port ranges.", kind="user"),
        "sctp-portrange": _string("Multiple SCTP port ranges.", kind="user"),
        "iprange": _string("Start and end of the IP range associated with service.", kind="user"),
        "fqdn": _string("Fully qualified domain name.", 255),
        "category": _string("Service category.", 63),
        "comment": _COMMON["comment"],
        "color": _COMMON["color"],
        "proxy": _option("Enable/disable web proxy service.", *_ON_OFF),
    }),
    POLICY: ("Configure IPv4 policies.", "policyid", "integer", {
        "policyid": _integer("Policy ID (0 - 4294967294).", 0, 4294967294),
        "name": _string("Policy name.", 35),
        "uuid": _COMMON["uuid"],
        "srcintf": _names("Incoming (ingress) interface."),
        "dstintf": _names("Outgoing (egress) interface."),
        "srcaddr": _names("Source IPv4 address and address group names."),
        "dstaddr": _names("Destination IPv4 address and address group names."),
        "srcaddr6": _names("Source IPv6 address name and address group names."),
        "dstaddr6": _names("Destination IPv6 address name and address group names."),
        "service": _names("Service and service group names."),
        "action": _option("Policy action (accept/deny/ipsec).", "accept", "deny", "ipsec"),
        "schedule": _string("Schedule name.", 35),
        "logtraffic": _option("Enable or disable logging. Log all sessions or security profile sessions.",
                              "all", "utm", "disable"),
        "status": _option("Enable or disable this policy.", *_ON_OFF),
        "comments": _string("Comment.", 1023, "var-string"),
        "nat": _option("Enable/disable source NAT.", *_ON_OFF),
        "srcaddr-negate": _option("When enabled srcaddr specifies what the source address must NOT be.",
                                  *_ON_OFF),
        "dstaddr-negate": _option("When enabled dstaddr specifies what the destination address must NOT be.",
                                  *_ON_OFF),
        "service-negate": _option("When enabled service specifies what the service must NOT be.", *_ON_OFF),
    }),
}


def table_schema(table: str) -> dict[str, Any]:
    """The schema of one served table (`KeyError` for a table the mock does not serve)."""
    help_text, mkey, mkey_type, fields = _TABLES[table]
    path, _, name = table.rpartition("/")
    children = {field: {"name": field, **spec} for field, spec in fields.items()}
    return {"name": name, "path": path, "category": "table", "help": help_text, "mkey": mkey,
            "mkey_type": mkey_type, "children": children}


def tree_schema() -> list[dict[str, Any]]:
    """The schemas of every served table, as `GET /api/v2/cmdb?action=schema` lists them."""
    return [table_schema(table) for table in _TABLES]
