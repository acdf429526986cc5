"""The controller runs under the Helm chart's RBAC, enforced by the kube mock (`--authz rbac`).

The chart is rendered; its ServiceAccount, ClusterRole, Role and bindings are created in the mock;
`fusion-connector run` authenticates with a token of that ServiceAccount (TokenRequest) and must
list, watch, take the Lease, write rule statuses and Events without a single 401 or 403, while the
same token is refused what the chart does not grant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s_client

from connector.manifests import ManifestApplier, load_documents
from tests.connector.controller.harness import (
    CRDS,
    Connector,
    eventually,
    external_service,
    namespace,
    pod,
    rule,
)
from tests.e2e.conftest import start_mock
from tests.helm.test_chart import NAMESPACE, one, parse, render_raw
from tests.helm.test_rbac_e2e import TOKEN, VALUES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ADMIN = "e2e-admin"
RBAC_KINDS = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
}


def admin_client(url: str) -> k8s_client.ApiClient:
    configuration = k8s_client.Configuration()
    configuration.host = url
    configuration.api_key = {"authorization": f"Bearer {ADMIN}"}
    return k8s_client.ApiClient(configuration)


def create(url: str, doc: dict[str, Any]) -> None:
    path = RBAC_KINDS[doc["kind"]].format(ns=doc["metadata"].get("namespace", ""))
    answer = httpx.post(url + path, json=doc, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert answer.status_code == 201, answer.text


def test_the_controller_runs_under_the_chart_rbac_enforced_by_the_mock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = parse(render_raw(VALUES))
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    monkeypatch.setenv("FC_SOC_TOKEN", TOKEN)
    with (
        start_mock("kube", "--bookmark-interval", "1", "--authz", "rbac", "--admin-token", ADMIN) as (
            kube,
            _,
        ),
        start_mock("rest") as (soc, _),
        tempfile.TemporaryDirectory() as tmp,
    ):
        api = admin_client(kube)
        try:
            applier = ManifestApplier(api)
            applier.apply_all(load_documents(CRDS))
            applier.apply_all(
                [
                    namespace(NAMESPACE, managed=False),
                    namespace("payments"),
                    pod("payments", "checkout-1", {"app": "checkout"}),
                    external_service("payments", "stripe", ["198.51.100.0/24"], [{"port": "443"}]),
                    rule(
                        "NamespaceEgressRule",
                        "to-stripe",
                        "payments",
                        action="Allow",
                        priority=100,
                        externalServices=["stripe"],
                    ),
                    rule("ClusterEgressRule", "deny-tor", action="Deny", externalServices=["tor-exits"]),
                ]
            )
        finally:
            api.close()  # type: ignore[no-untyped-call]
        for doc in docs:
            if doc["kind"] in RBAC_KINDS:
                create(kube, doc)
        issued = httpx.post(
            f"{kube}/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}/token",
            json={"spec": {"expirationSeconds": 3600}},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        )
        assert issued.status_code == 201, issued.text
        token = issued.json()["status"]["token"]
        monkeypatch.setenv("FC_KUBE_TOKEN", token)
        config["kubernetes"] = {"host": kube, "connectorNamespace": NAMESPACE, "tokenEnv": "FC_KUBE_TOKEN"}
        config["database"] = f"sqlite:///{Path(tmp) / 'store.db'}"
        config["devices"][0]["url"] = soc
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        httpx.delete(f"{kube}/_mock/requests", timeout=10).raise_for_status()
        connector = Connector(path, "--mode=apply")
        try:

            def done() -> bool:
                return (
                    connector.metric("fusion_connector_leader") == 1
                    and connector.metric("fusion_connector_status_writes_total") >= 2
                    and connector.metric("fusion_connector_events_total") >= 1
                    and connector.metric(
                        "fusion_connector_last_successful_sync_timestamp_seconds", device="soc"
                    )
                    > 0
                )

            eventually(done, 60, what="leader, device synced, statuses and Events written")
            assert connector.stop() == 0
        finally:
            connector.close()
        log = httpx.get(f"{kube}/_mock/requests", timeout=10).json()["requests"]
        refused = [f"{e['method']} {e['path']} -> {e['status']}" for e in log if e["status"] in (401, 403)]
        assert refused == []
        assert any(e["path"].endswith("/status") and e["status"] == 200 for e in log)
        # RBAC was enforced: the same token is refused what the chart does not grant
        secrets = httpx.get(
            f"{kube}/api/v1/namespaces/{NAMESPACE}/secrets",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert secrets.status_code == 403
        assert secrets.json()["message"] == (
            f'secrets is forbidden: User "system:serviceaccount:{NAMESPACE}:{account}" cannot list resource '
            f'"secrets" in API group "" in the namespace "{NAMESPACE}"'
        )
