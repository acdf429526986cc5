"""Hand-written DeviceStates for the REST adapter tests."""

from __future__ import annotations

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


def group(key: str, namespace: str, *addresses: str, service: str = "") -> SourceGroup:
    members = tuple((a, (Identity("Pod", namespace, f"pod-{i}"),)) for i, a in enumerate(addresses))
    return SourceGroup(key=key, cluster="c1", namespace=namespace, members=members, service=service,
                       purpose="service" if service else "namespace")


def rule(key: str, source: str, destination: str | None, ports: str | None, action: Action,
         kind: RuleKind = RuleKind.SERVICE, tier: Tier = Tier.NAMESPACE,
         logging: bool = False) -> CompiledRule:
    namespace = "" if kind is RuleKind.CLUSTER else "payments"
    return CompiledRule(key, RuleOrigin(kind, namespace, key.split("/")[-1], tier, 100), source, destination,
                        ports, action, logging)


def payments_state(*, api_members: tuple[str, ...] = ("10.0.0.1", "10.0.0.2", "fd00::1"),
                   rules_reversed: bool = False) -> DeviceState:
    """Payments API may reach Stripe on 443; the namespace is denied everything else; an admin rule
    denies a blocked network to everyone."""
    groups = [group("svc/payments/api", "payments", *api_members, service="api"),
              group("ns/payments", "payments", *api_members, "10.0.0.3")]
    destinations = [Destination("es/payments/stripe", "payments", "stripe", ("198.51.100.0/24",),
                                ("api.stripe.com",)),
                    Destination("es/fusion-system/blocked", "fusion-system", "blocked", ("203.0.113.0/24",))]
    ports = [PortSet("es/payments/stripe/ports", "payments", "stripe", (PortRange(Protocol.TCP, 443, 443),))]
    rules = [
        rule("ClusterEgressRule/block", "ns/payments", "es/fusion-system/blocked", None, Action.DENY,
             kind=RuleKind.CLUSTER, tier=Tier.ADMIN, logging=True),
        rule("ServiceEgressRule/payments/allow-stripe", "svc/payments/api", "es/payments/stripe",
             "es/payments/stripe/ports", Action.ALLOW),
        rule("DefaultAction/payments/default", "ns/payments", None, None, Action.DENY, kind=RuleKind.DEFAULT,
             tier=Tier.DEFAULT),
    ]
    if rules_reversed:
        rules = [rules[0], rules[2], rules[1]]
    return DeviceState(device="soc", cluster="c1", groups={g.key: g for g in groups},
                       destinations={d.key: d for d in destinations}, port_sets={p.key: p for p in ports},
                       rules=tuple(rules))


PAYMENTS_PROBES = [
    Probe("10.0.0.1", "198.51.100.7", 443),
    Probe("10.0.0.1", "api.stripe.com", 443),
    Probe("10.0.0.1", "API.Stripe.com.", 443),
    Probe("fd00::1", "198.51.100.7", 443),
    Probe("10.0.0.1", "198.51.100.7", 80),
    Probe("10.0.0.1", "198.51.100.7", 443, Protocol.UDP),
    Probe("10.0.0.3", "198.51.100.7", 443),
    Probe("10.0.0.1", "203.0.113.9", 443),
    Probe("10.0.0.9", "198.51.100.7", 443),
    Probe("10.0.0.2", "example.com", 443),
]
