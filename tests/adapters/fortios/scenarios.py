"""Hand-written DeviceStates for the FortiOS adapter tests."""

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

CLUSTER = "prod"


def pods(namespace: str, addresses: list[str]) -> tuple[tuple[str, tuple[Identity, ...]], ...]:
    return tuple((a, (Identity("Pod", namespace, "pod-" + a.replace(".", "-").replace(":", "-")),))
                 for a in addresses)


def group(key: str, namespace: str, addresses: list[str], service: str = "") -> SourceGroup:
    return SourceGroup(key, CLUSTER, namespace, pods(namespace, addresses), service=service,
                       purpose="service" if service else "namespace")


def rule(key: str, source: str, destination: str | None, ports: str | None, action: Action,
         kind: RuleKind = RuleKind.SERVICE, namespace: str = "payments",
         logging: bool = False) -> CompiledRule:
    tier = Tier.DEFAULT if kind is RuleKind.DEFAULT else Tier.NAMESPACE
    return CompiledRule(key, RuleOrigin(kind, namespace, key, tier, 100), source, destination, ports, action,
                        logging)


API = [f"10.244.1.{i}" for i in (2, 3, 4, 5, 9)] + ["fd00::10"]
SHOP = ["10.244.2.7", "10.244.2.8"]


def payments_state(api: list[str] | None = None, *, reverse: bool = False) -> DeviceState:
    """Service payments/api may reach Stripe (FQDN) on 443 and the DB network on 5432/8000-8080
    (logged), is denied the rest of 10.20.0.0/16, and the namespace default denies everything else;
    namespace shop may reach anything on UDP 53."""
    members = api if api is not None else API
    groups = {g.key: g for g in (group("svc/payments/api", "payments", members, "api"),
                                 group("ns/shop", "shop", SHOP))}
    destinations = {d.key: d for d in (
        Destination("es/payments/stripe", "payments", "stripe", (), ("api.stripe.com",)),
        Destination("es/payments/db", "payments", "db", ("10.20.30.0/24", "10.20.31.5/32", "2001:db8::/64")),
        Destination("es/payments/internal", "payments", "internal", ("10.20.0.0/16",)),
        Destination("es/payments/v6only", "payments", "v6only", ("2001:db8:1::/48",)),
    )}
    port_sets = {p.key: p for p in (
        PortSet("es/payments/stripe/ports", "payments", "stripe", (PortRange(Protocol.TCP, 443, 443),)),
        PortSet("es/payments/db/ports", "payments", "db",
                (PortRange(Protocol.TCP, 5432, 5432), PortRange(Protocol.TCP, 8000, 8080))),
        PortSet("es/shop/dns/ports", "shop", "dns", (PortRange(Protocol.UDP, 53, 53),)),
    )}
    rules = [
        rule("allow-stripe", "svc/payments/api", "es/payments/stripe", "es/payments/stripe/ports",
             Action.ALLOW),
        rule("allow-db", "svc/payments/api", "es/payments/db", "es/payments/db/ports", Action.ALLOW,
             logging=True),
        rule("deny-v6", "svc/payments/api", "es/payments/v6only", None, Action.DENY),
        rule("deny-internal", "svc/payments/api", "es/payments/internal", None, Action.DENY),
        rule("shop-dns", "ns/shop", None, "es/shop/dns/ports", Action.ALLOW, RuleKind.NAMESPACE, "shop"),
        rule("payments-default", "svc/payments/api", None, None, Action.DENY, RuleKind.DEFAULT),
    ]
    if reverse:
        rules[0], rules[3] = rules[3], rules[0]
    return DeviceState("fgt", CLUSTER, groups, destinations, port_sets, tuple(rules))


def payments_probes() -> list[Probe]:
    sources = ["10.244.1.2", "10.244.1.9", "10.244.1.6", "10.244.2.7", "10.9.9.9"]
    targets = [("api.stripe.com", 443, Protocol.TCP), ("api.stripe.com", 80, Protocol.TCP),
               ("10.20.30.40", 5432, Protocol.TCP), ("10.20.31.5", 8080, Protocol.TCP),
               ("10.20.31.6", 8080, Protocol.TCP), ("10.20.1.1", 22, Protocol.TCP),
               ("8.8.8.8", 53, Protocol.UDP), ("8.8.8.8", 53, Protocol.TCP),
               ("example.com", 443, Protocol.TCP)]
    return [Probe(s, d, p, t) for s in sources for d, p, t in targets]
