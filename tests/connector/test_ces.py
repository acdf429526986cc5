"""CES (kubeovn.io/v1alpha1) to fusion-connector conversion: mapping, ordering, moves, findings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ces import (
    CLUSTER_PRIORITY,
    IMPORTED_FROM,
    NAMESPACE_PASS_ON_PRIORITY,
    NAMESPACE_PRIORITY,
    ORDERING_NOTE,
    SERVICE_PRIORITY,
    Conversion,
    InvalidCesObject,
    convert,
    convert_address,
)
from tests.helm.test_crds import CRDS, validate

CES = "kubeovn.io/v1alpha1"


def ces(kind: str, name: str, spec: dict[str, Any], namespace: str | None = "default",
        **metadata: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **metadata}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": CES, "kind": kind, "metadata": meta, "spec": spec}


def run(*objects: Any, **options: str) -> Conversion:
    return convert([(f"in.yaml#{i}", obj) for i, obj in enumerate(objects)], **options)


def by_key(conversion: Conversion) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]): r
            for r in conversion.resources}


def messages(findings: list[Any]) -> list[str]:
    return [str(finding) for finding in findings]


def assert_valid_against_crds(conversion: Conversion) -> None:
    for resource in conversion.resources:
        assert validate(CRDS[resource["kind"]], resource) == [], resource


EXSVC = ces("ExternalService", "db", {"addresses": ["192.0.2.10"],
                                     "ports": [{"protocol": "TCP", "port": "5432"}]})

# (kind, CES action) -> (tier, priority, action, warns about pass-on)
ACTION_TABLE = [
    ("ClusterEgressRule", "drop", "Admin", CLUSTER_PRIORITY, "Deny", False),
    ("ClusterEgressRule", "reject", "Admin", CLUSTER_PRIORITY, "Deny", False),
    ("ClusterEgressRule", "accept-decisively", "Admin", CLUSTER_PRIORITY, "Allow", False),
    ("ClusterEgressRule", "accept", "Baseline", CLUSTER_PRIORITY, "Allow", True),
    ("NamespaceEgressRule", "drop", None, NAMESPACE_PRIORITY, "Deny", False),
    ("NamespaceEgressRule", "reject", None, NAMESPACE_PRIORITY, "Deny", False),
    ("NamespaceEgressRule", "accept-decisively", None, NAMESPACE_PRIORITY, "Allow", False),
    ("NamespaceEgressRule", "accept", None, NAMESPACE_PASS_ON_PRIORITY, "Allow", True),
    ("ServiceEgressRule", "drop", None, SERVICE_PRIORITY, "Deny", False),
    ("ServiceEgressRule", "reject", None, SERVICE_PRIORITY, "Deny", False),
    ("ServiceEgressRule", "accept-decisively", None, SERVICE_PRIORITY, "Allow", False),
    ("ServiceEgressRule", "accept", None, SERVICE_PRIORITY, "Allow", False),
]


@pytest.mark.parametrize(("kind", "action", "tier", "priority", "expected", "pass_on"), ACTION_TABLE)
def test_actions_tiers_and_priorities(kind: str, action: str, tier: str | None, priority: int,
                                      expected: str, pass_on: bool) -> None:
    spec: dict[str, Any] = {"action": action, "externalServices": ["db"]}
    if kind == "ServiceEgressRule":
        spec["service"] = "api"
    namespace = None if kind == "ClusterEgressRule" else "default"
    service = EXSVC if namespace else {**EXSVC, "metadata": {"name": "db", "namespace": "kube-system"}}
    result = run(ces(kind, "r", spec, namespace), service)
    assert result.ok, result.errors
    rule = by_key(result)[(kind, namespace or "", "r")]
    assert rule["apiVersion"] == "fusion-connector.io/v1alpha1"
    assert rule["spec"].get("tier") == tier
    assert rule["spec"]["priority"] == priority
    assert rule["spec"]["action"] == expected
    pass_on_warnings = [w for w in messages(result.warnings) if "action accept passed traffic on" in w]
    assert bool(pass_on_warnings) == pass_on
    assert all(w.startswith(f"in.yaml#0 {kind} ") for w in pass_on_warnings)
    assert ("converted to Deny" in " ".join(messages(result.warnings))) == (action == "reject")
    assert result.notes[0] == ORDERING_NOTE
    assert_valid_against_crds(result)


def test_priorities_keep_the_ces_context_order() -> None:
    # global context decisive rules, then namespace decisive, then Service, then namespace pass-on.
    assert CLUSTER_PRIORITY < NAMESPACE_PRIORITY < SERVICE_PRIORITY < NAMESPACE_PASS_ON_PRIORITY <= 1000


def test_service_rule_keeps_service_logging_and_reference_order() -> None:
    rule = ces("ServiceEgressRule", "r", {"action": "accept", "service": "mysql-service", "logging": True,
                                          "externalServices": ["b", "a", "b"]})
    result = run(rule)
    spec = by_key(result)[("ServiceEgressRule", "default", "r")]["spec"]
    assert spec == {"service": "mysql-service", "priority": SERVICE_PRIORITY, "action": "Allow",
                    "externalServices": ["b", "a"], "logging": True}
    missing = [w for w in messages(result.warnings) if "is not in the input" in w]
    assert len(missing) == 2 and all("it must exist in default" in w for w in missing)


def test_external_service_ports_and_bandwidth() -> None:
    service = ces("ExternalService", "exsvc4", {
        "addresses": ["211.6.6.7", "api.example.com", "2001:DB8::1", "211.6.6.7"],
        "ports": [
            {"name": "dns-udp", "protocol": "udp", "port": "9090", "bandwidth": "bwc-1mbps-irule"},
            {"name": "dns-tcp", "protocol": "TCP", "port": "0053,8000-8080"},
            {"name": "empty", "protocol": "TCP"},
            {"port": "443"},
            {"name": "all", "protocol": "any", "port": "7000"},
        ]})
    result = run(service)
    assert result.ok
    spec = by_key(result)[("ExternalService", "default", "exsvc4")]["spec"]
    assert spec["addresses"] == ["211.6.6.7", "api.example.com", "2001:db8::1"]
    assert spec["ports"] == [
        {"name": "dns-udp", "protocol": "UDP", "port": "9090"},
        {"name": "dns-tcp", "protocol": "TCP", "port": "53,8000-8080"},
        {"protocol": "TCP", "port": "443"},
        {"name": "all-tcp", "protocol": "TCP", "port": "7000"},
        {"name": "all-udp", "protocol": "UDP", "port": "7000"},
        {"name": "all-sctp", "protocol": "SCTP", "port": "7000"},
    ]
    warnings = messages(result.warnings)
    source = "in.yaml#0 ExternalService default/exsvc4: "
    assert f"{source}spec.ports[0]: bandwidth iRule 'bwc-1mbps-irule' dropped: bandwidth iRules cannot be " \
           "mapped (the connector programs allow and deny rules only)" in warnings
    assert f"{source}spec.ports[2] has no port: CES ignored it; dropped" in warnings
    assert f"{source}spec.ports[3] has no protocol: TCP assumed" in warnings
    assert any(w.startswith(f"{source}spec.ports[4]: protocol any") for w in warnings)
    assert result.notes == []  # no rules, no ordering assumptions
    assert_valid_against_crds(result)


def test_ports_that_all_lack_a_port_leave_every_port_open_as_in_ces() -> None:
    result = run(ces("ExternalService", "x", {"addresses": ["192.0.2.1"], "ports": [{"protocol": "TCP"}]}))
    assert "ports" not in by_key(result)[("ExternalService", "default", "x")]["spec"]
    assert any("every port and protocol matches, as in CES" in w for w in messages(result.warnings))


@pytest.mark.parametrize(("text", "expected", "note"), [
    ("198.51.100.7", ["198.51.100.7"], None),
    ("198.51.100.0/24", ["198.51.100.0/24"], None),
    ("2001:DB8::/32", ["2001:db8::/32"], None),
    ("api.stripe.com", ["api.stripe.com"], None),
    ("pool.ntp.org.", ["pool.ntp.org."], None),
    ("10.1.1.1%10", ["10.1.1.1"], "route-domain suffix dropped"),
    ("10.1.0.0%10/16", ["10.1.0.0/16"], "route-domain suffix dropped"),
    ("10.0.0.1/24", ["10.0.0.0/24"], "host bits set"),
    ("10.0.0.1-10.0.0.6", ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"], "IP range"),
    ("2001:db8::-2001:db8::ff", ["2001:db8::/120"], "IP range"),
])
def test_address_conversion(text: str, expected: list[str], note: str | None) -> None:
    addresses, notes = convert_address(text)
    assert addresses == expected
    assert (note is None and notes == []) or (note is not None and note in notes[0])


@pytest.mark.parametrize("text", ["999.1.1.1", "10.0.0.0/33", "*.example.com", "localhost", "http://x.io",
                                  "10.0.0.9-10.0.0.1", "10.0.0.1-2001:db8::1", "2001:db8::1::2", ""])
def test_invalid_address_is_refused(text: str) -> None:
    with pytest.raises(InvalidCesObject):
        convert_address(text)


def test_cluster_rule_external_services_move_to_the_connector_namespace() -> None:
    tor = ces("ExternalService", "tor", {"addresses": ["203.0.113.0/24"]}, "kube-system")
    shared = ces("ExternalService", "dns", {"addresses": ["10.0.0.53"]}, "kube-system")
    local = ces("ExternalService", "tor", {"addresses": ["198.51.100.1"]}, "default")
    result = run(
        ces("ClusterEgressRule", "deny-tor", {"action": "drop", "externalServices": ["tor", "dns"]}, None),
        ces("NamespaceEgressRule", "dns", {"action": "accept-decisively", "externalServices": ["dns"]},
            "kube-system"),
        tor, shared, local,
        connector_namespace="egress")
    assert result.ok
    keys = set(by_key(result))
    assert keys == {("ExternalService", "egress", "tor"), ("ExternalService", "egress", "dns"),
                    ("ExternalService", "kube-system", "dns"),  # still used by a rule of kube-system
                    ("ExternalService", "default", "tor"),      # never seen by the cluster rule
                    ("ClusterEgressRule", "", "deny-tor"), ("NamespaceEgressRule", "kube-system", "dns")}
    assert by_key(result)[("ExternalService", "egress", "tor")]["spec"]["addresses"] == ["203.0.113.0/24"]
    moved = [w for w in messages(result.warnings) if "moved to namespace egress" in w]
    assert sorted(w.split(":")[0] for w in moved) == ["in.yaml#2 ExternalService kube-system/tor",
                                                      "in.yaml#3 ExternalService kube-system/dns"]
    assert_valid_against_crds(result)


def test_ces_namespace_option_and_missing_cluster_reference() -> None:
    service = ces("ExternalService", "dns", {"addresses": ["10.0.0.53"]}, "ces")
    rule = ces("ClusterEgressRule", "allow",
               {"action": "accept-decisively", "externalServices": ["dns", "ntp"]}, None)
    result = run(rule, service, ces_namespace="ces")
    assert ("ExternalService", "fusion-system", "dns") in by_key(result)
    assert ("ExternalService", "ces", "dns") not in by_key(result)
    assert "in.yaml#0 ClusterEgressRule allow: ExternalService ntp is not in the input " \
           "(CES looked in ces); create it in namespace fusion-system" in messages(result.warnings)


def test_moving_into_the_same_namespace_emits_one_copy() -> None:
    service = ces("ExternalService", "dns", {"addresses": ["10.0.0.53"]}, "fusion-system")
    rules = [ces("ClusterEgressRule", "a", {"action": "drop", "externalServices": ["dns"]}, None),
             ces("NamespaceEgressRule", "b", {"action": "drop", "externalServices": ["dns"]},
                 "fusion-system")]
    result = run(*rules, service, ces_namespace="fusion-system")
    assert [r["kind"] for r in result.resources] == ["ExternalService", "ClusterEgressRule",
                                                     "NamespaceEgressRule"]
    assert not any("moved" in w for w in messages(result.warnings))


def test_labels_and_annotations_are_kept_except_ces_internal_ones() -> None:
    service = ces("ExternalService", "x", {"addresses": ["192.0.2.1"]},
                  labels={"cpaas.io/ruleType": "global", "team": "payments"},
                  annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "owner": "alice"},
                  uid="1234", resourceVersion="99", creationTimestamp="2022-01-01T00:00:00Z")
    service["status"] = {"phase": "Success"}
    resource = by_key(run(service))[("ExternalService", "default", "x")]
    assert resource["metadata"] == {
        "name": "x", "namespace": "default", "labels": {"team": "payments"},
        "annotations": {"owner": "alice", IMPORTED_FROM: "kubeovn.io/v1alpha1 ExternalService default/x"}}
    assert "status" not in resource


def test_other_kinds_are_skipped_with_a_reason() -> None:
    result = run({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a"}},
                 {"apiVersion": "bigip.io/v1alpha1", "kind": "ExternalIPRule", "metadata": {"name": "e"}},
                 {"apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": {"name": "net1"}},
                 {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ExternalService",
                  "metadata": {"name": "f"}}, None)
    assert result.ok and result.resources == [] and result.notes == []
    assert messages(result.skipped) == [
        "in.yaml#0 Service a/s: v1 Service is not a CES resource",
        "in.yaml#1 ExternalIPRule e: CES ExternalIPRule (SNAT) has no equivalent resource; use the namespace "
        "annotation fusion-connector.io/source-mode: egress-ip",
        "in.yaml#2 Subnet net1: kubeovn.io/v1 Subnet is not a CES resource",
        "in.yaml#3 ExternalService f: already a fusion-connector resource",
    ]


def test_list_documents_are_expanded() -> None:
    typed_list = {"apiVersion": CES, "kind": "ExternalServiceList",
                  "items": [{"metadata": {"name": "a", "namespace": "n"},
                             "spec": {"addresses": ["192.0.2.1"]}}]}
    generic_list = {"apiVersion": "v1", "kind": "List", "items": [
        ces("ServiceEgressRule", "r", {"action": "drop", "service": "api", "externalServices": ["a"]}, "n"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]}
    result = run(typed_list, generic_list)
    assert set(by_key(result)) == {("ExternalService", "n", "a"), ("ServiceEgressRule", "n", "r")}
    assert messages(result.skipped) == ["in.yaml#1[1] ConfigMap c: v1 ConfigMap is not a CES resource"]


def test_rule_without_external_services_is_not_converted() -> None:
    result = run(ces("NamespaceEgressRule", "r", {"action": "accept-decisively", "externalServices": []}))
    assert result.ok and result.resources == []
    assert any(w.startswith("in.yaml#0 NamespaceEgressRule default/r: no externalServices") and
               "matches every destination" in w for w in messages(result.warnings))


INVALID = [
    (ces("NamespaceEgressRule", "r", {"action": "Maybe", "externalServices": ["a"]}), "spec.action 'Maybe'"),
    (ces("NamespaceEgressRule", "r", {"externalServices": ["a"]}), "spec.action None"),
    (ces("ServiceEgressRule", "r", {"action": "drop", "externalServices": ["a"]}), "spec.service None"),
    (ces("ServiceEgressRule", "r", {"action": "drop", "service": "My_Svc", "externalServices": ["a"]}),
     "spec.service 'My_Svc'"),
    (ces("ClusterEgressRule", "r", {"action": "drop", "externalServices": "a"}, None),
     "spec.externalServices"),
    (ces("ClusterEgressRule", "r", {"action": "drop", "externalServices": ["a"], "logging": "yes"}, None),
     "spec.logging"),
    (ces("ExternalService", "x", {"addresses": ["999.1.1.1"]}), "address '999.1.1.1'"),
    (ces("ExternalService", "x", {"addresses": []}), "spec.addresses must be a non-empty list"),
    (ces("ExternalService", "x", {}), "spec.addresses must be a non-empty list"),
    (ces("ExternalService", "x", {"addresses": [f"10.0.{i // 256}.{i % 256}" for i in range(1001)]}),
     "at most 1000"),
    (ces("ExternalService", "x", {"addresses": ["192.0.2.1"],
                                  "ports": [{"protocol": "TCP", "port": "70000"}]}),
     "ports are 1-65535"),
    (ces("ExternalService", "x", {"addresses": ["192.0.2.1"],
                                  "ports": [{"protocol": "TCP", "port": "80-20"}]}),
     "range 80-20 ends before it starts"),
    (ces("ExternalService", "x", {"addresses": ["192.0.2.1"],
                                  "ports": [{"protocol": "TCP", "port": "http"}]}),
     "is not a port list"),
    (ces("ExternalService", "x", {"addresses": ["192.0.2.1"], "ports": [{"protocol": "ICMP", "port": "1"}]}),
     "spec.ports[0].protocol 'ICMP'"),
    ({"apiVersion": CES, "kind": "ExternalService", "metadata": {}, "spec": {"addresses": ["192.0.2.1"]}},
     "metadata.name is missing"),
    ({"apiVersion": CES, "kind": "ExternalService", "metadata": {"name": "x"}}, "spec is missing"),
]


@pytest.mark.parametrize(("obj", "expected"), INVALID, ids=[expected for _, expected in INVALID])
def test_invalid_object_is_an_error_naming_it(obj: dict[str, Any], expected: str) -> None:
    valid = ces("ExternalService", "ok", {"addresses": ["192.0.2.1"]})
    result = run(valid, obj)
    assert not result.ok
    assert len(result.errors) == 1
    error = str(result.errors[0])
    assert error.startswith(f"in.yaml#1 {obj['kind']} ") and expected in error, error


def test_scalar_document_is_an_error() -> None:
    result = run("just text")
    assert messages(result.errors) == ["in.yaml#0: not a Kubernetes object (a YAML mapping)"]


def test_duplicates_identical_merge_conflicting_fail() -> None:
    service = ces("ExternalService", "x", {"addresses": ["192.0.2.1"]})
    assert len(run(service, service).resources) == 1
    other = ces("ExternalService", "x", {"addresses": ["192.0.2.2"]})
    result = run(service, other)
    assert messages(result.errors) == [
        "ExternalService default/x: defined twice with different content; keep one"]


def test_output_order_is_deterministic() -> None:
    objects = [ces("ServiceEgressRule", "z", {"action": "drop", "service": "s", "externalServices": ["e"]}),
               ces("ClusterEgressRule", "c", {"action": "drop", "externalServices": ["e"]}, None),
               ces("ExternalService", "e", {"addresses": ["192.0.2.1"]}, "b"),
               ces("ExternalService", "e", {"addresses": ["192.0.2.1"]}, "a"),
               ces("NamespaceEgressRule", "n", {"action": "drop", "externalServices": ["e"]})]
    forward = run(*objects).resources
    backward = run(*reversed(objects)).resources
    assert forward == backward
    assert [r["kind"] for r in forward] == ["ExternalService", "ExternalService", "ClusterEgressRule",
                                            "NamespaceEgressRule", "ServiceEgressRule"]


_names = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_cidr = st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}")
_fqdn = st.lists(_names, min_size=2, max_size=4).map(".".join).filter(lambda n: n.split(".")[-1][0].isalpha())
_port = st.integers(1, 65535)
_port_item = st.one_of(_port.map(str), st.tuples(_port, _port).map(lambda t: f"{min(t)}-{max(t)}"))
_port_entry = st.fixed_dictionaries(
    {"port": st.lists(_port_item, min_size=1, max_size=3).map(",".join)},
    optional={"name": _names, "protocol": st.sampled_from(["tcp", "UDP", "Sctp", "any"]),
              "bandwidth": st.just("bwc-1mbps-irule")})
_service_spec = st.fixed_dictionaries(
    {"addresses": st.lists(st.one_of(_ipv4, _ipv6, _cidr, _fqdn), min_size=1, max_size=5)},
    optional={"ports": st.lists(_port_entry, max_size=4)})
_rule_spec = st.fixed_dictionaries(
    {"action": st.sampled_from(["accept", "accept-decisively", "drop", "reject"]),
     "externalServices": st.lists(_names, min_size=1, max_size=3)},
    optional={"logging": st.booleans()})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ExternalService", "ClusterEgressRule", "NamespaceEgressRule",
                                           "ServiceEgressRule"]),
                          _names, st.sampled_from(["default", "kube-system", "team-a"]),
                          _service_spec, _rule_spec, _names), max_size=8))
def test_every_valid_ces_object_converts_to_a_resource_the_crds_accept(
        specs: list[tuple[str, str, str, dict[str, Any], dict[str, Any], str]]) -> None:
    objects = []
    for kind, name, namespace, service_spec, rule_spec, service in specs:
        if kind == "ExternalService":
            objects.append(ces(kind, name, service_spec, namespace))
        elif kind == "ClusterEgressRule":
            objects.append(ces(kind, name, rule_spec, None))
        else:
            spec = {**rule_spec, "service": service} if kind == "ServiceEgressRule" else rule_spec
            objects.append(ces(kind, name, spec, namespace))
    result = run(*objects)
    conflicting = [e for e in result.errors if "defined twice" in e.message]
    assert result.errors == conflicting
    if result.ok:
        assert_valid_against_crds(result)
        rule_count = sum(1 for r in result.resources if r["kind"] != "ExternalService")
        assert rule_count == len({(k, "" if k == "ClusterEgressRule" else ns, n)
                                  for k, n, ns, *_ in specs if k != "ExternalService"})
