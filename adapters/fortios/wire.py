"""Translation between the planner's bodies and FortiOS JSON, both ways.

`to_wire` builds the request body for a create/update; `from_device` normalizes a cmdb entry into
the body `render` would produce (subnets `a.b.c.d m.m.m.m` → CIDR, `ip6` and IPv6 range ends →
compressed form, lists of `{"name"}` → names; a policy always has all four address lists),
and extracts the owner mark (the first word of `comment`/`comments` when it is a
`fusion-connector:` mark).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from adapters.fortios.render import ADDRESS, ADDRESS6, GROUP_KINDS, POLICY, SERVICE

MARK_PREFIX = "fusion-connector:"
POLICY_LISTS = ("srcintf", "dstintf", "srcaddr", "dstaddr", "srcaddr6", "dstaddr6", "service")
POLICY_SCALARS = ("action", "schedule", "logtraffic", "status", "comments")
PORT_KEYS = ("tcp-portrange", "udp-portrange", "sctp-portrange")


def owner_of(comment: Any) -> str | None:
    if not isinstance(comment, str):
        return None
    words = comment.split(maxsplit=1)
    return words[0] if words and words[0].startswith(MARK_PREFIX) else None


def subnet_to_cidr(subnet: str) -> str:
    """`10.0.0.0 255.255.0.0` (or `10.0.0.0/255.255.0.0`, `10.0.0.0/16`) → `10.0.0.0/16`."""
    text = subnet.strip().replace(" ", "/", 1)
    return str(ipaddress.IPv4Network(text if "/" in text else text + "/32", strict=False))


def cidr_to_subnet(cidr: str) -> str:
    network = ipaddress.IPv4Network(cidr, strict=False)
    return f"{network.network_address} {network.netmask}"


def normalize_ip6(value: str) -> str:
    """`2001:0DB8::/64` → `2001:db8::/64` (a bare address → `/128`); host bits are kept."""
    address, _, prefix = value.strip().partition("/")
    return f"{ipaddress.IPv6Address(address).compressed}/{int(prefix or 128)}"


def _ip6_text(value: Any) -> str:
    try:
        return ipaddress.IPv6Address(str(value)).compressed
    except ValueError:
        return str(value)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item.get("name", "")) for item in value if isinstance(item, dict)]


def from_device(kind: str, entry: Mapping[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """(name, normalized body, owner mark) of a cmdb entry of `kind`."""
    if kind == POLICY:
        body: dict[str, Any] = {key: _names(entry.get(key)) for key in POLICY_LISTS}
        body.update({key: entry.get(key, "") for key in POLICY_SCALARS})
        name = str(entry.get("name") or f"policyid-{entry.get('policyid')}")
        return name, body, owner_of(entry.get("comments"))
    name = str(entry.get("name", ""))
    comment = entry.get("comment", "")
    if kind == ADDRESS:
        kind_ = entry.get("type", "ipmask")
        body = {"type": kind_, "comment": comment}
        if kind_ == "ipmask":
            try:
                body["subnet"] = subnet_to_cidr(str(entry.get("subnet", "0.0.0.0 0.0.0.0")))
            except ValueError:
                body["subnet"] = str(entry.get("subnet"))
        elif kind_ == "iprange":
            body.update({"start-ip": entry.get("start-ip", ""), "end-ip": entry.get("end-ip", "")})
        elif kind_ == "fqdn":
            body["fqdn"] = entry.get("fqdn", "")
    elif kind == ADDRESS6:
        kind_ = entry.get("type", "ipprefix")
        body = {"type": kind_, "comment": comment}
        if kind_ == "ipprefix":
            try:
                body["ip6"] = normalize_ip6(str(entry.get("ip6", "::/0")))
            except ValueError:
                body["ip6"] = str(entry.get("ip6"))
        elif kind_ == "iprange":
            body.update({"start-ip": _ip6_text(entry.get("start-ip", "")),
                         "end-ip": _ip6_text(entry.get("end-ip", ""))})
        elif kind_ == "fqdn":
            body["fqdn"] = entry.get("fqdn", "")
    elif kind in GROUP_KINDS:
        body = {"member": sorted(_names(entry.get("member"))), "comment": comment}
    elif kind == SERVICE:
        body = {"protocol": entry.get("protocol", ""), "comment": comment}
        body.update({key: " ".join(str(entry.get(key, "")).split()) for key in PORT_KEYS})
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return name, body, owner_of(comment)


def to_wire(kind: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a POST/PUT for an object of `kind`."""
    if kind == POLICY:
        out: dict[str, Any] = {"name": name}
        for key in POLICY_LISTS:
            out[key] = [{"name": item} for item in body[key]]
        out.update({key: body[key] for key in POLICY_SCALARS})
        return out
    if kind == ADDRESS:
        out = {"name": name, "type": body["type"], "comment": body["comment"]}
        if body["type"] == "ipmask":
            out["subnet"] = cidr_to_subnet(body["subnet"])
        elif body["type"] == "iprange":
            out.update({"start-ip": body["start-ip"], "end-ip": body["end-ip"]})
        else:
            out["fqdn"] = body["fqdn"]
        return out
    if kind == ADDRESS6:
        out = {"name": name, "type": body["type"], "comment": body["comment"]}
        if body["type"] == "ipprefix":
            out["ip6"] = body["ip6"]
        elif body["type"] == "iprange":
            out.update({"start-ip": body["start-ip"], "end-ip": body["end-ip"]})
        else:
            out["fqdn"] = body["fqdn"]
        return out
    if kind in GROUP_KINDS:
        return {"name": name, "member": [{"name": m} for m in body["member"]], "comment": body["comment"]}
    if kind == SERVICE:
        return {"name": name, "protocol": body["protocol"], "comment": body["comment"],
                **{key: body.get(key, "") for key in PORT_KEYS}}
    raise ValueError(f"unknown kind {kind!r}")
