"""End-to-end harness for `fusion-connector run`: mocks as processes, the connector as a process,
the cluster driven through the `kubernetes` client, devices judged by their conformance evaluators
against the rule-semantics oracle (docs/resources.md, "How a rule decides").

- `Mocks` starts kube, bigip, fortigate and rest (`tests.e2e.conftest.start_mocks`).
- `Cluster` talks to the kube mock: CRDs, manifests, pods, namespaces, rule status, Events.
- `write_config` writes a connector configuration for the mocks.
- `Connector` runs `python -m connector run` and finds its health/metrics URL; `stops_cleanly`
  stops it at the end of a `with` block, asserting it exited 0.
- `judge` compares every device's first-match decision with the oracle over probes from every
  pod of every managed namespace; `eventually` polls with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s_client

from adapters.families import adapter_class
from connector.cluster import KINDS, Kind
from connector.evaluate import Probe
from connector.manifests import ManifestApplier, load_documents
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.rest import evaluator as rest_evaluator
from tests.connector.compiler.oracle import Oracle
from tests.e2e.conftest import REPO_ROOT, start_mocks

CLUSTER = "e2e"
TENANT = "fc_e2e"
TOKEN = "mock-token"
CONNECTOR_NS = "fusion-system"
CRDS = sorted((REPO_ROOT / "helm" / "fusion-connector" / "crds").glob("*.yaml"))
DEVICE_TYPES = {"bigip": "f5-as3", "fgt": "fortios", "soc": "rest"}
ENV = {"BIGIP_PASSWORD": "admin", "FGT_TOKEN": TOKEN, "SOC_TOKEN": TOKEN}
OUTSIDE = ("203.0.113.77", 443)
FAST_LEASE = ("--lease-duration", "4", "--renew-interval", "1")  # `run` arguments for quick handovers


def eventually(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
               what: str = "") -> Any:
    """Poll `predicate` until it returns something true (returned); fail after `timeout`. An
    AssertionError raised by the predicate counts as not yet; the last one is reported."""
    deadline = time.monotonic() + timeout
    last: str = ""
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError as exc:
            last = str(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what or predicate}: {last}")
        time.sleep(interval)


class Mocks:
    """The four mock processes."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        (self.kube, self.kube_process), (self.bigip, _), (self.fgt, _), (self.soc, _) = stack.enter_context(
            start_mocks(("kube", "--bookmark-interval", "1"), ("bigip", "--processing-ms", "5"),
                        ("fortigate",), ("rest",)))

    @property
    def devices(self) -> dict[str, str]:
        return {"bigip": self.bigip, "fgt": self.fgt, "soc": self.soc}

    def fault(self, device: str, spec: dict[str, Any]) -> None:
        url = self.kube if device == "kube" else self.devices[device]
        httpx.post(f"{url}/_mock/faults", json=spec, timeout=10).raise_for_status()

    def requests(self, device: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{self.devices[device]}/_mock/requests",
                                                  timeout=10).json()["requests"]
        return entries

    def writes(self, device: str) -> list[dict[str, Any]]:
        return [r for r in self.requests(device) if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
                and not r["path"].startswith("/_mock") and "authn/login" not in r["path"]]

    def reset_devices(self) -> None:
        for url in self.devices.values():
            httpx.post(f"{url}/_mock/reset", timeout=10).raise_for_status()


