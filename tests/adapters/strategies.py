"""Hypothesis strategies for adapter conformance tests: valid `DeviceState`s and probes that hit them.

- `device_states()`: groups (IPv4 and IPv6 members, never empty), destinations (IPv4/IPv6 networks
  and FQDNs, never empty), port sets (TCP/UDP ranges, sorted and merged, never empty) and ordered
  rules referencing them (Allow/Deny, any destination, any port, logging), drawn from small
  address pools so that groups overlap and rules shadow each other.
- `probes(state)`: probes that mostly hit the state's members, networks, FQDNs and port bounds,
  with some outsiders.
- `states_with_probes()`: a state and a list of probes for it.
"""

from __future__ import annotations

import ipaddress
import re

from hypothesis import strategies as st

from connector.evaluate import Probe
from connector.model import (
    Action,
    CompiledRule,
    Destination,
    DeviceState,
    Identity,
    PortRange,
    PortSet,
    Protocol,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)

CLUSTER = "c1"
NAMESPACES = ("payments", "shop", "ops")
SOURCE_POOL = tuple(f"10.0.0.{i}" for i in range(1, 13)) + tuple(f"fd00::{i:x}" for i in range(1, 7))
OUTSIDE_SOURCES = ("10.9.9.9", "fd00::ff")
NETWORK_POOL = ("192.0.2.0/28", "192.0.2.8/29", "192.0.2.9/32", "198.51.100.0/24", "198.51.100.77/32",
                "203.0.113.0/30", "2001:db8::/64", "2001:db8::5/128", "2001:db8:1::/48", "0.0.0.0/0")
FQDN_POOL = ("api.stripe.com", "example.com", "db.internal.example", "s3.eu-west-1.amazonaws.com")
OUTSIDE_DESTINATIONS = ("100.64.0.1", "2001:db8:ff::1", "unknown.example", "stripe.com")
PORT_EDGES = (1, 22, 53, 80, 443, 8080, 8443, 65535)

_ORIGINS = (
    (RuleKind.CLUSTER, "", Tier.ADMIN),
    (RuleKind.SERVICE, "payments", Tier.NAMESPACE),
    (RuleKind.NAMESPACE, "shop", Tier.NAMESPACE),
    (RuleKind.ANNOTATION, "ops", Tier.NAMESPACE),
    (RuleKind.CLUSTER, "", Tier.BASELINE),
    (RuleKind.DEFAULT, "payments", Tier.DEFAULT),
)


@st.composite
def source_groups(draw: st.DrawFn, index: int) -> SourceGroup:
    namespace = draw(st.sampled_from(NAMESPACES))
    addresses = sorted(draw(st.sets(st.sampled_from(SOURCE_POOL), min_size=1, max_size=6)),
                       key=lambda a: ipaddress.ip_address(a).packed)
    members = tuple((address, (Identity("Pod", namespace, "pod-" + re.sub(r"[.:]", "-", address)),))
                    for address in addresses)
    service = draw(st.sampled_from(("", "api", "web")))
    return SourceGroup(key=f"{'svc' if service else 'ns'}/{namespace}/{service or 'all'}/{index}",
                       cluster=CLUSTER, namespace=namespace, members=members, service=service,
                       purpose="service" if service else "namespace")


@st.composite
def destinations(draw: st.DrawFn, index: int) -> Destination:
    networks = draw(st.sets(st.sampled_from(NETWORK_POOL), max_size=3))
    fqdns = draw(st.sets(st.sampled_from(FQDN_POOL), min_size=0 if networks else 1, max_size=2))
    canonical = sorted({str(ipaddress.ip_network(n, strict=False)) for n in networks})
    namespace = draw(st.sampled_from(NAMESPACES))
    return Destination(key=f"es/{namespace}/ext-{index}", namespace=namespace, name=f"ext-{index}",
                       networks=tuple(canonical), fqdns=tuple(sorted(fqdns)))


def _merge(ranges: list[PortRange]) -> tuple[PortRange, ...]:
    out: list[PortRange] = []
    for item in sorted(ranges):
        last = out[-1] if out else None
        if last is not None and last.protocol == item.protocol and item.start <= last.end + 1:
            out[-1] = PortRange(last.protocol, last.start, max(last.end, item.end))
        else:
            out.append(item)
    return tuple(out)


