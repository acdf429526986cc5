"""Ownership records written incrementally: only the records named are read or written, and
recording a fully applied plan leaves the same records as replacing them with the desired objects."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.model import checksum
from connector.planner import DeviceObject, plan
from connector.store import DeviceObjectRepository, ObjectChanges
from tests.connector.store.conftest import Db
from tests.connector.store.sqllog import statements

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MARK = "fusion-connector:c"
OTHER = "someone-else"


def obj(kind: str, name: str, value: int, owner: str | None = MARK) -> DeviceObject:
    return DeviceObject(kind, name, {"value": value}, owner, (f"Pod/ns/{kind}-{name}-{value}",))


def records(db: Db, device: str) -> list[tuple[Any, ...]]:
    with db.sessions.begin() as session:
        return [(o.kind, o.name, o.checksum, o.owner, o.identities, o.created_at, o.updated_at)
                for o in DeviceObjectRepository(session, db.cluster).objects(device)]


def test_record_changes_touches_only_the_named_records(db: Db) -> None:
    held = [obj("address", f"a{i}", i) for i in range(50)] + [obj("policy", "p", 0)]
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        repo.replace("fgt", held, T0)
        repo.replace("bigip", held[:3], T0)
    later = T0 + timedelta(minutes=1)
    with statements(db.engine) as seen, db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        changes = repo.record_changes(
            "fgt", [obj("address", "a1", 100), obj("address", "new", 7), held[2]],
            [("address", "a3"), ("address", "never-recorded")], later)
    assert changes == ObjectChanges(created=1, updated=1, deleted=1, unchanged=1)
    reads = [s for s in seen if s.startswith("SELECT") and "device_objects" in s]
    assert reads and all("device_objects.name IN" in s and "device_objects.kind =" in s for s in reads)
    stored = {r[1]: r for r in records(db, "fgt")}
    assert len(stored) == 51 and "a3" not in stored
    assert stored["a1"][2] == checksum({"value": 100}) and stored["a1"][5:] == (T0, later)
    assert stored["new"][5:] == (later, later) and stored["a2"][5:] == (T0, T0)
    assert len(records(db, "bigip")) == 3


def test_an_object_both_written_and_deleted_is_refused(db: Db) -> None:
    with db.sessions.begin() as session, pytest.raises(ValueError, match="both"):
        DeviceObjectRepository(session, db.cluster).record_changes(
            "fgt", [obj("address", "a", 1)], [("address", "a")])


def test_checksums_of_some_refs_read_only_those(db: Db) -> None:
    held = [obj("address", f"a{i}", i) for i in range(20)] + [obj("addrgrp", "a1", 5)]
    with db.sessions.begin() as session:
        DeviceObjectRepository(session, db.cluster).replace("fgt", held, T0)
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        with statements(db.engine) as seen:
            some = repo.checksums("fgt", [("address", "a1"), ("addrgrp", "a1"), ("address", "gone")])
        every = repo.checksums("fgt")
        assert repo.checksums("fgt", []) == {}
    assert some == {("address", "a1"): checksum({"value": 1}), ("addrgrp", "a1"): checksum({"value": 5})}
    assert {ref: every[ref] for ref in some} == some and len(every) == 21
    reads = [s for s in seen if "device_objects" in s]
    assert len(reads) == 2 and all("device_objects.name IN" in s for s in reads)  # one per kind


def references(target: DeviceObject) -> Iterable[tuple[str, str]]:
    return [("address", str(name)) for name in target.body.get("members", ())]


names = st.sampled_from([f"n{i}" for i in range(8)])
bodies = st.integers(min_value=0, max_value=3)
objects = st.dictionaries(st.tuples(st.sampled_from(["address", "addrgrp", "policy"]), names), bodies,
                          max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=objects, after=objects,
       foreign_refs=st.lists(names, max_size=3, unique=True))
def test_recording_an_applied_plan_equals_replacing_with_the_desired_objects(
        db: Db, before: dict[tuple[str, str], int], after: dict[tuple[str, str], int],
        foreign_refs: list[str]) -> None:
    """The records held the owned objects of `actual` (what the device is known to hold); a
    foreign object references some addresses, so the plan keeps them when no longer desired.
    Recording the fully applied plan equals replacing the records with `desired`."""
    held = [obj(kind, name, value) for (kind, name), value in before.items()]
    foreign = DeviceObject("policy", "foreign", {"members": foreign_refs}, OTHER)
    actual = [*held, foreign]
    desired = [obj(kind, name, value) for (kind, name), value in after.items()
               if (kind, name) != ("policy", "foreign")]
    the_plan = plan("fgt", "c", desired, actual, owner_mark=MARK, kind_order=("address", "addrgrp", "policy"),
                    references=references)
    assert not the_plan.conflicts
    incremental, full = f"inc-{uuid.uuid4().hex[:8]}", f"full-{uuid.uuid4().hex[:8]}"
    later = T0 + timedelta(minutes=1)
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        for device in (incremental, full):
            repo.replace(device, held, T0)
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        repo.record_plan(incremental, the_plan, MARK, later)
        repo.replace(full, desired, later)
    assert records(db, incremental) == records(db, full)


def test_an_empty_plan_writes_nothing(db: Db) -> None:
    held = [obj("address", "a", 1)]
    with db.sessions.begin() as session:
        DeviceObjectRepository(session, db.cluster).replace("fgt", held, T0)
    empty = plan("fgt", "c", held, held, owner_mark=MARK, kind_order=("address",))
    with statements(db.engine) as seen, db.sessions.begin() as session:
        assert DeviceObjectRepository(session, db.cluster).record_plan("fgt", empty, MARK) == ObjectChanges()
    assert empty.empty and not [s for s in seen if "device_objects" in s]