def write_config(directory: Path, mocks: Mocks, *, database: str | None = None,
                 debounce: str = "100ms", interval: str = "30s",
                 safety: dict[str, Any] | None = None, devices: tuple[str, ...] = ("bigip", "fgt", "soc"),
                 name: str = "connector.yaml") -> Path:
    """A configuration for the mocks; returns its path."""
    all_devices: dict[str, dict[str, Any]] = {
        "bigip": {"name": "bigip", "type": "f5-as3", "url": mocks.bigip, "tenant": TENANT,
                  "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}, "timeout": "10s"},
        "fgt": {"name": "fgt", "type": "fortios", "url": mocks.fgt, "auth": {"tokenEnv": "FGT_TOKEN"},
                "srcintf": ["port2"], "dstintf": ["port1"], "timeout": "10s"},
        "soc": {"name": "soc", "type": "rest", "url": mocks.soc, "auth": {"tokenEnv": "SOC_TOKEN"},
                "timeout": "10s"},
    }
    config = {
        "cluster": CLUSTER,
        "database": database or f"sqlite:///{directory / 'store.db'}",
        "kubernetes": {"host": mocks.kube, "connectorNamespace": CONNECTOR_NS},
        "reconcile": {"interval": interval, "debounce": debounce},
        "safety": safety or {"maxDeletePercent": 100, "maxUpdatePercent": 100, "minExisting": 0},
        "devices": [all_devices[name] for name in devices],
    }
    path = directory / name
    path.write_text(yaml.safe_dump(config))
    return path


class Connector:
    """`python -m connector run --config PATH --listen 127.0.0.1:0` as a process."""

    def __init__(self, config: Path, *extra: str, log_level: str = "debug") -> None:
        env = {**os.environ, **ENV}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "connector", "--log-level", log_level, "run", "--config", str(config),
             "--listen", "127.0.0.1:0", *extra],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        self.url = eventually(self._find_url, 30, interval=0.05, what="connector health URL")

    def _find_url(self) -> str | None:
        if self.process.poll() is not None:
            raise RuntimeError(f"connector exited with {self.process.returncode}: {self.output()[-3000:]}")
        match = re.search(r"health and metrics on (http://\S+)", self.output())
        return match.group(1) if match else None

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def ready(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/readyz").json()
        return body

    def metrics(self) -> str:
        return self.get("/metrics").text

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            sample, _, label_text = head.partition("{")
            if sample != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(value)
        return total

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)

    def close(self) -> None:
        self.kill()
        self.log.close()
        os.unlink(self.log.name)


@contextlib.contextmanager
def stops_cleanly(connector: Connector) -> Iterator[Connector]:
    """Yield `connector`; then stop it and assert it exited 0 (the tail of its log as the message)."""
    try:
        yield connector
    finally:
        code = connector.stop()
        output = connector.output()
        connector.close()
        assert code == 0, output[-3000:]


# ---------------------------------------------------------------------------------------- cluster
def namespace(name: str, labels: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None, managed: bool = True) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if managed:
        all_labels["fusion-connector.io/managed"] = "true"
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": all_labels, "annotations": annotations or {}}}


def pod(ns: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}


def service(ns: str, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector, "ports": [{"port": 80, "protocol": "TCP"}]}}


