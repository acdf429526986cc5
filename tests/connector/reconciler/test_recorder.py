"""The background recorder: order per device, coalescing when the store falls behind, failures
that neither stop it nor leave ownership records wrong, a bounded queue, flush and stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector.model import CompiledRule, DeviceState
from connector.planner import DeviceObject
from connector.reconciler.device import DeviceOutcome
from connector.reconciler.recorder import Recorder
from connector.store import Store
from tests.connector.reconciler.test_record import HELD, address, outcome, owned, replaced, setup
from tests.connector.store import conftest as store_fixtures
from tests.connector.store.conftest import Db
from tests.connector.store.sqllog import statements, touching
from tests.connector.store.test_rules import RULES

# the store's fixtures: every test runs on SQLite and on PostgreSQL
db, postgres_databases, postgres_url = (store_fixtures.db, store_fixtures.postgres_databases,
                                        store_fixtures.postgres_url)


class GatedSessions:
    """Sessions whose transactions wait until `gate` is set (a store that is busy)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.gate = threading.Event()
        self.waiting = threading.Semaphore(0)

    def begin(self) -> AbstractContextManager[Session]:
        self.waiting.release()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.sessions.begin()


@pytest.fixture
def gated(db: Db) -> Iterator[tuple[GatedSessions, Recorder]]:
    sessions = GatedSessions(db.sessions)
    recorder = Recorder(cast(sessionmaker[Session], sessions), db.cluster, threads=2, max_pending=50).start()
    try:
        yield sessions, recorder
    finally:
        sessions.gate.set()
        recorder.stop(30)


def state(db: Db, rules: tuple[CompiledRule, ...] = RULES, device: str = "dev") -> DeviceState:
    return DeviceState(device, db.cluster, rules=rules)


def register(db: Db, *names: str) -> None:
    with db.sessions.begin() as session:
        for name in names:
            Store(session, db.cluster).devices.register(name, "rest", f"http://{name}")


def audited(db: Db, device: str) -> list[tuple[str, ...]]:
    with db.sessions.begin() as session:
        return [entry.triggers for entry in Store(session, db.cluster).audit.window(device=device)]


def step(i: int) -> tuple[list[DeviceObject], list[DeviceObject]]:
    """The objects before and after the i-th pod is added."""
    before = [*HELD, *(address(f"p{j}", f"10.1.0.{j}/32") for j in range(i))]
    return before, [*before, address(f"p{i}", f"10.1.0.{i}/32")]


def test_jobs_are_recorded_in_order_per_device_and_coalesced_when_the_store_is_behind(
        db: Db, gated: tuple[GatedSessions, Recorder]) -> None:
    sessions, recorder = gated
    register(db, "a", "b")
    first, second = state(db, device="a"), state(db, device="b")
    assert recorder.submit("a", first, outcome(db, HELD, [], read=True, device="a"), apply=True,
                           triggers=["a0"])
    assert sessions.waiting.acquire(timeout=30)  # a thread holds a0 and waits for the store
    for i in range(1, 6):
        before, after = step(i)
        recorder.submit("a", first, outcome(db, after, before, read=False, device="a"), apply=True,
                        triggers=[f"a{i}"])
    for i in range(3):
        recorder.submit("b", second, outcome(db, HELD, [], read=True, device="b"), apply=True,
                        triggers=[f"b{i}"])
        if i == 0:
            assert sessions.waiting.acquire(timeout=30)  # the other thread holds b0
    assert recorder.pending == 9
    assert recorder.flush(0.05) is False  # the store is still busy
    sessions.gate.set()
    assert recorder.flush(30) is True and recorder.pending == 0
    assert audited(db, "a") == [(f"a{i}",) for i in range(6)]
    assert audited(db, "b") == [(f"b{i}",) for i in range(3)]
    # one transaction for each first job, one for each device's backlog
    assert (recorder.stats.recorded, recorder.stats.transactions, recorder.stats.failed) == (9, 4, 0)


def failing(db: Db, desired: list[DeviceObject], actual: list[DeviceObject]) -> DeviceOutcome:
    """An applied sync whose record fails (its plan names another cluster)."""
    synced = outcome(db, desired, actual, read=False)
    assert synced.plan is not None
    synced.plan = type(synced.plan)(device="dev", cluster="elsewhere", changes=synced.plan.changes)
    return synced


def test_a_failed_record_is_logged_and_the_next_one_repairs_the_ownership_records(
        db: Db, caplog: pytest.LogCaptureFixture) -> None:
    setup(db)
    recorder = Recorder(db.sessions, db.cluster).start()
    try:
        one, two = step(0)[1], step(1)[1]
        three = [*two, address("p2", "10.1.0.2/32")]
        with caplog.at_level(logging.ERROR):
            recorder.submit("dev", state(db), failing(db, one, HELD), apply=True, triggers=["lost"])
            recorder.submit("dev", state(db), outcome(db, two, one, read=False), apply=True,
                            triggers=["next"])
            assert recorder.flush(30)
        assert "recording the sync in the store failed" in caplog.text
        assert recorder.stats.failed == 1 and recorder.stats.recorded == 1
        assert owned(db) == replaced(db, two)  # p0 of the lost record is there too
        recorder.submit("dev", state(db), outcome(db, three, two, read=False), apply=True)
        assert recorder.flush(30)
        assert owned(db) == replaced(db, three)
        assert [t for t in audited(db, "dev") if t] == [("next",)]
    finally:
        recorder.stop(30)


