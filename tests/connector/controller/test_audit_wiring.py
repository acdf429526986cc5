"""Audit counts end to end in the running controller: a rule in Audit mode is not pushed to the REST
receiver mock, the mock decides a flow by the enforced rule and pushes its log to the controller's
`POST /v1/flows`, the flow is attributed, and the audit rule's `status.audit` counts it as one it
would have decided, differently; the metric too. Without `flows`, no `status.audit` is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s_client

from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.options import ControllerOptions
from connector.http import HealthServer
from connector.wiring import validate_config
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from mocks.rest import RestMock

REPO = Path(__file__).resolve().parents[3]
FC = "fusion-connector.io/v1alpha1"
RULES = f"/apis/{FC}/namespaces/shop/namespaceegressrules"
TOKEN, REST_TOKEN = "flows-token", "rest-token"


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def kube_url() -> Iterator[str]:
    server = HttpServer(KubeApp(controllers=False)).start()
    url = server.url
    for path in sorted((REPO / "helm" / "fusion-connector" / "crds").glob("*.yaml")):
        httpx.post(f"{url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                   json=yaml.safe_load(path.read_text())).raise_for_status()
    httpx.post(f"{url}/api/v1/namespaces", json={"metadata": {"name": "fusion-system"}}).raise_for_status()
    httpx.post(f"{url}/api/v1/namespaces", json={"metadata": {
        "name": "shop", "labels": {"fusion-connector.io/managed": "true"}}}).raise_for_status()
    httpx.post(f"{url}/api/v1/namespaces/shop/pods", json={
        "metadata": {"name": "web-1", "labels": {"app": "web"}},
        "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]}}
    ).raise_for_status()
    httpx.post(f"{url}/apis/{FC}/namespaces/shop/externalservices", json={
        "apiVersion": FC, "kind": "ExternalService", "metadata": {"name": "ext", "namespace": "shop"},
        "spec": {"addresses": ["198.51.100.0/24"], "ports": [{"port": "443"}]}}).raise_for_status()
    for name, action, priority, mode in (("allow-ext", "Allow", 300, "Enforce"),
                                         ("deny-ext", "Deny", 100, "Audit")):
        httpx.post(f"{url}{RULES}", json={
            "apiVersion": FC, "kind": "NamespaceEgressRule", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"action": action, "priority": priority, "externalServices": ["ext"], "logging": True,
                     "mode": mode}}).raise_for_status()
    yield url
    server.stop()


def start(kube_url: str, tmp_path: Path, receiver: str, flows: bool) -> tuple[Controller, HealthServer]:
    data: dict[str, Any] = {
        "cluster": "c1", "database": f"sqlite:///{tmp_path / 'store.db'}",
        "kubernetes": {"host": kube_url, "connectorNamespace": "fusion-system"},
        "devices": [{"name": "soc", "type": "rest", "url": receiver, "auth": {"tokenEnv": "REST"}}]}
    if flows:
        data["flows"] = {"tokenEnv": "FLOWS_TOKEN"}
    configuration = k8s_client.Configuration()
    configuration.host = kube_url
    options = ControllerOptions(identity="audit", shutdown_grace=2.0, status_debounce=0.05,
                                status_sources_interval=0.1)
    controller = Controller(validate_config(data), Secrets({"REST": REST_TOKEN, "FLOWS_TOKEN": TOKEN}),
                            options, api_client=k8s_client.ApiClient(configuration)).start()
    return controller, HealthServer(controller, "127.0.0.1", 0).start()


def status_of(kube_url: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{kube_url}{RULES}/{name}").json().get("status") or {}
    return found


def test_an_audit_rule_counts_the_pushed_flows_it_would_have_decided(kube_url: str, tmp_path: Path) -> None:
    receiver = HttpServer(RestMock(token=REST_TOKEN)).start()
    controller, server = start(kube_url, tmp_path, receiver.url, flows=True)
    try:
        httpx.post(f"{receiver.url}/_mock/flows", json={"target": f"{server.url}/v1/flows",
                                                         "token": TOKEN}).raise_for_status()

        def decided() -> dict[str, Any]:
            answer: dict[str, Any] = httpx.post(f"{receiver.url}/_mock/traffic", json={
                "src": "10.1.0.5", "srcPort": 40000, "dst": "198.51.100.7", "dstPort": 443,
                "protocol": "TCP"}).json()
            return answer

        assert eventually(lambda: decided().get("action") == "allow")  # synced: the enforced rule
        held = httpx.get(f"{receiver.url}/_mock/state")
        held.raise_for_status()
        assert "allow-ext" in held.text and "deny-ext" not in held.text
        # the first flows may arrive before the timeline knows the pod: count until attributed
        assert eventually(lambda: bool(decided()) and (status_of(kube_url, "deny-ext").get("audit") or {})
                          .get("matched", 0) >= 1)
        audit = status_of(kube_url, "deny-ext")["audit"]
        assert audit["wouldChange"] == audit["matched"] and audit["since"]
        assert "audit" not in status_of(kube_url, "allow-ext")
        conditions = status_of(kube_url, "deny-ext")["conditions"]
        programmed = next(c for c in conditions if c["type"] == "Programmed")
        assert programmed["message"] == "audit mode, not enforced: held on soc"
        metrics = httpx.get(f"{server.url}/metrics").text
        rule = "NamespaceEgressRule/shop/deny-ext"
        assert f'fusion_connector_audit_flows_total{{result="wouldChange",rule="{rule}"}}' in metrics
    finally:
        server.stop()
        controller.stop()
        receiver.stop()


def test_without_flows_no_audit_counts_are_written(kube_url: str, tmp_path: Path) -> None:
    receiver = HttpServer(RestMock(token=REST_TOKEN)).start()
    controller, server = start(kube_url, tmp_path, receiver.url, flows=False)
    try:
        assert controller.audit is None
        assert eventually(lambda: any(c["type"] == "Programmed" and c["status"] == "True"
                                      for c in status_of(kube_url, "deny-ext").get("conditions") or []))
        assert "audit" not in status_of(kube_url, "deny-ext")
    finally:
        server.stop()
        controller.stop()
        receiver.stop()
