"""A small cluster for report tests: two managed namespaces, Services with and without rules, a
podSelector rule, a rule naming a missing ExternalService, cluster rules in both tiers."""

from __future__ import annotations

from typing import Any

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

CNS = "fusion-system"


def objects() -> list[dict[str, Any]]:
    return [
        namespace(CNS, managed=False),
        namespace("shop", labels={"env": "prod"}),
        namespace("ops", annotations={"fusion-connector.io/default-action": "Allow"}),
        external_service(CNS, "threats", ["203.0.113.0/24", "bad.example.net"]),
        external_service(CNS, "dns", ["10.0.0.53"], [{"protocol": "UDP", "port": "53"}]),
        external_service("shop", "stripe", ["198.51.100.0/24", "api.stripe.com"],
                         [{"protocol": "TCP", "port": "443"}, {"protocol": "TCP", "port": "8000-8080"}]),
        external_service("shop", "mirror", ["10.30.0.0/24"], [{"port": "443"}]),
        cluster_rule("deny-threats", "Deny", tier="Admin", priority=10, externalServices=["threats"]),
        cluster_rule("allow-dns", "Allow", tier="Baseline", priority=100, externalServices=["dns"]),
        namespace_rule("shop", "allow-mirror", "Allow", priority=300, externalServices=["mirror"]),
        namespace_rule("shop", "batch-deny", "Deny", priority=100,
                       podSelector={"matchLabels": {"tier": "batch"}}),
        service_rule("shop", "web-to-stripe", "Allow", "web", priority=100, externalServices=["stripe"],
                     logging=True),
        service_rule("shop", "web-to-mirror-deny", "Deny", "web", priority=400, externalServices=["mirror"]),
        service_rule("shop", "api-to-nowhere", "Allow", "api", priority=100, externalServices=["missing"]),
        pod("shop", "web-1", "10.244.0.10", labels={"app": "web"}),
        pod("shop", "web-2", "10.244.0.11", labels={"app": "web"}),
        pod("shop", "api-1", "10.244.0.20", labels={"app": "api"}),
        pod("shop", "job-1", "10.244.0.30", labels={"tier": "batch"}),
        service("shop", "web"),
        service("shop", "api"),
        endpoint_slice("shop", "web", ["10.244.0.10", "10.244.0.11"]),
        endpoint_slice("shop", "api", ["10.244.0.20"]),
        pod("ops", "tool-1", "10.244.1.5", labels={"app": "tool"}),
        service("ops", "tool"),
        endpoint_slice("ops", "tool", ["10.244.1.5"]),
    ]
