"""The /_mock/ endpoints: faults, request log, reset, compact, bulk load."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException

from tests.mocks.kube.conftest import Cluster, namespace, pod


def test_5xx_burst_for_n_requests(cluster: Cluster) -> None:
    cluster.mock("/_mock/faults", {"status": 503, "times": 2, "path": "/api/v1/namespaces"})
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            cluster.core.list_namespace()
        assert caught.value.status == 503
        assert '"kind":"Status"' in caught.value.body
    assert cluster.core.list_namespace().items


def test_request_log_and_reset(cluster: Cluster) -> None:
    cluster.core.create_namespace(namespace("logged"))
    log = cluster.mock("/_mock/requests", method="GET")["requests"]
    assert any(
        r["method"] == "POST" and r["path"] == "/api/v1/namespaces" and r["status"] == 201 for r in log
    )
    cluster.mock("/_mock/reset")
    names = [n.metadata.name for n in cluster.core.list_namespace().items]
    assert "logged" not in names and "default" in names


def test_reset_forgets_registered_crds(cluster: Cluster) -> None:
    from tests.mocks.kube.test_custom_resources import GROUP, widget_crd

    cluster.extensions.create_custom_resource_definition(widget_crd())
    cluster.mock("/_mock/reset")
    assert cluster.raw(f"/apis/{GROUP}/v1")[0] == 404


def test_compact_returns_the_floor(cluster: Cluster) -> None:
    rv = cluster.core.list_namespace().metadata.resource_version
    assert cluster.mock("/_mock/compact") == {"resourceVersion": rv}


def test_bulk_load(cluster: Cluster) -> None:
    items = [pod(f"bulk-{i}", {"app": "bulk"}) for i in range(500)]
    for index, item in enumerate(items):
        item["metadata"]["namespace"] = f"load-{index % 5}"
    items.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "bulk", "namespace": "load-0"},
            "spec": {"selector": {"app": "bulk"}, "ports": [{"port": 80}]},
        }
    )
    result = cluster.mock("/_mock/load", {"items": items})
    assert result["loaded"] == 501
    listing = cluster.core.list_pod_for_all_namespaces(label_selector="app=bulk")
    assert len(listing.items) == 500
    assert all(p.status.phase == "Running" and p.status.pod_ip for p in listing.items)
    assert len({p.status.pod_ip for p in listing.items}) == 500
    assert len({p.metadata.resource_version for p in listing.items}) == 500
    assert {n.metadata.name for n in cluster.core.list_namespace().items} >= {f"load-{i}" for i in range(5)}
    slices = cluster.discovery.list_namespaced_endpoint_slice("load-0").items
    assert sum(len(s.endpoints) for s in slices) == 100


def test_bulk_load_rejects_unknown_kinds(cluster: Cluster) -> None:
    status, body = cluster.raw(
        "/_mock/load", "POST", {"items": [{"apiVersion": "v9", "kind": "Nope", "metadata": {"name": "x"}}]}
    )
    assert status == 400 and body["kind"] == "Status"


def test_reloading_an_object_modifies_it_in_place(cluster: Cluster) -> None:
    item = pod("again", {"v": "1"})
    item["metadata"]["namespace"] = "default"
    cluster.mock("/_mock/load", {"items": [item]})
    first = cluster.core.read_namespaced_pod("again", "default")
    item["metadata"]["labels"] = {"v": "2"}
    cluster.mock("/_mock/load", {"items": [item]})
    second = cluster.core.read_namespaced_pod("again", "default")
    assert second.metadata.uid == first.metadata.uid
    assert second.status.pod_ip == first.status.pod_ip
    assert second.metadata.labels == {"v": "2"}
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)


def test_loaded_services_and_namespaces_get_server_defaults(cluster: Cluster) -> None:
    items = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "loaded"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": "loaded"},
            "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]},
        },
    ]
    cluster.mock("/_mock/load", {"items": items})
    assert cluster.core.read_namespace("loaded").status.phase == "Active"
    service = cluster.core.read_namespaced_service("s", "loaded")
    assert service.spec.cluster_ip.startswith("10.96.") and service.spec.ports[0].protocol == "TCP"
