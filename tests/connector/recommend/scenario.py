"""A workload and its observed egress for the recommend tests.

Namespace `shop` (default action Deny): Service `web` (pods web-1, web-2) and a pod `db-1` outside
it. Rules today: `allow-bank` (Allow 198.51.100.0/25:443), an Admin ClusterEgressRule denying
203.0.113.0/24 (`block-tor`), a Baseline ClusterEgressRule denying SMTP to 192.0.2.0/24
(`baseline-smtp`). The records are what the devices would log: each flow's action and deciding
rule come from evaluating the compiled state (`connector.evaluate`), as the firewall decides.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileSettings
from connector.config import Config
from connector.crds.validation import ManifestValidator
from connector.evaluate import Probe, evaluate
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.flows.rule_feed import flow_rule
from connector.model import Protocol
from connector.sources.transform import transform
from connector.wiring import compile_settings, validate_config

CLUSTER = "c1"
DEVICES = ("soc", "fgt")
NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)

CONFIG: dict[str, Any] = {
    "cluster": CLUSTER,
    "database": "sqlite:///unused.db",
    "kubernetes": {"host": "http://127.0.0.1:9"},
    "devices": [
        {"name": "soc", "type": "rest", "url": "http://127.0.0.1:9", "auth": {"tokenEnv": "SOC_TOKEN"}},
        {"name": "fgt", "type": "fortios", "url": "https://127.0.0.1:9", "auth": {"tokenEnv": "FGT_TOKEN"},
         "vdom": "root", "srcintf": ["port2"], "dstintf": ["port1"]},
    ],
}


def _objects() -> list[dict[str, Any]]:
    fc = "fusion-connector.io/v1alpha1"

    def meta(name: str, namespace: str = "") -> dict[str, str]:
        return {"name": name, "namespace": namespace} if namespace else {"name": name}

    def pod(name: str, ip: str, app: str, *more: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop",
                                                                "labels": {"app": app}},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": a} for a in (ip, *more)]}}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fusion-system"}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "shop", "labels": {"fusion-connector.io/managed": "true"}}},
        pod("web-1", "10.0.2.1", "web", "fd00::21"), pod("web-2", "10.0.2.2", "web"),
        pod("db-1", "10.0.2.3", "db"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-x", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [ip], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": name, "namespace": "shop"}}
                       for name, ip in (("web-1", "10.0.2.1"), ("web-2", "10.0.2.2"))]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-y", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv6",
         "endpoints": [{"addresses": ["fd00::21"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}}]},
        {"apiVersion": fc, "kind": "ExternalService", "metadata": {"name": "bank", "namespace": "shop"},
         "spec": {"addresses": ["198.51.100.0/25"], "ports": [{"port": "443"}]}},
        {"apiVersion": fc, "kind": "NamespaceEgressRule", "metadata": meta("allow-bank", "shop"),
         "spec": {"action": "Allow", "priority": 200, "externalServices": ["bank"]}},
        {"apiVersion": fc, "kind": "ExternalService", "metadata": meta("tor", "fusion-system"),
         "spec": {"addresses": ["203.0.113.0/24"]}},
        {"apiVersion": fc, "kind": "ClusterEgressRule", "metadata": {"name": "block-tor"},
         "spec": {"tier": "Admin", "action": "Deny", "priority": 10, "externalServices": ["tor"]}},
        {"apiVersion": fc, "kind": "ExternalService", "metadata": meta("smtp", "fusion-system"),
         "spec": {"addresses": ["192.0.2.0/24"], "ports": [{"port": "25"}]}},
        {"apiVersion": fc, "kind": "ClusterEgressRule", "metadata": {"name": "baseline-smtp"},
         "spec": {"tier": "Baseline", "action": "Deny", "externalServices": ["smtp"]}},
    ]


@functools.cache
def validator() -> ManifestValidator:
    """One validator for the tests (reading the CRDs takes a while)."""
    return ManifestValidator()


def config() -> Config:
    return validate_config(CONFIG)


def settings() -> CompileSettings:
    return compile_settings(config())


def cluster_view() -> StaticView:
    """The scenario's objects as the watch cache holds them (custom resources as the API server
    stores them: pruned and defaulted)."""
    view = StaticView()
    for obj in _objects():
        stored = validator().check(obj).obj if validator().definition(obj) is not None else obj
        assert stored is not None, obj
        view.put(transform(StaticView.kind_of(stored), stored))
    return view


# source key -> (pod, address, Services)
PODS = {"web-1": ("web-1", "10.0.2.1", ("web",)), "web-1/v6": ("web-1", "fd00::21", ("web",)),
        "web-2": ("web-2", "10.0.2.2", ("web",)), "db-1": ("db-1", "10.0.2.3", ())}

# (source, destination, port, protocol, count, minutes ago, device)
TRAFFIC = [
    ("web-1", "198.51.100.5", 443, "TCP", 10, 600, "soc"),   # allowed by allow-bank
    ("web-2", "198.51.100.5", 443, "TCP", 4, 30, "fgt"),
    ("web-1", "93.184.216.34", 443, "TCP", 6, 300, "soc"),   # denied by the default action
    ("web-2", "93.184.216.34", 80, "TCP", 3, 200, "soc"),
    ("web-2", "192.0.2.25", 25, "TCP", 2, 100, "soc"),       # denied by the Baseline rule
    ("web-1", "203.0.113.9", 443, "TCP", 5, 50, "soc"),      # denied by the Admin rule: left out
    ("web-1/v6", "2001:db8::53", 53, "UDP", 7, 40, "soc"),   # IPv6, default deny
    ("web-1", "198.51.100.6", 8443, "TCP", 1, 20, "soc"),    # one-off: below --min-count 2
    ("db-1", "198.51.100.77", 5432, "TCP", 9, 10, "soc"),    # not of Service web
]


def observed_records(now: datetime = NOW) -> list[FlowRecord]:
    """The scenario's traffic as attributed records, decided by the compiled state of today."""
    return list(_records(now))


@functools.cache
def _records(now: datetime) -> tuple[FlowRecord, ...]:
    compiled = Compiler(settings()).full(cluster_view())
    records = []
    for source, dst, port, protocol, count, minutes, device in TRAFFIC:
        pod, src, services = PODS[source]
        decision = evaluate(compiled.devices[device], Probe(src, dst, port, Protocol(protocol))).decision
        action = "Deny" if decision is None else decision.action.value
        rule = None if decision is None else flow_rule(decision.origin)
        line = FlowLine(time=now - timedelta(minutes=minutes), device=device, action=action,  # type: ignore[arg-type]
                        src=src, dst=dst, protocol=protocol, src_port=40000, dst_port=port, count=count)
        records.append(FlowRecord(line, FlowIdentity(CLUSTER, "shop", pod, f"uid-{pod}", services), rule))
    web_1 = FlowIdentity(CLUSTER, "shop", "web-1", "uid-web-1", ("web",))
    other = FlowIdentity(CLUSTER, "jobs", "batch-1", "uid-batch-1")
    default = FlowRule("DefaultAction", "shop", "default", "Default")
    records.append(FlowRecord(  # ICMP: no port, not expressible
        FlowLine(now - timedelta(minutes=5), "soc", "Deny", "10.0.2.1", "93.184.216.34", "ICMP", count=2),
        web_1, default))
    records.append(FlowRecord(  # the address changed owner within the clock skew
        FlowLine(now - timedelta(minutes=5), "soc", "Deny", "10.0.2.1", "93.184.216.99", "TCP", 40000, 443),
        web_1, default, ambiguous=True, candidates=(web_1, other)))
    return tuple(records)
