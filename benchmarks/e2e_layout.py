"""The synthetic cluster of the end-to-end benchmark: namespaces, Services, pods and a rule mix.

`Layout(pods, namespaces, rules)` is deterministic. Every namespace is managed and labelled
`env` (prod, staging, dev in turn) and `team`; it holds three Services (`web`, `api`, `worker`)
and pods of four workloads (`web` 40%, `api` 30%, `worker` 20%, `batch` 10%: batch has no
Service); pods are spread evenly over the namespaces. Pods carry their IPs (as a kubelet gives
them: phase Running), handed out consecutively from the pod network per workload, so a workload's
pods form one address run (pods created later through the API get theirs from the kube mock's
kubelet, after those). Each namespace also has four ExternalServices (`partner`, `db`, `saas`,
`cache`).

Rules (`rules` in all): 5% ClusterEgressRules (at least one), about half of them (of both tiers)
with a `namespaceSelector`, alternating Admin-tier Deny and Baseline-tier Allow over their own
ExternalServices in the connector namespace; of the rest 55% ServiceEgressRules and 45%
NamespaceEgressRules (a quarter of those with a `podSelector`), spread round-robin over the
namespaces, mostly Allow, every fifth Deny, every tenth logging, every third with two
destinations. Destinations never overlap the pod network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

API = "fusion-connector.io/v1alpha1"
MANAGED = "fusion-connector.io/managed"
POD_NETWORK = ipaddress.ip_network("10.244.0.0/14")  # the kube mock's default --pod-cidr
WORKLOADS = (("web", 0.4), ("api", 0.3), ("worker", 0.2), ("batch", 0.1))
SERVICES = ("web", "api", "worker")
ENVS = ("prod", "staging", "dev")
DESTINATIONS = ("partner", "db", "saas", "cache")
CLUSTER_SHARE = 0.05
SERVICE_SHARE = 0.55


def namespace_destination(kind: str, index: int) -> tuple[list[str], list[dict[str, str]]]:
    """(addresses, ports) of a namespace's ExternalService `kind`."""
    if kind == "partner":
        return [f"198.51.100.{index % 250 + 1}/32"], [{"protocol": "TCP", "port": "443"}]
    if kind == "db":
        return [f"10.20.{index % 256}.0/24"], [{"protocol": "TCP", "port": "5432"}]
    if kind == "saas":
        return ["192.0.2.0/25", f"192.0.2.{128 + index % 100}/32"], [{"protocol": "TCP", "port": "443,8443"}]
    return [f"10.30.{index % 256}.0/24"], [{"protocol": "TCP", "port": "6379"}]


def cluster_destination(index: int) -> tuple[list[str], list[dict[str, str]]]:
    """(addresses, ports) of the connector namespace's ExternalService of cluster rule `index`."""
    fixed: list[tuple[list[str], list[dict[str, str]]]] = [
        (["198.18.0.0/15"], []),                                      # anonymizers (Deny)
        (["172.16.0.53/32"], [{"protocol": "UDP", "port": "53"}]),    # corporate DNS (Allow)
        (["203.0.113.0/24"], []),                                     # threat feed (Deny)
        (["172.16.0.123/32"], [{"protocol": "UDP", "port": "123"}]),  # NTP (Allow)
    ]
    if index < len(fixed):
        return fixed[index]
    return [f"100.64.{index % 256}.0/24"], [{"protocol": "TCP", "port": "443"}]


@dataclass(frozen=True)
class RuleMix:
    cluster: int
    cluster_selected: int
    namespace: int
    namespace_pod_selected: int
    service: int

    def describe(self) -> str:
        return (f"{self.cluster} ClusterEgressRules ({self.cluster_selected} with namespaceSelector), "
                f"{self.namespace} NamespaceEgressRules ({self.namespace_pod_selected} with podSelector), "
                f"{self.service} ServiceEgressRules")


