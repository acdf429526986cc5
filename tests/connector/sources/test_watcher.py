from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from connector.cluster import Kind, ObjectChange
from connector.kube import KubernetesStatusError
from connector.sources.reflector import WatchTimings
from connector.sources.watcher import ClusterWatcher
from tests.connector.sources.fake_api import FakeApi, eventually

FAST = WatchTimings(min_server_timeout=30, max_server_timeout=30, timeout_grace=5.0,
                    inactivity_timeout=30.0, discovery_interval=0.05, page_size=2,
                    backoff_base=0.01, backoff_cap=0.05)


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[ObjectChange]] = []
        self.lock = threading.Lock()

    def __call__(self, changes: Sequence[ObjectChange]) -> None:
        with self.lock:
            self.batches.append(list(changes))

    def changes(self) -> list[ObjectChange]:
        with self.lock:
            return [change for batch in self.batches for change in batch]


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def watcher(api: FakeApi) -> Iterator[ClusterWatcher]:
    watcher = ClusterWatcher(api, kinds=[Kind.NAMESPACE, Kind.POD], timings=FAST, watchdog_interval=0.05)
    yield watcher
    watcher.stop()


def cache_versions(watcher: ClusterWatcher, kind: Kind) -> dict[tuple[str, str], str]:
    return {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for o in watcher.cache.list(kind)}


def server_versions(api: FakeApi, kind: Kind) -> dict[tuple[str, str], str]:
    with api.lock:
        return {key: obj["metadata"]["resourceVersion"] for key, obj in api.objects[kind].items()}


def converged(watcher: ClusterWatcher, api: FakeApi, kind: Kind = Kind.POD) -> bool:
    return cache_versions(watcher, kind) == server_versions(api, kind)


def test_first_list_pages_fills_the_cache_and_marks_synced(api: FakeApi, watcher: ClusterWatcher) -> None:
    for i in range(5):
        api.put(Kind.POD, "a", f"p{i}", status={"podIP": f"10.0.0.{i}"}, metadata={"managedFields": [{}]})
    api.put(Kind.NAMESPACE, "", "a")
    recorder = Recorder()
    watcher.add_listener(recorder)
    assert not watcher.synced
    watcher.start()
    assert watcher.wait_synced(10)
    assert watcher.synced and converged(watcher, api)
    pod = watcher.cache.get(Kind.POD, "a", "p3")
    assert pod is not None and pod["kind"] == "Pod" and "managedFields" not in pod["metadata"]
    assert pod["status"] == {"podIP": "10.0.0.3"}
    pod_pages = [call for call in api.list_calls if call[0] is Kind.POD]
    assert pod_pages == [(Kind.POD, 2, None), (Kind.POD, 2, "2"), (Kind.POD, 2, "4")]
    assert watcher.flush(5)
    assert sorted(c.name for c in recorder.changes() if c.kind is Kind.POD) == [f"p{i}" for i in range(5)]
    assert all(c.type == "ADDED" for c in recorder.changes())


def test_not_synced_until_every_kind_has_listed(api: FakeApi, watcher: ClusterWatcher) -> None:
    api.list_failures.extend([KubernetesStatusError(500, "boom")] * 3)
    watcher.start()
    assert watcher.wait_synced(10)
    stats = watcher.stats()
    assert sum(s.errors for s in stats.values()) == 3
    assert all(s.synced and s.lists == 1 for s in stats.values())


def test_watch_events_reach_the_cache_and_listeners_in_order(api: FakeApi, watcher: ClusterWatcher) -> None:
    recorder = Recorder()
    watcher.add_listener(recorder)
    watcher.start()
    assert watcher.wait_synced(10)
    api.put(Kind.POD, "a", "p", status={"podIP": "10.0.0.1"})
    api.put(Kind.POD, "a", "p", status={"podIP": "10.0.0.2"})
    api.delete(Kind.POD, "a", "p")
    api.put(Kind.POD, "b", "q")
    eventually(lambda: watcher.cache.get(Kind.POD, "b", "q") is not None)
    assert watcher.cache.get(Kind.POD, "a", "p") is None
    assert watcher.flush(5)
    history = [(c.type, c.name) for c in recorder.changes()]
    assert history == [("ADDED", "p"), ("MODIFIED", "p"), ("DELETED", "p"), ("ADDED", "q")]
    modified = recorder.changes()[1]
    assert modified.old is not None and modified.old["status"]["podIP"] == "10.0.0.1"
    assert modified.new is not None and modified.new["status"]["podIP"] == "10.0.0.2"
    stats = watcher.stats()[Kind.POD]
    assert stats.events == {"ADDED": 2, "MODIFIED": 1, "DELETED": 1}


