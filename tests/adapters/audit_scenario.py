"""A compiled cluster with `mode: Audit` rules for the adapter tests: the same cluster compiled
with and without them, and probes whose decision the audit rules would change.

Namespace `payments` (pods 10.0.0.1 api, 10.0.0.2 worker) may reach `stripe` (198.51.100.0/24
port 443); audit rules would deny the api Service's Stripe traffic, deny everything to
`203.0.113.0/24` cluster-wide (Admin) and allow the worker everywhere.
"""

from __future__ import annotations

from typing import Any

from connector.cluster import StaticView
from connector.compiler import CompileSettings, compile_cluster
from connector.evaluate import Probe
from connector.model import Capabilities, DeviceState, Protocol
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    service_rule,
)

CLUSTER = "c1"
API, WORKER = "10.0.0.1", "10.0.0.2"
STRIPE, BAD, ELSEWHERE = "198.51.100.7", "203.0.113.9", "192.0.2.80"
AUDIT_RULES = ("api-no-stripe", "no-bad", "worker-anything")


def objects(audit: bool) -> list[dict[str, Any]]:
    out = [
        namespace("payments"), namespace("fusion-system", managed=False),
        pod("payments", "api-1", API, labels={"app": "api"}),
        pod("payments", "worker-1", WORKER, labels={"app": "worker"}),
        service("payments", "api"), endpoint_slice("payments", "api", [API]),
        external_service("payments", "stripe", ["198.51.100.0/24"], [{"port": "443"}]),
        external_service("fusion-system", "bad", ["203.0.113.0/24"]),
        namespace_rule("payments", "to-stripe", "Allow", priority=300, externalServices=["stripe"],
                       logging=True),
    ]
    if audit:
        out += [
            service_rule("payments", "api-no-stripe", "Deny", "api", priority=100,
                         externalServices=["stripe"], mode="Audit"),
            cluster_rule("no-bad", "Deny", externalServices=["bad"], mode="Audit"),
            namespace_rule("payments", "worker-anything", "Allow", priority=900, mode="Audit",
                           podSelector={"matchLabels": {"app": "worker"}}),
        ]
    return out


def state(device: str, capabilities: Capabilities, *, audit: bool = True) -> DeviceState:
    settings = CompileSettings(cluster=CLUSTER, devices=((device, capabilities),),
                               connector_namespace="fusion-system")
    return compile_cluster(StaticView(objects(audit)), settings).devices[device]


PROBES = [Probe(src, dst, port, Protocol.TCP)
          for src in (API, WORKER) for dst in (STRIPE, BAD, ELSEWHERE) for port in (443, 80)]
