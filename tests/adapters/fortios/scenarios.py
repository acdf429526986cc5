"""Hand-written DeviceStates for the FortiOS adapter tests."""

from __future__ import annotations

import ipaddress

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


EDGE = [f"10.244.3.{i}" for i in (2, 3, 4, 10, 11, 20, 30)]
GATEWAY = ["10.244.3.2", "10.244.3.3", "10.244.3.10", "10.244.3.20"]
WEB = ["10.244.3.4", "10.244.3.11"]


def edge_state(extra: list[str] | None = None, gone: str | None = None) -> DeviceState:
    """Namespace edge and its Services gateway and web (each a subset of the namespace's group):
    gateway may reach Stripe on 443, a cluster rule lets the whole namespace resolve DNS, web is
    denied the internal network, and the namespace default denies the rest. `extra` pods join
    gateway (and so the namespace); `gone` leaves both."""
    gateway = [a for a in [*GATEWAY, *(extra or [])] if a != gone]
    namespace = [a for a in [*EDGE, *(extra or [])] if a != gone]
    groups = {g.key: g for g in (group("ns/edge", "edge", namespace),
                                 group("svc/edge/gateway", "edge", gateway, "gateway"),
                                 group("svc/edge/web", "edge", WEB, "web"))}
    destinations = {d.key: d for d in (
        Destination("es/edge/stripe", "edge", "stripe", (), ("api.stripe.com",)),
        Destination("es/edge/internal", "edge", "internal", ("10.20.0.0/16",)))}
    port_sets = {p.key: p for p in (
        PortSet("es/edge/stripe/ports", "edge", "stripe", (PortRange(Protocol.TCP, 443, 443),)),
        PortSet("es/edge/dns/ports", "edge", "dns", (PortRange(Protocol.UDP, 53, 53),)))}
    rules = (
        rule("dns", "ns/edge", None, "es/edge/dns/ports", Action.ALLOW, RuleKind.CLUSTER, ""),
        rule("gateway-stripe", "svc/edge/gateway", "es/edge/stripe", "es/edge/stripe/ports", Action.ALLOW,
             namespace="edge"),
        rule("web-internal", "svc/edge/web", "es/edge/internal", None, Action.DENY, namespace="edge"),
        rule("edge-default", "ns/edge", None, None, Action.DENY, RuleKind.DEFAULT, "edge"),
    )
    return DeviceState("fgt", CLUSTER, groups, destinations, port_sets, rules)


def edge_probes(extra: list[str] | None = None) -> list[Probe]:
    """Probes from edge's pods, from `extra` sources and from addresses of no group."""
    sources = [*EDGE, *(extra or []), "10.244.3.5", "10.244.3.40", "10.244.3.99", "10.9.9.9"]
    targets = [("api.stripe.com", 443, Protocol.TCP), ("10.20.1.1", 22, Protocol.TCP),
               ("8.8.8.8", 53, Protocol.UDP), ("8.8.8.8", 443, Protocol.TCP)]
    return [Probe(s, d, p, t) for s in sources for d, p, t in targets]


