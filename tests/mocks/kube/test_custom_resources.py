"""CRDs installed through apiextensions.k8s.io/v1, custom resources validated against their schema."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.mocks.kube.conftest import Cluster

GROUP, VERSION, PLURAL = "example.fusion-connector.io", "v1", "widgets"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.ports) || !has(self.address) || size(self.ports) > 0",
                    "message": "ports must not be empty when an address is set",
                },
                {
                    "rule": "self.mode != 'Strict' || self.priority >= 100",
                    "message": "Strict needs priority >= 100",
                    "fieldPath": ".priority",
                },
                {"rule": "self.size.frobnicate() == 1", "message": "outside the evaluator's subset"},
            ],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "priority": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 500},
                "mode": {"type": "string", "enum": ["Strict", "Loose"], "default": "Loose"},
                "name": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$"},
                "address": {"type": "string", "format": "ipv4"},
                "cidr": {"type": "string", "format": "cidr"},
                "ports": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "note": {"type": "string", "nullable": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {"ready": {"type": "boolean"}, "observedGeneration": {"type": "integer"}},
        },
    },
}


def widget_crd(scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def widget(object_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": object_name},
        "spec": {"size": 1, **spec},
    }


@pytest.fixture
def widgets(cluster: Cluster) -> Cluster:
    cluster.extensions.create_custom_resource_definition(widget_crd())
    return cluster


def create(cluster: Cluster, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = cluster.custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, body
    )
    return result


def invalid(cluster: Cluster, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as caught:
        create(cluster, body)
    assert caught.value.status == 422
    status: dict[str, Any] = json.loads(caught.value.body)
    assert status["reason"] == "Invalid" and status["kind"] == "Status"
    return status


def test_crd_is_established_and_discoverable(widgets: Cluster) -> None:
    crd = widgets.extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    groups = client.ApisApi(widgets.api_client).get_api_versions()
    assert GROUP in [g.name for g in groups.groups]
    status, resources = widgets.raw(f"/apis/{GROUP}/{VERSION}")
    assert status == 200
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name[PLURAL]["kind"] == "Widget" and by_name[PLURAL]["namespaced"] is True
    assert by_name[PLURAL]["shortNames"] == ["wd"] and by_name[PLURAL]["singularName"] == "widget"
    assert f"{PLURAL}/status" in by_name


def test_create_returns_the_object_with_201_and_defaults(widgets: Cluster) -> None:
    created, status_code, _ = widgets.custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, widget("w1", ports=[{"port": 443}], address="10.0.0.1")
    )
    assert status_code == 201
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    assert created["spec"]["priority"] == 500 and created["spec"]["mode"] == "Loose"
    assert created["spec"]["ports"] == [{"port": 443, "protocol": "TCP"}]
    fetched = widgets.custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert fetched == created


def test_unknown_fields_are_pruned_unless_preserved(widgets: Cluster) -> None:
    created = create(widgets, widget("w2", bogus=1, free={"anything": {"goes": True}}, labels={"a": "b"}))
    assert "bogus" not in created["spec"]
    assert created["spec"]["free"] == {"anything": {"goes": True}}
    assert created["spec"]["labels"] == {"a": "b"}


def test_maximum_violation_names_the_field(widgets: Cluster) -> None:
    status = invalid(widgets, widget("big", priority=1001))
    cause = status["details"]["causes"][0]
    assert cause["field"] == "spec.priority"
    assert (
        cause["message"] == "Invalid value: 1001: spec.priority in body should be less than or equal to 1000"
    )
    assert status["message"] == (
        'Widget.example.fusion-connector.io "big" is invalid: spec.priority: Invalid '
        "value: 1001: spec.priority in body should be less than or equal to 1000"
    )
    assert status["details"]["kind"] == "Widget" and status["details"]["group"] == GROUP


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"size": "3"}, "spec.size", "must be of type integer"),
        ({"size": 0}, "spec.size", "should be greater than or equal to 1"),
        ({"mode": "Other"}, "spec.mode", 'Unsupported value: "Other": supported values: "Strict", "Loose"'),
        ({"name": ""}, "spec.name", "should be at least 1 chars long"),
        ({"name": "abcdefghij"}, "spec.name", "Too long"),
        ({"name": "ABC"}, "spec.name", "should match '^[a-z]+$'"),
        ({"address": "300.1.1.1"}, "spec.address", "must be of type ipv4"),
        ({"cidr": "10.0.0.0"}, "spec.cidr", "must be of type cidr"),
        (
            {"ports": [{"port": 1}, {"port": 2}, {"port": 3}, {"port": 4}]},
            "spec.ports",
            "must have at most 3 items",
        ),
        ({"ports": [{"port": 70000}]}, "spec.ports[0].port", "less than or equal to 65535"),
        ({"ports": [{"protocol": "UDP"}]}, "spec.ports[0].port", "Required value"),
        ({"labels": {"a": 1}}, "spec.labels[a]", "must be of type string"),
        ({"note": None, "mode": "Strict", "priority": 5}, "spec.priority", "Strict needs priority >= 100"),
    ],
)
def test_schema_violations(widgets: Cluster, spec: dict[str, Any], field: str, fragment: str) -> None:
    status = invalid(widgets, widget("bad", **spec))
    causes = status["details"]["causes"]
    assert any(c["field"] == field and fragment in c["message"] for c in causes), causes


def test_missing_required_field(widgets: Cluster) -> None:
    body = widget("nosize")
    del body["spec"]["size"]
    status = invalid(widgets, body)
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}
    ]


def test_cel_rule_with_has_and_size(widgets: Cluster) -> None:
    status = invalid(widgets, widget("celbad", address="10.0.0.1", ports=[]))
    assert status["details"]["causes"][0]["field"] == "spec"
    assert "ports must not be empty when an address is set" in status["details"]["causes"][0]["message"]


def test_nullable_field_accepts_null(widgets: Cluster) -> None:
    created = create(widgets, widget("nul", note=None))
    assert created["spec"]["note"] is None


def test_update_is_validated_and_bumps_generation_on_spec_change_only(widgets: Cluster) -> None:
    created = create(widgets, widget("gen"))
    custom = widgets.custom
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "gen", {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    changed = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "gen", {"spec": {"size": 2}}
    )
    assert changed["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "gen", {"spec": {"size": 11}}
        )
    assert caught.value.status == 422
    stale = dict(created, spec={"size": 3})
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "gen", stale)
    assert caught.value.status == 409


def test_status_subresource(widgets: Cluster) -> None:
    create(widgets, {**widget("st"), "status": {"ready": True}})
    custom = widgets.custom
    fetched = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "st")
    assert "status" not in fetched
    after_main = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "st", {"status": {"ready": True}}
    )
    assert "status" not in after_main
    updated = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "st",
        {"status": {"ready": True, "observedGeneration": 1}, "spec": {"size": 9}},
    )
    assert updated["status"] == {"ready": True, "observedGeneration": 1}
    assert updated["spec"]["size"] == 1 and updated["metadata"]["generation"] == 1
    replaced = custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "st", dict(updated, status={"ready": False})
    )
    assert replaced["status"] == {"ready": False}
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "st", {"status": {"ready": "yes"}}
        )
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["details"]["causes"][0]["field"] == "status.ready"


def test_custom_resources_reject_strategic_merge(widgets: Cluster) -> None:
    create(widgets, widget("smp"))
    status, body = widgets.raw(
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/smp",
        "PATCH",
        {"spec": {"size": 2}},
        "application/strategic-merge-patch+json",
    )
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_list_watch_and_delete_custom_objects(widgets: Cluster) -> None:
    custom = widgets.custom
    start = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)["metadata"][
        "resourceVersion"
    ]
    create(widgets, widget("a"))
    create(widgets, widget("b"))
    listing = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector="!missing")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a", "b"]
    assert listing["kind"] == "WidgetList"
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")
    assert deleted["metadata"]["name"] == "a"
    events = [
        (e["type"], e["object"]["metadata"]["name"])
        for e in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            resource_version=start,
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_cluster_scoped_crd(cluster: Cluster) -> None:
    cluster.extensions.create_custom_resource_definition(widget_crd("Cluster"))
    created = cluster.custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("global"))
    assert "namespace" not in created["metadata"]
    assert cluster.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "global")["spec"]["size"] == 1


def test_deleting_the_crd_removes_its_objects_and_api(widgets: Cluster) -> None:
    create(widgets, widget("doomed"))
    widgets.extensions.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    status, _ = widgets.raw(f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}")
    assert status == 404
    widgets.extensions.create_custom_resource_definition(widget_crd())
    assert widgets.custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)["items"] == []


def test_invalid_crd_is_refused(cluster: Cluster) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "wrong.name"
    with pytest.raises(ApiException) as caught:
        cluster.extensions.create_custom_resource_definition(crd)
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["details"]["causes"][0]["field"] == "metadata.name"


def test_egressip_is_served_cluster_scoped(cluster: Cluster) -> None:
    body = {
        "apiVersion": "k8s.ovn.org/v1",
        "kind": "EgressIP",
        "metadata": {"name": "eip"},
        "spec": {"egressIPs": ["192.0.2.10"], "namespaceSelector": {"matchLabels": {"env": "prod"}}},
    }
    created = cluster.custom.create_cluster_custom_object("k8s.ovn.org", "v1", "egressips", body)
    assert created["spec"]["egressIPs"] == ["192.0.2.10"]
    status, resources = cluster.raw("/apis/k8s.ovn.org/v1")
    assert status == 200
    assert {"name": "egressips", "namespaced": False}.items() <= resources["resources"][0].items()