@dataclass(frozen=True)
class Layout:
    pods: int
    namespaces: int
    rules: int
    connector_namespace: str = "fusion-system"

    def __post_init__(self) -> None:
        if self.namespaces < 1 or self.pods < 0 or self.rules < 1:
            raise ValueError("at least one namespace and one rule; pods not negative")
        limit = POD_NETWORK.num_addresses // 2
        if self.pods > limit:
            raise ValueError(f"at most {limit} pods (the pod network is {POD_NETWORK})")

    # ------------------------------------------------------------------ names and counts
    def namespace_names(self) -> list[str]:
        width = max(3, len(str(self.namespaces - 1)))
        return [f"ns-{i:0{width}d}" for i in range(self.namespaces)]

    def mix(self) -> RuleMix:
        cluster = max(1, min(self.rules, round(self.rules * CLUSTER_SHARE)))
        rest = self.rules - cluster
        service = round(rest * SERVICE_SHARE)
        namespace = rest - service
        return RuleMix(cluster=cluster, cluster_selected=sum(map(_selected, range(cluster))),
                       namespace=namespace, namespace_pod_selected=len(range(3, namespace, 4)),
                       service=service)

    def describe(self) -> str:
        return (f"{self.pods:,} pods in {self.namespaces} namespaces, "
                f"{self.namespaces * len(SERVICES)} Services, "
                f"{self.namespaces * len(DESTINATIONS) + self.mix().cluster} ExternalServices; "
                f"{self.rules} rules: {self.mix().describe()}")

    # ------------------------------------------------------------------ pods
    def pods_of(self, index: int) -> int:
        return self.pods // self.namespaces + (1 if index < self.pods % self.namespaces else 0)

    def pod_specs(self) -> Iterator[tuple[str, str, str, str]]:
        """(namespace, name, workload, IPv4) of every pod, in address order."""
        first = int(POD_NETWORK.network_address) + 1
        number = 0
        for index, ns in enumerate(self.namespace_names()):
            count = self.pods_of(index)
            for workload, name, _ in _workload_runs(count):
                yield ns, name, workload, str(ipaddress.IPv4Address(first + number))
                number += 1

    def pod_manifests(self) -> Iterator[dict[str, Any]]:
        for ns, name, workload, ip in self.pod_specs():
            yield pod_manifest(ns, name, workload, ip)

    # ------------------------------------------------------------------ everything but pods
    def namespace_manifests(self) -> list[dict[str, Any]]:
        out = []
        for index, ns in enumerate(self.namespace_names()):
            labels = {MANAGED: "true", "env": ENVS[index % len(ENVS)], "team": f"team-{index % 10}"}
            out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
        return out

    def manifests(self) -> list[dict[str, Any]]:
        """Services, ExternalServices and rules (namespaces first: see `namespace_manifests`)."""
        out: list[dict[str, Any]] = []
        names = self.namespace_names()
        for index, ns in enumerate(names):
            out += [service_manifest(ns, app) for app in SERVICES]
            for kind in DESTINATIONS:
                addresses, ports = namespace_destination(kind, index)
                out.append(external_service(ns, kind, addresses, ports))
        mix = self.mix()
        out += self._cluster_rules(mix)
        out += self._namespaced_rules(mix, names)
        return out

    def _cluster_rules(self, mix: RuleMix) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for k in range(mix.cluster):
            destination = f"cluster-dst-{k}"
            addresses, ports = cluster_destination(k)
            out.append(external_service(self.connector_namespace, destination, addresses, ports))
            admin = k % 2 == 0
            spec: dict[str, Any] = {"tier": "Admin" if admin else "Baseline",
                                    "priority": 100 + (10 * k) % 900,  # the CRD allows 0..1000
                                    "action": "Deny" if admin else "Allow", "externalServices": [destination]}
            if _selected(k):
                spec["namespaceSelector"] = {"matchLabels": {"env": ENVS[k % len(ENVS)]}}
            if k % 10 == 0:
                spec["logging"] = True
            out.append(rule("ClusterEgressRule", f"cluster-{k}", None, spec))
        return out

    def _namespaced_rules(self, mix: RuleMix, names: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for k in range(mix.service + mix.namespace):
            is_service = k < mix.service
            local = k if is_service else k - mix.service
            ns = names[local % len(names)]
            round_ = local // len(names)
            spec: dict[str, Any] = {
                "priority": 100 + 10 * (round_ % 80),
                "action": "Deny" if k % 5 == 4 else "Allow",
                "externalServices": _destinations(k),
            }
            if k % 10 == 0:
                spec["logging"] = True
            if is_service:
                spec["service"] = SERVICES[(local + round_) % len(SERVICES)]
                out.append(rule("ServiceEgressRule", f"svc-rule-{local}", ns, spec))
            else:
                if local % 4 == 3:
                    spec["podSelector"] = {"matchLabels": {"app": "worker"}}
                out.append(rule("NamespaceEgressRule", f"ns-rule-{local}", ns, spec))
        return out


def _selected(k: int) -> bool:
    """Whether cluster rule `k` carries a namespaceSelector (about half, of both tiers)."""
    return k % 4 in (1, 2)


def _destinations(k: int) -> list[str]:
    first = DESTINATIONS[k % len(DESTINATIONS)]
    if k % 3 == 2:
        return [first, DESTINATIONS[(k + 1) % len(DESTINATIONS)]]
    return [first]


def _workload_runs(count: int) -> Iterator[tuple[str, str, int]]:
    """(workload, pod name, ordinal) for `count` pods of a namespace, workload by workload."""
    bounds = []
    total = 0.0
    for workload, share in WORKLOADS:
        total += share
        bounds.append((workload, round(count * total)))
    start = 0
    for workload, end in bounds:
        for ordinal in range(end - start):
            yield workload, f"{workload}-{ordinal}", ordinal
        start = end


def pod_manifest(ns: str, name: str, workload: str, ip: str | None = None) -> dict[str, Any]:
    """A pod of `workload`; with `ip`, as the kubelet left it (Running, Ready, that IP)."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": workload}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }
    if ip is not None:
        manifest["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                              "conditions": [{"type": "Ready", "status": "True"}]}
    return manifest


def service_manifest(ns: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "protocol": "TCP"}]}}


def external_service(ns: str, name: str, addresses: list[str], ports: list[dict[str, str]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"addresses": addresses}
    if ports:
        spec["ports"] = ports
    return {"apiVersion": API, "kind": "ExternalService", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def rule(kind: str, name: str, ns: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": spec}
