"""Deletions the API reported and deletions a relist found: told apart from the watch to the
device job (docs/operations.md, "Safety")."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from connector.cluster import Kind, ObjectChange
from connector.controller.changes import VANISHED, is_vanished, trigger_names
from connector.controller.worker import MAX_TRIGGERS, DeviceWorker, Job
from connector.model import DeviceState
from connector.sources.reflector import WatchTimings
from connector.sources.watcher import ClusterWatcher
from tests.connector.controller.harness import eventually
from tests.connector.sources.fake_api import FakeApi

FAST = WatchTimings(min_server_timeout=30, max_server_timeout=30, timeout_grace=5.0, inactivity_timeout=30.0,
                    discovery_interval=0.05, page_size=2, backoff_base=0.01, backoff_cap=0.05)


class Recorder:
    """A change listener keeping every change it was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[ObjectChange] = []

    def __call__(self, changes: Sequence[ObjectChange]) -> None:
        with self.lock:
            self.seen.extend(changes)

    def changes(self) -> list[ObjectChange]:
        with self.lock:
            return list(self.seen)


def converged(watcher: ClusterWatcher, api: FakeApi) -> bool:
    with api.lock:
        server = {key: obj["metadata"]["resourceVersion"] for key, obj in api.objects[Kind.POD].items()}
    cached = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["resourceVersion"]
              for o in watcher.cache.list(Kind.POD)}
    return cached == server


class SyncRecorder:
    """A device sync that records its jobs and answers `results` in turn (then True)."""

    def __init__(self, results: list[bool]) -> None:
        self.lock = threading.Lock()
        self.results = list(results)
        self.jobs: list[Job] = []

    def __call__(self, job: Job) -> bool:
        with self.lock:
            self.jobs.append(job)
            return self.results.pop(0) if self.results else True


def state(n: int) -> DeviceState:
    return DeviceState(device=f"d{n}", cluster="c1")


@pytest.fixture
def watcher() -> Iterator[tuple[FakeApi, ClusterWatcher, Recorder]]:
    api = FakeApi()
    watcher = ClusterWatcher(api, kinds=[Kind.NAMESPACE, Kind.POD], timings=FAST, watchdog_interval=0.05)
    recorder = Recorder()
    watcher.add_listener(recorder)
    yield api, watcher, recorder
    watcher.stop()


def test_a_watched_delete_is_reported_and_a_relisted_one_vanished(
        watcher: tuple[FakeApi, ClusterWatcher, Recorder]) -> None:
    api, cluster, recorder = watcher
    for name in ("watched", "relisted", "stays"):
        api.put(Kind.POD, "a", name)
    cluster.start()
    assert cluster.wait_synced(10)
    api.delete(Kind.POD, "a", "watched")
    eventually(lambda: cluster.cache.get(Kind.POD, "a", "watched") is None)
    eventually(lambda: len(api.streams) == 2)
    api.disconnect()
    api.delete(Kind.POD, "a", "relisted")  # while the watch is down, then history is compacted
    api.compact()
    api.reconnect()
    eventually(lambda: converged(cluster, api))
    assert cluster.flush(5)
    deleted = [c for c in recorder.changes() if c.type == "DELETED"]
    assert [(c.name, c.observed) for c in deleted] == [("watched", True), ("relisted", False)]
    names = trigger_names(deleted)
    assert names == ["Pod/a/watched", "Pod/a/relisted" + VANISHED]
    assert [is_vanished(n) for n in names] == [False, True]


@pytest.fixture
def workers() -> Iterator[list[DeviceWorker]]:
    made: list[DeviceWorker] = []
    yield made
    for worker in made:
        worker.stop(5)


def test_a_job_counts_vanished_deletions_past_the_trigger_cap_and_keeps_them_on_failure(
        workers: list[DeviceWorker]) -> None:
    sync = SyncRecorder(results=[False, True, True])
    worker = DeviceWorker("dev", sync, debounce=0.2, backoff_base=0.05, backoff_cap=0.1).start()
    workers.append(worker)
    worker.submit(state(1), [f"Pod/ns/p{n}" for n in range(MAX_TRIGGERS)])
    worker.submit(state(2), ["Namespace/t1" + VANISHED, "Namespace/t2" + VANISHED, "Pod/ns/p0"])
    eventually(lambda: len(sync.jobs) == 2 and not worker.busy, 10)
    failed, retried = sync.jobs
    assert failed.vanished == 2 and failed.omitted == 2
    assert retried.vanished == 2 and retried.attempt == 1  # carried over with the triggers
    worker.submit(state(3), ["Pod/ns/q"])
    eventually(lambda: len(sync.jobs) == 3 and not worker.busy, 10)
    assert sync.jobs[2].vanished == 0
