"""What a device holds, as lines of text for people: the objects an adapter's `read()` returned,
laid out the way each firewall family organises them (F5: address and port lists, then the
policy's rule lists in order; FortiOS: addresses, groups, services, then policies in evaluation
order; REST: groups, addresses, services, then rules in order). Objects without our owner mark
are shown as left alone. Rule numbers are the device's own: the rule's place in the BIG-IP
policy, the FortiGate policy's place in evaluation order and its policy ID (from `numbers`:
device object name -> the device's number, `Adapter.rule_numbers`), the rule's place in the REST
receiver's list. Pure: formatting only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from connector.planner import DeviceObject

MEMBERS_SHOWN = 4
NOT_OURS = "(not ours: left alone)"

Layout = Callable[[list[DeviceObject], str, Mapping[str, str]], list[str]]


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as left-aligned columns (the first row is the heading); trailing spaces trimmed."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip()
            for row in rows]


def members(items: Iterable[Any], limit: int = MEMBERS_SHOWN) -> str:
    """`a, b, c, d (+3 more)`; `-` when empty."""
    values = [str(item) for item in items]
    if not values:
        return "-"
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


def _section(title: str, heading: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    return [f"  {title}", *table([heading, *rows], indent="    ")]


def _of(objects: list[DeviceObject], kind: str) -> list[DeviceObject]:
    return [o for o in objects if o.kind == kind]


def _foreign_note(objects: list[DeviceObject], mark: str, shown: Iterable[str] = ()) -> list[str]:
    left = [o for o in objects if o.owner != mark and o.kind not in shown]
    if not left:
        return []
    return [f"  not ours, left alone: {members((f'{o.kind} {o.name}' for o in left), limit=8)}"]


# --- F5 BIG-IP (AS3) ----------------------------------------------------------------------------
def _uses(refs: Any) -> list[str]:
    return [str(ref.get("use")) for ref in refs or [] if isinstance(ref, Mapping)]


def _f5_rule(number: int, rule: Mapping[str, Any]) -> list[str]:
    destination = rule.get("destination") or {}
    addresses = _uses(destination.get("addressLists"))
    ports = _uses(destination.get("portLists"))
    return [str(number), str(rule.get("action")), str(rule.get("protocol")),
            members(_uses((rule.get("source") or {}).get("addressLists"))),
            members(addresses) if addresses else "any", members(ports) if ports else "any",
            "yes" if rule.get("loggingEnabled") else "", str(rule.get("remark", ""))]


def _f5(objects: list[DeviceObject], mark: str, _numbers: Mapping[str, str]) -> list[str]:
    ours = [o for o in objects if o.owner == mark]
    lines = [f"  tenant {o.name} (label {o.body.get('label')})" for o in _of(ours, "tenant")]
    lines += _section("address lists", ["name", "addresses", "remark"], [
        [o.name, members([*o.body.get("addresses", []), *o.body.get("fqdns", [])]),
         str(o.body.get("remark", ""))] for o in _of(ours, "address_list")])
    lines += _section("port lists", ["name", "ports"],
                      [[o.name, members(o.body.get("ports", []), limit=8)] for o in _of(ours, "port_list")])
    rule_lists = {o.name: o for o in _of(ours, "rule_list")}
    heading = ["rule #", "action", "proto", "source", "destination", "ports", "log", "from"]
    for policy in _of(ours, "policy"):
        order = _uses(policy.body.get("rules"))
        lines.append(f"  policy {policy.name}: rule lists {' → '.join(order)} "
                     "(rule #: the rule's place in the policy, as the BIG-IP evaluates it)")
        number = 0
        for name in order:
            rules = rule_lists[name].body.get("rules", []) if name in rule_lists else []
            rows = [_f5_rule(number + i, rule) for i, rule in enumerate(rules, 1)]
            number += len(rows)
            if not rows:
                lines.append(f"    {name}: no rules")
                continue
            lines.append(f"    {name} ({rule_lists[name].body.get('remark', '')})")
            lines += table([heading, *rows], indent="      ")
    for virtual in _of(ours, "virtual"):
        enforced = (virtual.body.get("policyFirewallEnforced") or {}).get("use")
        lines.append(f"  attached: virtual server {virtual.name} on "
                     f"{members(virtual.body.get('virtualAddresses', []))} enforces {enforced}")
    return lines + _foreign_note(objects, mark)


# --- FortiGate (FortiOS) ------------------------------------------------------------------------
def _fortios_address(body: Mapping[str, Any]) -> str:
    kind = body.get("type")
    if kind == "iprange":
        return f"range {body.get('start-ip')}-{body.get('end-ip')}"
    if kind == "fqdn":
        return f"fqdn {body.get('fqdn')}"
    return f"{kind} {body.get('subnet', '')}".strip()


def _fortios_ports(body: Mapping[str, Any]) -> str:
    parts = [f"{proto.upper()} {body[f'{proto}-portrange']}" for proto in ("tcp", "udp", "sctp")
             if body.get(f"{proto}-portrange")]
    return "; ".join(parts) or str(body.get("protocol", ""))


def _fortios(objects: list[DeviceObject], mark: str, numbers: Mapping[str, str]) -> list[str]:
    ours = [o for o in objects if o.owner == mark]
    lines = _section("addresses", ["name", "value"],
                     [[o.name, _fortios_address(o.body)] for o in _of(ours, "address")])
    lines += _section("address groups", ["name", "members"],
                      [[o.name, members(o.body.get("member", []))] for o in _of(ours, "addrgrp")])
    lines += _section("services", ["name", "ports"],
                      [[o.name, _fortios_ports(o.body)] for o in _of(ours, "service")])
    rows = [[str(i), numbers.get(o.name, "") if o.owner == mark else "",
             o.name if o.owner == mark else f"{o.name} {NOT_OURS}", str(o.body.get("action")),
             members(o.body.get("srcaddr", [])), members(o.body.get("dstaddr", [])),
             members(o.body.get("service", [])), "yes" if o.body.get("logtraffic") == "all" else ""]
            for i, o in enumerate(_of(objects, "policy"), 1)]
    lines += _section("policies in evaluation order (place, and the FortiGate's policy ID)",
                      ["place", "policy ID", "name", "action", "srcaddr", "dstaddr", "service", "log"], rows)
    return lines + _foreign_note(objects, mark, shown={"policy"})


# --- generic REST -------------------------------------------------------------------------------
def _rest_ports(body: Mapping[str, Any]) -> str:
    spans = []
    for port in body.get("ports", []):
        start, end = port.get("start"), port.get("end")
        spans.append(f"{str(port.get('protocol', '')).upper()} {start if start == end else f'{start}-{end}'}")
    return members(spans, limit=8)


def _rest(objects: list[DeviceObject], mark: str, _numbers: Mapping[str, str]) -> list[str]:
    ours = [o for o in objects if o.owner == mark]
    lines = _section("groups", ["name", "members"],
                     [[o.name, members(o.body.get("members", []))] for o in _of(ours, "group")])
    lines += _section("addresses", ["name", "networks and FQDNs"], [
        [o.name, members([*o.body.get("networks", []), *o.body.get("fqdns", [])])]
        for o in _of(ours, "address")])
    lines += _section("services", ["name", "ports"],
                      [[o.name, _rest_ports(o.body)] for o in _of(ours, "service")])
    rows = [[str(i), str(o.body.get("action")), str(o.body.get("source") or "any"),
             str(o.body.get("destination") or "any"), str(o.body.get("service") or "any"),
             "yes" if o.body.get("log") else "", str(o.body.get("description", ""))]
            for i, o in enumerate(_of(objects, "rule"), 1) if o.owner == mark]
    lines += _section("rules in order (rule #: place in the receiver's list, every owner's rules counted)",
                      ["rule #", "action", "source", "destination", "service", "log", "from"], rows)
    return lines + _foreign_note(objects, mark)


def _generic(objects: list[DeviceObject], mark: str, _numbers: Mapping[str, str]) -> list[str]:
    rows = [[o.kind, o.name, "ours" if o.owner == mark else "not ours"] for o in objects]
    return _section("objects", ["kind", "name", "owner"], rows)


_LAYOUTS: dict[str, Layout] = {"f5-as3": _f5, "fortios": _fortios, "rest": _rest}


def holdings_text(device_type: str, objects: list[DeviceObject], owner_mark: str,
                  numbers: Mapping[str, str] | None = None) -> list[str]:
    """Lines describing `objects` (as read from a device of `device_type`) for people; objects
    whose owner is not `owner_mark` are marked as left alone."""
    if not objects:
        return ["  (nothing)"]
    return _LAYOUTS.get(device_type, _generic)(objects, owner_mark, numbers or {})
