"""Property tests: the compiled first-match list decides like the direct evaluator of the rule
semantics (tests/connector/compiler/oracle.py), and incremental compiles equal full ones."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileResult
from connector.evaluate import Probe, decide
from connector.model import Protocol
from tests.connector.compiler import builders as b
from tests.connector.compiler.helpers import drawn_change, origin_of
from tests.connector.compiler.oracle import Oracle

DEVICES = ("fw1", "fw2", "fw3")
NO_FQDN = ("fw3",)
NO_WILDCARD = ("fw2",)
CNS = "fusion-system"
NAMESPACES = ("a", "b", "c")
ES_NAMES = ("e1", "e2", "e3")
ADDRESS_POOL = (
    "*.example.com",
    "10.1.0.0/16",
    "10.1.2.3",
    "2001:db8::/64",
    "api.example.com",
    "Other.Example.org",
    "*.Example.org",
    "0.0.0.0/0",
    "not an address!",
    "*.org",
)
PORT_POOL: tuple[list[dict[str, Any]] | None, ...] = (
    None,
    [],
    [{"port": "443"}],
    [{"protocol": "TCP", "port": "8000-8080,9443"}],
    [{"protocol": "UDP", "port": "53"}, {"port": "443"}],
    [{"port": "99999"}],
)
DESTINATIONS = (
    "10.1.2.3",
    "10.1.9.9",
    "10.2.0.1",
    "2001:db8::5",
    "2001:db9::1",
    "api.example.com",
    "other.example.org",
    "nothing.example.net",
    "deep.api.example.com",
    "example.com",
    "www.example.org",
)
PORTS = (443, 8080, 9443, 53, 22)
SELECTORS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"matchLabels": {"env": "prod"}},
    {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
    {},
    {"matchExpressions": [{"key": "env", "operator": "Maybe"}]},
)
POD_SELECTORS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"matchLabels": {"app": "web"}},
    {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]},
)
NODE_IPS = {"n1": ("192.168.0.1",), "n2": ("192.168.0.2", "fd00:ff::2")}
ALLOW_ANNOTATIONS = (
    "",
    "api.example.com:443/TCP",
    "10.1.0.0/16:53/UDP, other.example.org",
    "*.example.com:443/TCP, *.com:443",
    "2001:db8::/64:8000-8080",
    "[2001:db8::5]:22, bad entry:x",
)


@st.composite
def clusters(
    draw: st.DrawFn, modes: tuple[str, ...] = ("pod", "egress-ip"), shared_egress: bool = False
) -> list[dict[str, Any]]:
    """Random clusters; `shared_egress`: egress IPs come from a pool of two, so that namespaces
    share them (as node mode shares the addresses of the two nodes)."""
    objects: list[dict[str, Any]] = [b.namespace(CNS, managed=False)]
    next_ip = iter(range(1, 250))
    egress_ip = iter(range(1, 250))
    for ns in NAMESPACES:
        if not draw(st.booleans()) and ns != "a":
            continue
        annotations: dict[str, str] = {}
        mode = draw(st.sampled_from(modes))
        if mode != "pod":
            annotations["fusion-connector.io/source-mode"] = mode
        if mode == "egress-ip":
            n = draw(st.sampled_from((1, 2))) if shared_egress else next(egress_ip)
            annotations["fusion-connector.io/egress-ips"] = f"198.18.0.{n}"
        action = draw(st.sampled_from(("", "Deny", "Allow", "None", "bogus")))
        if action:
            annotations["fusion-connector.io/default-action"] = action
        devices = draw(st.sampled_from(("", "fw1", "fw2,fw3", "fw1,fw2,fw3")))
        if devices:
            annotations["fusion-connector.io/devices"] = devices
        allow = draw(st.sampled_from(ALLOW_ANNOTATIONS))
        if allow:
            annotations["fusion-connector.io/egress-allow"] = allow
        objects.append(
            b.namespace(
                ns,
                managed=draw(st.sampled_from((True, True, False))) or ns == "a",
                labels={"env": draw(st.sampled_from(("prod", "dev")))},
                annotations=annotations,
            )
        )
        web_ips = []
        for index in range(draw(st.integers(0, 4))):
            n = next(next_ip)
            ips = draw(st.sampled_from(([f"10.0.0.{n}"], [f"fd00::{n:x}"], [f"10.0.0.{n}", f"fd00::{n:x}"])))
            app = draw(st.sampled_from(("web", "db")))
            phase = draw(st.sampled_from(("Running", "Running", "Running", "Pending", "Succeeded")))
            node = draw(st.sampled_from(("n1", "n2")))
            host_network = draw(st.sampled_from((False, False, False, True)))
            if host_network:
                ips = list(NODE_IPS[node])
            objects.append(
                b.pod(
                    ns,
                    f"p{index}",
                    ips,
                    labels={"app": app},
                    phase=phase,
                    node=node,
                    host_network=host_network,
                )
            )
            if app == "web":
                web_ips.extend(ips if draw(st.booleans()) else ips[:1])  # single-stack: one family
        if draw(st.sampled_from((True, True, False))):
            objects.append(b.service(ns, "web"))
            objects.append(b.endpoint_slice(ns, "web", web_ips))
        for name in ES_NAMES:
            if draw(st.booleans()):
                addresses = draw(st.lists(st.sampled_from(ADDRESS_POOL), min_size=1, max_size=3))
                objects.append(b.external_service(ns, name, addresses, draw(st.sampled_from(PORT_POOL))))
        for index in range(draw(st.integers(0, 3))):
            fields = rule_fields(draw)
            if draw(st.booleans()):
                objects.append(
                    b.namespace_rule(
                        ns,
                        f"r{index}",
                        fields.pop("action"),
                        podSelector=draw(st.sampled_from(POD_SELECTORS)),
                        **fields,
                    )
                )
            else:
                objects.append(
                    b.service_rule(
                        ns,
                        f"r{index}",
                        fields.pop("action"),
                        draw(st.sampled_from(("web", "web", "gone"))),
                        **fields,
                    )
                )
    for name in ES_NAMES:
        if draw(st.booleans()):
            addresses = draw(st.lists(st.sampled_from(ADDRESS_POOL), min_size=1, max_size=3))
            objects.append(b.external_service(CNS, name, addresses, draw(st.sampled_from(PORT_POOL))))
    for index in range(draw(st.integers(0, 3))):
        fields = rule_fields(draw)
        objects.append(
            b.cluster_rule(
                f"c{index}",
                fields.pop("action"),
                tier=draw(st.sampled_from(("Admin", "Baseline"))),
                namespaceSelector=draw(st.sampled_from(SELECTORS)),
                **fields,
            )
        )
    objects.extend([b.node(name, *ips) for name, ips in NODE_IPS.items()])
    return objects


def rule_fields(draw: st.DrawFn) -> dict[str, Any]:
    externals = draw(st.sampled_from((None, None, [], ["e1"], ["e2", "missing"], ["missing"], ["e3", "e1"])))
    return {
        "action": draw(st.sampled_from(("Allow", "Deny", "Allow", "Deny", "Permit"))),
        "priority": draw(st.sampled_from((100, 500, 500))),
        "externalServices": externals,
        "devices": draw(st.sampled_from((None, ["fw1"], ["fw2", "fw3"]))),
    }


def config() -> Any:
    return b.settings(DEVICES, no_fqdn=NO_FQDN, no_ipv6=("fw2",), no_wildcard=NO_WILDCARD)


def sources(objects: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """(namespace, pod, source IP) for every active pod (pod mode) or namespace (egress-ip mode)."""
    out = []
    for obj in objects:
        if obj["kind"] == "Namespace":
            ips = obj["metadata"]["annotations"].get("fusion-connector.io/egress-ips")
            if ips:
                out.append((obj["metadata"]["name"], None, ips))
    egress_namespaces = {ns for ns, _, _ in out}
    for obj in objects:
        if (
            obj["kind"] == "Pod"
            and obj["metadata"]["namespace"] not in egress_namespaces
            and obj["status"]["phase"] != "Succeeded"
        ):
            for item in obj["status"]["podIPs"]:
                out.append((obj["metadata"]["namespace"], obj["metadata"]["name"], item["ip"]))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_compiled_rulebase_decides_like_section_4(objects: list[dict[str, Any]], data: st.DataObject) -> None:
    default_action = data.draw(st.sampled_from(("Deny", "Allow", "None")))
    all_namespaces = data.draw(st.booleans())
    compile_settings = b.settings(
        DEVICES,
        no_fqdn=NO_FQDN,
        no_ipv6=("fw2",),
        no_wildcard=NO_WILDCARD,
        default_action=default_action,
        all_namespaces=all_namespaces,
        exclude=frozenset({"c"}),
    )
    result = Compiler(compile_settings).full(StaticView(objects))
    oracle = Oracle(
        objects,
        devices=DEVICES,
        fqdn_capable={d: d not in NO_FQDN for d in DEVICES},
        wildcard_capable={d: d not in NO_FQDN + NO_WILDCARD for d in DEVICES},
        default_action=default_action,
        all_namespaces=all_namespaces,
        exclude=("c",),
    )
    for ns, pod_name, source in sources(objects):
        for destination in data.draw(
            st.lists(st.sampled_from(DESTINATIONS), min_size=1, max_size=4, unique=True)
        ):
            port = data.draw(st.sampled_from(PORTS))
            protocol = data.draw(st.sampled_from(("TCP", "UDP")))
            for device in DEVICES:
                expected = oracle.decide(ns, pod_name, device, destination, port, protocol)
                state = result.devices[device]
                probe = Probe(source, destination, port, Protocol(protocol))
                got = origin_of(state, decide(state, probe), source)
                want = (
                    None
                    if expected is None
                    else (expected.kind, expected.namespace, expected.name, expected.action)
                )
                assert got == want, (device, ns, pod_name, source, destination, port, protocol)


def default_action_variants(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """A managed Namespace with each other default action, and with its devices changed."""
    if obj["kind"] != "Namespace" or obj["metadata"]["name"] == CNS:
        return []
    out = []
    for key, values in (("default-action", ("Deny", "Allow", "None")), ("devices", ("fw2", "fw1,fw3"))):
        for value in values:
            annotations = {**obj["metadata"]["annotations"], f"fusion-connector.io/{key}": value}
            out.append({**obj, "metadata": {**obj["metadata"], "annotations": annotations}})
    return out


def assert_same(left: CompileResult, right: CompileResult) -> None:
    assert left.devices == right.devices
    assert {d: s.checksum() for d, s in left.devices.items()} == {
        d: s.checksum() for d, s in right.devices.items()
    }
    assert left.rules == right.rules
    assert left.namespaces == right.namespaces


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(modes=("pod", "egress-ip", "node")), clusters(modes=("pod", "egress-ip", "node")), st.data())
def test_incremental_equals_full(
    first: list[dict[str, Any]], second: list[dict[str, Any]], data: st.DataObject
) -> None:
    view = StaticView(first)
    compiler = Compiler(config())
    compiler.full(view)
    pool = first + second + [b.egress_ip("eip", {"matchLabels": {"env": "prod"}}, "198.18.9.9")]
    pool += [variant for obj in first for variant in default_action_variants(obj)]
    for _ in range(data.draw(st.integers(1, 12))):
        batch = []
        for _ in range(data.draw(st.integers(1, 3))):
            change = drawn_change(data, view, data.draw(st.sampled_from(pool)))
            if change is not None:
                batch.append(change)
        incremental = compiler.apply(batch)
        assert_same(incremental, Compiler(config()).full(view))