def nested_states() -> st.SearchStrategy[DeviceState]:
    """Groups drawn from one small pool (IPv4 and IPv6), a namespace group the union of others plus
    extra pods, so subsets, equal sets and overlaps are common; some groups are large (split)."""
    pool = [f"10.1.0.{i}" for i in range(1, 16)] + ["fd00::1", "fd00::2"]
    big = [str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.2.0.0")) + 2 * i)) for i in range(620)]

    @st.composite
    def build(draw: st.DrawFn) -> DeviceState:
        parts = draw(st.lists(st.sets(st.sampled_from(pool), min_size=1, max_size=6), min_size=1, max_size=5))
        extra = draw(st.sets(st.sampled_from(pool), max_size=3))
        large = draw(st.booleans())
        groups = [group(f"svc/ns/s{i}", "ns", sorted(part) + (big[: 300 * (i + 1)] if large else []), f"s{i}")
                  for i, part in enumerate(parts)]
        union = sorted(set().union(*parts, extra))
        groups.append(group("ns/ns", "ns", union + (big if large else [])))
        rules = tuple(rule(f"r{i}", g.key, None, None, Action.ALLOW if i % 2 else Action.DENY)
                      for i, g in enumerate(groups))
        return DeviceState("fgt", "prod", {g.key: g for g in groups}, {}, {}, rules)

    return build()


def nested_probes() -> list[Probe]:
    """For `nested_states`: a probe from every IPv4 pool address and its neighbours, from hosts of
    the large groups (first, middle, last, and one between them) and from an outsider."""
    sources = [f"10.1.0.{i}" for i in range(0, 17)] + ["10.2.0.0", "10.2.1.1", "10.2.2.150", "10.2.4.214",
                                                         "10.9.9.9"]
    return [Probe(source, "8.8.8.8", 53, Protocol.TCP) for source in sources]


def spread_state(pods: int, namespaces: int, *, block: int = 0, moved: tuple[int, ...] = (),
                 added: tuple[int, ...] = (), gaps: tuple[int, ...] = ()) -> DeviceState:
    """A large state shaped like a busy cluster: pod IPs handed out in turn across `namespaces`
    namespaces (so each namespace's hosts are scattered), each namespace with a Service over all its
    pods (an equal set: the namespace's group holds it) and one over every other pod (a subset),
    and a namespace `blk` of `block` contiguous pods but for the numbers in `gaps` (ranges).
    Pod numbers in `moved` are gone and those in `added` (beyond `pods`) are new; every pod has an
    IPv6 address as well."""
    base = int(ipaddress.IPv4Address("10.244.0.0"))
    numbers = sorted((set(range(pods)) - set(moved)) | set(added))
    per_namespace: dict[str, list[int]] = {f"ns{i:03d}": [] for i in range(namespaces)}
    for number in numbers:
        per_namespace[f"ns{number % namespaces:03d}"].append(number)
    block_base = int(ipaddress.IPv4Address("10.250.0.0"))
    groups: list[SourceGroup] = []
    for ns, owned in per_namespace.items():
        v4 = [str(ipaddress.IPv4Address(base + n)) for n in owned]
        v6 = [f"fd00::{n:x}" for n in owned]
        half = [str(ipaddress.IPv4Address(base + n)) for n in owned if (n // namespaces) % 2 == 0]
        groups += [group(f"ns/{ns}", ns, v4 + v6), group(f"svc/{ns}/web", ns, v4 + v6, "web"),
                   group(f"svc/{ns}/half", ns, half, "half")]
    if block:
        contiguous = [str(ipaddress.IPv4Address(block_base + n)) for n in range(block) if n not in gaps]
        groups.append(group("ns/blk", "blk", contiguous))
    rules = tuple(rule(f"r-{g.key}", g.key, None, None, Action.ALLOW if i % 2 else Action.DENY,
                       RuleKind.NAMESPACE, g.namespace) for i, g in enumerate(groups))
    return DeviceState("fgt", CLUSTER, {g.key: g for g in groups}, {}, {}, rules)


def union(key: str, includes: list[str], own: list[str] | None = None, rule_name: str = "") -> SourceGroup:
    """A cluster rule's source: the union of `includes` (other groups' keys) and `own` pods."""
    return SourceGroup(key, CLUSTER, "", pods("", own or []), rule=rule_name or key.rsplit("/", 1)[-1],
                       purpose="union", includes=tuple(includes))


UNION_HOSTS = {"ns/a": ["10.5.0.1", "10.5.0.2", "10.5.0.3"], "ns/b": ["10.5.1.1", "10.5.1.5", "fd00::5"],
               "ns/c": ["10.5.2.9"], "ns/v6": ["fd00::1"]}


def union_state(members: tuple[str, ...] = ("ns/a", "ns/b", "ns/v6"), *,
                extra: dict[str, list[str]] | None = None) -> DeviceState:
    """A ClusterEgressRule `web` (Allow TCP 443 to 203.0.113.0/24) whose source is the union of the
    namespaces in `members` (ns/v6 has IPv6 pods only), one `lockdown` (Deny any) whose union holds
    ns/v6 only (nothing left to render), namespace a's default Deny and namespace b's Allow-any.
    `extra` adds namespaces (key → hosts) available for the union."""
    hosts = {**UNION_HOSTS, **(extra or {})}
    groups = {key: group(key, key.split("/", 1)[1], addresses) for key, addresses in hosts.items()}
    groups["cr/web"] = union("cr/web", list(members))
    groups["cr/lockdown"] = union("cr/lockdown", ["ns/v6"])
    destinations = {"es/web": Destination("es/web", "ops", "web", ("203.0.113.0/24",))}
    port_sets = {"es/web/ports": PortSet("es/web/ports", "ops", "web", (PortRange(Protocol.TCP, 443, 443),))}
    rules = (
        rule("lockdown", "cr/lockdown", None, None, Action.DENY, RuleKind.CLUSTER, ""),
        rule("web", "cr/web", "es/web", "es/web/ports", Action.ALLOW, RuleKind.CLUSTER, ""),
        rule("a-default", "ns/a", None, None, Action.DENY, RuleKind.DEFAULT, "a"),
        rule("b-any", "ns/b", None, None, Action.ALLOW, RuleKind.NAMESPACE, "b"),
    )
    return DeviceState("fgt", CLUSTER, groups, destinations, port_sets, rules)


def union_probes() -> list[Probe]:
    sources = [*UNION_HOSTS["ns/a"], "10.5.1.1", "10.5.1.5", "10.5.1.2", "10.5.2.9", "10.9.9.9"]
    targets = [("203.0.113.5", 443, Protocol.TCP), ("203.0.113.5", 80, Protocol.TCP),
               ("8.8.8.8", 53, Protocol.UDP)]
    return [Probe(s, d, p, t) for s in sources for d, p, t in targets]
