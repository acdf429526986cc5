"""Fixed desired states for the F5 tests: every tier, IPv4 and IPv6, FQDNs, multi-protocol ports,
logging, and an empty source group."""

from __future__ import annotations

import itertools
from dataclasses import replace

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


def group(key: str, namespace: str, addresses: list[str], service: str = "") -> SourceGroup:
    members = tuple((a, (Identity("Pod", namespace, f"pod-{a.replace(':', '-')}"),)) for a in addresses)
    return SourceGroup(key=key, cluster=CLUSTER, namespace=namespace, members=members, service=service,
                       purpose="service" if service else "namespace")


def rule(key: str, kind: RuleKind, namespace: str, name: str, tier: Tier, source: str,
         destination: str | None, ports: str | None, action: Action, logging: bool = False) -> CompiledRule:
    return CompiledRule(key=key, origin=RuleOrigin(kind, namespace, name, tier, 100), source=source,
                        destination=destination, ports=ports, action=action, logging=logging)


def basic_state() -> DeviceState:
    groups = [
        group("ns/payments", "payments", ["10.0.0.1", "10.0.0.2", "fd00::1"]),
        group("svc/payments/api", "payments", ["10.0.0.1"], service="api"),
        group("ns/shop", "shop", ["10.0.0.7"]),
    ]
    destinations = [
        Destination("es/payments/stripe", "payments", "stripe", ("198.51.100.0/24", "2001:db8::1/128"),
                    ("api.stripe.com",)),
        Destination("es/payments/dns", "payments", "dns", ("192.0.2.53/32",)),
        Destination("es/fusion-system/tor-exits", "fusion-system", "tor-exits", ("203.0.113.0/24",)),
    ]
    port_sets = [
        PortSet("es/payments/stripe/ports", "payments", "stripe",
                (PortRange(Protocol.TCP, 443, 443), PortRange(Protocol.TCP, 8000, 8080))),
        PortSet("es/payments/dns/ports", "payments", "dns",
                (PortRange(Protocol.TCP, 53, 53), PortRange(Protocol.UDP, 53, 53))),
    ]
    rules = (
        rule("c/tor", RuleKind.CLUSTER, "", "block-tor", Tier.ADMIN, "ns/payments",
             "es/fusion-system/tor-exits", None, Action.DENY, logging=True),
        rule("s/api-stripe", RuleKind.SERVICE, "payments", "api-to-stripe", Tier.NAMESPACE,
             "svc/payments/api", "es/payments/stripe", "es/payments/stripe/ports", Action.ALLOW),
        rule("n/dns", RuleKind.NAMESPACE, "payments", "dns", Tier.NAMESPACE, "ns/payments",
             "es/payments/dns", "es/payments/dns/ports", Action.ALLOW),
        rule("n/shop-any", RuleKind.NAMESPACE, "shop", "anything", Tier.NAMESPACE, "ns/shop", None, None,
             Action.ALLOW),
        rule("b/stripe-net", RuleKind.CLUSTER, "", "no-stripe-net", Tier.BASELINE, "ns/payments",
             "es/payments/stripe", None, Action.DENY),
        rule("d/payments", RuleKind.DEFAULT, "payments", "default", Tier.DEFAULT, "ns/payments", None, None,
             Action.DENY),
    )
    return DeviceState(device="bigip-dc1", cluster=CLUSTER, groups={g.key: g for g in groups},
                       destinations={d.key: d for d in destinations},
                       port_sets={p.key: p for p in port_sets}, rules=rules)


def with_empty_group(state: DeviceState) -> DeviceState:
    """`state` plus an Allow rule whose Service currently has no endpoint (must be left off)."""
    empty = group("svc/payments/batch", "payments", [], service="batch")
    allow_all = rule("s/batch", RuleKind.SERVICE, "payments", "batch-anywhere", Tier.NAMESPACE,
                     "svc/payments/batch", None, None, Action.ALLOW)
    return replace(state, groups={**state.groups, empty.key: empty},
                   rules=(state.rules[0], allow_all, *state.rules[1:]))


def with_pod(state: DeviceState, group_key: str, address: str) -> DeviceState:
    """`state` with one more pod in group `group_key`."""
    old = state.groups[group_key]
    members = (*old.members, (address, (Identity("Pod", old.namespace, "new-pod"),)))
    return replace(state, groups={**state.groups, group_key: replace(old, members=members)})


SOURCES = ["10.0.0.1", "10.0.0.2", "fd00::1", "10.0.0.7", "10.9.9.9"]
DESTINATIONS = ["api.stripe.com", "198.51.100.7", "2001:db8::1", "192.0.2.53", "203.0.113.5", "8.8.8.8",
                "example.com"]
PORTS = [(443, Protocol.TCP), (8080, Protocol.TCP), (8081, Protocol.TCP), (53, Protocol.UDP),
         (53, Protocol.TCP), (443, Protocol.UDP), (22, Protocol.SCTP)]


def basic_probes() -> list[Probe]:
    return [Probe(s, d, p, t) for s, d, (p, t) in itertools.product(SOURCES, DESTINATIONS, PORTS)]
