"""Events through the in-process kube mock: created with involvedObject, repeats aggregated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client

from connector.controller.events import WARNING, EventRecorder, ObjectRef
from connector.kube import KubeApi
from mocks.common.http import HttpServer
from mocks.kube import KubeApp


@pytest.fixture
def kube() -> Iterator[tuple[KubeApi, str]]:
    server = HttpServer(KubeApp(controllers=False)).start()
    for ns in ("fusion-system", "shop"):
        httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    configuration = k8s_client.Configuration()
    configuration.host = server.url
    api = k8s_client.ApiClient(configuration)
    yield KubeApi(api), server.url
    api.close()  # type: ignore[no-untyped-call]
    server.stop()


def events(url: str, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/namespaces/{ns}/events").json()["items"]
    return items


def test_repeated_events_are_aggregated_and_cluster_scoped_ones_go_to_the_default_namespace(
        kube: tuple[KubeApi, str]) -> None:
    api, url = kube
    recorder = EventRecorder(api, "pod-1")
    rule = ObjectRef("NamespaceEgressRule", "fusion-connector.io/v1alpha1", "shop", "broken", "uid-1")
    for _ in range(3):
        recorder.record(rule, WARNING, "ExternalServiceNotFound", "externalServices: missing not found")
    recorder.record(rule, WARNING, "ExternalServiceNotFound", "another message")
    cluster_rule = ObjectRef("ClusterEgressRule", "fusion-connector.io/v1alpha1", "", "block")
    recorder.record(cluster_rule, "Normal", "SourceWidened", "widened")
    shop = sorted(events(url, "shop"), key=lambda e: e["count"])
    assert [(e["reason"], e["count"], e["message"]) for e in shop] == [
        ("ExternalServiceNotFound", 1, "another message"),
        ("ExternalServiceNotFound", 3, "externalServices: missing not found")]
    event = shop[1]
    assert event["type"] == "Warning"
    assert event["involvedObject"] == {
        "kind": "NamespaceEgressRule", "apiVersion": "fusion-connector.io/v1alpha1",
        "name": "broken", "namespace": "shop", "uid": "uid-1"}
    assert event["source"]["component"] == "fusion-connector" and event["reportingInstance"] == "pod-1"
    assert event["lastTimestamp"] >= event["firstTimestamp"]
    # the API server requires an Event about a cluster-scoped object to live in `default` with
    # an empty involvedObject.namespace (anything else is 422 "does not match event.namespace")
    assert events(url, "fusion-system") == []
    [widened] = events(url, "default")
    assert widened["metadata"]["namespace"] == "default"
    assert widened["involvedObject"] == {"kind": "ClusterEgressRule",
                                         "apiVersion": "fusion-connector.io/v1alpha1", "name": "block"}
    assert widened["type"] == "Normal"
    recorder.record(cluster_rule, "Normal", "SourceWidened", "widened")
    [widened] = events(url, "default")
    assert widened["count"] == 2


def test_an_unwritable_event_is_logged_not_raised(kube: tuple[KubeApi, str]) -> None:
    api, _ = kube
    recorder = EventRecorder(api, "pod-1")
    recorder.record(ObjectRef("Lease", "coordination.k8s.io/v1", "missing-namespace", "x"), WARNING, "R", "m")
    assert recorder.written == 0
