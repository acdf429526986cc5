"""The address timeline: intervals per address, attribution at a moment, ambiguity within the
clock skew, retention, on SQLite and PostgreSQL; lookup checked against a naive oracle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connector.flows.record import FlowIdentity
from connector.store import AddressTimeline, Store, create_engine, migrate, session_factory
from connector.store.models import AddressIntervalRow
from connector.store.timeline import Interval, attribute
from tests.connector.store.conftest import BACKENDS, Db

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IP = "10.244.1.7"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pod(cluster: str, name: str, uid: str, *services: str, namespace: str = "shop") -> FlowIdentity:
    return FlowIdentity(cluster=cluster, namespace=namespace, pod=name, pod_uid=uid, services=services)


def test_address_reuse_attributes_flows_before_and_after_to_each_owner(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a", "web")
    b = pod(db.cluster, "pay-b", "uid-b", "pay", namespace="billing")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.close(IP, at(100), pod_uid="uid-a")
        timeline.open(IP, b, at(130))
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        assert timeline.at(IP, at(50), 2).identity == a
        assert timeline.at(IP, at(50), 2).ambiguous is False
        assert timeline.at(IP, at(200), 2).identity == b
        assert timeline.at(IP, at(115), 2).identity is None  # in the gap, nobody near
        assert timeline.at(IP, at(-10), 2).identity is None  # before anyone
        assert timeline.at("10.244.9.9", at(50), 2).identity is None  # never seen


def test_an_owner_change_within_the_skew_is_ambiguous_with_both_candidates(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a")
    b = pod(db.cluster, "web-b", "uid-b")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.open(IP, b, at(100))  # ends a's interval at 100
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        before = timeline.at(IP, at(99), 2)
        after = timeline.at(IP, at(101.5), 2)
        assert before.ambiguous and before.identity == a and before.candidates == (a, b)
        assert after.ambiguous and after.identity == b and after.candidates == (a, b)
        clear = timeline.at(IP, at(103), 2)
        assert clear.identity == b and not clear.ambiguous and clear.candidates == ()
        # a skew of zero is never ambiguous
        assert timeline.at(IP, at(99.9), 0).identity == a
        assert not timeline.at(IP, at(99.9), 0).ambiguous


def test_an_address_taken_just_after_the_flow_is_attributed_to_its_only_owner(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a")
    with db.sessions.begin() as session:
        AddressTimeline(session, db.cluster).open(IP, a, at(10))
    with db.sessions.begin() as session:
        found = AddressTimeline(session, db.cluster).at(IP, at(9), 2)
        assert found.identity == a and not found.ambiguous


def test_a_service_change_is_a_new_interval_but_not_a_new_owner(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a", "web")
    a2 = pod(db.cluster, "web-a", "uid-a", "web", "web-canary")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.open(IP, a, at(5))  # same identity: no-op
        timeline.open(IP, a2, at(50))
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        assert session.scalar(select(func.count()).select_from(AddressIntervalRow)
                              .where(AddressIntervalRow.cluster == db.cluster)) == 2
        assert timeline.at(IP, at(49), 2).identity == a
        assert not timeline.at(IP, at(49), 2).ambiguous
        assert timeline.at(IP, at(51), 2).identity == a2


def test_a_late_deletion_of_the_previous_owner_keeps_the_new_owner(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a")
    b = pod(db.cluster, "web-b", "uid-b")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.open(IP, b, at(10))
        timeline.close(IP, at(12), pod_uid="uid-a")
        assert timeline.holders() == {IP: b}
        timeline.close(IP, at(20))
        assert timeline.holders() == {}
    with db.sessions.begin() as session:
        assert AddressTimeline(session, db.cluster).at(IP, at(15), 0).identity == b


def test_prune_deletes_intervals_ended_before_the_cutoff_only(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a")
    b = pod(db.cluster, "web-b", "uid-b")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.open(IP, b, at(100))
        timeline.open("10.244.1.8", a, at(0))
        assert timeline.prune(at(50)) == 0
        assert timeline.prune(at(150)) == 1
    with db.sessions.begin() as session:
        timeline = Store(session, db.cluster).timeline
        assert timeline.at(IP, at(50), 0).identity is None
        assert timeline.at(IP, at(150), 0).identity == b
        assert timeline.at("10.244.1.8", at(150), 0).identity == a


def test_at_many_answers_a_batch_in_order(db: Db) -> None:
    owners = {f"10.0.{i // 250}.{i % 250}": pod(db.cluster, f"p{i}", f"u{i}") for i in range(250)}
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        for address, identity in owners.items():
            timeline.open(address, identity, at(0))
    queries = [(address, at(5)) for address in owners] + [("192.0.2.1", at(5))]
    with db.sessions.begin() as session:
        found = AddressTimeline(session, db.cluster).at_many(queries, 1)
    assert [attribution.identity for attribution in found] == [*owners.values(), None]


def test_clusters_keep_apart(db: Db) -> None:
    a = pod(db.cluster, "web-a", "uid-a")
    with db.sessions.begin() as session:
        AddressTimeline(session, db.cluster).open(IP, a, at(0))
    with db.sessions.begin() as session:
        assert AddressTimeline(session, db.cluster + "-other").at(IP, at(5), 1).identity is None


# -- the lookup against a naive oracle -----------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def oracle_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """One database per backend for every example (each example uses an address of its own)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('oracle') / 'store.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    yield Db(url=url, engine=engine, sessions=session_factory(engine), cluster=f"o-{uuid.uuid4().hex[:10]}")
    engine.dispose()


