"""Watches through `kubernetes.watch.Watch`: events, bookmarks, timeouts, 410 and dropped streams."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

from tests.mocks.kube.conftest import Cluster, pod


def collect(cluster: Cluster, **kwargs: Any) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of every event until the server's timeout ends the stream."""
    out = []
    for event in watch.Watch().stream(cluster.core.list_namespaced_pod, "default", **kwargs):
        metadata = event["raw_object"]["metadata"]
        out.append((event["type"], metadata.get("name", ""), metadata["resourceVersion"]))
    return out


def test_watch_from_resource_version_replays_changes(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    start = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("w1", {"app": "a"}))
    core.patch_namespaced_pod("w1", "default", {"metadata": {"labels": {"app": "b"}}})
    core.delete_namespaced_pod("w1", "default")
    events = collect(bare_cluster, resource_version=start, timeout_seconds=1)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    versions = [int(rv) for _, _, rv in events]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_watch_without_resource_version_starts_with_current_state(bare_cluster: Cluster) -> None:
    bare_cluster.core.create_namespaced_pod("default", pod("existing"))
    for rv in (None, "0"):
        kwargs: dict[str, Any] = {"timeout_seconds": 1}
        if rv is not None:
            kwargs["resource_version"] = rv
        assert [(t, n) for t, n, _ in collect(bare_cluster, **kwargs)] == [("ADDED", "existing")]


def test_live_events_and_timeout_ends_stream_cleanly(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    start = core.list_namespaced_pod("default").metadata.resource_version
    received: list[tuple[str, str]] = []
    done = threading.Event()

    def run() -> None:
        for event in watch.Watch().stream(
            core.list_namespaced_pod, "default", resource_version=start, timeout_seconds=2
        ):
            received.append((event["type"], event["object"].metadata.name))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    core.create_namespaced_pod("default", pod("live"))
    core.delete_namespaced_pod("live", "default")
    thread.join(timeout=10)
    assert done.is_set()
    assert received == [("ADDED", "live"), ("DELETED", "live")]


def test_bookmarks_carry_the_current_resource_version(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    core.create_namespaced_pod("default", pod("b1"))
    rv = core.list_namespaced_pod("default").metadata.resource_version
    events = collect(bare_cluster, resource_version=rv, timeout_seconds=1, allow_watch_bookmarks=True)
    bookmarks = [e for e in events if e[0] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    assert all(int(b[2]) >= int(rv) for b in bookmarks)


def test_watch_after_compaction_gets_410_error_event(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    old = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("x"))
    bare_cluster.mock("/_mock/compact")
    with pytest.raises(ApiException) as caught:
        collect(bare_cluster, resource_version=old, timeout_seconds=1)
    assert caught.value.status == 410
    raw = raw_watch(bare_cluster, f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={old}")
    assert raw[0] == 200
    event = json.loads(raw[1].splitlines()[0])
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith(f"too old resource version: {old} (")


def raw_watch(cluster: Cluster, path: str) -> tuple[int, bytes]:
    parts = urlsplit(cluster.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_watch_flag_spellings(bare_cluster: Cluster, flag: str) -> None:
    bare_cluster.core.create_namespaced_pod("default", pod("flagged"))
    status, body = raw_watch(bare_cluster, f"/api/v1/namespaces/default/pods?watch={flag}&timeoutSeconds=1")
    assert status == 200
    assert json.loads(body.splitlines()[0])["type"] == "ADDED"


def test_selector_transitions_become_added_and_deleted(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    start = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("moving", {"team": "a"}))
    core.patch_namespaced_pod("moving", "default", {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_pod("moving", "default", {"metadata": {"labels": {"team": "b", "x": "1"}}})
    core.patch_namespaced_pod("moving", "default", {"metadata": {"labels": {"team": "a"}}})
    events = collect(bare_cluster, resource_version=start, timeout_seconds=1, label_selector="team=b")
    assert [t for t, _, _ in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_field_selector_on_watch(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    start = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("one"))
    core.create_namespaced_pod("default", pod("two"))
    events = collect(
        bare_cluster, resource_version=start, timeout_seconds=1, field_selector="metadata.name=two"
    )
    assert [(t, n) for t, n, _ in events] == [("ADDED", "two")]


def test_drop_watches_fault_cuts_open_streams(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    rv = core.list_namespaced_pod("default").metadata.resource_version
    outcome: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        try:
            response = core.list_namespaced_pod(
                "default", watch=True, resource_version=rv, timeout_seconds=30, _preload_content=False
            )
            started.set()
            outcome["data"] = response.read()
        except Exception as exc:  # the client surfaces the cut as a protocol error
            outcome["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(10)
    core.create_namespaced_pod("default", pod("before-cut"))
    result = bare_cluster.mock("/_mock/faults", {"dropWatches": True})
    assert result == {"faults": []}
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert "error" in outcome, "the stream must end without the terminating chunk"


def test_watch_all_namespaces_and_cluster_scoped(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    rv = core.list_namespace().metadata.resource_version
    core.create_namespace({"metadata": {"name": "fresh"}})
    core.create_namespaced_pod("fresh", pod("p"))
    ns_events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(core.list_namespace, resource_version=rv, timeout_seconds=1)
    ]
    pod_events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=1
        )
    ]
    assert ns_events == [("ADDED", "fresh")]
    assert pod_events == [("ADDED", "p")]


def test_namespace_deletion_sends_deleted_events(bare_cluster: Cluster) -> None:
    core = bare_cluster.core
    core.create_namespace({"metadata": {"name": "short"}})
    core.create_namespaced_pod("short", pod("p1"))
    core.create_namespaced_pod("short", pod("p2"))
    rv = core.list_pod_for_all_namespaces().metadata.resource_version
    core.delete_namespace("short")
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=1
        )
    ]
    assert sorted(events) == [("DELETED", "p1"), ("DELETED", "p2")]


def test_history_bound_expires_old_versions() -> None:
    from mocks.kube.api import Api
    from mocks.kube.store import TooOld

    api = Api(history_size=3)
    start = api.store.resource_version
    cm = api.type_of(("", "configmaps"))
    for index in range(5):
        api.create(cm, "default", {"metadata": {"name": f"c{index}"}})
    with pytest.raises(TooOld):
        api.store.watch(cm.key, None, start)
    backlog, watcher = api.store.watch(cm.key, None, api.store.resource_version - 3)
    assert [e.obj["metadata"]["name"] for e in backlog] == ["c2", "c3", "c4"]
    api.store.unwatch(watcher)


def test_a_watcher_lagging_beyond_the_history_is_cut() -> None:
    from mocks.kube.api import Api

    api = Api(history_size=4)
    cm = api.type_of(("", "configmaps"))
    _, lagging = api.store.watch(cm.key, None, api.store.resource_version)
    _, other_kind = api.store.watch(("", "secrets"), None, api.store.resource_version)
    for index in range(5):
        api.create(cm, "default", {"metadata": {"name": f"c{index}"}})
    assert lagging.dropped and not other_kind.dropped
    api.store.unwatch(other_kind)
