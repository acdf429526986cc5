"""The watch layer against the in-process Kubernetes API mock, through the official client."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from kubernetes import client as k8s_client

from connector.cluster import KINDS, Kind, ObjectChange
from connector.config import KubernetesConfig, Secrets
from connector.kube import KubeListWatch, build_api_client
from connector.sources import ClusterWatcher, WatchTimings, list_all
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from tests.connector.sources.fake_api import eventually

EXTERNAL_SERVICE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "externalservices.fusion-connector.io"},
    "spec": {"group": "fusion-connector.io", "scope": "Namespaced",
             "names": {"kind": "ExternalService", "listKind": "ExternalServiceList",
                       "plural": "externalservices", "singular": "externalservice"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}
TIMINGS = WatchTimings(min_server_timeout=20, max_server_timeout=30, timeout_grace=5.0,
                       inactivity_timeout=60.0, discovery_interval=0.1, page_size=7,
                       backoff_base=0.02, backoff_cap=0.2)


class Mock:
    def __init__(self) -> None:
        self.server = HttpServer(KubeApp()).start()
        settings = KubernetesConfig.model_validate({"host": self.server.url})
        self.api_client = build_api_client(settings, Secrets({}))
        self.core = k8s_client.CoreV1Api(self.api_client)

    def post(self, path: str, payload: Any) -> Any:
        request = urllib.request.Request(self.server.url + path, data=json.dumps(payload).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def clear_faults(self) -> None:
        self.post("/_mock/faults", {"clear": True})

    def pod(self, namespace: str, name: str, labels: dict[str, str] | None = None) -> None:
        self.core.create_namespaced_pod(namespace, {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}})

    def server_pods(self) -> dict[tuple[str, str], str]:
        response = self.core.list_pod_for_all_namespaces(_preload_content=False)
        items = json.loads(response.data)["items"]
        return {(p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["resourceVersion"]
                for p in items}

    def close(self) -> None:
        self.api_client.close()
        self.server.stop()


@pytest.fixture
def mock() -> Iterator[Mock]:
    mock = Mock()
    yield mock
    mock.close()


@pytest.fixture
def watcher(mock: Mock) -> Iterator[ClusterWatcher]:
    watcher = ClusterWatcher(KubeListWatch(mock.api_client), timings=TIMINGS, watchdog_interval=0.1)
    yield watcher
    watcher.stop()


def cached_pods(watcher: ClusterWatcher) -> dict[tuple[str, str], str]:
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["resourceVersion"]
            for p in watcher.cache.list(Kind.POD)}


class Mirror:
    """Rebuilds the pod set from notifications alone: proves none was missed or repeated wrongly."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def __call__(self, changes: Sequence[ObjectChange]) -> None:
        with self.lock:
            for change in changes:
                if change.kind is not Kind.POD:
                    continue
                key = (change.namespace, change.name)
                if change.new is None:
                    assert key in self.pods, f"DELETED for unknown {key}"
                    del self.pods[key]
                else:
                    assert (key in self.pods) == (change.old is not None)
                    self.pods[key] = change.new["metadata"]["resourceVersion"]

    def snapshot(self) -> dict[tuple[str, str], str]:
        with self.lock:
            return dict(self.pods)


def test_syncs_every_kind_and_follows_creates_updates_and_deletes(mock: Mock,
                                                                  watcher: ClusterWatcher) -> None:
    managed = {"fusion-connector.io/managed": "true"}
    mock.core.create_namespace({"metadata": {"name": "shop", "labels": managed}})
    for i in range(20):
        mock.pod("shop", f"web-{i}", {"app": "web"})
    mirror = Mirror()
    watcher.add_listener(mirror)
    watcher.start()
    assert watcher.wait_synced(20)
    assert cached_pods(watcher) == mock.server_pods()
    assert watcher.served(Kind.EGRESS_IP) and not watcher.served(Kind.EXTERNAL_SERVICE)
    pod = watcher.cache.get(Kind.POD, "shop", "web-3")
    assert pod is not None and pod["kind"] == "Pod" and pod["status"]["podIP"]
    assert "managedFields" not in pod["metadata"]
    assert watcher.cache.get(Kind.NAMESPACE, "", "shop") is not None

    mock.pod("shop", "late")
    mock.core.patch_namespaced_pod("web-1", "shop", {"metadata": {"labels": {"app": "api"}}})
    mock.core.delete_namespaced_pod("web-2", "shop")
    eventually(lambda: cached_pods(watcher) == mock.server_pods())
    patched = watcher.cache.get(Kind.POD, "shop", "web-1")
    assert patched is not None and patched["metadata"]["labels"] == {"app": "api"}
    assert watcher.flush(10)
    assert mirror.snapshot() == mock.server_pods()
    assert {o["metadata"]["name"] for o in watcher.cache.list(Kind.POD, "shop")} >= {"late", "web-1"}


