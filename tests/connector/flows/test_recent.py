"""The Attributor's in-memory indexes (connector/flows/recent.py): the same records as the
store-backed path after any sequence of timeline and rule-map writes, on SQLite and PostgreSQL;
a batch whose entries are current reads no interval; bounded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from connector.flows.attribute import Attributor
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.store import AddressTimeline, DeviceRuleMap
from tests.connector.store.conftest import Db, db  # noqa: F401 (the fixture)
from tests.connector.store.postgres import postgres_databases, postgres_url  # noqa: F401
from tests.connector.store.sqllog import statements, touching

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ADDRESSES = [f"10.9.0.{i}" for i in range(12)]
REFERENCES = ["fc-a", "fc-b", "7", "8"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def identity(cluster: str, n: int) -> FlowIdentity:
    return FlowIdentity(cluster=cluster, namespace=f"ns{n % 3}", pod=f"pod-{n}", pod_uid=f"uid-{n}",
                        services=(f"svc{n % 2}",))


def flow(seconds: float, src: str, rule: str | None, rule_id: str | None = None) -> FlowLine:
    return FlowLine(time=at(seconds), device="fw1", action="Allow", src=src, dst="203.0.113.1",
                    protocol="TCP", src_port=1000, dst_port=443, device_rule=rule, device_rule_id=rule_id)


def random_writes(rng: random.Random, db: Db, clock: float, pods: list[int]) -> None:  # noqa: F811
    """A few opens, closes (some of the current holder, some stale) and rule-map records, dated
    near `clock` (some at or before an interval's start: the store then removes it)."""
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        for _ in range(rng.randrange(4)):
            address = rng.choice(ADDRESSES)
            when = at(clock + rng.choice((-3.0, 0.0, 0.5, 1.0, 2.5)))
            if rng.random() < 0.6:
                pods[0] += 1
                timeline.open(address, identity(db.cluster, pods[0] % 9), when)
            else:
                timeline.close(address, when, pod_uid=rng.choice(("", f"uid-{pods[0] % 9}")))
        if rng.random() < 0.4:
            mapping = {reference: FlowRule("ServiceEgressRule", "ns0", f"r{rng.randrange(3)}", "Namespace")
                       for reference in REFERENCES if rng.random() < 0.7}
            when = at(clock + rng.choice((-1.0, 0.0, 1.0)))
            DeviceRuleMap(session, db.cluster).record("fw1", mapping, when)


def random_batch(rng: random.Random, clock: float) -> list[FlowLine]:
    return [flow(clock + rng.uniform(-8, 4), rng.choice([*ADDRESSES, "198.51.100.1"]),
                 rng.choice([*REFERENCES, None, "unknown"]), rng.choice((None, "7", "9")))
            for _ in range(rng.randrange(1, 30))]


def summary(record: FlowRecord) -> tuple[object, ...]:
    return (record.identity and record.identity.pod, record.rule and record.rule.name, record.ambiguous,
            [candidate.pod for candidate in record.candidates])


@pytest.mark.parametrize("seed", range(3))
def test_the_cached_path_answers_as_the_store_after_any_writes(db: Db, seed: int) -> None:  # noqa: F811
    rng = random.Random(seed)
    cached = Attributor(db.sessions, db.cluster, clock_skew_seconds=2, cached=True, max_entries=8)
    plain = Attributor(db.sessions, db.cluster, clock_skew_seconds=2)
    pods = [0]
    clock = 0.0
    for _ in range(60):
        random_writes(rng, db, clock, pods)
        clock += rng.choice((0.0, 0.5, 3.0))
        for _ in range(2):  # twice: the second answer comes from entries read by the first
            batch = random_batch(rng, clock)
            for got, want in zip(cached.attribute(batch), plain.attribute(batch), strict=True):
                assert got == want, (got.line.src, got.line.time, summary(got), summary(want))
    assert cached.timeline is not None and cached.timeline.hits > 0
    assert cached.timeline.entries <= 8


def test_a_current_batch_reads_no_interval_and_a_new_interval_is_seen(db: Db) -> None:  # noqa: F811
    a, b = identity(db.cluster, 1), identity(db.cluster, 2)
    with db.sessions.begin() as session:
        AddressTimeline(session, db.cluster).open(ADDRESSES[0], a, at(0))
        DeviceRuleMap(session, db.cluster).record(
            "fw1", {"fc-a": FlowRule("ServiceEgressRule", "ns0", "r0", "Namespace")}, at(0))
    attributor = Attributor(db.sessions, db.cluster, clock_skew_seconds=2, cached=True)
    batch = [flow(50, ADDRESSES[0], "fc-a")] * 3
    first = attributor.attribute(batch)
    assert first[0].identity == a and first[0].rule is not None
    with statements(db.engine) as seen:
        again = attributor.attribute(batch)
    assert again == first
    reads = touching(seen, "address_intervals", "SELECT")
    # the highest row still there with the rows written since, the open rows still open: no
    # interval read again
    assert len(reads) == 2
    assert all("services" not in statement for statement in reads)
    with db.sessions.begin() as session:  # the address is reused; dated in the past on purpose
        AddressTimeline(session, db.cluster).open(ADDRESSES[0], b, at(40))
    moved = attributor.attribute(batch)
    assert moved[0].identity == b
    with db.sessions.begin() as session:  # ended without a new holder (no new row)
        AddressTimeline(session, db.cluster).close(ADDRESSES[0], at(45))
    assert attributor.attribute(batch)[0].identity is None
    with db.sessions.begin() as session:  # the reference is gone: its open row is ended
        DeviceRuleMap(session, db.cluster).record("fw1", {}, at(30))
    assert attributor.attribute(batch)[0].rule is None


def test_a_line_older_than_an_entry_reads_the_store_again(db: Db) -> None:  # noqa: F811
    a, b = identity(db.cluster, 1), identity(db.cluster, 2)
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(ADDRESSES[1], a, at(0))
        timeline.open(ADDRESSES[1], b, at(5000))
    attributor = Attributor(db.sessions, db.cluster, clock_skew_seconds=2, cached=True)
    assert attributor.attribute([flow(6000, ADDRESSES[1], None)])[0].identity == b
    assert attributor.attribute([flow(10, ADDRESSES[1], None)])[0].identity == a