def oracle(events: list[tuple[float, int | None]], moment: float, skew: float,
           cluster: str) -> tuple[FlowIdentity | None, bool, set[str]]:
    """Owners from a list of (time, owner or None = released) applied in order, by brute force."""
    intervals: list[tuple[float, float | None, int]] = []
    current: tuple[float, int] | None = None
    for time, owner in events:
        if current is not None and (owner is None or owner != current[1]):
            if time > current[0]:
                intervals.append((current[0], time, current[1]))
            current = None
        if owner is not None and current is None:
            current = (time, owner)
    if current is not None:
        intervals.append((current[0], None, current[1]))
    holder = next((o for s, e, o in intervals if s <= moment and (e is None or moment < e)), None)
    near = {o for s, e, o in intervals if s <= moment + skew and (e is None or e > moment - skew)}
    identity = None
    if holder is not None:
        identity = pod(cluster, f"p{holder}", f"u{holder}")
    elif len(near) == 1:
        only = next(iter(near))
        identity = pod(cluster, f"p{only}", f"u{only}")
    return identity, len(near) > 1, {f"u{o}" for o in near} if len(near) > 1 else set()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(1, 30), st.one_of(st.none(), st.integers(0, 3))),
                      min_size=1, max_size=12),
       moments=st.lists(st.integers(-5, 200), min_size=1, max_size=6),
       skew=st.sampled_from([0, 1, 3, 10]))
def test_lookup_matches_a_naive_oracle(oracle_db: Db, steps: list[tuple[int, int | None]],
                                       moments: list[int], skew: int) -> None:
    events: list[tuple[float, int | None]] = []
    time = 0.0
    for gap, owner in steps:
        time += gap
        events.append((time, owner))
    address = f"a-{uuid.uuid4().hex}"
    with oracle_db.sessions.begin() as session:
        timeline = AddressTimeline(session, oracle_db.cluster)
        for moment, owner in events:
            if owner is None:
                timeline.close(address, at(moment))
            else:
                timeline.open(address, pod(oracle_db.cluster, f"p{owner}", f"u{owner}"), at(moment))
    with oracle_db.sessions.begin() as session:
        timeline = AddressTimeline(session, oracle_db.cluster)
        batch = timeline.at_many([(address, at(moment)) for moment in moments], skew)  # one window
        for moment, batched in zip(moments, batch, strict=True):
            found = timeline.at(address, at(moment), skew)
            assert batched == found
            identity, ambiguous, candidates = oracle(events, moment, skew, oracle_db.cluster)
            assert (found.identity, found.ambiguous) == (identity, ambiguous), (events, moment)
            assert {c.pod_uid for c in found.candidates} == candidates


def test_pure_attribution_of_sorted_intervals() -> None:
    a = FlowIdentity(cluster="c", namespace="n", pod="a", pod_uid="a")
    b = FlowIdentity(cluster="c", namespace="n", pod="b", pod_uid="b")
    intervals = [Interval(a, at(0), at(10)), Interval(b, at(10), None)]
    assert attribute(intervals, at(5), timedelta(seconds=1)).identity == a
    assert attribute(intervals, at(10), timedelta(seconds=1)).candidates == (a, b)
    assert attribute([], at(5), timedelta(seconds=1)).identity is None