def test_a_backlog_that_fails_together_is_recorded_job_by_job(
        db: Db, gated: tuple[GatedSessions, Recorder]) -> None:
    sessions, recorder = gated
    setup(db)
    recorder.submit("dev", state(db), outcome(db, HELD, HELD, read=False), apply=True, triggers=["t0"])
    assert sessions.waiting.acquire(timeout=30)
    one, two, three = step(0)[1], step(1)[1], step(2)[1]
    recorder.submit("dev", state(db), outcome(db, one, HELD, read=False), apply=True, triggers=["t1"])
    recorder.submit("dev", state(db), failing(db, two, one), apply=True, triggers=["t2"])
    recorder.submit("dev", state(db), outcome(db, three, two, read=False), apply=True, triggers=["t3"])
    sessions.gate.set()
    assert recorder.flush(30)
    assert [t for t in audited(db, "dev") if t] == [("t1",), ("t3",)]
    assert (recorder.stats.recorded, recorder.stats.failed) == (3, 1)
    assert owned(db) == replaced(db, three)  # with p1 of the failed record


def test_a_full_queue_makes_the_submitter_wait_then_drops_the_record(db: Db) -> None:
    setup(db)
    sessions = GatedSessions(db.sessions)
    recorder = Recorder(cast(sessionmaker[Session], sessions), db.cluster, threads=1, max_pending=1,
                        submit_timeout=0.01).start()
    try:
        one, two, three, four = (step(i)[1] for i in range(4))
        assert recorder.submit("dev", state(db), outcome(db, one, HELD, read=False), apply=True)
        assert sessions.waiting.acquire(timeout=30)
        assert recorder.submit("dev", state(db), outcome(db, two, one, read=False), apply=True)
        dropped = outcome(db, three, two, read=False)
        assert recorder.submit("dev", state(db), dropped, apply=True) is False
        assert recorder.stats.dropped == 1
        recorder.submit_timeout = 30
        waited = threading.Thread(target=recorder.submit, args=("dev", state(db), outcome(
            db, four, three, read=False)), kwargs={"apply": True})
        waited.start()  # blocks until the store takes the queued job
        sessions.gate.set()
        waited.join(30)
        assert not waited.is_alive()
        assert recorder.flush(30)
        # the job after the dropped one replaced every record (p2 of the dropped one is there)
        assert owned(db) == replaced(db, four) and recorder.stats.recorded == 3
    finally:
        sessions.gate.set()
        recorder.stop(30)


def test_stop_flushes_and_refuses_later_jobs(db: Db) -> None:
    setup(db)
    recorder = Recorder(db.sessions, db.cluster).start()
    recorder.submit("dev", state(db), outcome(db, step(0)[1], HELD, read=False), apply=True, triggers=["t"])
    assert recorder.stop(30) is True
    assert [t for t in audited(db, "dev") if t] == [("t",)]
    assert recorder.submit("dev", state(db), outcome(db, HELD, HELD, read=False), apply=True) is False
    assert recorder.flush(1) is True and recorder.stats.dropped == 1


def test_rules_are_compared_only_when_the_devices_rules_tuple_changes(db: Db) -> None:
    setup(db)
    recorder = Recorder(db.sessions, db.cluster).start()
    same, changed = state(db), state(db, RULES[:2])

    def record(synced_state: DeviceState, read: bool) -> list[str]:
        with statements(db.engine) as seen:
            recorder.submit("dev", synced_state, outcome(db, HELD, HELD, read=read), apply=True)
            assert recorder.flush(30)
        return touching(seen, "compiled_rules")

    try:
        assert touching(record(same, read=True), "compiled_rules", "SELECT")  # nothing remembered yet
        assert record(same, read=False) == []  # the very tuple recorded last: not compared
        assert touching(record(same, read=True), "compiled_rules", "SELECT")  # a read compares again
        unequal = state(db, (*RULES[:1], *RULES[1:]))
        assert unequal.rules is not same.rules and unequal.rules == same.rules
        seen = record(unequal, read=False)
        assert touching(seen, "compiled_rules", "SELECT") and not touching(
            seen, "compiled_rules", "INSERT", "UPDATE", "DELETE")
        assert touching(record(changed, read=False), "compiled_rules", "DELETE")
        with db.sessions.begin() as session:
            assert Store(session, db.cluster).rules.rules("dev") == RULES[:2]
    finally:
        recorder.stop(30)