def test_dropped_watches_resume_without_relisting(mock: Mock, watcher: ClusterWatcher) -> None:
    mock.core.create_namespace({"metadata": {"name": "a"}})
    watcher.start()
    assert watcher.wait_synced(20)
    eventually(lambda: watcher.stats()[Kind.POD].watch_starts >= 1)
    mock.post("/_mock/faults", {"dropWatches": True})
    for i in range(5):
        mock.pod("a", f"p{i}")
    eventually(lambda: cached_pods(watcher) == mock.server_pods() and len(cached_pods(watcher)) == 5)
    eventually(lambda: watcher.stats()[Kind.POD].watch_restarts >= 1)
    assert all(stats.relists == 0 for stats in watcher.stats().values())


def test_compacted_history_relists_and_synthesizes_deletes(mock: Mock, watcher: ClusterWatcher) -> None:
    mock.core.create_namespace({"metadata": {"name": "a"}})
    for name in ("stay", "vanish", "relabel"):
        mock.pod("a", name)
    mirror = Mirror()
    watcher.add_listener(mirror)
    watcher.start()
    assert watcher.wait_synced(20)
    # Cut the pod watch and keep it cut while the cluster changes, then compact the history.
    mock.post("/_mock/faults", {"status": 503, "path": "/api/v1/pods"})
    mock.post("/_mock/faults", {"dropWatches": True})
    mock.core.delete_namespaced_pod("vanish", "a")
    mock.core.patch_namespaced_pod("relabel", "a", {"metadata": {"labels": {"tier": "gold"}}})
    mock.pod("a", "born")
    mock.post("/_mock/compact", {})
    mock.clear_faults()
    eventually(lambda: cached_pods(watcher) == mock.server_pods())
    stats = watcher.stats()[Kind.POD]
    assert stats.expired >= 1 and stats.relists >= 1
    assert watcher.flush(10)
    assert mirror.snapshot() == mock.server_pods()
    assert ("a", "vanish") not in mirror.snapshot()


def test_api_errors_before_the_first_list_back_off_until_synced(mock: Mock, watcher: ClusterWatcher) -> None:
    mock.post("/_mock/faults", {"status": 500, "times": 4, "path": "/api/v1/pods"})
    watcher.start()
    assert watcher.wait_synced(20)
    assert watcher.stats()[Kind.POD].errors == 4
    assert cached_pods(watcher) == mock.server_pods()


def test_installing_the_crds_makes_the_optional_kinds_appear(mock: Mock, watcher: ClusterWatcher) -> None:
    watcher.start()
    assert watcher.wait_synced(20)
    assert not watcher.served(Kind.EXTERNAL_SERVICE)
    extensions = k8s_client.ApiextensionsV1Api(mock.api_client)
    extensions.create_custom_resource_definition(EXTERNAL_SERVICE_CRD)
    custom = k8s_client.CustomObjectsApi(mock.api_client)
    mock.core.create_namespace({"metadata": {"name": "payments"}})
    stripe_body = {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ExternalService",
                   "metadata": {"name": "stripe"}, "spec": {"addresses": ["198.51.100.0/24"]}}
    custom.create_namespaced_custom_object("fusion-connector.io", "v1alpha1", "payments",
                                           "externalservices", stripe_body)
    eventually(lambda: watcher.cache.get(Kind.EXTERNAL_SERVICE, "payments", "stripe") is not None)
    stripe = watcher.cache.get(Kind.EXTERNAL_SERVICE, "payments", "stripe")
    assert stripe is not None and stripe["spec"]["addresses"] == ["198.51.100.0/24"]
    assert watcher.served(Kind.EXTERNAL_SERVICE)


def test_list_all_takes_a_snapshot(mock: Mock) -> None:
    mock.core.create_namespace({"metadata": {"name": "a"}})
    for i in range(10):
        mock.pod("a", f"p{i}")
    view = list_all(mock.api_client, page_size=3)
    assert {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in view.list(Kind.POD)} == set(
        mock.server_pods())
    assert view.get(Kind.NAMESPACE, "", "a") is not None
    assert view.list(Kind.EXTERNAL_SERVICE) == []


def test_closing_a_real_watch_from_another_thread_unblocks_its_reader(mock: Mock) -> None:
    api = KubeListWatch(mock.api_client)
    listing = api.list(KINDS[Kind.POD], None, None)
    stream = api.watch(KINDS[Kind.POD], listing["metadata"]["resourceVersion"], 300, 330.0)
    events: list[dict[str, Any]] = []
    finished = threading.Event()

    def read() -> None:
        # A shut-down socket may surface as a protocol error: only unblocking matters here.
        with contextlib.suppress(Exception):
            events.extend(stream)
        finished.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    mock.core.create_namespace({"metadata": {"name": "a"}})
    mock.pod("a", "p")
    eventually(lambda: any(e["type"] == "ADDED" for e in events))
    assert not finished.is_set()
    stream.close()
    assert finished.wait(10), "the reader stayed blocked after close()"
    assert events[0]["object"]["metadata"]["name"] == "p"
