"""fieldValidation (Strict 400, Warn header), managedFields and server-side apply conflicts, Event
validation, remainingItemCount and expired continue tokens, and the OpenAPI documents."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml

from tests.mocks.kube.conftest import Cluster, pod

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "What the widget does.",
                                "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
                            }
                        },
                    }
                },
            }
        ],
    },
}
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def send(
    cluster: Cluster, method: str, path: str, body: Any, content_type: str = "application/json", **params: str
) -> httpx.Response:
    content = yaml.safe_dump(body) if content_type.endswith("yaml") else json.dumps(body)
    return httpx.request(
        method,
        cluster.url + path,
        content=content,
        params=params,
        timeout=10,
        headers={"Content-Type": content_type},
    )


@pytest.fixture
def widgets(cluster: Cluster) -> Cluster:
    assert (
        send(cluster, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD).status_code
        == 201
    )
    return cluster


def test_strict_refuses_unknown_fields_warn_warns_ignore_prunes(widgets: Cluster) -> None:
    strict = send(widgets, "POST", WIDGETS, widget("a", size=1, shape="round"), fieldValidation="Strict")
    assert strict.status_code == 400 and strict.json()["reason"] == "BadRequest"
    assert strict.json()["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.shape"'
    )
    warned = send(widgets, "POST", WIDGETS, widget("a", size=1, shape="round"), fieldValidation="Warn")
    assert warned.status_code == 201 and warned.headers["Warning"] == '299 - "unknown field \\"spec.shape\\""'
    assert "shape" not in warned.json()["spec"]
    ignored = send(widgets, "POST", WIDGETS, widget("b", shape="square"), fieldValidation="Ignore")
    assert ignored.status_code == 201 and "Warning" not in ignored.headers
    builtin = send(
        widgets,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "c", "colour": "x"}, "dta": {}},
        fieldValidation="Strict",
    )
    assert builtin.status_code == 400
    assert 'unknown field "dta", unknown field "metadata.colour"' in builtin.json()["message"]
    assert send(widgets, "POST", WIDGETS, widget("c"), fieldValidation="Loose").status_code == 400


def test_updates_record_managed_fields_per_manager(widgets: Cluster) -> None:
    created = send(widgets, "POST", WIDGETS, widget("w", size=1), fieldManager="creator").json()
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == "creator" and entry["operation"] == "Update"
    assert entry["fieldsV1"] == {"f:spec": {"f:size": {}}}
    patched = send(
        widgets,
        "PATCH",
        f"{WIDGETS}/w",
        {"spec": {"size": 2, "color": "red"}},
        "application/merge-patch+json",
        fieldManager="painter",
    ).json()
    managers = {e["manager"]: e["fieldsV1"] for e in patched["metadata"]["managedFields"]}
    assert managers == {"painter": {"f:spec": {"f:color": {}, "f:size": {}}}}


def test_apply_conflicts_with_another_manager_unless_forced(widgets: Cluster) -> None:
    first = send(
        widgets,
        "PATCH",
        f"{WIDGETS}/w",
        widget("w", size=1, color="red"),
        "application/apply-patch+yaml",
        fieldManager="team-a",
    )
    assert first.status_code == 201
    assert first.json()["metadata"]["managedFields"][0]["operation"] == "Apply"
    same = send(
        widgets,
        "PATCH",
        f"{WIDGETS}/w",
        widget("w", size=1),
        "application/apply-patch+yaml",
        fieldManager="team-b",
    )
    assert same.status_code == 200  # same value: shared, no conflict
    clash = send(
        widgets,
        "PATCH",
        f"{WIDGETS}/w",
        widget("w", size=5),
        "application/apply-patch+yaml",
        fieldManager="team-b",
    )
    assert clash.status_code == 409 and clash.json()["reason"] == "Conflict"
    assert clash.json()["message"] == 'Apply failed with 1 conflict: conflict with "team-a": .spec.size'
    assert clash.json()["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "team-a"', "field": ".spec.size"}
    ]
    forced = send(
        widgets,
        "PATCH",
        f"{WIDGETS}/w",
        widget("w", size=5),
        "application/apply-patch+yaml",
        fieldManager="team-b",
        force="true",
    )
    assert forced.status_code == 200 and forced.json()["spec"]["size"] == 5
    owners = {e["manager"]: e["fieldsV1"]["f:spec"] for e in forced.json()["metadata"]["managedFields"]}
    assert owners == {"team-a": {"f:color": {}}, "team-b": {"f:size": {}}}
    # team-a stops applying color: nobody else owns it, so it is removed
    dropped = send(
        widgets, "PATCH", f"{WIDGETS}/w", widget("w"), "application/apply-patch+yaml", fieldManager="team-a"
    )
    assert dropped.status_code == 200 and dropped.json()["spec"] == {"size": 5}
    no_manager = send(widgets, "PATCH", f"{WIDGETS}/w", widget("w"), "application/apply-patch+yaml")
    assert no_manager.status_code == 400 and "fieldManager is required" in no_manager.json()["message"]


def test_events_must_match_their_namespace(cluster: Cluster) -> None:
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"},
        "reason": "Started",
        "message": "m",
        "type": "Normal",
    }
    refused = send(cluster, "POST", "/api/v1/namespaces/default/events", event)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        'Event "e1" is invalid: involvedObject.namespace: Invalid value: "other": '
        "does not match event.namespace"
    )
    event["involvedObject"]["namespace"] = "default"
    assert send(cluster, "POST", "/api/v1/namespaces/default/events", event).status_code == 201
    series = {**event, "metadata": {"name": "e2"}, "eventTime": "2024-01-01T00:00:00.000000Z"}
    missing = send(cluster, "POST", "/api/v1/namespaces/default/events", series)
    assert missing.status_code == 422
    fields = [c["field"] for c in missing.json()["details"]["causes"]]
    assert fields == ["reportingComponent", "reportingInstance", "action"]
    new_api = {
        "metadata": {"name": "e3"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Started",
        "type": "Sideways",
    }
    answer = send(cluster, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", new_api)
    assert answer.status_code == 422
    assert {c["field"] for c in answer.json()["details"]["causes"]} == {"eventTime", "type"}


def test_limit_reports_remaining_items_and_expired_continue_offers_a_fresh_token(cluster: Cluster) -> None:
    for index in range(5):
        cluster.core.create_namespaced_pod("default", pod(f"p{index}"))
    first = cluster.raw("/api/v1/namespaces/default/pods?limit=2")[1]
    assert first["metadata"]["remainingItemCount"] == 3
    selected = cluster.raw("/api/v1/namespaces/default/pods?limit=2&labelSelector=x!%3Dy")[1]
    assert "remainingItemCount" not in selected["metadata"] and selected["metadata"]["continue"]
    cluster.core.create_namespaced_pod("default", pod("late"))
    cluster.mock("/_mock/compact")
    status, expired = cluster.raw(
        f"/api/v1/namespaces/default/pods?limit=2&continue={first['metadata']['continue']}"
    )
    assert status == 410 and expired["reason"] == "Expired"
    assert "use the continue token in this response" in expired["message"]
    status, rest = cluster.raw(
        f"/api/v1/namespaces/default/pods?limit=10&continue={expired['metadata']['continue']}"
    )
    assert status == 200
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p2", "p3", "p4"]


def test_openapi_documents_describe_served_kinds_and_crds(widgets: Cluster) -> None:
    index = widgets.raw("/openapi/v3")[1]["paths"]
    assert {"api/v1", "apis/example.com/v1", "apis/rbac.authorization.k8s.io/v1"} <= set(index)
    url = index["apis/example.com/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/example.com/v1?hash=")
    document = httpx.get(widgets.url + url, timeout=10).json()
    schema = document["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}
    ]
    assert schema["properties"]["spec"]["properties"]["size"] == {"type": "integer"}
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Widget"
    core = widgets.raw("/openapi/v3/api/v1")[1]
    assert "io.k8s.api.core.v1.Pod" in core["components"]["schemas"]
    v2 = widgets.raw("/openapi/v2")[1]
    assert v2["swagger"] == "2.0" and "com.example.v1.Widget" in v2["definitions"]
    assert v2["definitions"]["io.k8s.api.core.v1.Namespace"]["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
