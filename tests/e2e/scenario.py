"""A reusable end-to-end lab: the four mocks as processes, a realistic cluster, the CLI as a process,
and the judge that compares every device's decisions with the rule semantics (docs/resources.md).

- `Lab.start(stack)` runs `python -m mocks kube|bigip|fortigate|rest` (see `tests.e2e.conftest`);
  `lab.reset()` resets every mock and loads the CRDs; `lab.kube.apply(objects)` applies manifests
  and `lab.kube.settle()` waits until the simulated kubelet gave every pod its IPs and the
  EndpointSlice controller listed them; `lab.kube.objects()` reads the cluster back raw.
- `lab.write_config(directory, **overrides)` writes a configuration file (docs/configuration.md)
  naming the three devices (`BIGIP`, `FORTIGATE`, `REST`); `lab.cli("apply", "--config", path)`
  runs `python -m connector` with the devices' secrets (`SECRETS`) in its environment.
- Each device handle reads its mock back through the device's own API, counts write calls from
  `/_mock/requests`, injects faults and seeds foreign objects.
- `scenario_objects()` is the cluster: managed namespaces in pod and egress-ip mode, an unmanaged
  one, Services with pods (dual stack too), all four rule kinds, namespace annotations, IPv6, FQDNs,
  port ranges and device targeting through the `devices` annotation and field.
- `judge(lab, objects, config=document)` evaluates every source of `sources(objects)` against
  every probe of `traffic(objects)` on every device, with the vendor evaluator over what the
  device holds and with the independent oracle of section 4 (`oracle_for(objects, document)`); it
  returns the disagreements (none when the devices decide like the contract), IPv4 and IPv6 alike
  on every device (FortiOS: address6/addrgrp6 and policies' srcaddr6/dstaddr6).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import yaml

from connector.cluster import KINDS, Kind
from connector.config import KubernetesConfig
from connector.evaluate import Probe
from connector.kube import build_api_client
from connector.manifests import ManifestApplier, load_documents
from connector.model import Protocol
from tests.adapters.f5.afm_evaluator import Declaration
from tests.adapters.f5.afm_evaluator import verdict as afm_verdict
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.rest import evaluator as rest_evaluator
from tests.connector.compiler.oracle import Oracle
from tests.e2e.conftest import REPO_ROOT, start_mocks

Obj = dict[str, Any]

CLUSTER = "e2e"
CONNECTOR_NAMESPACE = "fusion-system"
BIGIP, FORTIGATE, REST = "bigip-dc1", "fgt-edge", "soc"
DEVICES = (BIGIP, FORTIGATE, REST)
TOKEN = "mock-token"
SECRETS = {"BIGIP_PASSWORD": "admin", "FGT_TOKEN": TOKEN, "SOC_TOKEN": TOKEN}
CRD_DIR = REPO_ROOT / "helm" / "fusion-connector" / "crds"
CLI_TIMEOUT = 180.0
PREFIX = "fusion-connector.io/"
MANAGED = {PREFIX + "managed": "true"}
DUAL_STACK = {"mock.fusion-connector.io/ipv6": "true"}
REST_MEDIA_TYPE = "application/vnd.fusion-connector.v1+json"


# --- devices -----------------------------------------------------------------------------------
class DeviceHandle(ABC):
    """One mock device seen from outside: its own API, its request log, faults and reset."""

    name = ""
    write_prefix = "/"

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30, headers=self.headers(), auth=self.auth())

    def headers(self) -> dict[str, str]:
        return {}

    def auth(self) -> httpx.Auth | None:
        return None

    def requests(self, since: int = 0) -> list[Obj]:
        """Logged device-protocol requests after sequence number `since`."""
        response = self.http.get("/_mock/requests", params={"since": since})
        response.raise_for_status()
        entries: list[Obj] = response.json()["requests"]
        return entries

    def last_seq(self) -> int:
        entries = self.requests()
        return int(entries[-1]["seq"]) if entries else 0

    def writes(self, since: int = 0) -> list[Obj]:
        """Configuration writes (anything but GET/HEAD under `write_prefix`) after `since`."""
        return [e for e in self.requests(since)
                if e["method"] not in ("GET", "HEAD") and e["path"].startswith(self.write_prefix)]

    def fault(self, **spec: Any) -> None:
        self.http.post("/_mock/faults", json=spec).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete("/_mock/faults").raise_for_status()

    def reset(self) -> None:
        self.http.post("/_mock/reset").raise_for_status()

    @abstractmethod
    def decider(self) -> Callable[[Probe], str | None]:
        """A first-match decision (`Allow`, `Deny` or None) over what the device holds now."""

    def close(self) -> None:
        self.http.close()


class BigIp(DeviceHandle):
    name = BIGIP
    write_prefix = "/mgmt/shared/appsvcs/declare"
    tenant = "fc_" + CLUSTER

    def auth(self) -> httpx.Auth | None:
        return httpx.BasicAuth("admin", "admin")

    def declaration(self, tenant: str | None = None) -> Obj | None:
        """The tenant's body as `GET /declare/<tenant>` returns it (None: absent)."""
        name = tenant or self.tenant
        response = self.http.get(f"/mgmt/shared/appsvcs/declare/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: Obj = response.json()[name]
        return body

    def declare(self, tenant: str, body: Obj) -> httpx.Response:
        """POST one tenant by hand (as an operator would): the tenant is replaced."""
        adc = {"class": "ADC", "schemaVersion": "3.56.0", tenant: body}
        return self.http.post(f"/mgmt/shared/appsvcs/declare/{tenant}",
                              json={"class": "AS3", "action": "deploy", "declaration": adc})

    def seed(self, tenants: Mapping[str, Obj]) -> None:
        self.http.post("/_mock/seed", json=dict(tenants)).raise_for_status()

    def declaration_posts(self, since: int = 0) -> list[Obj]:
        return [e for e in self.writes(since) if e["method"] == "POST"]

    def decider(self) -> Callable[[Probe], str | None]:
        body = self.declaration()
        if body is None:
            return lambda probe: None
        declaration = Declaration(self.tenant, body)
        return lambda probe: afm_verdict(declaration.decide(probe))


class FortiGate(DeviceHandle):
    name = FORTIGATE
    write_prefix = "/api/v2/cmdb/"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def table(self, path: str) -> list[Obj]:
        response = self.http.get(f"/api/v2/cmdb/{path}", params={"vdom": "root"})
        response.raise_for_status()
        results: list[Obj] = response.json()["results"]
        return results

    def decider(self) -> Callable[[Probe], str | None]:
        evaluator = FortiGateEvaluator(fetch_tables(self.url, TOKEN))
        actions = {"accept": "Allow", "deny": "Deny", None: None}
        return lambda probe: actions[evaluator.decide(probe).action]


class RestReceiver(DeviceHandle):
    name = REST
    write_prefix = "/changes"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}", "Accept": REST_MEDIA_TYPE}

    def state(self) -> Obj:
        response = self.http.get("/state")
        response.raise_for_status()
        document: Obj = response.json()
        return document

    def seed(self, **collections: list[Obj]) -> None:
        self.http.post("/_mock/seed", json=collections).raise_for_status()

    def delete_by_hand(self, kind: str, name: str) -> None:
        self.http.post("/_mock/delete", json={"kind": kind, "name": name}).raise_for_status()

    def decider(self) -> Callable[[Probe], str | None]:
        document = self.state()

        def decide(probe: Probe) -> str | None:
            rule = rest_evaluator.decide(document, probe)
            return None if rule is None else str(rule["action"]).capitalize()

        return decide