def test_dropped_watch_resumes_from_last_version_without_relisting(api: FakeApi,
                                                                   watcher: ClusterWatcher) -> None:
    api.put(Kind.POD, "a", "keep")
    watcher.start()
    assert watcher.wait_synced(10)
    eventually(lambda: len(api.streams) == 2)
    api.put(Kind.POD, "a", "seen")
    eventually(lambda: watcher.cache.get(Kind.POD, "a", "seen") is not None)
    last = api.version
    api.disconnect()
    api.put(Kind.POD, "a", "while-down")
    api.delete(Kind.POD, "a", "keep")
    api.reconnect()
    eventually(lambda: converged(watcher, api))
    stats = watcher.stats()[Kind.POD]
    assert stats.relists == 0 and stats.lists == 1 and stats.watch_restarts >= 1
    pod_watches = [call.resource_version for call in api.watch_calls if call.kind is Kind.POD]
    assert str(last) in pod_watches[1:]


def test_bookmarks_advance_the_resume_version(api: FakeApi, watcher: ClusterWatcher) -> None:
    watcher.start()
    assert watcher.wait_synced(10)
    eventually(lambda: len(api.streams) == 2)
    version = api.bookmark(Kind.POD)
    eventually(lambda: watcher.stats()[Kind.POD].events.get("BOOKMARK") == 1)
    api.drop_watches()
    eventually(lambda: any(c.kind is Kind.POD and c.resource_version == version for c in api.watch_calls))
    assert watcher.cache.count(Kind.POD) == 0


@pytest.mark.parametrize("with_status", [False, True], ids=["error-event", "http-410"])
def test_expired_version_relists_and_synthesizes_deletes(api: FakeApi, watcher: ClusterWatcher,
                                                         with_status: bool) -> None:
    api.expire_with_status = with_status
    for name in ("stay", "change", "vanish"):
        api.put(Kind.POD, "a", name)
    recorder = Recorder()
    watcher.add_listener(recorder)
    watcher.start()
    assert watcher.wait_synced(10)
    eventually(lambda: len(api.streams) == 2)
    api.disconnect()
    api.put(Kind.POD, "a", "change", status={"phase": "Running"})
    api.delete(Kind.POD, "a", "vanish")
    api.put(Kind.POD, "b", "born")
    api.compact()
    api.reconnect()
    eventually(lambda: converged(watcher, api))
    stats = watcher.stats()[Kind.POD]
    assert stats.relists == 1 and stats.expired == 1
    assert watcher.flush(5)
    after_sync = [(c.type, c.name) for c in recorder.changes()[3:] if c.kind is Kind.POD]
    assert sorted(after_sync) == [("ADDED", "born"), ("DELETED", "vanish"), ("MODIFIED", "change")]
    deleted = next(c for c in recorder.changes() if c.type == "DELETED")
    assert deleted.old is not None and deleted.old["metadata"]["name"] == "vanish"


def test_watchdog_closes_a_silent_watch_and_the_reflector_resumes(api: FakeApi) -> None:
    timings = WatchTimings(min_server_timeout=30, max_server_timeout=30, timeout_grace=5.0,
                           inactivity_timeout=0.2, backoff_base=0.01, backoff_cap=0.05)
    watcher = ClusterWatcher(api, kinds=[Kind.POD], timings=timings, watchdog_interval=0.05)
    api.silent = True
    try:
        watcher.start()
        assert watcher.wait_synced(10)
        eventually(lambda: watcher.stats()[Kind.POD].watchdog_closes >= 1)
        eventually(lambda: watcher.stats()[Kind.POD].watch_starts >= 2)
        api.silent = False
        api.put(Kind.POD, "a", "late")
        eventually(lambda: watcher.cache.get(Kind.POD, "a", "late") is not None)
        assert watcher.stats()[Kind.POD].relists == 0
    finally:
        watcher.stop()


def test_watchdog_closes_a_watch_that_outlives_its_server_timeout(api: FakeApi) -> None:
    timings = WatchTimings(min_server_timeout=1, max_server_timeout=1, timeout_grace=0.1,
                           inactivity_timeout=60.0, backoff_base=0.01, backoff_cap=0.05)
    watcher = ClusterWatcher(api, kinds=[Kind.POD], timings=timings, watchdog_interval=0.05)
    api.ignore_timeout = True  # a server that never ends its watches
    with watcher:
        assert watcher.wait_synced(10)
        eventually(lambda: watcher.stats()[Kind.POD].watchdog_closes >= 1)
        first = api.watch_calls[0]
        eventually(lambda: len(api.watch_calls) >= 2)
        assert api.watch_calls[1].resource_version == first.resource_version


