"""Two writers of one cluster racing on a fresh store: every repository write is race-free.

Each test lets two threads, each on its own engine, read the same table before either writes (a
barrier right after the first SELECT of that table), then lets them write: the read-then-insert
pattern that made `plan` started with the controller fail with a UNIQUE violation.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from connector.model import Identity, SourceGroup, checksum
from connector.planner.types import DeviceObject
from connector.store import (
    DriftObservation,
    FindingType,
    NamespaceRecord,
    Store,
    create_engine,
    migrate,
    session_factory,
)
from connector.store.bulk import ensure_cluster
from connector.store.models import (
    AddressGroupRow,
    AddressMemberRow,
    CompiledRuleRow,
    DeviceObjectRow,
    DeviceRow,
    DriftFindingRow,
    NamespaceRow,
)
from tests.connector.store.conftest import Db

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Work = Callable[[Store], Any]


def _race(db: Db, table: str, work: Work, other: Work | None = None) -> None:
    """Run `work` (and `other`, else `work` again) in two transactions that both read `table`
    before either writes."""
    with db.sessions.begin() as session:
        ensure_cluster(session, db.cluster, T0)  # the cluster row exists: only the data is new
    barrier = threading.Barrier(2, timeout=20)
    pattern = re.compile(rf"^\s*SELECT\b.*\bFROM {table}\b", re.S | re.I)
    errors: list[BaseException] = []

    def writer(job: Work) -> None:
        engine = create_engine(db.url)
        paused = threading.local()

        @event.listens_for(engine, "after_cursor_execute")
        def _pause(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not getattr(paused, "done", False) and pattern.match(statement):
                paused.done = True
                barrier.wait()

        try:
            with session_factory(engine).begin() as session:
                job(Store(session, db.cluster))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(job,)) for job in (work, other or work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not barrier.broken, "the writers never both read the table"
    assert errors == []


def _count(db: Db, model: Any) -> int:
    with db.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(model.cluster == db.cluster)))


def test_namespaces(db: Db) -> None:
    records = [NamespaceRecord("shop", managed=True), NamespaceRecord("pay", managed=True,
                                                                       devices=("fgt",))]
    _race(db, "namespaces", lambda store: store.snapshot.replace_namespaces(records, T0))
    with db.sessions.begin() as session:
        assert Store(session, db.cluster).snapshot.namespaces() == sorted(records, key=lambda n: n.name)
    assert _count(db, NamespaceRow) == 2


def test_groups_and_their_members(db: Db) -> None:
    pod = Identity("Pod", "shop", "web-1")
    groups = [SourceGroup(key=f"{db.cluster}/shop/{i}", cluster=db.cluster, namespace="shop",
                          members=(("10.0.0.1", (pod,)), (f"10.0.1.{i}", ()))) for i in range(3)]
    _race(db, "address_groups", lambda store: store.snapshot.replace_groups(groups, T0))
    with db.sessions.begin() as session:
        assert Store(session, db.cluster).snapshot.groups() == {g.key: g for g in groups}
    assert _count(db, AddressGroupRow) == 3
    assert _count(db, AddressMemberRow) == 6


def test_a_group_two_writers_see_differently_ends_as_one_of_them(db: Db) -> None:
    def version(*addresses: str) -> SourceGroup:
        return SourceGroup(key=f"{db.cluster}/shop/web", cluster=db.cluster, namespace="shop",
                           members=tuple((address, ()) for address in addresses))

    first, second = version("10.0.0.1", "10.0.0.2"), version("10.0.0.2", "10.0.0.3")
    _race(db, "address_groups", lambda store: store.snapshot.replace_groups([first], T0),
          lambda store: store.snapshot.replace_groups([second], T0))
    with db.sessions.begin() as session:
        repo = Store(session, db.cluster).snapshot
        stored = repo.groups()[first.key]
        assert stored in (first, second)
        assert repo.group_keys()[first.key] == checksum(stored.to_json())  # row and members agree


def test_compiled_rules(db: Db) -> None:
    from tests.connector.store.test_rules import rule  # the rules test's builder

    rules = [rule("ns/shop/a"), rule("ns/shop/b")]
    _race(db, "compiled_rules", lambda store: store.rules.replace("fgt", rules, T0))
    with db.sessions.begin() as session:
        assert Store(session, db.cluster).rules.rules("fgt") == tuple(rules)
    assert _count(db, CompiledRuleRow) == 2


def test_device_registration(db: Db) -> None:
    _race(db, "devices", lambda store: store.devices.register("fgt", "fortios", "https://fgt", T0))
    with db.sessions.begin() as session:
        [status] = Store(session, db.cluster).devices.statuses()
    assert (status.name, status.type, status.url) == ("fgt", "fortios", "https://fgt")
    assert _count(db, DeviceRow) == 1


@pytest.mark.parametrize("how", ["replace", "record_changes"])
def test_owned_objects(db: Db, how: str) -> None:
    objects = [DeviceObject("address", f"fc_{i}", {"subnet": f"10.0.0.{i}/32"}, "fc:c") for i in range(3)]
    if how == "replace":
        _race(db, "device_objects", lambda store: store.objects.replace("fgt", objects, T0))
    else:
        _race(db, "device_objects", lambda store: store.objects.record_changes("fgt", objects, (), T0))
    with db.sessions.begin() as session:
        stored = Store(session, db.cluster).objects.objects("fgt")
    assert [(o.kind, o.name) for o in stored] == [("address", f"fc_{i}") for i in range(3)]
    assert _count(db, DeviceObjectRow) == 3


def test_drift_findings(db: Db) -> None:
    seen = [DriftObservation("address", "fc_web", FindingType.MISSING, {"required": {"a": 1}})]
    _race(db, "drift_findings", lambda store: store.drift.observe("fgt", seen, T0))
    with db.sessions.begin() as session:
        [finding] = Store(session, db.cluster).drift.open_findings("fgt")
    assert (finding.kind, finding.name, finding.finding) == ("address", "fc_web", FindingType.MISSING)
    assert _count(db, DriftFindingRow) == 1


def _first_run(url: str, cluster: str, start: Any) -> None:
    """A first run as `plan` and the controller make it: migrate, then record a snapshot."""
    start.wait()
    migrate(url)
    engine = create_engine(url)
    try:
        with session_factory(engine).begin() as session:
            store = Store(session, cluster)
            store.snapshot.replace_namespaces([NamespaceRecord(f"ns{i}", managed=True) for i in range(20)])
            store.devices.register("fgt", "fortios", "https://fgt")
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_on_a_fresh_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Two processes migrate and record the same cluster on a never migrated database."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"
        else:
            url = str(request.getfixturevalue("postgres_databases").create())
        start = context.Event()
        processes = [context.Process(target=_first_run, args=(url, "c1", start)) for _ in range(2)]
        for process in processes:
            process.start()
        start.set()
        for process in processes:
            process.join(120)
        assert [p.exitcode for p in processes] == [0, 0]
        engine = create_engine(url)
        try:
            with session_factory(engine).begin() as session:
                assert len(Store(session, "c1").snapshot.namespaces()) == 20
        finally:
            engine.dispose()