# --- the cluster -------------------------------------------------------------------------------
class KubeCluster:
    """The kube mock: apply manifests, delete objects, read everything back raw."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.api = build_api_client(KubernetesConfig(host=url))
        self.applier = ManifestApplier(self.api)

    def reset(self) -> None:
        self.http.post("/_mock/reset").raise_for_status()
        self.applier.apply_all(load_documents(sorted(CRD_DIR.glob("*.yaml"))))

    def apply(self, objects: Iterable[Obj]) -> None:
        """Create or replace `objects`; EgressIP status is then written through its subresource."""
        objects = list(objects)
        self.applier.apply_all(objects)
        for obj in objects:
            if obj["kind"] == "EgressIP" and obj.get("status"):
                path = f"{KINDS[Kind.EGRESS_IP].collection_path()}/{_meta(obj)['name']}"
                current = self.http.get(path)
                current.raise_for_status()
                response = self.http.put(f"{path}/status", json={**current.json(), "status": obj["status"]})
                if response.status_code != 200:
                    raise AssertionError(f"EgressIP {_meta(obj)['name']} status: {response.status_code} "
                                         f"{response.text[:300]}")

    def delete(self, kind: Kind, namespace: str | None, name: str) -> None:
        info = KINDS[kind]
        response = self.http.delete(f"{info.collection_path(namespace)}/{name}")
        if response.status_code not in (200, 202):
            raise AssertionError(f"deleting {kind.value} {namespace}/{name}: {response.status_code} "
                                 f"{response.text[:300]}")

    def objects(self) -> list[Obj]:
        """Every object the connector reads, each with its `kind` (list items lack it)."""
        out: list[Obj] = []
        for info in KINDS.values():
            response = self.http.get(info.collection_path())
            if response.status_code == 404:
                continue
            response.raise_for_status()
            for item in response.json()["items"]:
                out.append({**item, "kind": info.object_kind})
        return out

    def settle(self, timeout: float = 30.0) -> list[Obj]:
        """Wait until every pod has its IPs and every selecting Service's slices list exactly its
        matching pods; returns the objects read back then."""
        deadline = time.monotonic() + timeout
        while True:
            objects = self.objects()
            problem = _unsettled(objects)
            if problem is None:
                return objects
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster did not settle: {problem}")
            time.sleep(0.05)

    def close(self) -> None:
        self.http.close()
        self.api.close()


def _unsettled(objects: list[Obj]) -> str | None:
    pods = [o for o in objects if o["kind"] == "Pod"]
    for pod in pods:
        if not (pod.get("status") or {}).get("podIP"):
            return f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']} has no IP yet"
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = (service.get("spec") or {}).get("selector")
        if not selector:
            continue
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        wanted = {ip["ip"] for p in pods if p["metadata"]["namespace"] == namespace
                  and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                  for ip in p["status"].get("podIPs") or []
                  if ipaddress.ip_address(ip["ip"]).version == 4}
        listed = {a for s in objects if s["kind"] == "EndpointSlice"
                  and s["metadata"]["namespace"] == namespace
                  and (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
                  for e in s.get("endpoints") or [] for a in e.get("addresses") or []}
        if wanted - listed or {a for a in listed if ipaddress.ip_address(a).version == 4} - wanted:
            return f"service {namespace}/{name}: slices list {sorted(listed)}, pods {sorted(wanted)}"
    return None


# --- the lab -----------------------------------------------------------------------------------
@dataclass
class Lab:
    kube: KubeCluster
    bigip: BigIp
    fortigate: FortiGate
    rest: RestReceiver

    @classmethod
    def start(cls, stack: contextlib.ExitStack) -> Lab:
        """Start the four mocks as processes (stopped when `stack` closes)."""
        # pods are deleted at once: the scenarios observe removals, not graceful termination
        (kube_url, _), (bigip_url, _), (fortigate_url, _), (rest_url, _) = stack.enter_context(start_mocks(
            ("kube", "--bookmark-interval", "1", "--pod-grace-seconds", "0"),
            ("bigip", "--processing-ms", "5"), ("fortigate",), ("rest",)))
        lab = cls(KubeCluster(kube_url), BigIp(bigip_url), FortiGate(fortigate_url), RestReceiver(rest_url))
        stack.callback(lab.close)
        return lab

    @property
    def devices(self) -> dict[str, DeviceHandle]:
        return {BIGIP: self.bigip, FORTIGATE: self.fortigate, REST: self.rest}

    def reset(self) -> None:
        """Every mock back to empty (faults and request logs too); the CRDs installed again."""
        for device in self.devices.values():
            device.reset()
        self.kube.reset()

    def seqs(self) -> dict[str, int]:
        """Each device's last request sequence number: a mark to count writes after."""
        return {name: device.last_seq() for name, device in self.devices.items()}

    def writes(self, since: Mapping[str, int] | None = None) -> dict[str, list[Obj]]:
        since = since or {}
        return {name: device.writes(since.get(name, 0)) for name, device in self.devices.items()}

    def config_document(self, directory: Path, **overrides: Any) -> Obj:
        document: Obj = {
            "cluster": CLUSTER,
            "database": f"sqlite:///{directory / 'fusion-connector.db'}",
            "kubernetes": {"host": self.kube.url, "connectorNamespace": CONNECTOR_NAMESPACE},
            "safety": {"maxDeletePercent": 30, "maxUpdatePercent": 30, "minExisting": 10},
            "devices": [
                {"name": BIGIP, "type": "f5-as3", "url": self.bigip.url,
                 "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"},
                 "attach": {"virtualServer": {"address": "0.0.0.0", "gateways": ["192.0.2.1"]}}},
                {"name": FORTIGATE, "type": "fortios", "url": self.fortigate.url,
                 "auth": {"tokenEnv": "FGT_TOKEN"}, "vdom": "root", "placement": {"top": True}},
                {"name": REST, "type": "rest", "url": self.rest.url, "auth": {"tokenEnv": "SOC_TOKEN"}},
            ],
        }
        document.update(overrides)
        return document

    def write_config(self, directory: Path, **overrides: Any) -> Path:
        path = directory / "fusion-connector.yaml"
        path.write_text(yaml.safe_dump(self.config_document(directory, **overrides), sort_keys=False))
        return path

    def cli(self, *args: str, env: Mapping[str, str | None] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """`python -m connector *args` with the device secrets in its environment; `env` adds
        variables or (value None) removes them."""
        environment = {k: v for k, v in os.environ.items() if k not in SECRETS}
        environment.update(SECRETS)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                  os.environ.get("PYTHONPATH")]))
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run([sys.executable, "-m", "connector", *args], cwd=REPO_ROOT, env=environment,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)

    def close(self) -> None:
        for device in self.devices.values():
            device.close()
        self.kube.close()


