"""Desired states whose rules use union source groups (a ClusterEgressRule's selected namespaces,
included by reference), for the F5 and REST adapter tests."""

from __future__ import annotations

from dataclasses import replace

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
from tests.adapters.strategies import CLUSTER, device_states, probes


def namespace_group(namespace: str, *addresses: str) -> SourceGroup:
    members = tuple((a, (Identity("Pod", namespace, f"pod-{a.replace(':', '-').replace('.', '-')}"),))
                    for a in addresses)
    return SourceGroup(key=f"{CLUSTER}/{namespace}/ns", cluster=CLUSTER, namespace=namespace, members=members)


def union(rule: str, *includes: str, own: tuple[str, ...] = ()) -> SourceGroup:
    members = tuple((a, (Identity("EgressIP", "", f"eip-{a.replace('.', '-')}"),)) for a in own)
    return SourceGroup(key=f"{CLUSTER}/_cluster/rule/{rule}", cluster=CLUSTER, namespace="", members=members,
                       rule=rule, purpose="union", includes=tuple(includes))


def cluster_rule(key: str, name: str, tier: Tier, source: str, destination: str | None, ports: str | None,
                 action: Action, logging: bool = False) -> CompiledRule:
    return CompiledRule(key=key, origin=RuleOrigin(RuleKind.CLUSTER, "", name, tier, 10), source=source,
                        destination=destination, ports=ports, action=action, logging=logging)


def union_state(selected: tuple[str, ...] = ("payments", "shop", "empty", "ops")) -> DeviceState:
    """Two cluster rules: `block-tor` (Admin, Deny) over the union of the `selected` namespaces,
    `nothing-selected` over an empty union; a namespace rule of `payments` besides. `empty` has no
    pod; `ops` is used by no rule but the union."""
    groups = {g.namespace: g for g in (namespace_group("payments", "10.0.0.1", "10.0.0.2", "fd00::1"),
                                       namespace_group("shop", "10.0.0.7"),
                                       namespace_group("ops", "10.0.0.9", "10.0.0.10"),
                                       namespace_group("empty"))}
    tor = union("block-tor", *(groups[ns].key for ns in selected))
    nothing = union("nothing-selected", groups["empty"].key)
    tor_exits = Destination("es/fusion-system/tor-exits", "fusion-system", "tor-exits", ("203.0.113.0/24",))
    web = Destination("es/payments/web", "payments", "web", ("198.51.100.0/24",), ("api.example.com",))
    https = PortSet("es/payments/web/ports", "payments", "web", (PortRange(Protocol.TCP, 443, 443),))
    rules = (
        cluster_rule("c/tor", "block-tor", Tier.ADMIN, tor.key, tor_exits.key, None, Action.DENY,
                     logging=True),
        cluster_rule("c/nothing", "nothing-selected", Tier.ADMIN, nothing.key, None, None, Action.ALLOW),
        CompiledRule("n/web", RuleOrigin(RuleKind.NAMESPACE, "payments", "web", Tier.NAMESPACE, 100),
                     groups["payments"].key, web.key, https.key, Action.ALLOW),
        cluster_rule("b/web", "no-web", Tier.BASELINE, tor.key, web.key, None, Action.DENY),
    )
    return DeviceState(device="dev", cluster=CLUSTER,
                       groups={g.key: g for g in (*groups.values(), tor, nothing)},
                       destinations={d.key: d for d in (tor_exits, web)}, port_sets={https.key: https},
                       rules=rules)


UNION_PROBES = [Probe(s, d, p, t) for s in ("10.0.0.1", "fd00::1", "10.0.0.7", "10.0.0.9", "10.0.0.10",
                                            "10.5.5.5")
                for d in ("203.0.113.9", "198.51.100.7", "api.example.com", "8.8.8.8")
                for p, t in ((443, Protocol.TCP), (53, Protocol.UDP))]


@st.composite
def union_states(draw: st.DrawFn) -> DeviceState:
    """A generated state (see `tests.adapters.strategies`) plus empty groups and union groups, some
    with own members, some including other unions, some resolving to no address; rules drawn to
    use the unions."""
    base = draw(device_states())
    plain = list(base.groups.values()) + [
        SourceGroup(key=f"{CLUSTER}/empty-{i}/ns", cluster=CLUSTER, namespace=f"empty-{i}", members=())
        for i in range(draw(st.integers(0, 2)))]
    groups: dict[str, SourceGroup] = {g.key: g for g in plain}
    unions: list[SourceGroup] = []
    for index in range(draw(st.integers(1, 3))):
        candidates = sorted(groups)
        includes = draw(st.lists(st.sampled_from(candidates), max_size=4, unique=True))
        own = draw(st.sampled_from(((), (), ("10.0.0.11",), ("fd00::6",))))
        made = union(f"u{index}", *includes, own=own)
        unions.append(made)
        groups[made.key] = made
    rules = tuple(replace(r, source=draw(st.sampled_from(unions)).key) if draw(st.booleans()) else r
                  for r in base.rules)
    return replace(base, groups=groups, rules=rules)


@st.composite
def union_states_with_probes(draw: st.DrawFn, max_probes: int = 30) -> tuple[DeviceState, list[Probe]]:
    state = draw(union_states())
    return state, draw(st.lists(probes(state), min_size=1, max_size=max_probes))
