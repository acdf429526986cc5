"""The chart's flow visibility: the configuration's flows section, the syslog ports of the container
and of their Service (UDP and TCP), the push token from a Secret, and the NetworkPolicy admitting
the listed senders on the syslog ports (and the SIEM records are forwarded to)."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from connector.config import Secrets, secret_variables
from tests.helm.test_chart import (
    CHART_DIR,
    DEVICES,
    KUBERNETES_VERSIONS,
    NAMESPACE,
    POSTGRESQL,
    Manifest,
    _secret_env,
    container,
    one,
    parse,
    render_error,
    render_raw,
    rendered_config,
)

SENDERS = [{"device": "fgt-edge", "addresses": ["192.0.2.10", "192.0.2.11"], "format": "fortios"},
           {"device": "bigip-dc1", "addresses": ["2001:db8::20"], "format": "bigip-afm"}]
FLOWS = {"enabled": True, "syslogPort": 6514, "syslogIdleTimeout": "90s", "syslogMaxConnections": 64,
         "senders": SENDERS, "senderCidrs": ["198.51.100.0/24"],
         "retention": "14d", "clockSkew": "3s", "tokenSecret": {"name": "fc-flows", "key": "push-token"},
         "forward": {"url": "tcp://203.0.113.50:6515", "format": "cef"}}
METRICS_FROM = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
NETWORK_POLICY = {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]},
                  "database": {"cidrs": ["10.1.0.0/24"]}, "devices": {"cidrs": ["203.0.113.0/24"]},
                  "metricsFrom": METRICS_FROM}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "flows": {"config": {"cluster": "prod-eu1", "devices": DEVICES}, "flows": FLOWS},
    "flows-load-balancer": {
        "replicaCount": 2, "config": {"cluster": "prod-eu1", "devices": DEVICES}, "database": POSTGRESQL,
        "flows": {**FLOWS, "service": {"type": "LoadBalancer", "annotations": {"example.com/lb": "nlb"}},
                  "pushFrom": [{"ipBlock": {"cidr": "198.51.100.7/32"}}]},
        "networkPolicy": NETWORK_POLICY},
}
FLOW_SETS = pytest.mark.parametrize("value_set", sorted(VALUE_SETS))


def manifests(value_set: str) -> list[Manifest]:
    return parse(render_raw(VALUE_SETS[value_set]))


def syslog_service(docs: list[Manifest]) -> Manifest:
    found = [doc for doc in docs if doc["kind"] == "Service" and doc["metadata"]["name"].endswith("-syslog")]
    assert len(found) == 1
    return found[0]


@FLOW_SETS
def test_flow_values_lint_and_validate_strictly(value_set: str) -> None:
    for version in KUBERNETES_VERSIONS:
        report = helm.lint(CHART_DIR, copy.deepcopy(VALUE_SETS[value_set]), strict=True,
                           namespace=NAMESPACE, kube_version=f"v{version}")
        assert report["errors"] == []
        assert [m for m in report["messages"] if m["severity"] >= 2] == []
        for doc in manifests(value_set):
            if doc["kind"] == "ServiceMonitor":
                continue
            kubernetes_validate.validate(doc, version, strict=True)


@FLOW_SETS
def test_the_configuration_has_the_flows_section_of_the_values(value_set: str) -> None:
    docs = manifests(value_set)
    flows = rendered_config(docs).flows
    assert flows is not None and flows.syslog is not None
    assert flows.syslog.address == ("0.0.0.0", 6514)
    assert (flows.syslog.idle_timeout, flows.syslog.max_connections) == (90.0, 64)
    assert [(s.device, s.addresses, s.format) for s in flows.senders] == [
        (s["device"], s["addresses"], s["format"]) for s in SENDERS]
    assert (flows.retention, flows.clock_skew) == (14 * 86400.0, 3.0)
    assert flows.forward is not None and (flows.forward.url, flows.forward.format) == (
        "tcp://203.0.113.50:6515", "cef")
    # the push token: from the Secret, under the variable the configuration names
    assert flows.token_env is not None
    assert _secret_env(docs)[flows.token_env] == ("fc-flows", "push-token")
    env = {name: "s3cret" for name in _secret_env(docs)}
    assert Secrets(env).missing(secret_variables(rendered_config(docs))) == []


def test_flows_are_off_by_default_and_without_a_token_pushes_stay_off() -> None:
    docs = parse(render_raw({}))
    assert rendered_config(docs).flows is None
    assert [doc["metadata"]["name"] for doc in docs if doc["kind"] == "Service"] == ["fc-fusion-connector"]
    flows = rendered_config(parse(render_raw({"config": {"devices": [DEVICES[1]]}, "flows": {
        "enabled": True, "senders": [SENDERS[0]]}}))).flows
    assert flows is not None and flows.token_env is None and flows.forward is None
    assert (flows.retention, flows.clock_skew) == (7 * 86400.0, 2.0)


@FLOW_SETS
def test_the_container_and_the_syslog_service_expose_udp_and_tcp(value_set: str) -> None:
    docs = manifests(value_set)
    ports = container(docs)["ports"]
    assert ports == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"},
                     {"name": "syslog-udp", "containerPort": 6514, "protocol": "UDP"},
                     {"name": "syslog-tcp", "containerPort": 6514, "protocol": "TCP"}]
    service = syslog_service(docs)["spec"]
    assert service["ports"] == [
        {"name": "syslog-udp", "port": 6514, "targetPort": "syslog-udp", "protocol": "UDP"},
        {"name": "syslog-tcp", "port": 6514, "targetPort": "syslog-tcp", "protocol": "TCP"}]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()


def test_a_cluster_ip_syslog_service_has_no_external_traffic_policy() -> None:
    service = syslog_service(manifests("flows"))["spec"]
    assert service["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in service and "loadBalancerSourceRanges" not in service


def test_a_load_balancer_keeps_source_addresses_and_admits_only_the_senders() -> None:
    service = syslog_service(manifests("flows-load-balancer"))
    assert service["metadata"]["annotations"] == {"example.com/lb": "nlb"}
    spec = service["spec"]
    assert (spec["type"], spec["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    assert spec["loadBalancerSourceRanges"] == ["192.0.2.10/32", "192.0.2.11/32", "2001:db8::20/128",
                                                "198.51.100.0/24"]


def test_the_syslog_service_can_be_left_out() -> None:
    docs = parse(render_raw({**VALUE_SETS["flows"], "flows": {**FLOWS, "service": {"enabled": False}}}))
    assert not [doc for doc in docs if doc["metadata"]["name"].endswith("-syslog")]
    assert len(container(docs)["ports"]) == 3


def test_the_network_policy_admits_the_senders_on_the_syslog_ports_and_reaches_the_siem() -> None:
    policy = one(manifests("flows-load-balancer"), "NetworkPolicy")["spec"]
    metrics, syslog = policy["ingress"]
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics["from"] == [*METRICS_FROM, {"ipBlock": {"cidr": "198.51.100.7/32"}}]
    assert syslog["ports"] == [{"port": "syslog-udp", "protocol": "UDP"},
                               {"port": "syslog-tcp", "protocol": "TCP"}]
    assert syslog["from"] == [{"ipBlock": {"cidr": cidr}} for cidr in (
        "192.0.2.10/32", "192.0.2.11/32", "2001:db8::20/128", "198.51.100.0/24")]
    siem = [rule for rule in policy["egress"] if rule["to"] == [{"ipBlock": {"cidr": "203.0.113.50/32"}}]]
    assert siem == [{"to": [{"ipBlock": {"cidr": "203.0.113.50/32"}}],
                     "ports": [{"port": 6515, "protocol": "TCP"}]}]


def test_without_flows_the_network_policy_has_no_syslog_rule() -> None:
    values = {**VALUE_SETS["flows-load-balancer"], "flows": {"enabled": False}}
    policy = one(parse(render_raw(values)), "NetworkPolicy")["spec"]
    assert len(policy["ingress"]) == 1 and len(policy["egress"]) == 4


@pytest.mark.parametrize(("flows", "expected"), [
    ({"senders": [{"device": "fgt-egde", "addresses": ["192.0.2.10"], "format": "fortios"}]},
     'flows.senders[0].device: "fgt-egde" is not a device of config.devices'),
    ({"forward": {"url": "tcp://siem.example.net:6514"}},
     "flows.forward.cidrs: list the SIEM's addresses"),
])
def test_templates_refuse_flow_values_that_cannot_run(flows: dict[str, Any], expected: str) -> None:
    values = copy.deepcopy(VALUE_SETS["flows-load-balancer"])
    values["flows"].update(flows)
    assert expected in render_error(values)


@pytest.mark.parametrize(("flows", "expected"), [
    ({"senders": [{"device": "fgt-edge", "addresses": ["192.0.2.10"], "format": "syslog"}]},
     "at '/flows/senders/0/format'"),
    ({"senders": [{"device": "fgt-edge", "format": "fortios"}]}, "missing property 'addresses'"),
    ({"syslogPort": 70000}, "at '/flows/syslogPort'"),
    ({"retention": "a week"}, "at '/flows/retention'"),
    ({"forward": {"url": "udp://203.0.113.50:514"}}, "at '/flows/forward/url'"),
    ({"port": 514}, "'port' not allowed"),
])
def test_the_schema_refuses_invalid_flow_values(flows: dict[str, Any], expected: str) -> None:
    message = render_error({"config": {"devices": DEVICES}, "flows": {"enabled": True, **flows}})
    assert "values don't meet the specifications of the schema" in message
    assert expected in message, message


def test_the_notes_say_where_logs_and_pushes_go() -> None:
    notes = render_raw(VALUE_SETS["flows"])["fusion-connector/templates/NOTES.txt"]
    assert "on port 6514 of Service fc-fusion-connector-syslog, from 2 sender(s)" in notes
    assert "/v1/flows (Authorization: Bearer <token from Secret fc-flows>)" in notes
    assert "Flows:" not in render_raw({})["fusion-connector/templates/NOTES.txt"]
