"""Flow records: identical records of a time bucket aggregate into one row (count), queries
filter and order newest first, retention prunes; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.store import FlowFilter, FlowRecordRepository, Store
from connector.store.flow_records import bucket_of
from connector.store.models import FlowRecordRow
from tests.connector.store.conftest import Db

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PAY = FlowRule("ServiceEgressRule", "shop", "pay", "Namespace")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(cluster: str, seconds: float = 0, *, src_port: int | None = 40000, action: str = "Allow",
           rule: FlowRule | None = PAY, pod: str = "web-a", dst: str = "203.0.113.10",
           count: int = 1) -> FlowRecord:
    line = FlowLine(time=at(seconds), device="fw1", action=action, src="10.244.1.7",  # type: ignore[arg-type]
                    dst=dst, protocol="TCP", src_port=src_port, dst_port=443,
                    device_rule="fc-2", count=count)
    identity = FlowIdentity(cluster=cluster, namespace="shop", pod=pod, pod_uid=f"uid-{pod}",
                            services=("web", "web-canary"))
    return FlowRecord(line=line, identity=identity, rule=rule)


def row_count(db: Db) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(FlowRecordRow)
                                  .where(FlowRecordRow.cluster == db.cluster)) or 0)


def test_ten_thousand_identical_lines_are_one_row_with_their_count(db: Db) -> None:
    flood = [record(db.cluster, i * 0.001, src_port=40000 + i % 5000) for i in range(10_000)]
    with db.sessions.begin() as session:
        repository = FlowRecordRepository(session, db.cluster)
        repository.add(flood[:4000])
        repository.add(flood[4000:])
    assert row_count(db) == 1
    with db.sessions() as session:
        [found] = FlowRecordRepository(session, db.cluster).query(FlowFilter())
    assert found.count == 10_000
    assert found.line.time == at(0)
    assert found.line.src_port is None  # the flows used different source ports
    assert found.identity == flood[0].identity and found.rule == PAY
    assert found.to_json() == {**flood[0].to_json(), "srcPort": None, "count": 10_000}


def test_a_source_port_kept_while_every_flow_used_it(db: Db) -> None:
    with db.sessions.begin() as session:
        repository = FlowRecordRepository(session, db.cluster)
        repository.add([record(db.cluster, 1, count=3)])
        repository.add([record(db.cluster, 2, count=2)])
    with db.sessions() as session:
        [found] = FlowRecordRepository(session, db.cluster).query(FlowFilter())
    assert (found.count, found.line.src_port) == (5, 40000)


def test_records_differing_in_bucket_identity_rule_or_action_stay_apart(db: Db) -> None:
    base = record(db.cluster, 1)
    others = [record(db.cluster, 61), record(db.cluster, 1, pod="web-b"),
              record(db.cluster, 1, rule=DEFAULT, action="Deny"), record(db.cluster, 1, rule=None),
              replace(base, identity=None), replace(base, ambiguous=True,
                                                    candidates=(base.identity,))]  # type: ignore[arg-type]
    with db.sessions.begin() as session:
        FlowRecordRepository(session, db.cluster).add([base, *others])
    assert row_count(db) == 7
    with db.sessions() as session:
        found = FlowRecordRepository(session, db.cluster).query(FlowFilter())
    assert sorted(r.to_json()["time"] for r in found) == sorted(r.to_json()["time"] for r in [base, *others])
    assert found[0].line.time == at(61)  # newest first
    assert {(r.identity is None, r.ambiguous, r.rule) for r in found} >= {
        (True, False, PAY), (False, True, PAY), (False, False, None), (False, False, DEFAULT)}


def test_query_filters(db: Db) -> None:
    with db.sessions.begin() as session:
        FlowRecordRepository(session, db.cluster).add([
            record(db.cluster, 0), record(db.cluster, 120, pod="web-b"),
            record(db.cluster, 240, rule=DEFAULT, action="Deny"), record(db.cluster, 360, rule=None),
        ])
    with db.sessions() as session:
        flows = FlowRecordRepository(session, db.cluster)

        def times(where: FlowFilter) -> list[float]:
            return [(r.line.time - T0).total_seconds() for r in flows.query(where)]

        assert times(FlowFilter()) == [360, 240, 120, 0]
        assert times(FlowFilter(since=at(100), until=at(300))) == [240, 120]
        assert times(FlowFilter(pod="web-b")) == [120]
        assert times(FlowFilter(namespace="shop", limit=2)) == [360, 240]
        assert times(FlowFilter(namespace="other")) == []
        assert times(FlowFilter(service="web-canary")) == [360, 240, 120, 0]
        assert times(FlowFilter(service="web-c")) == []
        assert times(FlowFilter(service="w_b")) == []
        assert times(FlowFilter(rule=("DefaultAction", "shop", "default"))) == [240]
        assert times(FlowFilter(rule=("ServiceEgressRule", "shop", "pay"))) == [120, 0]
        assert times(FlowFilter(action="Deny")) == [240]
        assert times(FlowFilter(device="fw1", limit=1)) == [360]
        assert times(FlowFilter(device="fw2")) == []


def test_prune_deletes_records_last_seen_before_the_cutoff(db: Db) -> None:
    with db.sessions.begin() as session:
        flows = Store(session, db.cluster).flows
        flows.add([record(db.cluster, 0), record(db.cluster, 59), record(db.cluster, 120)])
        assert flows.prune(at(30)) == 0  # the first bucket was last seen at 59
        assert flows.prune(at(60)) == 1
        assert [r.line.time for r in flows.query(FlowFilter())] == [at(120)]


def test_buckets_align_to_the_epoch() -> None:
    assert bucket_of(at(59.9), 60) == at(0)
    assert bucket_of(at(60), 60) == at(60)
    assert bucket_of(at(299), 300) == at(0)


def test_concurrent_writers_add_up_without_losing_counts(db: Db) -> None:
    """Two receivers (replicas) adding the same records in opposite orders at once."""
    records = [record(db.cluster, 0, dst=f"203.0.113.{i}") for i in range(40)]
    errors: list[BaseException] = []

    def write(batch: list[FlowRecord]) -> None:
        try:
            for _ in range(10):
                with db.sessions.begin() as session:
                    FlowRecordRepository(session, db.cluster).add(batch)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(batch,)) for batch in (records, records[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.sessions() as session:
        found = FlowRecordRepository(session, db.cluster).query(FlowFilter())
    assert len(found) == 40 and {r.count for r in found} == {20}
