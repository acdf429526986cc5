"""First-match evaluation of a compiled `DeviceState`: the decision the model says a device makes.

Conformance tests compare each device's own first-match decision (read back from the device) with
this one, and this one with a direct evaluator of DESIGN section 4.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from connector.model import CompiledRule, DeviceState, Protocol


@dataclass(frozen=True)
class Probe:
    """Traffic from `source` (an IP) to `destination` (an IP or an FQDN) on `port`/`protocol`."""

    source: str
    destination: str
    port: int
    protocol: Protocol = Protocol.TCP


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def rule_matches(state: DeviceState, rule: CompiledRule, probe: Probe) -> bool:
    """Whether `rule` matches `probe` on the device described by `state`."""
    source = ipaddress.ip_address(probe.source)
    if not any(ipaddress.ip_address(address) == source for address in state.group_addresses(rule.source)):
        return False
    if rule.destination is not None:
        destination = state.destinations[rule.destination]
        if _is_ip(probe.destination):
            ip = ipaddress.ip_address(probe.destination)
            if not any(ip in ipaddress.ip_network(net) for net in destination.networks):
                return False
        elif probe.destination.lower().rstrip(".") not in destination.fqdns:
            return False
    if rule.ports is not None:
        port_set = state.port_sets[rule.ports]
        if not any(r.protocol == probe.protocol and r.start <= probe.port <= r.end for r in port_set.ranges):
            return False
    return True


def decide(state: DeviceState, probe: Probe) -> CompiledRule | None:
    """The first rule of `state` that matches `probe`, or None (no decision by the connector)."""
    for rule in state.rules:
        if rule_matches(state, rule, probe):
            return rule
    return None