def test_watch_errors_back_off_and_resume_without_relisting(api: FakeApi, watcher: ClusterWatcher) -> None:
    watcher.start()
    assert watcher.wait_synced(10)
    api.watch_failures.extend([ConnectionRefusedError("refused"), KubernetesStatusError(500, "etcd")] * 2)
    api.drop_watches()
    api.put(Kind.POD, "a", "after-errors")
    eventually(lambda: watcher.cache.get(Kind.POD, "a", "after-errors") is not None)
    stats = watcher.stats()
    assert sum(s.errors for s in stats.values()) == 4
    assert all(s.relists == 0 for s in stats.values())


def test_non_410_error_event_resumes_the_watch(api: FakeApi, watcher: ClusterWatcher) -> None:
    watcher.start()
    assert watcher.wait_synced(10)
    eventually(lambda: len(api.streams) == 2)
    pods = next(s for s in api.streams if s.kind is Kind.POD)
    pods.send({"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "internal"}})
    eventually(lambda: watcher.stats()[Kind.POD].errors == 1)
    api.put(Kind.POD, "a", "x")
    eventually(lambda: watcher.cache.get(Kind.POD, "a", "x") is not None)
    assert watcher.stats()[Kind.POD].relists == 0


def test_optional_kind_absent_counts_as_synced_then_appears(api: FakeApi) -> None:
    api.served_kinds.discard(Kind.EGRESS_IP)
    watcher = ClusterWatcher(api, kinds=[Kind.EGRESS_IP, Kind.NAMESPACE], timings=FAST,
                             watchdog_interval=0.05)
    with watcher:
        assert watcher.wait_synced(10)
        assert not watcher.served(Kind.EGRESS_IP) and watcher.served(Kind.NAMESPACE)
        assert watcher.cache.list(Kind.EGRESS_IP) == []
        api.put(Kind.EGRESS_IP, "", "egress-1", spec={"egressIPs": ["192.0.2.10"]})
        api.served_kinds.add(Kind.EGRESS_IP)
        eventually(lambda: watcher.cache.get(Kind.EGRESS_IP, "", "egress-1") is not None)
        assert watcher.served(Kind.EGRESS_IP)
        api.served_kinds.discard(Kind.EGRESS_IP)  # the CRD is removed: the watch answers 404
        api.drop_watches()
        eventually(lambda: watcher.cache.list(Kind.EGRESS_IP) == [])
        assert not watcher.served(Kind.EGRESS_IP)


def test_a_failing_listener_does_not_starve_the_others(api: FakeApi, watcher: ClusterWatcher) -> None:
    def broken(changes: Sequence[ObjectChange]) -> None:
        raise RuntimeError("listener bug")

    recorder = Recorder()
    watcher.add_listener(broken)
    watcher.add_listener(recorder)
    watcher.start()
    assert watcher.wait_synced(10)
    api.put(Kind.POD, "a", "p")
    eventually(lambda: any(c.name == "p" for c in recorder.changes()))


def test_a_slow_listener_does_not_hold_up_the_cache(api: FakeApi, watcher: ClusterWatcher) -> None:
    release = threading.Event()

    def slow(changes: Sequence[ObjectChange]) -> None:
        release.wait(10)

    watcher.add_listener(slow)
    watcher.start()
    assert watcher.wait_synced(10)
    for i in range(50):
        api.put(Kind.POD, "a", f"p{i}")
    eventually(lambda: watcher.cache.count(Kind.POD) == 50)
    assert watcher.notification_backlog > 0
    release.set()
    assert watcher.flush(10)
    assert watcher.notification_backlog == 0


def test_stop_ends_every_thread(api: FakeApi) -> None:
    watcher = ClusterWatcher(api, kinds=[Kind.POD, Kind.NAMESPACE], timings=FAST, watchdog_interval=0.05)
    watcher.start()
    assert watcher.wait_synced(10)
    watcher.stop()
    assert all(not thread.is_alive() for thread in watcher._threads)
    assert all(stream.closed.is_set() for stream in api.streams)


def test_expired_continue_token_falls_back_to_one_unpaged_list(api: FakeApi, watcher: ClusterWatcher) -> None:
    for i in range(5):
        api.put(Kind.POD, "a", f"p{i}")
    api.expire_continue_tokens = 1
    watcher.start()
    assert watcher.wait_synced(10)
    assert converged(watcher, api)
    pod_pages = [call for call in api.list_calls if call[0] is Kind.POD]
    assert pod_pages == [(Kind.POD, 2, None), (Kind.POD, 2, "2"), (Kind.POD, None, None)]
    assert watcher.stats()[Kind.POD].errors == 0
