"""The chart's RBAC is enough for the real controller, and its configuration runs it.

`fusion-connector run` starts as a process with the configuration the chart renders (only the
API server address, the store path and the device URL replaced, since the test runs outside a pod)
and the device credential under the environment variable name the chart gives it. Against the
Kubernetes mock it lists and watches, takes the Lease, writes rule statuses and Events; every request
it made is then checked against the rendered ClusterRole and Role, as the API server's RBAC
authorizer would: cluster-wide rules anywhere, the Role's only in the release namespace and, where
it names resources, only for those names.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.connector.controller.harness import (
    Cluster,
    Connector,
    eventually,
    external_service,
    namespace,
    pod,
    rule,
)
from tests.e2e.conftest import start_mock
from tests.helm.test_chart import NAMESPACE, Manifest, one, parse, render_raw

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CLUSTER = "helm-e2e"
TOKEN = "mock-token"
VALUES = {"mode": "apply",
          "config": {"cluster": CLUSTER, "reconcile": {"debounce": "100ms"},
                     "safety": {"minExisting": 1000},
                     "devices": [{"name": "soc", "type": "rest", "url": "http://127.0.0.1:1",
                                  "existingSecret": "fc-soc"}]}}
# Discovery and version are non-resource URLs every authenticated client may read
# (the system:discovery ClusterRole).
NON_RESOURCE = {"/api", "/apis", "/version"}


class ApiRequest:
    """One logged request as the RBAC authorizer sees it."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.method: str = entry["method"]
        self.path: str = entry["path"]
        parts = [part for part in self.path.split("/") if part]
        self.resource_request = False
        self.group = self.namespace = self.resource = self.name = ""
        if parts[:1] == ["api"] and len(parts) >= 3:
            self.group, rest = "", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            self.group, rest = parts[1], parts[3:]
        else:
            return
        self.resource_request = True
        if rest[0] == "namespaces" and len(rest) >= 3:
            self.namespace, rest = rest[1], rest[2:]
        self.resource = rest[0] + (f"/{rest[2]}" if len(rest) >= 3 else "")
        self.name = rest[1] if len(rest) >= 2 else ""
        watching = str(entry["query"].get("watch", "")).lower() in ("true", "1")
        self.verb = {"GET": "get" if self.name else ("watch" if watching else "list"),
                     "POST": "create", "PUT": "update", "PATCH": "patch",
                     "DELETE": "delete" if self.name else "deletecollection"}[self.method]

    def __repr__(self) -> str:
        return f"{self.method} {self.path} ({self.verb} {self.group}/{self.resource})"


def _rule_allows(rule_: dict[str, Any], request: ApiRequest) -> bool:
    return (request.group in rule_["apiGroups"] and request.resource in rule_["resources"]
            and request.verb in rule_["verbs"]
            and ("resourceNames" not in rule_ or request.name in rule_["resourceNames"]))


def allowed(request: ApiRequest, cluster_role: Manifest, role: Manifest) -> bool:
    if not request.resource_request:
        return request.path in NON_RESOURCE or request.path.startswith("/apis/")  # group discovery
    if any(_rule_allows(rule_, request) for rule_ in cluster_role["rules"]):
        return True
    return request.namespace == role["metadata"]["namespace"] and any(
        _rule_allows(rule_, request) for rule_ in role["rules"])


@contextlib.contextmanager
def controller_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[ApiRequest], list[Manifest]]]:
    """Run the controller with the chart's configuration until it has done every kind of write;
    yield the requests it sent to the API server and the rendered manifests."""
    docs = parse(render_raw(VALUES))
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"] for item in container["env"]}
    assert config["devices"][0]["auth"] == {"tokenEnv": "FC_SOC_TOKEN"} and "FC_SOC_TOKEN" in env
    monkeypatch.setenv("FC_SOC_TOKEN", TOKEN)
    with start_mock("kube", "--bookmark-interval", "1") as (kube, _), start_mock("rest") as (soc, _), \
            tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(kube)
        try:
            cluster.install_crds()
            cluster.apply(
                namespace(NAMESPACE, managed=False), namespace("payments"),
                pod("payments", "checkout-1", {"app": "checkout"}),
                external_service("payments", "stripe", ["198.51.100.0/24"], [{"port": "443"}]),
                rule("NamespaceEgressRule", "to-stripe", "payments", action="Allow", priority=100,
                     externalServices=["stripe"]),
                rule("NamespaceEgressRule", "to-nowhere", "payments", action="Allow",
                     externalServices=["nowhere"]),
                rule("ClusterEgressRule", "deny-tor", action="Deny", externalServices=["tor-exits"]))
            assert config["kubernetes"] == {"inCluster": True, "connectorNamespace": NAMESPACE}
            config["kubernetes"] = {"host": kube, "connectorNamespace": NAMESPACE}
            config["database"] = f"sqlite:///{Path(tmp) / 'store.db'}"
            config["devices"][0]["url"] = soc
            path = Path(tmp) / "config.yaml"
            path.write_text(yaml.safe_dump(config))
            httpx.delete(f"{kube}/_mock/requests", timeout=10).raise_for_status()
            connector = Connector(path, "--mode=apply")
            try:
                def done() -> bool:
                    return (connector.metric("fusion_connector_leader") == 1
                            and connector.metric("fusion_connector_status_writes_total") >= 3
                            and connector.metric("fusion_connector_events_total") >= 2
                            and connector.metric("fusion_connector_last_successful_sync_timestamp_seconds",
                                                 device="soc") > 0)
                eventually(done, 60, what="leader, device synced, statuses and Events written")
                assert connector.stop() == 0  # a clean stop releases the Lease: one more update
            finally:
                connector.close()
            log = httpx.get(f"{kube}/_mock/requests", timeout=10).json()["requests"]
            yield [ApiRequest(entry) for entry in log if not entry["path"].startswith("/_mock")], docs
        finally:
            cluster.close()


def test_every_request_of_the_controller_is_allowed_by_the_chart_rbac(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with controller_run(monkeypatch) as (requests, docs):
        cluster_role, role = one(docs, "ClusterRole"), one(docs, "Role")
        denied = [request for request in requests if not allowed(request, cluster_role, role)]
        assert denied == []
        done = {(r.group, r.resource, r.verb) for r in requests if r.resource_request}
        # The run exercised every kind of access the chart grants, so the check above covered them.
        for kind in ("namespaces", "pods", "services", "nodes"):
            assert {("", kind, "list"), ("", kind, "watch")} <= done
        assert {("discovery.k8s.io", "endpointslices", "watch"), ("k8s.ovn.org", "egressips", "watch"),
                ("fusion-connector.io", "clusteregressrules", "watch"), ("", "events", "create"),
                ("coordination.k8s.io", "leases", "create"), ("coordination.k8s.io", "leases", "update"),
                } <= done
        assert {verb for group, resource, verb in done if resource.endswith("/status")} <= {"update", "patch"}
        assert any(resource.endswith("/status") for _, resource, _ in done)
        leases = {r.name for r in requests if r.resource == "leases" and r.name}
        assert leases == {f"fusion-connector-{CLUSTER}"}