def external_service(ns: str, name: str, addresses: list[str],
                     ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"addresses": addresses}
    if ports:
        spec["ports"] = ports
    return {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ExternalService",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def rule(kind: str, name: str, ns: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": "fusion-connector.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


class Cluster:
    """The kube mock through the official client."""

    def __init__(self, url: str) -> None:
        configuration = k8s_client.Configuration()
        configuration.host = url
        self.url = url
        self.api = k8s_client.ApiClient(configuration)
        self.core = k8s_client.CoreV1Api(self.api)
        self.custom = k8s_client.CustomObjectsApi(self.api)
        self.applier = ManifestApplier(self.api)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def install_crds(self) -> None:
        self.applier.apply_all(load_documents(CRDS))

    def apply(self, *objects: dict[str, Any]) -> None:
        self.applier.apply_all(objects)

    def delete_pod(self, ns: str, name: str) -> None:
        self.core.delete_namespaced_pod(name, ns, grace_period_seconds=0)

    def delete_namespace(self, name: str) -> None:
        self.core.delete_namespace(name)

    def get_json(self, path: str) -> tuple[int, dict[str, Any]]:
        """GET `path`; 5xx answers (fault injections meant for the connector) are retried."""
        deadline = time.monotonic() + 30
        while True:
            response = httpx.get(self.url + path, timeout=30)
            if response.status_code < 500 or time.monotonic() > deadline:
                return response.status_code, response.json()
            time.sleep(0.1)

    def raw_list(self, kind: Kind) -> list[dict[str, Any]]:
        info = KINDS[kind]
        status, body = self.get_json(info.collection_path())
        if status == 404:
            return []
        items: list[dict[str, Any]] = body["items"]
        for item in items:
            item.setdefault("kind", info.object_kind)
            item.setdefault("apiVersion", info.api_version)
        return items

    def objects(self) -> list[dict[str, Any]]:
        return [obj for kind in Kind for obj in self.raw_list(kind)]

    def custom_object(self, kind: Kind, ns: str, name: str) -> dict[str, Any]:
        info = KINDS[kind]
        status, body = self.get_json(info.collection_path(ns or None) + f"/{name}")
        assert status == 200, body
        return body

    def events(self, ns: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get_json(f"/api/v1/namespaces/{ns}/events")[1]["items"]
        return items

    def lease(self, name: str) -> dict[str, Any] | None:
        status, body = self.get_json(f"/apis/coordination.k8s.io/v1/namespaces/{CONNECTOR_NS}/leases/{name}")
        return body if status == 200 else None


def pod_ipv4(obj: dict[str, Any]) -> str | None:
    for entry in (obj.get("status") or {}).get("podIPs") or []:
        if ":" not in entry["ip"]:
            return str(entry["ip"])
    return None


# ---------------------------------------------------------------------------------------- devices
def device_deciders(mocks: Mocks, devices: tuple[str, ...] = ("bigip", "fgt", "soc")
                    ) -> dict[str, Callable[[Probe], str | None]]:
    """Per device, a function giving the device's decision (Allow/Deny/None) for a probe, read
    now from the device's own API."""
    out: dict[str, Callable[[Probe], str | None]] = {}
    if "bigip" in devices:
        response = httpx.get(f"{mocks.bigip}/mgmt/shared/appsvcs/declare/{TENANT}", auth=("admin", "admin"),
                             timeout=10)
        if response.status_code == 404:
            out["bigip"] = lambda probe: None
        else:
            response.raise_for_status()
            declaration = Declaration(TENANT, response.json()[TENANT])
            out["bigip"] = lambda probe: verdict(declaration.decide(probe))
    if "fgt" in devices:
        forti = FortiGateEvaluator(fetch_tables(mocks.fgt, TOKEN))
        out["fgt"] = lambda probe: {"accept": "Allow", "deny": "Deny", None: None}[forti.decide(probe).action]
    if "soc" in devices:
        response = httpx.get(f"{mocks.soc}/state", timeout=10, headers={
            "Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.fusion-connector.v1+json"})
        response.raise_for_status()
        state = response.json()

        def soc(probe: Probe) -> str | None:
            decided = rest_evaluator.decide(state, probe)
            return None if decided is None else str(decided["action"]).capitalize()

        out["soc"] = soc
    return out


DESTINATIONS = [("198.51.100.10", 443), ("198.51.100.10", 80), ("10.20.1.5", 5432), ("198.18.0.9", 443),
                ("203.0.113.5", 443), OUTSIDE]


def judge(cluster: Cluster, mocks: Mocks, devices: tuple[str, ...] = ("bigip", "fgt", "soc"),
          extra_sources: tuple[str, ...] = ()) -> list[str]:
    """Disagreements between each device and the oracle over probes from every pod of every
    namespace (plus `extra_sources`, IPs that must match nothing) to `DESTINATIONS`; [] = conforms."""
    objects = cluster.objects()
    fqdn = {name: adapter_class(DEVICE_TYPES[name]).capabilities.fqdn for name in devices}
    oracle = Oracle(objects, devices=devices, fqdn_capable=fqdn, connector_namespace=CONNECTOR_NS)
    deciders = device_deciders(mocks, devices)
    problems: list[str] = []
    pods = [o for o in objects if o["kind"] == "Pod" and pod_ipv4(o)]
    for device in devices:
        decide = deciders[device]
        for obj in pods:
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            ip = pod_ipv4(obj)
            assert ip is not None
            for destination, port in DESTINATIONS:
                expected = oracle.decide(ns, name, device, destination, port)
                want = expected.action if expected else None
                got = decide(Probe(ip, destination, port))
                if got != want:
                    problems.append(f"{device}: {ns}/{name} ({ip}) -> {destination}:{port}: device {got}, "
                                    f"oracle {want} ({expected})")
        for ip in extra_sources:
            for destination, port in DESTINATIONS:
                got = decide(Probe(ip, destination, port))
                if got is not None:
                    problems.append(f"{device}: {ip} (no pod) -> {destination}:{port}: device {got}")
    return problems


def converged(cluster: Cluster, mocks: Mocks, timeout: float = 30.0, **kwargs: Any) -> None:
    """Wait until `judge` finds no disagreement."""
    def check() -> bool:
        try:
            problems = judge(cluster, mocks, **kwargs)
        except httpx.HTTPError as exc:  # a device under a fault injection answers the judge too
            raise AssertionError(f"reading a device: {exc}") from exc
        assert not problems, "\n".join(problems[:10])
        return True

    eventually(check, timeout, interval=0.3, what="devices decide like the oracle")


@contextlib.contextmanager
def environment() -> Iterator[tuple[Mocks, Cluster]]:
    """Mocks started, CRDs installed, the connector namespace created."""
    with contextlib.ExitStack() as stack:
        mocks = Mocks(stack)
        cluster = Cluster(mocks.kube)
        stack.callback(cluster.close)
        cluster.install_crds()
        cluster.apply(namespace(CONNECTOR_NS, managed=False))
        yield mocks, cluster


def baseline() -> list[dict[str, Any]]:
    """A realistic small cluster: two managed namespaces, a Service, every rule kind."""
    return [
        external_service(CONNECTOR_NS, "tor-exits", ["198.18.0.0/15"]),
        rule("ClusterEgressRule", "block-tor", tier="Admin", priority=100, action="Deny",
             externalServices=["tor-exits"]),
        namespace("payments", {"env": "prod"}),
        namespace("shop", {"env": "dev"}, {"fusion-connector.io/egress-allow": "203.0.113.0/24:443"}),
        external_service("payments", "stripe", ["198.51.100.0/24"],
                         [{"name": "https", "protocol": "TCP", "port": "443"}]),
        external_service("payments", "db", ["10.20.0.0/16"], [{"protocol": "TCP", "port": "5432"}]),
        service("payments", "api", {"app": "api"}),
        *[pod("payments", f"api-{i}", {"app": "api"}) for i in range(1, 4)],
        pod("payments", "worker-1", {"app": "worker"}),
        *[pod("shop", f"web-{i}", {"app": "web"}) for i in range(1, 3)],
        rule("ServiceEgressRule", "allow-stripe", "payments", service="api", priority=100, action="Allow",
             externalServices=["stripe"]),
        rule("NamespaceEgressRule", "allow-db", "payments", priority=200, action="Allow",
             externalServices=["db"], logging=True),
    ]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Mocks, Cluster]]:
    """The mocks of one test module, with the `baseline` cluster applied."""
    with environment() as (mocks, cluster):
        cluster.apply(*baseline())
        yield mocks, cluster


@pytest.fixture
def world(shared: tuple[Mocks, Cluster]) -> Iterator[tuple[Mocks, Cluster, Path]]:
    """`shared` with empty devices and a fresh directory (for the store and the configuration)."""
    mocks, cluster = shared
    mocks.reset_devices()
    with tempfile.TemporaryDirectory() as tmp:
        yield mocks, cluster, Path(tmp)