# --- the scenario ------------------------------------------------------------------------------
def namespace(name: str, labels: Mapping[str, str] | None = None,
              annotations: Mapping[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels or {}),
                         "annotations": {PREFIX + k: v for k, v in (annotations or {}).items()}}}


def pod(ns: str, name: str, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                         "annotations": dict(annotations or {})},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}


def service(ns: str, name: str, selector: Mapping[str, str], dual_stack: bool = False) -> Obj:
    spec: Obj = {"selector": dict(selector), "ports": [{"port": 8080, "protocol": "TCP"}]}
    if dual_stack:
        spec.update(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def external_service(ns: str, name: str, addresses: list[str], ports: list[Obj] | None = None) -> Obj:
    spec: Obj = {"addresses": addresses}
    if ports is not None:
        spec["ports"] = ports
    return {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ExternalService",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def rule(kind: str, name: str, ns: str | None = None, **spec: Any) -> Obj:
    metadata: Obj = {"name": name}
    if ns is not None:
        metadata["namespace"] = ns
    return {"apiVersion": "fusion-connector.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def egress_ip(name: str, address: str, namespace_labels: Mapping[str, str]) -> Obj:
    """An OVN-Kubernetes EgressIP; its `status` is written through the status subresource by
    `KubeCluster.apply` (a create ignores status, as on a real API server)."""
    return {"apiVersion": "k8s.ovn.org/v1", "kind": "EgressIP", "metadata": {"name": name},
            "spec": {"egressIPs": [address], "namespaceSelector": {"matchLabels": dict(namespace_labels)}},
            "status": {"items": [{"node": "node-a", "egressIP": address}]}}


def node(name: str, address: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]}}


def scenario_objects() -> list[Obj]:
    """The realistic cluster every end-to-end correctness check starts from."""
    objects = [
        node("node-a", "172.18.0.2"), node("node-b", "172.18.0.3"),
        namespace(CONNECTOR_NAMESPACE),
        # payments: pod mode, allow-list annotation, only on the BIG-IP and the FortiGate
        namespace("payments", {**MANAGED, "env": "prod"}, {
            "egress-allow": "api.github.com:443/TCP, 10.20.0.0/16:5432, ntp.org:123/UDP",
            "default-action": "Deny", "devices": f"{BIGIP},{FORTIGATE}"}),
        # billing: traffic leaves through two SNAT addresses, default action from the configuration
        namespace("billing", {**MANAGED, "env": "prod"}, {
            "source-mode": "egress-ip", "egress-ips": "192.0.2.10,192.0.2.11"}),
        # analytics: dual-stack pods, default Allow
        namespace("analytics", {**MANAGED, "env": "dev"}, {"default-action": "Allow"}),
        # sandbox: the connector decides only what its rules say, on two devices
        namespace("sandbox", {**MANAGED, "env": "dev"}, {"default-action": "None",
                                                         "devices": f"{REST},{FORTIGATE}"}),
        # edge: only a Service rule, nothing namespace-wide
        namespace("edge", {**MANAGED, "env": "prod"}, {"default-action": "None"}),
        # reports: egress-ip mode, its SNAT address discovered from an OVN-Kubernetes EgressIP
        namespace("reports", {**MANAGED, "env": "prod", "team": "reports"}, {"source-mode": "egress-ip"}),
        egress_ip("reports", "192.0.2.20", {"team": "reports"}),
        # legacy: not managed; its pods and rules reach no device
        namespace("legacy", {"env": "prod"}),
    ]
    objects += [pod("payments", f"checkout-{i}", {"app": "checkout"}) for i in range(3)]
    objects += [pod("payments", f"worker-{i}", {"app": "worker", "tier": "batch"}) for i in range(2)]
    objects += [pod("payments", "web-0", {"app": "web"}),
                pod("billing", "invoicer-0", {"app": "invoicer"}),
                pod("billing", "invoicer-1", {"app": "invoicer"}),
                pod("billing", "ledger-0", {"app": "ledger"})]
    objects += [pod("analytics", f"spark-{i}", {"app": "spark", "tier": "batch"}, DUAL_STACK)
                for i in range(2)]
    objects += [pod("analytics", "jupyter-0", {"app": "jupyter"}, DUAL_STACK),
                pod("sandbox", "toy-0", {"app": "toy"}), pod("sandbox", "toy-1", {"app": "toy"}),
                pod("edge", "gateway-0", {"app": "gateway"}), pod("edge", "gateway-1", {"app": "gateway"}),
                pod("edge", "probe-0", {"app": "probe"}),
                pod("reports", "renderer-0", {"app": "renderer"}),
                pod("legacy", "old-0", {"app": "old"})]
    objects += [service("payments", "checkout", {"app": "checkout"}),
                service("payments", "web", {"app": "web"}),
                service("payments", "empty", {"app": "nothing-matches"}),
                service("billing", "invoicer", {"app": "invoicer"}),
                service("analytics", "jupyter", {"app": "jupyter"}, dual_stack=True),
                service("sandbox", "toy", {"app": "toy"}),
                service("edge", "gateway", {"app": "gateway"}),
                service("legacy", "old", {"app": "old"})]
    # the security team's ExternalServices and ClusterEgressRules
    cs = CONNECTOR_NAMESPACE
    objects += [
        external_service(cs, "threat-list", ["203.0.113.0/24", "198.51.100.77", "2001:db8:bad::/48",
                                             "exfil.example.net"]),
        external_service(cs, "any-http", ["0.0.0.0/0", "::/0"], [{"name": "http", "port": "80"}]),
        external_service(cs, "dns-ntp", ["10.0.0.53", "10.0.1.53", "pool.ntp.org"], [
            {"name": "dns-udp", "protocol": "UDP", "port": "53"},
            {"name": "dns-tcp", "protocol": "TCP", "port": "53"},
            {"name": "ntp", "protocol": "UDP", "port": "123"}]),
        external_service(cs, "monitoring", ["10.60.0.0/22", "2001:db8:60::/64"], [
            {"protocol": "SCTP", "port": "3868"}, {"protocol": "TCP", "port": "9090-9100"}]),
        external_service(cs, "corp-proxy", ["10.50.0.10"], [{"port": "3128"}]),
        rule("ClusterEgressRule", "deny-threat-list", tier="Admin", priority=10, action="Deny",
             externalServices=["threat-list"], logging=True),
        rule("ClusterEgressRule", "prod-deny-plain-http", tier="Admin", priority=20, action="Deny",
             namespaceSelector={"matchLabels": {"env": "prod"}}, externalServices=["any-http"]),
        rule("ClusterEgressRule", "dev-allow-monitoring", tier="Admin", priority=5, action="Allow",
             namespaceSelector={"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
             externalServices=["monitoring"], logging=True),
        rule("ClusterEgressRule", "allow-dns-ntp", tier="Baseline", priority=100, action="Allow",
             externalServices=["dns-ntp"]),
        rule("ClusterEgressRule", "allow-corp-proxy", tier="Baseline", priority=200, action="Allow",
             externalServices=["corp-proxy"], devices=[REST]),
        rule("ClusterEgressRule", "dev-deny-rest", tier="Baseline", priority=900, action="Deny",
             namespaceSelector={"matchLabels": {"env": "dev"}}, devices=[FORTIGATE]),
    ]
    # payments: Service and namespace rules interleaved by priority and kind
    objects += [
        external_service("payments", "stripe", ["api.stripe.com", "198.51.100.0/24", "2001:db8::1"], [
            {"name": "https", "protocol": "TCP", "port": "443"},
            {"name": "webhooks", "protocol": "TCP", "port": "8000-8080,9443"}]),
        external_service("payments", "fraud-endpoint", ["198.51.100.66"]),
        external_service("payments", "artifact-mirror", ["artifacts.corp.example", "10.30.0.0/24"],
                         [{"name": "https", "port": "443"}]),
        external_service("payments", "internal-db", ["10.40.0.0/16"], [{"port": "5432-5433"}]),
        rule("ServiceEgressRule", "checkout-to-stripe", "payments", service="checkout", priority=100,
             action="Allow", externalServices=["stripe"], logging=True),
        rule("NamespaceEgressRule", "checkout-no-fraud-endpoint", "payments", priority=50, action="Deny",
             podSelector={"matchLabels": {"app": "checkout"}}, externalServices=["fraud-endpoint"]),
        rule("NamespaceEgressRule", "allow-artifact-mirror", "payments", priority=300, action="Allow",
             externalServices=["artifact-mirror"]),
        rule("ServiceEgressRule", "web-db", "payments", service="web", priority=300, action="Allow",
             externalServices=["internal-db"]),
        rule("NamespaceEgressRule", "aaa-deny-db", "payments", priority=300, action="Deny",
             externalServices=["internal-db"]),
        rule("ServiceEgressRule", "empty-service-db", "payments", service="empty", priority=10,
             action="Allow", externalServices=["internal-db"]),
        rule("NamespaceEgressRule", "batch-deny-rest", "payments", priority=900, action="Deny",
             podSelector={"matchLabels": {"tier": "batch"}}, logging=True),
    ]
    # billing (egress-ip): Service and pod rules widen to the namespace
    objects += [
        external_service("billing", "tax-api", ["tax.example.gov", "100.64.10.0/24"], [{"port": "443"}]),
        external_service("billing", "mainframe", ["10.70.0.5"], [{"port": "23"}]),
        rule("ServiceEgressRule", "invoicer-to-tax", "billing", service="invoicer", priority=100,
             action="Allow", externalServices=["tax-api"]),
        rule("NamespaceEgressRule", "ledger-mainframe", "billing", priority=200, action="Allow",
             podSelector={"matchLabels": {"app": "ledger"}}, externalServices=["mainframe"],
             devices=[BIGIP]),
    ]
    # analytics (dual stack, default Allow)
    objects += [
        external_service("analytics", "data-lake", ["2001:db8:1a::/64", "data-lake.example.com",
                                                    "100.66.0.0/16"], [{"port": "9000-9010"}]),
        external_service("analytics", "pypi", ["pypi.org", "151.101.0.0/16"], [{"port": "443"}]),
        rule("NamespaceEgressRule", "batch-no-lake", "analytics", priority=100, action="Deny",
             podSelector={"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
             externalServices=["data-lake"], logging=True),
        rule("ServiceEgressRule", "jupyter-pypi", "analytics", service="jupyter", priority=100,
             action="Deny", externalServices=["pypi"], devices=[REST, BIGIP]),
    ]
    # sandbox (default None, on soc and fgt-edge only)
    objects += [
        external_service("sandbox", "github", ["140.82.112.0/20", "github.com"],
                         [{"port": "22"}, {"port": "443"}]),
        rule("NamespaceEgressRule", "allow-github", "sandbox", priority=100, action="Allow",
             externalServices=["github"]),
    ]
    # edge: one Service rule; probes come from a pod outside the Service too
    objects += [
        external_service("edge", "partners", ["100.70.0.0/24", "partner.example.org"],
                         [{"protocol": "UDP", "port": "5000-5100"}, {"port": "443"}]),
        rule("ServiceEgressRule", "gateway-partners", "edge", service="gateway", priority=100,
             action="Allow", externalServices=["partners"]),
    ]
    # reports: one podSelector rule, widened to the namespace's egress IP
    objects += [
        external_service("reports", "mail", ["smtp.example.com", "100.72.0.25"], [{"port": "587"}]),
        rule("NamespaceEgressRule", "renderer-mail", "reports", priority=100, action="Allow",
             podSelector={"matchLabels": {"app": "renderer"}}, externalServices=["mail"]),
    ]
    # legacy is unmanaged: this rule must reach no device
    objects += [
        external_service("legacy", "everything", ["0.0.0.0/0"]),
        rule("NamespaceEgressRule", "allow-everything", "legacy", action="Allow",
             externalServices=["everything"]),
    ]
    return objects


# --- probes and the judge ----------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A source address; `namespace`/`pod` name the cluster identity behind it (None: an address
    no firewall rule of ours may match: unmanaged, hidden behind SNAT, or outside the cluster)."""

    ip: str
    namespace: str | None
    pod: str | None


@dataclass(frozen=True)
class Traffic:
    destination: str
    port: int
    protocol: Protocol


OUTSIDERS = ("172.31.9.9", "2001:db8:77::9")
MISS_DESTINATIONS = ("192.0.2.200", "8.8.8.8", "unknown.example.org", "2001:db8:ffff::1")
COMMON_PORTS = ((80, Protocol.TCP), (443, Protocol.TCP), (53, Protocol.UDP), (22, Protocol.TCP),
                (443, Protocol.UDP), (65535, Protocol.TCP), (1, Protocol.SCTP))


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _annotation(obj: Obj, key: str) -> str | None:
    value = (_meta(obj).get("annotations") or {}).get(PREFIX + key)
    return None if value is None else str(value)


def sources(objects: list[Obj], oracle: Oracle | None = None) -> list[Source]:
    """Every address a firewall may see from the cluster, and addresses it must not match
    (`oracle` says which namespaces are managed; default: by label only)."""
    oracle = oracle or oracle_for(objects)
    namespaces = {_meta(o)["name"]: o for o in objects if o["kind"] == "Namespace"}
    out: list[Source] = []
    for obj in objects:
        if obj["kind"] != "Pod":
            continue
        ns = namespaces.get(_meta(obj)["namespace"])
        managed = ns is not None and oracle.managed(ns)
        hidden = not managed or (ns is not None and _annotation(ns, "source-mode") == "egress-ip")
        for entry in (obj.get("status") or {}).get("podIPs") or []:
            out.append(Source(entry["ip"], None if hidden else _meta(obj)["namespace"],
                              None if hidden else _meta(obj)["name"]))
    for name, ns in namespaces.items():
        if _annotation(ns, "source-mode") == "egress-ip" and oracle.managed(ns):
            for ip in egress_ips(ns, objects):
                out.append(Source(ip, name, None))
    out += [Source(ip, None, None) for ip in OUTSIDERS]
    return out


def egress_ips(ns: Obj, objects: list[Obj]) -> list[str]:
    """The namespace's SNAT addresses: its annotation, else the EgressIP objects selecting it."""
    annotated = [ip.strip() for ip in (_annotation(ns, "egress-ips") or "").split(",") if ip.strip()]
    if annotated:
        return annotated
    labels = _meta(ns).get("labels") or {}
    found = []
    for obj in objects:
        selector = (obj.get("spec") or {}).get("namespaceSelector") or {}
        if obj["kind"] == "EgressIP" and all(labels.get(k) == v
                                             for k, v in (selector.get("matchLabels") or {}).items()):
            found += [item["egressIP"] for item in (obj.get("status") or {}).get("items") or []]
    return found


def _hosts_of(entry: str) -> list[str]:
    """Addresses probing an ExternalService entry: the host itself, or a CIDR's edges and neighbours."""
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return [entry.strip().lower(), "www." + entry.strip().lower()]
    if network.num_addresses == 1:
        return [str(network.network_address)]
    hosts = [network.network_address + 1, network.broadcast_address - 1]
    if network.prefixlen:
        hosts.append(network.broadcast_address + 1)
    return [str(h) for h in hosts]


def _port_points(entries: Any) -> list[tuple[int, Protocol]]:
    out: list[tuple[int, Protocol]] = []
    for entry in entries or []:
        protocol = Protocol(str(entry.get("protocol") or "TCP").upper())
        other = Protocol.UDP if protocol is Protocol.TCP else Protocol.TCP
        for part in str(entry["port"]).split(","):
            low, _, high = part.strip().partition("-")
            start, end = int(low), int(high or low)
            out += [(start, protocol), (end, protocol), (start, other)]
            out += [(p, protocol) for p in (start - 1, end + 1) if 1 <= p <= 65535]
    return out


def _allow_list(text: str) -> list[tuple[str, list[tuple[int, Protocol]]]]:
    out = []
    for raw in text.split(","):
        host, _, rest = raw.strip().rpartition(":")
        port, _, protocol = rest.partition("/")
        out.append((host, _port_points([{"port": port, "protocol": protocol or "TCP"}])))
    return out


def traffic(objects: list[Obj]) -> list[Traffic]:
    """Destination, port and protocol probes: each ExternalService's (and allow-list entry's) hosts
    — addresses, CIDR edges and their neighbours, names — with its own port points (range edges,
    their neighbours, the other protocol); every destination with the common and missing ports;
    destinations no rule names with every port point."""
    flows: dict[Traffic, None] = {}
    every_point: dict[tuple[int, Protocol], None] = {}
    every_host: dict[str, None] = {}

    def cross(hosts: Iterable[str], points: Iterable[tuple[int, Protocol]]) -> None:
        points = list(points)
        for host in hosts:
            every_host[host] = None
            flows.update(dict.fromkeys(Traffic(host, port, protocol) for port, protocol in points))
            every_point.update(dict.fromkeys(points))

    for obj in objects:
        if obj["kind"] == "ExternalService":
            spec = obj.get("spec") or {}
            hosts = [h for entry in spec.get("addresses") or [] for h in _hosts_of(entry)]
            cross(hosts, _port_points(spec.get("ports")))
        elif obj["kind"] == "Namespace" and _annotation(obj, "egress-allow"):
            for host, points in _allow_list(_annotation(obj, "egress-allow") or ""):
                cross(_hosts_of(host), points)
    cross(every_host, COMMON_PORTS)
    cross(MISS_DESTINATIONS, every_point)
    return list(flows)


def _is_v6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


@dataclass
class Judgement:
    """How many probes were compared, the first disagreements (and how many in all), and each
    device's count of decisions (`Allow`, `Deny`, None)."""

    compared: int
    disagreements: list[str]
    disagreeing: int
    verdicts: dict[str, dict[str | None, int]]


class IndexedOracle(Oracle):
    """The oracle over a cluster that does not change while it is asked: object lookups and the
    pods of namespaces and Services are computed once (same answers, far fewer scans)."""

    def __init__(self, objects: list[Obj], **kwargs: Any) -> None:
        super().__init__(objects, **kwargs)
        self._index = {(o["kind"], _meta(o).get("namespace") or "", _meta(o).get("name")): o
                       for o in objects}
        self._pods_of: dict[str, list[Obj]] = {}
        self._service_pods_of: dict[tuple[str, str], list[Obj]] = {}

    def _get(self, kind: str, ns: str, name: str) -> Obj | None:
        return self._index.get((kind, ns, name))

    def _pods(self, ns: str) -> list[Obj]:
        if ns not in self._pods_of:
            self._pods_of[ns] = super()._pods(ns)
        return self._pods_of[ns]

    def _service_pods(self, ns: str, service: str) -> list[Obj]:
        if (ns, service) not in self._service_pods_of:
            self._service_pods_of[(ns, service)] = super()._service_pods(ns, service)
        return self._service_pods_of[(ns, service)]


def oracle_for(objects: list[Obj], config: Mapping[str, Any] | None = None) -> Oracle:
    """The oracle for the scenario under a configuration document (its `namespaces` and
    `defaults.action`; the documented defaults when absent)."""
    config = config or {}
    namespaces = config.get("namespaces") or {}
    return IndexedOracle(objects, devices=DEVICES, fqdn_capable=dict.fromkeys(DEVICES, True),
                         connector_namespace=CONNECTOR_NAMESPACE,
                         default_action=(config.get("defaults") or {}).get("action", "Deny"),
                         all_namespaces=bool(namespaces.get("all", False)),
                         exclude=tuple(namespaces.get("exclude",
                                                      ("kube-system", "kube-public", "kube-node-lease"))))


def expected(oracle: Oracle, source: Source, device: str, flow: Traffic) -> str | None:
    """The contract's decision for `flow` from `source` on `device` (both address families)."""
    if source.namespace is None:
        return None
    verdict = oracle.decide(source.namespace, source.pod, device, flow.destination, flow.port,
                            flow.protocol.value)
    return None if verdict is None else verdict.action


@contextlib.contextmanager
def memoized_ip_parsing() -> Iterator[None]:
    """Parsing addresses dominates the evaluators' time and its results are immutable values:
    while the judge runs, `ipaddress.ip_address`/`ip_network` remember what they parsed."""

    def memo(function: Callable[..., Any]) -> Callable[..., Any]:
        cache: dict[Any, tuple[bool, Any]] = {}

        def call(*args: Any, **kwargs: Any) -> Any:
            key = (args, *kwargs.items()) if kwargs else args
            hit = cache.get(key)
            if hit is None:
                try:
                    hit = (True, function(*args, **kwargs))
                except ValueError as exc:
                    hit = (False, str(exc))
                cache[key] = hit
            if hit[0]:
                return hit[1]
            raise ValueError(hit[1])

        return call

    with mock.patch.object(ipaddress, "ip_address", memo(ipaddress.ip_address)), \
            mock.patch.object(ipaddress, "ip_network", memo(ipaddress.ip_network)):
        yield


def judge(lab: Lab, objects: list[Obj], *, config: Mapping[str, Any] | None = None, stride: int = 1,
          limit: int = 25) -> Judgement:
    """Decide every probe on every device (vendor evaluators over what each device holds, read back
    through its API) and with the oracle; report the disagreements (at most `limit` listed).
    `stride` > 1 keeps every stride-th destination/port probe (every source is always probed);
    `config` is the configuration document the connector ran with."""
    with memoized_ip_parsing():
        return _judge(lab, objects, oracle_for(objects, config), traffic(objects)[::stride], limit)


def _judge(lab: Lab, objects: list[Obj], oracle: Oracle, flows: list[Traffic], limit: int) -> Judgement:
    all_sources = sources(objects, oracle)
    result = Judgement(0, [], 0, {})
    # per source, the flows a packet can take: no packet goes from an IPv4 source to an IPv6
    # destination (names, resolved by the device, go from either family)
    reachable: dict[bool, list[Traffic]] = {
        v6: [flow for flow in flows
             if _is_v6(flow.destination) == v6 or _is_name(flow.destination)] for v6 in (False, True)}
    for name, device in lab.devices.items():
        decide = device.decider()
        counts: dict[str | None, int] = {}
        for source in all_sources:
            for flow in reachable[_is_v6(source.ip)]:
                want = expected(oracle, source, name, flow)
                got = decide(Probe(source.ip, flow.destination, flow.port, flow.protocol))
                counts[got] = counts.get(got, 0) + 1
                result.compared += 1
                if got != want:
                    result.disagreeing += 1
                    if len(result.disagreements) < limit:
                        result.disagreements.append(
                            f"{name}: {source.namespace}/{source.pod} {source.ip} -> {flow.destination} "
                            f"{flow.port}/{flow.protocol.value}: device {got}, contract {want}")
        result.verdicts[name] = counts
    return result


def _is_name(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return True
    return False
