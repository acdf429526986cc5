"""Offline validation (`ManifestValidator`) refuses exactly what the mock Kubernetes API server
refuses, with the same messages: the same manifests go through both."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.cluster import BY_OBJECT_KIND
from connector.crds.validation import ManifestValidator
from connector.manifests import load_documents
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from tests.e2e.conftest import REPO_ROOT

FC = "fusion-connector.io/v1alpha1"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
ES_PATH = f"/apis/{FC}/namespaces/shop/externalservices"
CRDS = sorted((REPO_ROOT / "helm" / "fusion-connector" / "crds").glob("*.yaml"))


def _es(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": FC, "kind": "ExternalService", "metadata": {"name": name, "namespace": "shop"},
            "spec": spec}


def _rule(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    metadata = {"name": name} if kind == "ClusterEgressRule" else {"name": name, "namespace": "shop"}
    return {"apiVersion": FC, "kind": kind, "metadata": metadata, "spec": spec}


def _with_metadata(obj: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], **metadata}}


LONG = "x" * 64
# (name, metadata) of manifests whose metadata the API server refuses (or, for a few, accepts)
BAD_METADATA: list[tuple[str, dict[str, Any]]] = [
    ("Capital", {}),
    ("under_score", {}),
    ("-leading-dash", {}),
    ("dots.are.fine", {}),
    ("a" * 254, {}),
    ("bad-label-key", {"labels": {"bad key": "v"}}),
    ("bad-label-prefix", {"labels": {"Example.COM/app": "v"}}),
    ("empty-label-prefix", {"labels": {"/app": "v"}}),
    ("long-label-name", {"labels": {f"example.com/{LONG}": "v"}}),
    ("two-slashes", {"labels": {"a/b/c": "v"}}),
    ("bad-label-value", {"labels": {"app": "has space"}}),
    ("long-label-value", {"labels": {"app": LONG}}),
    ("long-bad-label-value", {"labels": {"app": "-" + LONG}}),
    ("good-labels", {"labels": {"example.com/app": "My_Value-1.0", "empty": ""}}),
    ("bad-annotation-key", {"annotations": {"not valid!": "v"}}),
    ("upper-annotation-prefix", {"annotations": {"Example.com/Note": "case is ignored"}}),
    ("annotations-too-large", {"annotations": {"a": "x" * (256 * 1024)}}),
    ("annotations-at-the-limit", {"annotations": {"a": "x" * (256 * 1024 - 1)}}),
    ("several", {"labels": {"ok": "fine", "bad key": "bad value!"}, "annotations": {"-": ""}}),
]


SELECTOR_IN_WITHOUT_VALUES = {"matchExpressions": [{"key": "app", "operator": "In"}]}

MANIFESTS: list[dict[str, Any]] = [
    _es("ok", addresses=["api.stripe.com", "198.51.100.0/24", "2001:db8::1"],
        ports=[{"name": "https", "port": "443"}, {"protocol": "UDP", "port": "8000-8080,9443"}]),
    _es("no-addresses"),
    _es("empty-addresses", addresses=[]),
    _es("bad-address", addresses=["not an address!"]),
    _es("duplicate-address", addresses=["10.0.0.1", "10.0.0.1"]),
    _es("reversed-range", addresses=["10.0.0.1"], ports=[{"port": "9000-8000"}]),
    _es("port-zero", addresses=["10.0.0.1"], ports=[{"port": "0"}]),
    _es("duplicate-port-names", addresses=["10.0.0.1"],
        ports=[{"name": "a", "port": "1"}, {"name": "a", "port": "2"}]),
    _es("icmp", addresses=["10.0.0.1"], ports=[{"protocol": "ICMP", "port": "1"}]),
    _es("port-as-number", addresses=["10.0.0.1"], ports=[{"port": 443}]),
    _es("unknown-field-pruned", addresses=["10.0.0.1"], colour="blue"),
    _rule("NamespaceEgressRule", "ok", action="Allow", priority=100, externalServices=["ok"]),
    _rule("NamespaceEgressRule", "permit", action="Permit", priority=5000),
    _rule("NamespaceEgressRule", "no-action"),
    _rule("NamespaceEgressRule", "selector-in-without-values", action="Deny",
          podSelector=SELECTOR_IN_WITHOUT_VALUES),
    _rule("NamespaceEgressRule", "negative-priority", action="Deny", priority=-1),
    _rule("ServiceEgressRule", "no-service", action="Allow"),
    _rule("ServiceEgressRule", "ok", action="Allow", service="api", logging=True, devices=["soc"]),
    _rule("ServiceEgressRule", "logging-text", action="Allow", service="api", logging="yes"),
    _rule("ClusterEgressRule", "ok", action="Deny", tier="Baseline",
          namespaceSelector={"matchLabels": {"a": "b"}}),
    _rule("ClusterEgressRule", "middle-tier", action="Deny", tier="Middle"),
    _rule("ClusterEgressRule", "selector-in-without-values", action="Deny",
          namespaceSelector=SELECTOR_IN_WITHOUT_VALUES),
    {"apiVersion": FC, "kind": "ExternalService", "metadata": {"namespace": "shop"},
     "spec": {"addresses": ["10.0.0.1"]}},
    *(_with_metadata(_es(name, addresses=["10.0.0.1"]), **extra) for name, extra in BAD_METADATA),
    _with_metadata(_rule("ClusterEgressRule", "Upper.Case", action="Deny"), labels={"a/b/c": "x"}),
    _with_metadata(_rule("NamespaceEgressRule", "bad-labels-and-spec", action="Permit"),
                   labels={"-x": "y_"}, annotations={"": "empty key"}),
]


def _api_answer(client: httpx.Client, obj: dict[str, Any]) -> tuple[bool, str]:
    info = BY_OBJECT_KIND[obj["kind"]]
    namespace = obj["metadata"].get("namespace")
    response = client.post(info.collection_path(namespace if info.namespaced else None), json=obj)
    if response.status_code == 201:
        return False, ""
    assert response.status_code == 422, response.text
    return True, response.json()["message"]


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with HttpServer(KubeApp()) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for crd in load_documents(CRDS):
            client.post(CRD_PATH, json=crd).raise_for_status()
        client.post("/api/v1/namespaces", json={"metadata": {"name": "shop"}}).raise_for_status()
        yield client


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: f"{m['kind']}/{m['metadata'].get('name', '')}")
def test_offline_validation_refuses_what_the_api_server_refuses(api: httpx.Client,
                                                                manifest: dict[str, Any]) -> None:
    refused, message = _api_answer(api, copy.deepcopy(manifest))
    checked = ManifestValidator().check(copy.deepcopy(manifest))
    assert (checked.refused, checked.message) == (refused, message)


def test_the_set_holds_both_refused_and_accepted_manifests(api: httpx.Client) -> None:
    outcomes = [ManifestValidator().check(m).refused for m in MANIFESTS]
    assert sum(outcomes) >= 10 and outcomes.count(False) >= 4
    metadata = [ManifestValidator().check(_with_metadata(_es(n, addresses=["10.0.0.1"]), **m)).refused
                for n, m in BAD_METADATA]
    assert sum(metadata) >= 14 and metadata.count(False) >= 3


def test_an_accepted_manifest_is_stored_as_the_server_stores_it(api: httpx.Client) -> None:
    manifest = _es("stored", addresses=["10.0.0.1"], ports=[{"port": "443"}], colour="blue")
    api.post(ES_PATH, json=manifest).raise_for_status()
    stored = api.get(f"{ES_PATH}/stored").json()
    checked = ManifestValidator().check(manifest)
    assert checked.obj is not None
    assert checked.obj["spec"] == stored["spec"] == {"addresses": ["10.0.0.1"],
                                                      "ports": [{"port": "443", "protocol": "TCP"}]}


def test_a_version_no_definition_serves_is_refused() -> None:
    checked = ManifestValidator().check({"apiVersion": "fusion-connector.io/v9", "kind": "ExternalService",
                                         "metadata": {"name": "x", "namespace": "shop"}})
    assert checked.refused and checked.reason == "NotFound"
    assert "no kind 'ExternalService' is served at apiVersion 'fusion-connector.io/v9'" in checked.message
