"""First-match evaluation of a REST receiver's state, written from the protocol's rule semantics
(adapters/rest/openapi.yaml, "Rule semantics") and nothing else: it reads the `GET /state`
document exactly as a receiver serves it and shares no code with the adapter."""

from __future__ import annotations

import ipaddress
from typing import Any

from connector.evaluate import Probe


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _contains(entries: list[str], ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in entries)


def group_members(groups: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The members of group `name` and of every group it names in `groups`, recursively."""
    out: list[str] = []
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        out.extend(groups[current]["members"])
        pending.extend(groups[current].get("groups") or ())
    return out


def rule_matches(state: dict[str, Any], rule: dict[str, Any], probe: Probe) -> bool:
    groups = {g["name"]: g for g in state["groups"]}
    addresses = {a["name"]: a for a in state["addresses"]}
    services = {s["name"]: s for s in state["services"]}
    source = _ip(probe.source)
    if source is None or not _contains(group_members(groups, rule["source"]), source):
        return False
    if rule["destination"] is not None:
        address = addresses[rule["destination"]]
        destination = _ip(probe.destination)
        if destination is not None:
            if not _contains(address["networks"], destination):
                return False
        else:
            wanted = probe.destination.lower().rstrip(".")
            if wanted not in {f.lower().rstrip(".") for f in address["fqdns"]}:
                return False
    if rule["service"] is not None:
        protocol = probe.protocol.value.lower()
        if not any(p["protocol"] == protocol and p["start"] <= probe.port <= p["end"]
                   for p in services[rule["service"]]["ports"]):
            return False
    return True


def decide(state: dict[str, Any], probe: Probe) -> dict[str, Any] | None:
    """The first rule of the receiver's rulebase that matches `probe`, or None."""
    for rule in state["rules"]:
        if rule_matches(state, rule, probe):
            return rule
    return None
