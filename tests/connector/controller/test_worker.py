"""DeviceWorker: debounce, coalescing to the latest state, one sync in flight, no lost change,
retry with backoff, pause/resume."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connector.controller.worker import MAX_TRIGGERS, DeviceWorker, Job
from connector.model import DeviceState
from tests.connector.controller.harness import eventually


def state(n: int) -> DeviceState:
    return DeviceState(device=f"d{n}", cluster="c1")


class Recorder:
    def __init__(self, results: list[bool] | None = None, gate: threading.Event | None = None) -> None:
        self.jobs: list[Job] = []
        self.results = list(results or [])
        self.gate = gate
        self.running = 0
        self.max_running = 0
        self.started = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> bool:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        with self.lock:
            self.jobs.append(job)
            self.running -= 1
        return self.results.pop(0) if self.results else True


@pytest.fixture
def workers() -> Iterator[list[DeviceWorker]]:
    made: list[DeviceWorker] = []
    yield made
    for worker in made:
        worker.stop(5)


def start(workers: list[DeviceWorker], sync: Recorder, **options: float) -> DeviceWorker:
    worker = DeviceWorker("dev", sync, **{"debounce": 0.05, **options}).start()  # type: ignore[arg-type]
    workers.append(worker)
    return worker


def test_submissions_within_the_debounce_coalesce_into_one_sync_of_the_latest_state(
        workers: list[DeviceWorker]) -> None:
    sync = Recorder()
    worker = start(workers, sync, debounce=0.3)
    for n in range(5):
        worker.submit(state(n), [f"Pod/ns/p{n}"], seen=[100.0 + n])
    assert worker.wait_idle(10)
    assert len(sync.jobs) == 1
    job = sync.jobs[0]
    assert job.state.device == "d4"
    assert job.triggers == [f"Pod/ns/p{n}" for n in range(5)]
    assert job.seen_at == 100.0 and job.seen == [100.0 + n for n in range(5)]


def test_a_change_arriving_mid_sync_runs_again_after_it_and_never_concurrently(
        workers: list[DeviceWorker]) -> None:
    gate = threading.Event()
    sync = Recorder(gate=gate)
    worker = start(workers, sync)
    worker.submit(state(1), ["a"])
    assert sync.started.wait(5)
    worker.submit(state(2), ["b"])
    worker.submit(state(3), ["c"])
    gate.set()
    assert worker.wait_idle(10)
    assert [j.state.device for j in sync.jobs] == ["d1", "d3"]
    assert sync.jobs[1].triggers == ["b", "c"]
    assert sync.max_running == 1


def test_failure_is_retried_with_backoff_keeping_the_triggers(workers: list[DeviceWorker]) -> None:
    sync = Recorder(results=[False, False, True])
    worker = start(workers, sync, backoff_base=0.05, backoff_cap=0.1)
    worker.submit(state(1), ["Pod/ns/a"], seen=[5.0])
    eventually(lambda: len(sync.jobs) == 3 and not worker.busy, 10)
    assert [j.attempt for j in sync.jobs] == [0, 1, 2]
    assert all(j.triggers == ["Pod/ns/a"] and j.seen_at == 5.0 for j in sync.jobs)
    assert worker.failures == 0


def test_a_newer_state_submitted_during_backoff_is_the_one_retried(workers: list[DeviceWorker]) -> None:
    sync = Recorder(results=[False, True])
    worker = start(workers, sync, backoff_base=2.0, backoff_cap=2.0)  # room to submit in the backoff
    worker.submit(state(1), ["a"])
    eventually(lambda: len(sync.jobs) == 1, 5)
    worker.submit(state(2), ["b"])
    assert len(sync.jobs) == 1, "the retry came before the newer state was submitted"
    eventually(lambda: len(sync.jobs) == 2 and not worker.busy, 10)
    assert sync.jobs[1].state.device == "d2"
    assert sorted(sync.jobs[1].triggers) == ["a", "b"]


def test_paused_worker_syncs_nothing_until_resumed(workers: list[DeviceWorker]) -> None:
    sync = Recorder()
    worker = start(workers, sync)
    worker.pause()
    worker.submit(state(1), ["a"])
    time.sleep(0.2)
    assert sync.jobs == []
    worker.resume()
    assert worker.wait_idle(5)
    assert [j.state.device for j in sync.jobs] == ["d1"]


def test_a_steady_stream_of_changes_cannot_postpone_syncs(workers: list[DeviceWorker]) -> None:
    sync = Recorder()
    worker = start(workers, sync, debounce=0.2)
    n = 0
    while len(sync.jobs) < 3:
        assert n < 2_000, "a steady stream of changes starved the device"
        worker.submit(state(n), [str(n)])
        n += 1
        time.sleep(0.02)
    assert worker.wait_idle(5)
    assert sync.jobs[-1].state.device == f"d{n - 1}"
    assert sum(len(job.triggers) for job in sync.jobs) == n


def test_triggers_are_capped_and_counted(workers: list[DeviceWorker]) -> None:
    sync = Recorder()
    worker = start(workers, sync, debounce=0.2)
    worker.submit(state(1), [f"Pod/ns/p{n}" for n in range(MAX_TRIGGERS + 5)])
    assert worker.wait_idle(5)
    names = sync.jobs[0].trigger_names()
    assert len(names) == MAX_TRIGGERS + 1 and names[-1] == "... and 5 more"


def test_an_exception_in_sync_counts_as_a_failure_and_the_worker_survives(
        workers: list[DeviceWorker]) -> None:
    calls: list[Job] = []

    def sync(job: Job) -> bool:
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return True

    worker = DeviceWorker("dev", sync, debounce=0.01, backoff_base=0.01, backoff_cap=0.02).start()
    workers.append(worker)
    worker.submit(state(1))
    eventually(lambda: len(calls) == 2 and not worker.busy, 5)


def test_a_read_request_survives_coalescing_and_is_not_carried_into_later_syncs(
        workers: list[DeviceWorker]) -> None:
    sync = Recorder()
    worker = start(workers, sync, debounce=0.3)
    worker.submit(state(1), ["periodic"], read=True)
    worker.submit(state(2), ["Pod/ns/a"])
    assert worker.wait_idle(10)
    worker.submit(state(3), ["Pod/ns/b"])
    assert worker.wait_idle(10)
    assert [(job.state.device, job.read) for job in sync.jobs] == [("d2", True), ("d3", False)]


def test_a_failed_sync_that_had_to_read_is_retried_reading(workers: list[DeviceWorker]) -> None:
    sync = Recorder(results=[False])
    worker = start(workers, sync, backoff_base=0.05)
    worker.submit(state(1), ["periodic"], read=True)
    eventually(lambda: len(sync.jobs) == 2)
    assert [job.read for job in sync.jobs] == [True, True]
