"""End to end: the watch cache against `python -m mocks kube` run as a process, through the real client.

1,000 pods across 10 namespaces are created with the official `kubernetes` client; the cache must
converge to exactly the server's set. Then the pod watch is cut and kept cut (dropped streams, 503
on reconnect) while pods are deleted and added, the history is compacted so that resuming gets
410 Gone, and the cache - and a mirror built from change notifications alone - must converge
again with no ghost object and no missed delete.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes import client as k8s_client

from connector.cluster import Kind, ObjectChange
from connector.config import KubernetesConfig, Secrets
from connector.kube import KubeListWatch, build_api_client
from connector.sources import ClusterWatcher, WatchTimings
from tests.connector.sources.fake_api import eventually

pytestmark = pytest.mark.e2e

NAMESPACES = [f"team-{i}" for i in range(10)]
PODS_PER_NAMESPACE = 100
TIMINGS = WatchTimings(min_server_timeout=30, max_server_timeout=60, timeout_grace=10.0,
                       inactivity_timeout=90.0, discovery_interval=1.0, page_size=200,
                       backoff_base=0.05, backoff_cap=0.5)

Keys = dict[tuple[str, str], str]


def post(url: str, payload: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def pod_body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name.rsplit("-", 1)[0]}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}


def server_pods(core: k8s_client.CoreV1Api) -> Keys:
    response = core.list_pod_for_all_namespaces(_preload_content=False)
    items = json.loads(response.data)["items"]
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["resourceVersion"]
            for p in items}


def cached_pods(watcher: ClusterWatcher) -> Keys:
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["resourceVersion"]
            for p in watcher.cache.list(Kind.POD)}


class Mirror:
    """The pod set rebuilt from notifications only; a missed or duplicated change breaks it."""

    def __init__(self) -> None:
        self.pods: Keys = {}
        self.deleted: set[tuple[str, str]] = set()
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, changes: Sequence[ObjectChange]) -> None:
        with self.lock:
            for change in changes:
                if change.kind is not Kind.POD:
                    continue
                key = (change.namespace, change.name)
                if change.new is None:
                    if self.pods.pop(key, None) is None:
                        self.problems.append(f"DELETED for unknown {key}")
                    self.deleted.add(key)
                else:
                    if (key in self.pods) != (change.old is not None):
                        self.problems.append(f"{change.type} inconsistent for {key}")
                    self.pods[key] = change.new["metadata"]["resourceVersion"]

    def snapshot(self) -> Keys:
        with self.lock:
            return dict(self.pods)


def in_parallel(function: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(function, *args) for args in arguments]:
            future.result()


def test_cache_converges_through_dropped_watches_and_410(
        launch_mock: Callable[..., tuple[str, Any]]) -> None:
    url, _process = launch_mock("kube")
    api_client = build_api_client(KubernetesConfig.model_validate({"host": url}), Secrets({}))
    core = k8s_client.CoreV1Api(api_client)
    for namespace in NAMESPACES:
        core.create_namespace({"metadata": {"name": namespace}})
    in_parallel(core.create_namespaced_pod,
                [(ns, pod_body(f"app{i % 7}-{i}")) for ns in NAMESPACES for i in range(PODS_PER_NAMESPACE)])

    mirror = Mirror()
    watcher = ClusterWatcher(KubeListWatch(api_client), timings=TIMINGS, watchdog_interval=0.5)
    watcher.add_listener(mirror)
    try:
        watcher.start()
        assert watcher.wait_synced(60)
        expected = server_pods(core)
        assert len(expected) == len(NAMESPACES) * PODS_PER_NAMESPACE
        eventually(lambda: cached_pods(watcher) == server_pods(core), timeout=60)
        assert watcher.flush(30)
        assert mirror.snapshot() == cached_pods(watcher)

        # Live changes while connected.
        in_parallel(core.delete_namespaced_pod, [(f"app{i % 7}-{i}", "team-0") for i in range(10)])
        eventually(lambda: cached_pods(watcher) == server_pods(core), timeout=60)

        # Cut the pod watch and keep it cut; change the cluster meanwhile; compact the history.
        post(f"{url}/_mock/faults", {"status": 503, "path": "/api/v1/pods"})
        post(f"{url}/_mock/faults", {"dropWatches": True})
        removed = [(ns, f"app{i % 7}-{i}") for ns in NAMESPACES[1:4] for i in range(0, PODS_PER_NAMESPACE, 3)]
        in_parallel(core.delete_namespaced_pod, [(name, ns) for ns, name in removed])
        in_parallel(core.create_namespaced_pod, [(ns, pod_body(f"new-{i}")) for ns in NAMESPACES[5:8]
                                                 for i in range(40)])
        core.patch_namespaced_pod("app1-1", "team-9", {"metadata": {"labels": {"moved": "yes"}}})
        post(f"{url}/_mock/compact", {})
        post(f"{url}/_mock/faults", {"clear": True})

        eventually(lambda: cached_pods(watcher) == server_pods(core), timeout=60)
        final = server_pods(core)
        cached = cached_pods(watcher)
        assert cached == final
        assert not set(removed) & set(cached), "ghost pods survived the relist"
        relabelled = watcher.cache.get(Kind.POD, "team-9", "app1-1")
        assert relabelled is not None and relabelled["metadata"]["labels"]["moved"] == "yes"
        stats = watcher.stats()[Kind.POD]
        assert stats.expired >= 1 and stats.relists >= 1
        assert watcher.flush(30)
        assert not mirror.problems
        assert mirror.snapshot() == final
        assert set(removed) <= mirror.deleted, "a delete was never notified"
    finally:
        watcher.stop()
        api_client.close()
