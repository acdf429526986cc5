"""Table-driven tests for every clause of the rule semantics (docs/resources.md, "How a rule
decides") and the namespace rules ("Namespaces")."""

from __future__ import annotations

from typing import Any

import pytest

from connector.compiler import Reason
from connector.model import RuleKind
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    service_rule,
    settings,
)
from tests.connector.compiler.helpers import compile_objects, reasons, status, verdict

CNS = "fusion-system"
WEB, DB = "10.0.0.1", "10.0.0.2"


def base(*extra: dict[str, Any], annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Namespace `shop` with pods web (10.0.0.1, Service web) and db (10.0.0.2), and ExternalServices."""
    return [
        namespace("shop", labels={"env": "prod"}, annotations=annotations),
        pod("shop", "web-1", WEB, labels={"app": "web"}),
        pod("shop", "db-1", DB, labels={"app": "db"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", [WEB]),
        external_service("shop", "github", ["api.github.com", "140.82.112.0/20"], [{"port": "443"}]),
        external_service("shop", "ranges", ["192.0.2.0/24"], [{"protocol": "TCP", "port": "8000-8080,9443"}]),
        external_service("shop", "dns", ["198.51.100.53"], [{"protocol": "UDP", "port": "53"}]),
        external_service("shop", "anyport", ["203.0.113.0/24"]),
        external_service("shop", "v6", ["2001:db8:100::/48"], [{"port": "443"}]),
        external_service(CNS, "github", ["api.github.com", "140.82.112.0/20"]),
        external_service(CNS, "tor", ["185.220.0.0/16"]),
        *extra,
    ]


CER, NER, SER = RuleKind.CLUSTER.value, RuleKind.NAMESPACE.value, RuleKind.SERVICE.value

TIER_CASES = [
    pytest.param(
        [
            cluster_rule("no-github", "Deny", externalServices=["github"]),
            service_rule("shop", "web-github", "Allow", "web", externalServices=["github"]),
        ],
        (WEB, "140.82.113.4", 443),
        (CER, "", "no-github", "Deny"),
        id="admin-deny-beats-service-allow",
    ),
    pytest.param(
        [
            cluster_rule("baseline-deny", "Deny", tier="Baseline"),
            service_rule("shop", "web-github", "Allow", "web", externalServices=["github"]),
        ],
        (WEB, "140.82.113.4", 443),
        (SER, "shop", "web-github", "Allow"),
        id="service-allow-beats-baseline-deny",
    ),
    pytest.param(
        [
            cluster_rule("baseline-deny", "Deny", tier="Baseline"),
            service_rule("shop", "web-github", "Allow", "web", externalServices=["github"]),
        ],
        (WEB, "140.82.113.4", 80),
        (CER, "", "baseline-deny", "Deny"),
        id="baseline-after-namespace-tier",
    ),
    pytest.param(
        [
            cluster_rule("a-first", "Allow", priority=100, externalServices=["tor"]),
            cluster_rule("b-second", "Deny", priority=100, externalServices=["tor"]),
        ],
        (WEB, "185.220.1.1", 443),
        (CER, "", "a-first", "Allow"),
        id="admin-same-priority-by-name",
    ),
    pytest.param(
        [
            cluster_rule("z-low", "Allow", priority=10, externalServices=["tor"]),
            cluster_rule("a-high", "Deny", priority=20, externalServices=["tor"]),
        ],
        (WEB, "185.220.1.1", 443),
        (CER, "", "z-low", "Allow"),
        id="admin-priority-before-name",
    ),
    pytest.param(
        [
            service_rule("shop", "svc", "Deny", "web", priority=200),
            namespace_rule("shop", "ns", "Allow", priority=100),
        ],
        (WEB, "8.8.8.8", 53),
        (NER, "shop", "ns", "Allow"),
        id="namespace-tier-priority-across-kinds",
    ),
    pytest.param(
        [
            service_rule("shop", "zz", "Deny", "web", priority=100),
            namespace_rule("shop", "aa", "Allow", priority=100),
        ],
        (WEB, "8.8.8.8", 53),
        (SER, "shop", "zz", "Deny"),
        id="service-before-namespace-on-equal-priority",
    ),
    pytest.param(
        [namespace_rule("shop", "b", "Deny"), namespace_rule("shop", "a", "Allow")],
        (WEB, "8.8.8.8", 53),
        (NER, "shop", "a", "Allow"),
        id="namespace-rules-by-name",
    ),
    pytest.param(
        [namespace_rule("shop", "annotation-loser", "Deny", priority=600)],
        (WEB, "140.82.113.4", 443),
        ("Annotation", "shop", "annotation", "Allow"),
        id="annotation-rule-priority-500",
    ),
    pytest.param(
        [cluster_rule("baseline-allow", "Allow", tier="Baseline", externalServices=["tor"])],
        (WEB, "9.9.9.9", 443),
        ("DefaultAction", "shop", "default", "Deny"),
        id="default-action-last",
    ),
    pytest.param(
        [namespace_rule("shop", "web-only", "Allow", podSelector={"matchLabels": {"app": "web"}})],
        (DB, "9.9.9.9", 443),
        ("DefaultAction", "shop", "default", "Deny"),
        id="pod-selector-narrows",
    ),
    pytest.param(
        [namespace_rule("shop", "web-only", "Allow", podSelector={"matchLabels": {"app": "web"}})],
        (WEB, "9.9.9.9", 443),
        (NER, "shop", "web-only", "Allow"),
        id="pod-selector-matches",
    ),
    pytest.param(
        [
            namespace_rule(
                "shop",
                "not-db",
                "Allow",
                podSelector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            )
        ],
        (DB, "9.9.9.9", 443),
        ("DefaultAction", "shop", "default", "Deny"),
        id="pod-selector-expressions",
    ),
    pytest.param(
        [service_rule("shop", "web-out", "Allow", "web")],
        (DB, "9.9.9.9", 443),
        ("DefaultAction", "shop", "default", "Deny"),
        id="service-rule-only-its-endpoints",
    ),
    pytest.param(
        [cluster_rule("prod-only", "Deny", namespaceSelector={"matchLabels": {"env": "dev"}})],
        (WEB, "9.9.9.9", 443),
        ("DefaultAction", "shop", "default", "Deny"),
        id="namespace-selector-excludes",
    ),
    pytest.param(
        [cluster_rule("prod-only", "Allow", namespaceSelector={"matchLabels": {"env": "prod"}})],
        (WEB, "9.9.9.9", 443),
        (CER, "", "prod-only", "Allow"),
        id="namespace-selector-selects",
    ),
]


@pytest.mark.parametrize(("rules", "probe", "expected"), TIER_CASES)
def test_tiers_and_order(
    rules: list[dict[str, Any]], probe: tuple[str, str, int], expected: tuple[str, ...]
) -> None:
    annotations = {"fusion-connector.io/egress-allow": "api.github.com:443/TCP, 140.82.112.0/20:443"}
    result = compile_objects(base(*rules, annotations=annotations))
    for device in ("fw1", "fw2"):
        assert verdict(result, device, *probe) == expected


MATCH_CASES = [
    # ExternalService, destination, port, protocol, matches
    ("ranges", "192.0.2.10", 8000, "TCP", True),
    ("ranges", "192.0.2.10", 8080, "TCP", True),
    ("ranges", "192.0.2.10", 8081, "TCP", False),
    ("ranges", "192.0.2.10", 9443, "TCP", True),
    ("ranges", "192.0.2.10", 8000, "UDP", False),
    ("ranges", "192.0.3.10", 8000, "TCP", False),
    ("github", "api.github.com", 443, "TCP", True),
    ("github", "API.GitHub.com.", 443, "TCP", True),
    ("github", "uploads.api.github.com", 443, "TCP", False),
    ("github", "github.com", 443, "TCP", False),
    ("github", "api.github.com", 80, "TCP", False),
    ("github", "140.82.127.255", 443, "TCP", True),
    ("github", "140.82.127.255", 443, "UDP", False),  # a port entry's protocol defaults to TCP
    ("dns", "198.51.100.53", 53, "UDP", True),
    ("dns", "198.51.100.53", 53, "TCP", False),
    ("anyport", "203.0.113.9", 1, "UDP", True),
    ("anyport", "203.0.113.9", 65535, "SCTP", True),
    ("v6", "2001:db8:100::7", 443, "TCP", True),
    ("v6", "2001:db8:101::7", 443, "TCP", False),
]


@pytest.mark.parametrize(("es", "destination", "port", "protocol", "matches"), MATCH_CASES)
def test_destination_matching(es: str, destination: str, port: int, protocol: str, matches: bool) -> None:
    result = compile_objects(base(namespace_rule("shop", "r", "Allow", externalServices=[es])))
    expected = (NER, "shop", "r", "Allow") if matches else ("DefaultAction", "shop", "default", "Deny")
    assert verdict(result, "fw1", WEB, destination, port, protocol) == expected


def test_several_external_services_each_with_its_own_ports() -> None:
    objects = base(
        external_service("shop", "https", ["10.9.0.0/16"], [{"port": "443"}]),
        external_service("shop", "http", ["10.9.0.0/16"], [{"port": "80"}]),
        namespace_rule("shop", "r", "Allow", externalServices=["https", "http"]),
    )
    result = compile_objects(objects)
    assert verdict(result, "fw1", WEB, "10.9.1.1", 443)[2] == "r"  # type: ignore[index]
    assert verdict(result, "fw1", WEB, "10.9.1.1", 80)[2] == "r"  # type: ignore[index]
    assert verdict(result, "fw1", WEB, "10.9.1.1", 22)[2] == "default"  # type: ignore[index]
    keys = [r.key for r in result.devices["fw1"].rules if r.origin.name == "r"]
    assert keys == ["c1/shop/ns/r/https", "c1/shop/ns/r/http"]


def test_missing_external_service_matches_nothing_and_is_reported() -> None:
    objects = base(
        namespace_rule("shop", "only-missing", "Allow", externalServices=["nope"]),
        namespace_rule("shop", "partly", "Deny", externalServices=["nope", "tor-local"]),
        external_service("shop", "tor-local", ["185.220.0.0/16"]),
    )
    result = compile_objects(objects)
    assert verdict(result, "fw1", WEB, "1.1.1.1", 443) == ("DefaultAction", "shop", "default", "Deny")
    assert verdict(result, "fw1", WEB, "185.220.3.3", 443) == (NER, "shop", "partly", "Deny")
    for name in ("only-missing", "partly"):
        rule_status = status(result, RuleKind.NAMESPACE, "shop", name)
        assert not rule_status.accepted
        assert rule_status.reason == Reason.EXTERNAL_SERVICE_NOT_FOUND
        assert "ExternalService shop/nope" in rule_status.message
        assert "spec.externalServices" in rule_status.message
    assert not any(r.origin.name == "only-missing" for r in result.devices["fw1"].rules)
    presence = status(result, RuleKind.NAMESPACE, "shop", "only-missing").devices
    assert [p.present for p in presence] == [False, False]


def test_cluster_rule_external_services_resolve_in_connector_namespace() -> None:
    objects = base(cluster_rule("deny-local-only", "Deny", externalServices=["ranges"]))  # only in shop
    result = compile_objects(objects)
    assert verdict(result, "fw1", WEB, "192.0.2.1", 8000) == ("DefaultAction", "shop", "default", "Deny")
    assert status(result, RuleKind.CLUSTER, "", "deny-local-only").reason == Reason.EXTERNAL_SERVICE_NOT_FOUND
    assert "fusion-system/ranges" in status(result, RuleKind.CLUSTER, "", "deny-local-only").message


def test_cluster_rule_without_selector_covers_every_managed_namespace() -> None:
    objects = base(
        namespace("other"),
        pod("other", "o", "10.0.1.1"),
        namespace("free", managed=False),
        pod("free", "f", "10.0.2.1"),
        cluster_rule("allow-all", "Allow"),
    )
    result = compile_objects(objects)
    assert verdict(result, "fw1", "10.0.1.1", "9.9.9.9", 1)[2] == "allow-all"  # type: ignore[index]
    assert verdict(result, "fw1", WEB, "9.9.9.9", 1)[2] == "allow-all"  # type: ignore[index]
    assert verdict(result, "fw1", "10.0.2.1", "9.9.9.9", 1) is None
    assert status(result, RuleKind.CLUSTER, "", "allow-all").sources == 3


def test_service_without_endpoints_produces_no_rule() -> None:
    objects = base(service("shop", "idle"), service_rule("shop", "idle-out", "Allow", "idle"))
    result = compile_objects(objects)
    for state in result.devices.values():
        assert not any(r.origin.name == "idle-out" for r in state.rules)
        assert "c1/shop/svc/idle" not in state.groups
    rule_status = status(result, RuleKind.SERVICE, "shop", "idle-out")
    assert rule_status.accepted and rule_status.sources == 0
    assert {p.message for p in rule_status.devices} == {"no source addresses"}


def test_missing_service_is_reported() -> None:
    result = compile_objects(base(service_rule("shop", "ghost-out", "Allow", "ghost")))
    rule_status = status(result, RuleKind.SERVICE, "shop", "ghost-out")
    assert rule_status.reason == Reason.SERVICE_NOT_FOUND and not rule_status.accepted
    assert "Service shop/ghost" in rule_status.message


def test_service_endpoints_ready_or_not_and_terminal_pods_excluded() -> None:
    objects = base(
        pod("shop", "web-2", "10.0.0.3", labels={"app": "web"}),
        pod("shop", "web-old", "10.0.0.4", labels={"app": "web"}, phase="Succeeded"),
        endpoint_slice("shop", "web", ["10.0.0.3", "10.0.0.4"], name="web-xyz", ready=False),
        service_rule("shop", "web-out", "Allow", "web"),
    )
    result = compile_objects(objects)
    group = result.devices["fw1"].groups["c1/shop/svc/web"]
    assert group.addresses == ("10.0.0.1", "10.0.0.3")
    assert group.purpose == "service" and group.service == "web"
    assert "10.0.0.4" not in result.devices["fw1"].groups["c1/shop"].addresses
    assert status(result, RuleKind.SERVICE, "shop", "web-out").sources == 2


def test_default_action_none_emits_no_catch_all() -> None:
    result = compile_objects(base(annotations={"fusion-connector.io/default-action": "None"}))
    for state in result.devices.values():
        assert not any(r.origin.kind == RuleKind.DEFAULT for r in state.rules)
    assert verdict(result, "fw1", WEB, "9.9.9.9", 443) is None
    assert result.namespaces["shop"].default_action == "None"


@pytest.mark.parametrize(
    ("annotation", "configured", "expected"),
    [
        (None, "Deny", "Deny"),
        (None, "Allow", "Allow"),
        ("Allow", "Deny", "Allow"),
        ("bogus", "Allow", "Allow"),
    ],
)
def test_default_action_from_annotation_or_configuration(
    annotation: str | None, configured: str, expected: str
) -> None:
    annotations = {"fusion-connector.io/default-action": annotation} if annotation else None
    result = compile_objects(base(annotations=annotations), settings(default_action=configured))
    assert verdict(result, "fw1", WEB, "9.9.9.9", 443) == ("DefaultAction", "shop", "default", expected)
    warnings = result.namespaces["shop"].warnings
    assert bool(warnings) == (annotation == "bogus")
    if warnings:
        assert "fusion-connector.io/default-action" in warnings[0]


def test_unmanaged_namespace_produces_nothing() -> None:
    objects = [
        namespace("free", managed=False),
        pod("free", "p", "10.0.0.9"),
        service("free", "s"),
        endpoint_slice("free", "s", ["10.0.0.9"]),
        namespace_rule("free", "r", "Allow"),
        service_rule("free", "sr", "Allow", "s"),
        cluster_rule("everyone", "Deny"),
    ]
    result = compile_objects(objects)
    for state in result.devices.values():
        assert state.rules == () and state.groups == {}
    assert not result.namespaces["free"].managed
    assert Reason.NAMESPACE_NOT_MANAGED in reasons(result, RuleKind.NAMESPACE, "free", "r")
    assert status(result, RuleKind.CLUSTER, "", "everyone").sources == 0


def test_all_namespaces_mode_with_exclude() -> None:
    objects = [
        namespace("a", managed=False),
        pod("a", "p", "10.0.0.1"),
        namespace("kube-system", managed=False),
        pod("kube-system", "p", "10.0.0.2"),
    ]
    result = compile_objects(objects, settings(all_namespaces=True, exclude=frozenset({"kube-system"})))
    assert result.namespaces["a"].managed and not result.namespaces["kube-system"].managed
    assert set(result.devices["fw1"].groups) == {"c1/a", "c1/_cluster/default/deny"}
    assert result.devices["fw1"].groups["c1/_cluster/default/deny"].includes == ("c1/a",)


def test_ipv6_pod_addresses_and_destinations() -> None:
    objects = [
        namespace("v6"),
        pod("v6", "p", ["10.0.0.5", "fd00::5"]),
        external_service("v6", "ext", ["2001:db8::/32", "2001:DB8:0:0::1"]),
        namespace_rule("v6", "allow-v6", "Allow", externalServices=["ext"]),
    ]
    result = compile_objects(objects)
    assert result.devices["fw1"].groups["c1/v6"].addresses == ("10.0.0.5", "fd00::5")
    assert result.devices["fw1"].destinations["c1/v6/ext"].networks == ("2001:db8::/32", "2001:db8::1/128")
    assert verdict(result, "fw1", "fd00::5", "2001:db8:1::1", 443)[2] == "allow-v6"  # type: ignore[index]
    assert verdict(result, "fw1", "10.0.0.5", "2001:db8::1", 443)[2] == "allow-v6"  # type: ignore[index]
    assert verdict(result, "fw1", "fd00::5", "2001:db9::1", 443)[2] == "default"  # type: ignore[index]


DEVICE_CASES = [
    # namespace devices annotation, rule devices, devices holding the rule
    (None, None, {"fw1", "fw2"}),
    ("fw1", None, {"fw1"}),
    (None, ["fw2"], {"fw2"}),
    ("fw1", ["fw2"], set()),
    ("fw1, fw2", ["fw2", "fw1"], {"fw1", "fw2"}),
]


@pytest.mark.parametrize(("ns_devices", "rule_devices", "expected"), DEVICE_CASES)
def test_device_targeting(ns_devices: str | None, rule_devices: list[str] | None, expected: set[str]) -> None:
    annotations = {"fusion-connector.io/devices": ns_devices} if ns_devices else None
    objects = base(
        namespace_rule("shop", "r", "Allow", devices=rule_devices),
        cluster_rule("c", "Deny", externalServices=["tor"], devices=rule_devices),
        annotations=annotations,
    )
    result = compile_objects(objects)
    for name in ("r", "c"):
        holding = {d for d, s in result.devices.items() if any(r.origin.name == name for r in s.rules)}
        assert holding == expected
    ns_targets = {
        d for d, s in result.devices.items() if any(r.origin.kind == RuleKind.DEFAULT for r in s.rules)
    }
    assert ns_targets == ({"fw1"} if ns_devices == "fw1" else {"fw1", "fw2"})
    presence = {p.device: p.present for p in status(result, RuleKind.NAMESPACE, "shop", "r").devices}
    assert {d for d, present in presence.items() if present} == expected


def test_unknown_device_names_warn() -> None:
    objects = base(
        namespace_rule("shop", "r", "Allow", devices=["fw9"]),
        annotations={"fusion-connector.io/devices": "fw1,fw7"},
    )
    result = compile_objects(objects)
    assert "fw7" in result.namespaces["shop"].warnings[0]
    assert Reason.UNKNOWN_DEVICE in reasons(result, RuleKind.NAMESPACE, "shop", "r")
    assert result.namespaces["shop"].devices == ("fw1",)


def test_invalid_specs_are_not_compiled() -> None:
    objects = base(
        namespace_rule(
            "shop",
            "bad-selector",
            "Allow",
            podSelector={"matchExpressions": [{"key": "a", "operator": "Near"}]},
        ),
        namespace_rule("shop", "bad-action", "Permit"),
        cluster_rule("bad-priority", "Deny", priority=5000),
        cluster_rule("bad-tier", "Deny", tier="Middle"),
    )
    result = compile_objects(objects)
    expectations = {
        (RuleKind.NAMESPACE, "shop", "bad-selector"): (Reason.INVALID_SELECTOR, "spec.podSelector"),
        (RuleKind.NAMESPACE, "shop", "bad-action"): (Reason.INVALID_SPEC, "spec.action"),
        (RuleKind.CLUSTER, "", "bad-priority"): (Reason.INVALID_SPEC, "spec.priority"),
        (RuleKind.CLUSTER, "", "bad-tier"): (Reason.INVALID_SPEC, "spec.tier"),
    }
    for (kind, ns, name), (reason, field) in expectations.items():
        rule_status = status(result, kind, ns, name)
        assert not rule_status.accepted and rule_status.reason == reason and field in rule_status.message
        assert not any(r.origin.name == name for s in result.devices.values() for r in s.rules)


def test_invalid_addresses_and_ports_keep_only_the_valid_part() -> None:
    objects = base(
        external_service(
            "shop",
            "mixed",
            ["10.8.0.0/16", "not an address!", "300.1.1.1"],
            [{"port": "443"}, {"port": "99999"}],
        ),
        external_service("shop", "no-valid-port", ["10.7.0.0/16"], [{"port": "0"}]),
        namespace_rule("shop", "allow-mixed", "Allow", externalServices=["mixed"]),
        namespace_rule("shop", "deny-noport", "Deny", externalServices=["no-valid-port"]),
    )
    result = compile_objects(objects)
    assert verdict(result, "fw1", WEB, "10.8.0.1", 443)[2] == "allow-mixed"  # type: ignore[index]
    assert verdict(result, "fw1", WEB, "10.8.0.1", 80)[2] == "default"  # type: ignore[index]
    assert verdict(result, "fw1", WEB, "10.7.0.1", 22)[2] == "default"  # type: ignore[index]
    mixed = status(result, RuleKind.NAMESPACE, "shop", "allow-mixed")
    assert mixed.reason == Reason.INVALID_PORT
    assert "spec.addresses[1]" in mixed.message and "spec.ports[1]" in mixed.message
    assert {p.reason for p in mixed.problems} == {Reason.INVALID_PORT, Reason.INVALID_ADDRESS}


def test_fqdn_on_a_device_that_cannot_enforce_it() -> None:
    objects = base(
        external_service("shop", "names-only", ["example.org"]),
        namespace_rule("shop", "gh", "Allow", externalServices=["github"]),
        namespace_rule("shop", "names", "Allow", externalServices=["names-only"]),
    )
    result = compile_objects(objects, settings(no_fqdn=("fw2",)))
    assert result.devices["fw1"].destinations["c1/shop/github"].fqdns == ("api.github.com",)
    assert result.devices["fw2"].destinations["c1/shop/github"].fqdns == ()
    assert verdict(result, "fw2", WEB, "140.82.112.1", 443)[2] == "gh"  # type: ignore[index]
    gh = status(result, RuleKind.NAMESPACE, "shop", "gh")
    assert gh.accepted and gh.reason == Reason.FQDN_UNSUPPORTED and "fw2" in gh.message
    names = {p.device: p for p in status(result, RuleKind.NAMESPACE, "shop", "names").devices}
    assert names["fw1"].present and not names["fw2"].present
    assert names["fw2"].message == "no destination this device can enforce"


def test_egress_allow_annotation() -> None:
    annotations = {
        "fusion-connector.io/egress-allow": "api.github.com:443/TCP, 10.20.0.0/16:5432, ntp.org:123/UDP,"
        " [2001:db8::1]:8443, 2001:db8:5::/64, bad:port:x, 10.30.0.0/16:70000"
    }
    result = compile_objects(base(annotations=annotations))
    allow = ("Annotation", "shop", "annotation", "Allow")
    cases = [
        ("api.github.com", 443, "TCP", True),
        ("api.github.com", 80, "TCP", False),
        ("10.20.1.1", 5432, "TCP", True),
        ("10.20.1.1", 5432, "UDP", False),
        ("ntp.org", 123, "UDP", True),
        ("ntp.org", 123, "TCP", False),
        ("2001:db8::1", 8443, "TCP", True),
        ("2001:db8:5::9", 1, "UDP", True),
        ("10.30.0.1", 1, "TCP", False),
    ]
    for destination, port, protocol, allowed in cases:
        got = verdict(result, "fw1", DB, destination, port, protocol)
        assert (got == allow) == allowed, (destination, port, protocol, got)
    warnings = result.namespaces["shop"].warnings
    assert len(warnings) == 2 and all("fusion-connector.io/egress-allow" in w for w in warnings)


def test_keys_are_stable_and_meaningful() -> None:
    objects = base(
        service_rule("shop", "web-gh", "Allow", "web", externalServices=["github"]),
        namespace_rule("shop", "dbs", "Allow", podSelector={"matchLabels": {"app": "db"}}),
        cluster_rule("no-tor", "Deny", externalServices=["tor"]),
    )
    state = compile_objects(objects).devices["fw1"]
    assert set(state.groups) == {
        "c1/_cluster/rule/no-tor", "c1/shop", "c1/shop/svc/web", "c1/shop/pods/dbs",
        "c1/_cluster/default/deny",
    }
    assert state.groups["c1/_cluster/rule/no-tor"].includes == ("c1/shop",)
    assert [r.key for r in state.rules] == [
        "c1/_cluster/admin/no-tor/tor",
        "c1/shop/svc/web-gh/github",
        "c1/shop/ns/dbs/any",
        "c1/_cluster/default/deny",
    ]
    assert state.groups["c1/shop/pods/dbs"].members[0][1][0].name == "db-1"
    assert set(state.destinations) == {"c1/fusion-system/tor", "c1/shop/github"}


def test_compile_is_deterministic_whatever_the_object_order() -> None:
    objects = base(
        service_rule("shop", "web-gh", "Allow", "web", externalServices=["github"]),
        cluster_rule("no-tor", "Deny", externalServices=["tor"]),
        namespace("b"),
        pod("b", "x", "10.1.1.1"),
    )
    first = compile_objects(objects)
    second = compile_objects(list(reversed(objects)))
    assert {d: s.checksum() for d, s in first.devices.items()} == {
        d: s.checksum() for d, s in second.devices.items()
    }
    assert first.rules == second.rules and first.namespaces == second.namespaces


def test_status_carries_generation_and_condition() -> None:
    objects = base(namespace_rule("shop", "r", "Allow", generation=7))
    rule_status = status(compile_objects(objects), RuleKind.NAMESPACE, "shop", "r")
    condition = rule_status.condition()
    assert condition == {
        "type": "Accepted",
        "status": "True",
        "reason": "Accepted",
        "message": condition["message"],
        "observedGeneration": 7,
    }
    assert rule_status.sources == 2


def test_ipv6_on_a_device_that_cannot_enforce_it() -> None:
    objects = [
        namespace("v6", labels={"env": "prod"}),
        pod("v6", "p", ["10.0.0.5", "fd00::5"]),
        namespace("v4"),
        pod("v4", "q", "10.0.0.6"),
        external_service("v4", "ext", ["192.0.2.0/24"]),
        external_service("v4", "ext6", ["2001:db8::/32"]),
        namespace_rule("v6", "any", "Allow"),
        namespace_rule("v4", "plain", "Allow", externalServices=["ext"]),
        namespace_rule("v4", "six", "Allow", externalServices=["ext6"]),
        cluster_rule("prod", "Deny", namespaceSelector={"matchLabels": {"env": "prod"}}),
    ]
    result = compile_objects(objects, settings(no_ipv6=("fw2",)))
    for kind, ns, name, expected in (
        (RuleKind.NAMESPACE, "v6", "any", True),
        (RuleKind.NAMESPACE, "v4", "plain", False),
        (RuleKind.NAMESPACE, "v4", "six", True),
        (RuleKind.CLUSTER, "", "prod", True),
    ):
        rule_status = status(result, kind, ns, name)
        assert (Reason.IPV6_UNSUPPORTED in {p.reason for p in rule_status.problems}) == expected, name
        if expected:
            assert rule_status.accepted and "fw2" in rule_status.message and "fw1" not in rule_status.message


def test_empty_devices_annotation_targets_no_device_and_warns() -> None:
    result = compile_objects(base(annotations={"fusion-connector.io/devices": " "}))
    assert all(state.rules == () for state in result.devices.values())
    assert result.namespaces["shop"].devices == ()
    assert result.namespaces["shop"].warnings == (
        'namespace shop: annotation fusion-connector.io/devices: " " is empty:'
        " the namespace's policy goes to no device",
    )


def test_cluster_rule_is_one_device_rule_per_destination_whatever_the_namespaces() -> None:
    """A ClusterEgressRule's sources are one union group including the selected namespaces' groups,
    so the device rule count does not grow with the namespaces it selects."""
    extra = [obj for n in range(5) for obj in (namespace(f"t{n}"), pod(f"t{n}", "p", f"10.9.0.{n + 1}"))]
    objects = base(cluster_rule("no-tor", "Deny", externalServices=["tor"]), *extra)
    state = compile_objects(objects).devices["fw1"]
    cluster_rules = [r for r in state.rules if r.origin.name == "no-tor"]
    assert [r.source for r in cluster_rules] == ["c1/_cluster/rule/no-tor"]
    union = state.groups["c1/_cluster/rule/no-tor"]
    assert union.purpose == "union" and union.members == ()
    assert union.includes == ("c1/shop", *(f"c1/t{n}" for n in range(5)))
    assert "10.9.0.3" in state.group_addresses(union.key)