@st.composite
def port_ranges(draw: st.DrawFn) -> PortRange:
    protocol = draw(st.sampled_from((Protocol.TCP, Protocol.TCP, Protocol.UDP)))
    start = draw(st.sampled_from(PORT_EDGES) | st.integers(1, 65535))
    end = draw(st.sampled_from((start, start, min(65535, start + draw(st.integers(1, 1000))))))
    return PortRange(protocol, start, end)


@st.composite
def port_sets(draw: st.DrawFn, index: int) -> PortSet:
    namespace = draw(st.sampled_from(NAMESPACES))
    ranges = _merge(draw(st.lists(port_ranges(), min_size=1, max_size=3)))
    return PortSet(key=f"es/{namespace}/ext-{index}/ports", namespace=namespace, name=f"ext-{index}",
                   ranges=ranges)


@st.composite
def device_states(draw: st.DrawFn, device: str = "dev", max_rules: int = 8) -> DeviceState:
    """A valid DeviceState: every rule references objects present in it."""
    groups = [draw(source_groups(i)) for i in range(draw(st.integers(1, 4)))]
    dests = [draw(destinations(i)) for i in range(draw(st.integers(0, 4)))]
    ports = [draw(port_sets(i)) for i in range(draw(st.integers(0, 3)))]
    rules = []
    for index in range(draw(st.integers(1, max_rules))):
        kind, namespace, tier = draw(st.sampled_from(_ORIGINS))
        name = f"rule-{index}"
        origin = RuleOrigin(kind, namespace, name, tier, draw(st.integers(0, 1000)))
        destination = draw(st.none() | st.sampled_from(dests)) if dests else None
        port_set = draw(st.none() | st.sampled_from(ports)) if ports else None
        rules.append(CompiledRule(
            key=f"{kind.value}/{namespace or '-'}/{name}/{index}", origin=origin,
            source=draw(st.sampled_from(groups)).key,
            destination=destination.key if destination else None,
            ports=port_set.key if port_set else None,
            action=draw(st.sampled_from((Action.ALLOW, Action.DENY))),
            logging=draw(st.booleans())))
    used_groups = {r.source for r in rules}
    used_dests = {r.destination for r in rules}
    used_ports = {r.ports for r in rules}
    return DeviceState(
        device=device, cluster=CLUSTER,
        groups={g.key: g for g in groups if g.key in used_groups or draw(st.booleans())},
        destinations={d.key: d for d in dests if d.key in used_dests or draw(st.booleans())},
        port_sets={p.key: p for p in ports if p.key in used_ports or draw(st.booleans())},
        rules=tuple(rules))


def _hosts_in(network: str) -> list[str]:
    net = ipaddress.ip_network(network)
    hosts = [net.network_address, net.broadcast_address]
    if net.num_addresses > 2:
        hosts.append(net.network_address + 1)
    return [str(h) for h in hosts]


@st.composite
def probes(draw: st.DrawFn, state: DeviceState) -> Probe:
    """A probe that usually hits something in `state`."""
    members = sorted({a for g in state.groups.values() for a in g.addresses})
    source = draw(st.sampled_from(members) if members and draw(st.integers(0, 9)) else
                  st.sampled_from(OUTSIDE_SOURCES + SOURCE_POOL))
    inside = sorted({h for d in state.destinations.values() for n in d.networks for h in _hosts_in(n)}
                    | {f for d in state.destinations.values() for f in d.fqdns})
    destination = draw(st.sampled_from(inside) if inside and draw(st.integers(0, 4)) else
                       st.sampled_from(OUTSIDE_DESTINATIONS + FQDN_POOL))
    edges = sorted({(p, r.protocol) for s in state.port_sets.values() for r in s.ranges
                    for p in (r.start, r.end, max(1, r.start - 1), min(65535, r.end + 1))})
    if edges and draw(st.integers(0, 3)):
        port, protocol = draw(st.sampled_from(edges))
    else:
        port = draw(st.sampled_from(PORT_EDGES) | st.integers(1, 65535))
        protocol = draw(st.sampled_from((Protocol.TCP, Protocol.UDP, Protocol.SCTP)))
    return Probe(source=source, destination=destination, port=port, protocol=protocol)


@st.composite
def states_with_probes(draw: st.DrawFn, max_probes: int = 30) -> tuple[DeviceState, list[Probe]]:
    state = draw(device_states())
    return state, draw(st.lists(probes(state), min_size=1, max_size=max_probes))
