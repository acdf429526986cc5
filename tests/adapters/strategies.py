"""Hypothesis strategies for adapter conformance tests: valid `DeviceState`s and probes that hit them.

- `device_states()`: groups (IPv4 and IPv6 members, never empty), destinations (IPv4/IPv6 networks
  and FQDNs, never empty), port sets (TCP/UDP ranges, sorted and merged, never empty) and ordered
  rules referencing them (Allow/Deny, any destination, any port, logging), drawn from small
  address pools so that groups overlap and rules shadow each other.
- `probes(state)`: probes that mostly hit the state's members, networks, FQDNs and port bounds,
  with some outsiders.
- `states_with_probes()`: a state and a list of probes for it.
- `cluster_events()`: sequences of watch events on `initial_cluster()` (raw Kubernetes objects),
  for the tests that event-driven syncs equal full ones; `event_probes()` probes their states.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

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


# --- cluster event sequences (the delta property tests of each adapter) ---------------------------

EVENT_CNS = "fusion-system"
EVENT_NAMESPACES = ("a", "b", "c")
POD_NAMES = ("p0", "p1", "p2", "p3")
POD_POOL = (*(f"10.0.0.{i}" for i in range(1, 11)), "fd00::a", "fd00::b")
EXTERNAL_ADDRESSES = (["198.51.100.0/24"], ["198.51.100.7", "api.example.com"], ["2001:db8::/64"],
                      ["203.0.113.0/30", "db.example.net"], ["0.0.0.0/0"])
EXTERNAL_PORTS: tuple[list[dict[str, str]] | None, ...] = (
    None, [{"port": "443"}], [{"protocol": "UDP", "port": "53"}, {"port": "8000-8080"}])
EVENT_DESTINATIONS = ("198.51.100.7", "203.0.113.1", "2001:db8::5", "api.example.com", "192.0.2.1")
EVENT_PORTS = ((443, Protocol.TCP), (53, Protocol.UDP))
_FC = "fusion-connector.io/v1alpha1"


@dataclass(frozen=True)
class ClusterEvent:
    """One watch event: `obj` added or changed, or (with `deleted`) the object of its kind,
    namespace and name removed."""

    obj: dict[str, Any]
    deleted: bool = False

    def __repr__(self) -> str:
        meta = self.obj["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{'delete' if self.deleted else 'put'} {self.obj['kind']} {where}{meta['name']}: {self.obj}"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **extra}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def event_namespace(name: str, env: str, managed: bool = True, default_action: str = "",
                    egress_ip: str = "") -> dict[str, Any]:
    """A namespace; with `egress_ip` in egress-ip source mode (its pods leave from that address)."""
    labels = {"env": env, **({"fusion-connector.io/managed": "true"} if managed else {})}
    annotations = {"fusion-connector.io/default-action": default_action} if default_action else {}
    if egress_ip:
        annotations.update({"fusion-connector.io/source-mode": "egress-ip",
                            "fusion-connector.io/egress-ips": egress_ip})
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": _meta(name, labels=labels, annotations=annotations)}


def event_pod(namespace: str, name: str, ips: list[str], app: str, phase: str = "Running") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "podIPs": [{"ip": ip} for ip in ips]}
    if ips:
        status["podIP"] = ips[0]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, namespace, labels={"app": app}),
            "spec": {"nodeName": "node1"}, "status": status}


def event_slice(namespace: str, addresses: list[str]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": _meta("web-abc", namespace, labels={"kubernetes.io/service-name": "web"}),
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses]}


def event_service(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web", namespace),
            "spec": {"selector": {"app": "web"}}}


def event_external(namespace: str, name: str, addresses: list[str],
                   ports: list[dict[str, str]] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"addresses": addresses, **({"ports": ports} if ports is not None else {})}
    return {"apiVersion": _FC, "kind": "ExternalService", "metadata": _meta(name, namespace, generation=1),
            "spec": spec}


def event_rule(kind: str, name: str, namespace: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": _FC, "kind": kind, "metadata": _meta(name, namespace, generation=1),
            "spec": {k: v for k, v in spec.items() if v is not None}}


def initial_cluster() -> list[dict[str, Any]]:
    """The cluster every event sequence starts from: three managed namespaces (two `env: prod`), a
    few pods, a Service, ExternalServices and one rule of each kind."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(EVENT_CNS, labels={}, annotations={})},
        event_namespace("a", "prod"), event_namespace("b", "prod"), event_namespace("c", "dev"),
        event_pod("a", "p0", ["10.0.0.1"], "web"), event_pod("a", "p1", ["10.0.0.2"], "db"),
        event_pod("b", "p0", ["10.0.0.3", "fd00::a"], "web"), event_pod("c", "p0", ["10.0.0.4"], "db"),
        event_service("a"), event_slice("a", ["10.0.0.1"]),
        event_external(EVENT_CNS, "e1", ["198.51.100.0/24"], [{"port": "443"}]),
        event_external(EVENT_CNS, "e2", ["198.51.100.7", "api.example.com"], None),
        event_external("a", "ext", ["203.0.113.0/30", "db.example.net"], [{"port": "443"}]),
        event_rule("ClusterEgressRule", "c0", None, {
            "action": "Deny", "tier": "Admin", "priority": 100, "externalServices": ["e1"],
            "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
        event_rule("NamespaceEgressRule", "r0", "a", {"action": "Allow", "priority": 300,
                                                      "externalServices": ["ext"]}),
        event_rule("ServiceEgressRule", "s0", "a", {"action": "Allow", "priority": 200, "service": "web",
                                                    "externalServices": ["ext"]}),
    ]


@st.composite
def _pod_event(draw: st.DrawFn) -> ClusterEvent:
    namespace, name = draw(st.sampled_from(EVENT_NAMESPACES)), draw(st.sampled_from(POD_NAMES))
    ips = sorted(draw(st.sets(st.sampled_from(POD_POOL), max_size=2)))
    phase = draw(st.sampled_from(("Running", "Running", "Running", "Pending", "Succeeded")))
    obj = event_pod(namespace, name, ips, draw(st.sampled_from(("web", "db"))), phase)
    return ClusterEvent(obj, deleted=draw(st.integers(0, 3)) == 0)


@st.composite
def _namespace_event(draw: st.DrawFn) -> ClusterEvent:
    obj = event_namespace(draw(st.sampled_from(EVENT_NAMESPACES)), draw(st.sampled_from(("prod", "dev"))),
                          managed=draw(st.sampled_from((True, True, True, False))),
                          default_action=draw(st.sampled_from(("", "", "Allow", "Deny"))),
                          egress_ip=draw(st.sampled_from(("", "", "", "10.0.0.9", "198.18.0.1"))))
    return ClusterEvent(obj, deleted=draw(st.integers(0, 7)) == 0)


@st.composite
def _service_event(draw: st.DrawFn) -> ClusterEvent:
    namespace = draw(st.sampled_from(EVENT_NAMESPACES))
    if draw(st.integers(0, 2)) == 0:
        return ClusterEvent(event_service(namespace), deleted=draw(st.booleans()))
    addresses = sorted(draw(st.sets(st.sampled_from(POD_POOL[:10]), max_size=4)))
    return ClusterEvent(event_slice(namespace, addresses), deleted=draw(st.integers(0, 4)) == 0)


@st.composite
def _external_event(draw: st.DrawFn) -> ClusterEvent:
    where = ((EVENT_CNS, "e1"), (EVENT_CNS, "e2"), ("a", "ext"), ("b", "ext"))
    namespace, name = draw(st.sampled_from(where))
    obj = event_external(namespace, name, draw(st.sampled_from(EXTERNAL_ADDRESSES)),
                         draw(st.sampled_from(EXTERNAL_PORTS)))
    return ClusterEvent(obj, deleted=draw(st.integers(0, 5)) == 0)


@st.composite
def _rule_event(draw: st.DrawFn) -> ClusterEvent:
    """A rule added, changed (action, priority: reordered, mode: audit flips, ...) or removed."""
    kind = draw(st.sampled_from(("ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule")))
    spec: dict[str, Any] = {
        "action": draw(st.sampled_from(("Allow", "Deny"))),
        "priority": draw(st.sampled_from((100, 200, 300, 500))),
        "mode": draw(st.sampled_from((None, None, "Audit", "Enforce"))),
        "logging": draw(st.sampled_from((None, True))),
    }
    namespace: str | None = None
    if kind == "ClusterEgressRule":
        name = draw(st.sampled_from(("c0", "c1", "c2")))
        spec["tier"] = draw(st.sampled_from(("Admin", "Baseline")))
        spec["namespaceSelector"] = draw(st.sampled_from(
            (None, {"matchLabels": {"env": "prod"}}, {"matchLabels": {"env": "dev"}})))
        spec["externalServices"] = draw(st.sampled_from((None, ["e1"], ["e2"], ["e1", "e2"])))
    else:
        namespace = draw(st.sampled_from(("a", "b")))
        name = draw(st.sampled_from(("r0", "r1") if kind == "NamespaceEgressRule" else ("s0",)))
        spec["externalServices"] = draw(st.sampled_from((None, ["ext"])))
        if kind == "ServiceEgressRule":
            spec["service"] = "web"
        else:
            spec["podSelector"] = draw(st.sampled_from((None, {"matchLabels": {"app": "web"}})))
    return ClusterEvent(event_rule(kind, name, namespace, spec), deleted=draw(st.integers(0, 3)) == 0)


def cluster_events(max_size: int = 8) -> st.SearchStrategy[list[ClusterEvent]]:
    """Watch events on `initial_cluster()`: pods added, removed or changing IP, namespaces joining
    or leaving a ClusterEgressRule's selection (or the managed set, or the cluster), changing their
    default action or source mode (egress-ip), Services and their endpoints
    changing, ExternalServices changing, rules added, removed, reordered or flipping audit mode.
    A deletion of an absent object is no change."""
    event = st.one_of(_pod_event(), _pod_event(), _namespace_event(), _service_event(),
                      _external_event(), _rule_event(), _rule_event())
    return st.lists(event, min_size=1, max_size=max_size)


def event_probes() -> list[Probe]:
    """Probes from every pod address of the pool (and one outsider) to destinations in and around
    the ExternalServices of the events."""
    return [Probe(source, destination, port, protocol) for source in (*POD_POOL, "10.9.9.9")
            for destination in EVENT_DESTINATIONS for port, protocol in EVENT_PORTS]
