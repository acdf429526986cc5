"""Create/get/list/replace/patch/delete through the real client, with the real server's errors."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.mocks.kube.conftest import Cluster, namespace, pod


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_create_stamps_metadata_and_returns_201(cluster: Cluster) -> None:
    cluster.core.create_namespace(namespace("team-a"))
    created, status_code, _ = cluster.core.create_namespaced_pod_with_http_info(
        "team-a", pod("web-1", {"app": "web"})
    )
    assert status_code == 201
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert int(created.metadata.resource_version) > 0
    assert created.metadata.generation == 1
    assert created.metadata.namespace == "team-a"
    fetched = cluster.core.read_namespaced_pod("web-1", "team-a")
    assert fetched.metadata.uid == created.metadata.uid


def test_namespace_gets_active_phase_and_name_label(cluster: Cluster) -> None:
    created = cluster.core.create_namespace(namespace("team-b"))
    assert created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "team-b"
    names = [ns.metadata.name for ns in cluster.core.list_namespace().items]
    assert {"default", "kube-system", "team-b"} <= set(names)


def test_create_in_missing_namespace_is_404(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespaced_pod("nowhere", pod("p"))
    assert caught.value.status == 404
    status = status_of(caught.value)
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["message"] == 'namespaces "nowhere" not found'


def test_duplicate_create_is_409_already_exists(cluster: Cluster) -> None:
    cluster.core.create_namespaced_pod("default", pod("dup"))
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespaced_pod("default", pod("dup"))
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"


def test_get_missing_is_404_with_details(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        cluster.core.read_namespaced_service("ghost", "default")
    status = status_of(caught.value)
    assert caught.value.status == 404
    assert status["details"] == {"name": "ghost", "kind": "services"}
    assert status["message"] == 'services "ghost" not found'


def test_invalid_name_is_422_with_field(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespace(namespace("Not_Valid"))
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_pod_without_containers_is_422(cluster: Cluster) -> None:
    body = {"metadata": {"name": "empty"}, "spec": {"containers": []}}
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespaced_pod("default", body)
    assert caught.value.status == 422
    assert [c["field"] for c in status_of(caught.value)["details"]["causes"]] == ["spec.containers"]


def test_generate_name(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}}
    )
    assert created.metadata.name.startswith("cfg-") and len(created.metadata.name) == 9


def test_replace_with_stale_resource_version_is_409_conflict(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}
    )
    created.data = {"a": "2"}
    updated = cluster.core.replace_namespaced_config_map("c", "default", created)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert updated.metadata.uid == created.metadata.uid
    created.data = {"a": "3"}
    with pytest.raises(ApiException) as caught:
        cluster.core.replace_namespaced_config_map("c", "default", created)
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "Conflict"
    assert cluster.core.read_namespaced_config_map("c", "default").data == {"a": "2"}


def test_noop_update_keeps_resource_version(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "same"}, "data": {"a": "1"}}
    )
    again = cluster.core.replace_namespaced_config_map("same", "default", created)
    assert again.metadata.resource_version == created.metadata.resource_version


def test_strategic_merge_patch_merges_containers_by_name(cluster: Cluster) -> None:
    body = pod("multi")
    body["spec"]["containers"].append({"name": "sidecar", "image": "side:1"})
    cluster.core.create_namespaced_pod("default", body)
    patched = cluster.core.patch_namespaced_pod(
        "multi",
        "default",
        {
            "metadata": {"labels": {"tier": "gold"}},
            "spec": {"containers": [{"name": "sidecar", "image": "side:2"}]},
        },
    )
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {"app": "registry.example/app:1", "sidecar": "side:2"}
    assert patched.metadata.labels["tier"] == "gold"
    requests = [r for r in cluster.app.requests() if r["method"] == "PATCH"]
    assert requests, "the patch went through"


def test_strategic_merge_delete_directive(cluster: Cluster) -> None:
    body = pod("trim")
    body["spec"]["containers"].append({"name": "sidecar", "image": "side:1"})
    cluster.core.create_namespaced_pod("default", body)
    status, patched = cluster.raw(
        "/api/v1/namespaces/default/pods/trim",
        "PATCH",
        {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
        "application/strategic-merge-patch+json",
    )
    assert status == 200
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app"]


def test_json_patch_and_merge_patch(cluster: Cluster) -> None:
    cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "jp"}, "data": {"a": "1", "b": "2"}}
    )
    patched = cluster.core.patch_namespaced_config_map(
        "jp",
        "default",
        [
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/b"},
            {"op": "add", "path": "/data/c", "value": "3"},
        ],
    )
    assert patched.data == {"a": "10", "c": "3"}
    status, merged = cluster.raw(
        "/api/v1/namespaces/default/configmaps/jp",
        "PATCH",
        {"data": {"a": None, "d": "4"}},
        "application/merge-patch+json",
    )
    assert status == 200 and merged["data"] == {"c": "3", "d": "4"}
    status, failed = cluster.raw(
        "/api/v1/namespaces/default/configmaps/jp",
        "PATCH",
        [{"op": "remove", "path": "/data/missing"}],
        "application/json-patch+json",
    )
    assert status == 422 and failed["kind"] == "Status"


def test_patch_with_stale_resource_version_conflicts(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_config_map("default", {"metadata": {"name": "rvp"}, "data": {}})
    cluster.core.patch_namespaced_config_map("rvp", "default", {"data": {"x": "1"}})
    with pytest.raises(ApiException) as caught:
        cluster.core.patch_namespaced_config_map(
            "rvp",
            "default",
            {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"x": "2"}},
        )
    assert caught.value.status == 409


def test_delete_returns_object_or_status(cluster: Cluster) -> None:
    cluster.core.create_namespaced_pod("default", pod("gone"))
    deleted = cluster.core.delete_namespaced_pod("gone", "default")
    assert deleted.metadata.name == "gone"
    cluster.core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    result = cluster.core.delete_namespaced_config_map("cm", "default")
    assert result["status"] == "Success"
    with pytest.raises(ApiException) as caught:
        cluster.core.delete_namespaced_pod("gone", "default")
    assert caught.value.status == 404


def test_delete_precondition_mismatch_conflicts(cluster: Cluster) -> None:
    cluster.core.create_namespaced_config_map("default", {"metadata": {"name": "pre"}})
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    with pytest.raises(ApiException) as caught:
        cluster.core.delete_namespaced_config_map("pre", "default", body=options)
    assert caught.value.status == 409


def test_finalizers_hold_deletion_until_removed(cluster: Cluster) -> None:
    cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "fin", "finalizers": ["example.com/hold"]}}
    )
    cluster.core.delete_namespaced_config_map("fin", "default")
    held = cluster.core.read_namespaced_config_map("fin", "default")
    assert held.metadata.deletion_timestamp is not None
    cluster.core.patch_namespaced_config_map("fin", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        cluster.core.read_namespaced_config_map("fin", "default")
    assert caught.value.status == 404


def test_delete_collection_by_label(cluster: Cluster) -> None:
    for index in range(4):
        cluster.core.create_namespaced_pod(
            "default", pod(f"p{index}", {"batch": "yes" if index % 2 else "no"})
        )
    cluster.core.delete_collection_namespaced_pod("default", label_selector="batch=yes")
    left = sorted(p.metadata.name for p in cluster.core.list_namespaced_pod("default").items)
    assert left == ["p0", "p2"]


def test_namespace_deletion_cascades(cluster: Cluster) -> None:
    cluster.core.create_namespace(namespace("doomed"))
    cluster.core.create_namespace(namespace("kept"))
    for name in ("a", "b"):
        cluster.core.create_namespaced_pod("doomed", pod(name))
    cluster.core.create_namespaced_config_map("doomed", {"metadata": {"name": "cfg"}})
    cluster.core.create_namespaced_pod("kept", pod("survivor"))
    deleted = cluster.core.delete_namespace("doomed")
    assert deleted["status"]["phase"] == "Terminating"
    assert cluster.core.list_namespaced_pod("doomed").items == []
    assert cluster.core.list_namespaced_config_map("doomed").items == []
    assert [p.metadata.name for p in cluster.core.list_pod_for_all_namespaces().items] == ["survivor"]
    with pytest.raises(ApiException):
        cluster.core.read_namespace("doomed")


def test_wrong_method_is_405_and_unknown_path_404(cluster: Cluster) -> None:
    status, body = cluster.raw("/api/v1/pods", "POST", {"metadata": {"name": "x"}})
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, body = cluster.raw("/api/v1/widgets")
    assert status == 404 and body["kind"] == "Status"


def test_malformed_body_is_400(cluster: Cluster) -> None:
    request_status, body = cluster.raw(
        "/api/v1/namespaces/default/configmaps", "POST", ["not", "an", "object"]
    )
    assert request_status == 400 and body["reason"] == "BadRequest"


def test_pod_status_subresource(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_pod("default", pod("st"))
    cluster.core.patch_namespaced_pod("st", "default", {"status": {"phase": "Failed"}})
    assert cluster.core.read_namespaced_pod("st", "default").status.phase == "Running"
    patched = cluster.core.patch_namespaced_pod_status(
        "st", "default", {"status": {"phase": "Succeeded"}, "metadata": {"labels": {"x": "y"}}}
    )
    assert patched.status.phase == "Succeeded"
    assert not (patched.metadata.labels or {}).get("x")
    assert patched.metadata.uid == created.metadata.uid


def test_service_gets_cluster_ip_and_defaults(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_service(
        "default", {"metadata": {"name": "svc"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}
    )
    assert created.spec.cluster_ip.startswith("10.96.")
    assert created.spec.ports[0].protocol == "TCP" and created.spec.ports[0].target_port == 80
    replaced = cluster.core.replace_namespaced_service(
        "svc",
        "default",
        {
            "metadata": {"name": "svc", "resourceVersion": created.metadata.resource_version},
            "spec": {"selector": {"app": "b"}, "ports": [{"port": 81}]},
        },
    )
    assert replaced.spec.cluster_ip == created.spec.cluster_ip


def test_leases_for_leader_election(cluster: Cluster) -> None:
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="leader", namespace="default"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    created = cluster.coordination.create_namespaced_lease("default", lease)
    with pytest.raises(ApiException) as caught:
        cluster.coordination.create_namespaced_lease("default", lease)
    assert caught.value.status == 409
    current = cluster.coordination.read_namespaced_lease("leader", "default")
    current.spec.holder_identity = "b"
    taken = cluster.coordination.replace_namespaced_lease("leader", "default", current)
    assert taken.spec.holder_identity == "b"
    created.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        cluster.coordination.replace_namespaced_lease("leader", "default", created)
    assert caught.value.status == 409
    assert cluster.coordination.read_namespaced_lease("leader", "default").spec.holder_identity == "b"


def test_events_in_both_groups(cluster: Cluster) -> None:
    cluster.core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "ev1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started",
            "message": "ok",
            "type": "Normal",
        },
    )
    events = cluster.core.list_namespaced_event("default", field_selector="involvedObject.name=p")
    assert [e.metadata.name for e in events.items] == ["ev1"]
    api = client.EventsV1Api(cluster.api_client)
    api.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "ev2"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "x",
            "reportingInstance": "y",
            "action": "Sync",
            "reason": "Synced",
            "type": "Normal",
        },
    )
    assert [e.metadata.name for e in api.list_namespaced_event("default").items] == ["ev2"]


def test_nodes_are_cluster_scoped(cluster: Cluster) -> None:
    cluster.core.create_node({"metadata": {"name": "node-a", "labels": {"zone": "z1"}}})
    assert [n.metadata.name for n in cluster.core.list_node(label_selector="zone=z1").items] == ["node-a"]
    status, _ = cluster.raw("/api/v1/namespaces/default/nodes")
    assert status == 404


def test_server_side_apply_creates_then_merges(cluster: Cluster) -> None:
    path = "/api/v1/namespaces/default/configmaps/applied?fieldManager=test"
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    status, refused = cluster.raw(path, "PATCH", {"data": {"a": "1"}}, "application/apply-patch+yaml")
    assert status == 400 and refused["reason"] == "BadRequest"
    for expected_status, value in ((201, "1"), (200, "2")):
        request_status, body = raw_yaml(cluster, path, manifest.replace("a: '1'", f"a: '{value}'"))
        assert request_status == expected_status
        assert body["data"] == {"a": value}
    assert cluster.core.read_namespaced_config_map("applied", "default").data == {"a": "2"}


def raw_yaml(cluster: Cluster, path: str, text: str) -> tuple[int, dict]:
    import urllib.request

    request = urllib.request.Request(
        cluster.url + path,
        data=text.encode(),
        method="PATCH",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_dry_run_checks_but_stores_nothing(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "dry"}}, dry_run="All"
    )
    assert created.metadata.name == "dry"
    with pytest.raises(ApiException) as caught:
        cluster.core.read_namespaced_config_map("dry", "default")
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespaced_pod(
            "default", {"metadata": {"name": "x"}, "spec": {"containers": []}}, dry_run="All"
        )
    assert caught.value.status == 422
    cluster.core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}, "data": {"a": "1"}})
    cluster.core.patch_namespaced_config_map("kept", "default", {"data": {"a": "2"}}, dry_run="All")
    cluster.core.delete_namespaced_config_map("kept", "default", dry_run="All")
    assert cluster.core.read_namespaced_config_map("kept", "default").data == {"a": "1"}


@pytest.mark.parametrize(
    "metadata",
    [
        {"labels": {"app": "bad value!"}},
        {"labels": {"-bad-key": "x"}},
        {"annotations": {"bad key": "x"}},
    ],
)
def test_label_and_annotation_syntax_is_validated(cluster: Cluster, metadata: dict) -> None:
    with pytest.raises(ApiException) as caught:
        cluster.core.create_namespaced_config_map("default", {"metadata": {"name": "lbl", **metadata}})
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["details"]["causes"][0]["field"].startswith("metadata.")
