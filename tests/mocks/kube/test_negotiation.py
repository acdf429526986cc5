"""Content negotiation: Table and metadata views, YAML, protobuf request bodies, 415 and 406."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from mocks.kube import protobuf
from tests.mocks.kube.conftest import Cluster, pod

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def get(cluster: Cluster, path: str, accept: str, **params: Any) -> httpx.Response:
    return httpx.get(cluster.url + path, headers={"Accept": accept}, params=params, timeout=10)


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def protobuf_body(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version.encode()) + _field(2, kind.encode())
    return protobuf.MAGIC + _field(1, type_meta) + _field(2, raw) + _field(3, b"") + _field(4, b"")


def test_pods_as_a_table_with_wide_columns_and_partial_objects(cluster: Cluster) -> None:
    cluster.mock("/_mock/load", {"items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]})
    cluster.core.create_namespaced_pod("default", pod("web"))
    table = get(cluster, "/api/v1/namespaces/default/pods", TABLE).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns[:5] == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0)]
    assert ("IP", 1) in columns and ("Node", 1) in columns
    (row,) = table["rows"]
    ip = cluster.core.read_namespaced_pod("web", "default").status.pod_ip
    cells = dict(zip([c["name"] for c in table["columnDefinitions"]], row["cells"], strict=True))
    assert cells["Name"] == "web" and cells["Ready"] == "1/1" and cells["Status"] == "Running"
    assert cells["IP"] == ip and cells["Node"] == "n1" and cells["Restarts"] == "0"
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "web"
    full = get(cluster, "/api/v1/namespaces/default/pods/web", TABLE, includeObject="Object").json()
    assert full["rows"][0]["object"]["spec"]["containers"][0]["name"] == "app"
    bare = get(cluster, "/api/v1/namespaces/default/pods", TABLE, includeObject="None").json()
    assert "object" not in bare["rows"][0]
    assert get(cluster, "/api/v1/pods", TABLE, includeObject="All").status_code == 400


def test_custom_resources_use_the_crd_printer_columns(cluster: Cluster) -> None:
    column = {"name": "Action", "type": "string", "jsonPath": ".spec.action"}
    ready = {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}
    size = {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "priority": 1}
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    cluster.extensions.create_custom_resource_definition(
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": schema},
                        "additionalPrinterColumns": [column, ready, size],
                    }
                ],
            },
        }
    )
    cluster.custom.create_cluster_custom_object(
        "example.com",
        "v1",
        "widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"action": "Deny", "size": 3},
            "status": {
                "conditions": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]
            },
        },
    )
    table = get(cluster, "/apis/example.com/v1/widgets", TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Action", "Ready", "Size"]
    assert table["columnDefinitions"][3]["priority"] == 1
    assert table["rows"][0]["cells"] == ["w", "Deny", "True", 3]


def test_yaml_and_metadata_only_answers(cluster: Cluster) -> None:
    answer = get(cluster, "/api/v1/namespaces/default", "application/yaml")
    assert answer.headers["Content-Type"] == "application/yaml"
    assert yaml.safe_load(answer.text)["metadata"]["name"] == "default"
    listing = get(
        cluster, "/api/v1/namespaces", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    )
    assert listing.json()["kind"] == "PartialObjectMetadataList"
    assert {i["kind"] for i in listing.json()["items"]} == {"PartialObjectMetadata"}


def test_protobuf_only_accept_is_406_and_falls_back_to_json_when_listed(cluster: Cluster) -> None:
    refused = get(cluster, "/api/v1/namespaces", "application/vnd.kubernetes.protobuf")
    assert refused.status_code == 406 and refused.json()["reason"] == "NotAcceptable"
    assert refused.json()["message"].startswith(
        "only the following media types are accepted: application/json"
    )
    both = get(cluster, "/api/v1/namespaces", "application/vnd.kubernetes.protobuf,application/json")
    assert both.status_code == 200 and both.json()["kind"] == "NamespaceList"
    assert (
        get(cluster, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").status_code
        == 406
    )


def test_protobuf_namespace_body_is_decoded(cluster: Cluster) -> None:
    labels = _field(1, b"team") + _field(2, b"blue")
    metadata = _field(1, b"pb") + _field(11, labels) + bytes([7 << 3]) + _varint(0)
    body = protobuf_body("v1", "Namespace", _field(1, metadata) + _field(2, b""))
    answer = httpx.post(
        cluster.url + "/api/v1/namespaces",
        content=body,
        timeout=10,
        headers={"Content-Type": protobuf.MEDIA, "Accept": f"{protobuf.MEDIA},application/json"},
    )
    assert answer.status_code == 201, answer.text
    created = cluster.core.read_namespace("pb")
    assert created.metadata.labels["team"] == "blue"
    assert created.spec.finalizers == ["kubernetes"]


def test_undecodable_bodies_are_415_with_the_servers_wording(cluster: Cluster) -> None:
    unknown_kind = protobuf_body("v1", "Pod", b"")
    for content, media in ((unknown_kind, protobuf.MEDIA), (b"<x/>", "application/xml")):
        answer = httpx.post(
            cluster.url + "/api/v1/namespaces/default/pods",
            content=content,
            timeout=10,
            headers={"Content-Type": media},
        )
        assert answer.status_code == 415
        status = answer.json()
        assert status["reason"] == "UnsupportedMediaType"
        assert status["message"] == (
            "the body of the request was in an unknown format - accepted media types "
            "include: application/json, application/yaml"
        )


@pytest.mark.parametrize("seconds", [0, 30, 119, 150, 3600, 90000])
def test_ages_are_printed_like_kubectl(seconds: int) -> None:
    from mocks.kube.tables import human_duration

    expected = {0: "0s", 30: "30s", 119: "119s", 150: "2m30s", 3600: "60m", 90000: "25h"}
    assert human_duration(seconds) == expected[seconds]


def test_protobuf_varints_and_maps_decode() -> None:
    data = _field(1, _field(1, b"cm")) + _field(2, _field(1, b"k") + _field(2, b"v"))
    assert protobuf.message("ConfigMap", data) == {"metadata": {"name": "cm"}, "data": {"k": "v"}}
