"""The address timeline's feed: who holds each source address from the watch changes the compiler
took (pods with all their IPs and Services, egress IPs, node addresses), incrementally equal to a
rebuild, and written to the store only while leading, without duplicate intervals on restart."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.cluster import Kind, ObjectChange, StaticView
from connector.compiler import Compiler
from connector.flows.attribute import Attributor
from connector.flows.record import FlowIdentity, FlowLine, rfc3339
from connector.flows.timeline_feed import (
    AddressBook,
    AddressChange,
    TimelineFeed,
    TimelineWriter,
    reconcile,
    wall_time,
    write_changes,
)
from connector.sources.transform import transform
from connector.store import AddressTimeline
from tests.connector.compiler.builders import egress_ip, endpoint_slice, namespace, node, pod, settings
from tests.connector.store.conftest import Db, db  # noqa: F401 (the fixture)
from tests.connector.store.postgres import postgres_databases, postgres_url  # noqa: F401

Obj = dict[str, Any]
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SKEW = 0.5


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def with_uid(obj: Obj, uid: str) -> Obj:
    obj["metadata"]["uid"] = uid
    return obj


def world() -> list[Obj]:
    return [
        namespace("shop"), namespace("billing"),
        namespace("edge", annotations={"fusion-connector.io/source-mode": "egress-ip",
                                       "fusion-connector.io/egress-ips": "192.0.2.10"}),
        namespace("legacy", annotations={"fusion-connector.io/source-mode": "node"}),
        with_uid(pod("shop", "web-1", ["10.1.0.5", "fd00::5"], node="node1"), "uid-web-1"),
        with_uid(pod("shop", "db-1", "10.1.0.6", node="node2"), "uid-db-1"),
        with_uid(pod("shop", "host", "10.0.0.1", node="node1", host_network=True), "uid-host"),
        with_uid(pod("shop", "done", "10.1.0.9", phase="Succeeded"), "uid-done"),
        endpoint_slice("shop", "web", ["10.1.0.5", "fd00::5"]),
        endpoint_slice("shop", "all", ["10.1.0.5", "10.1.0.6"]),
        node("node1", "10.0.0.1"), node("node2", "10.0.0.2"),
    ]


class Cluster:
    """A compiler and an address book fed the same changes, as the reconcile loop feeds them."""

    def __init__(self, objects: list[Obj]) -> None:
        self.view = StaticView(objects)
        self.compiler = Compiler(settings())
        self.compiler.full(self.view)
        self.book = AddressBook("c1")
        self.first = self.book.rebuild(self.view, self.compiler)

    def put(self, *objects: Obj) -> list[AddressChange]:
        return self.apply([self.view.put(obj) for obj in objects])

    def delete(self, kind: Any, namespace: str, name: str) -> list[AddressChange]:
        change = self.view.delete(kind, namespace, name)
        assert change is not None
        return self.apply([change])

    def apply(self, changes: list[ObjectChange]) -> list[AddressChange]:
        self.compiler.apply(changes)
        return self.book.apply(changes, self.compiler)


def test_every_source_address_the_connector_sees_has_its_holder() -> None:
    cluster = Cluster(world())
    holders = cluster.book.holders
    web = FlowIdentity(cluster="c1", namespace="shop", pod="web-1", pod_uid="uid-web-1",
                       services=("all", "web"), node="node1", source_mode="pod")
    assert holders["10.1.0.5"] == web
    assert holders["fd00::5"] == web  # every podIP
    assert holders["10.1.0.6"].services == ("all",) and holders["10.1.0.6"].pod == "db-1"
    assert holders["192.0.2.10"] == FlowIdentity(cluster="c1", namespace="edge", source_mode="egress-ip")
    # the host network pod holds no address of its own: the node address stays the node's
    assert holders["10.0.0.1"] == FlowIdentity(cluster="c1", namespace="legacy", node="node1",
                                               source_mode="node")
    assert "10.1.0.9" not in holders  # a finished pod released its address
    assert sorted(c.address for c in cluster.first) == sorted(holders)


def test_address_reuse_and_service_changes_are_changes_of_their_addresses_only() -> None:
    cluster = Cluster(world())
    gone = cluster.delete(Kind.POD, "shop", "db-1")
    assert gone == [AddressChange("10.1.0.6", None)]
    taken = cluster.put(with_uid(pod("billing", "pay-1", "10.1.0.6", node="node2"), "uid-pay-1"))
    assert [(c.address, c.identity and c.identity.pod) for c in taken] == [("10.1.0.6", "pay-1")]
    moved = cluster.put(endpoint_slice("shop", "all", ["10.1.0.6"]))  # web-1 leaves Service all
    assert [(c.address, c.identity and c.identity.services) for c in moved] == [
        ("10.1.0.5", ("web",)), ("fd00::5", ("web",))]
    assert cluster.put(endpoint_slice("shop", "web", ["10.1.0.5"])) == []  # nothing changed


def test_namespace_settings_move_egress_and_node_addresses() -> None:
    cluster = Cluster(world())
    changes = cluster.put(namespace("edge", annotations={"fusion-connector.io/source-mode": "egress-ip",
                                                         "fusion-connector.io/egress-ips": "192.0.2.11"}))
    assert [(c.address, c.identity is not None) for c in changes] == [("192.0.2.10", False),
                                                                      ("192.0.2.11", True)]
    # a second node-mode namespace: a node address no longer names one namespace
    changes = cluster.put(namespace("billing", annotations={"fusion-connector.io/source-mode": "node"}))
    assert {c.address: c.identity.namespace for c in changes if c.identity} == {"10.0.0.1": "",
                                                                                "10.0.0.2": ""}
    # an OVN EgressIP selecting a namespace in egress-ip mode without the annotation
    changes = cluster.put(namespace("ovn", labels={"team": "ovn"},
                                    annotations={"fusion-connector.io/source-mode": "egress-ip"}),
                          egress_ip("eip", {"matchLabels": {"team": "ovn"}}, "192.0.2.20"))
    assert [(c.address, c.identity and c.identity.namespace) for c in changes] == [("192.0.2.20", "ovn")]


def test_incremental_changes_equal_a_rebuild() -> None:
    rng = random.Random(7)
    cluster = Cluster(world())
    for step in range(300):
        choice = rng.random()
        name = f"p{rng.randrange(12)}"
        if choice < 0.5:
            ips = [f"10.2.0.{rng.randrange(8)}"]
            if rng.random() < 0.3:
                ips.append(f"fd00::{rng.randrange(4)}")
            phase = "Succeeded" if rng.random() < 0.1 else "Running"
            cluster.put(with_uid(pod(rng.choice(["shop", "billing"]), name, ips, phase=phase,
                                     node=rng.choice(["node1", "node2"])), f"uid-{step}"))
        elif choice < 0.7:
            for ns in ("shop", "billing"):
                if cluster.view.get(Kind.POD, ns, name) is not None:
                    cluster.delete(Kind.POD, ns, name)
        elif choice < 0.85:
            cluster.put(endpoint_slice("shop", f"s{rng.randrange(3)}",
                                       [f"10.2.0.{rng.randrange(8)}" for _ in range(rng.randrange(3))]))
        elif choice < 0.95:
            cluster.put(node(rng.choice(["node1", "node2", "node3"]), f"10.0.0.{rng.randrange(5)}"))
        else:
            mode = rng.choice(["pod", "node", "egress-ip"])
            cluster.put(namespace("billing", annotations={"fusion-connector.io/source-mode": mode,
                                                          "fusion-connector.io/egress-ips": "192.0.2.30"}))
        fresh = AddressBook("c1")
        fresh.rebuild(cluster.view, cluster.compiler)
        assert cluster.book.holders == fresh.holders, step


# -- writing the store ---------------------------------------------------------------------------

def timeline_at(store: Db, address: str, seconds: float) -> FlowIdentity | None:
    with store.sessions() as session:
        return AddressTimeline(session, store.cluster).at(address, at(seconds), SKEW).identity


def test_the_writer_writes_changes_in_order_only_while_leading(db: Db) -> None:  # noqa: F811
    leading = [False]
    writer = TimelineWriter(db.sessions, db.cluster, lambda: leading[0]).start()
    a = FlowIdentity(cluster=db.cluster, namespace="shop", pod="a", pod_uid="ua")
    b = FlowIdentity(cluster=db.cluster, namespace="shop", pod="b", pod_uid="ub")
    try:
        writer.changes([AddressChange("10.1.0.5", a)], at(0))
        assert writer.flush(10)
        assert timeline_at(db, "10.1.0.5", 5) is None  # a standby writes nothing
        leading[0] = True
        writer.changes([AddressChange("10.1.0.5", a)], at(10))
        writer.changes([AddressChange("10.1.0.5", None)], at(20))
        writer.changes([AddressChange("10.1.0.5", b)], at(30))
        assert writer.flush(10)
    finally:
        writer.stop()
    assert [timeline_at(db, "10.1.0.5", s) for s in (5, 15, 25, 35)] == [None, a, None, b]
    assert writer.failures == 0


def test_a_restart_reconciles_without_duplicating_intervals(db: Db) -> None:  # noqa: F811
    cluster = Cluster(world())
    holders = {address: FlowIdentity(**{**vars_of(identity), "cluster": db.cluster})
               for address, identity in cluster.book.holders.items()}
    with db.sessions.begin() as session:
        assert reconcile(AddressTimeline(session, db.cluster), holders, at(0)) == len(holders)
    with db.sessions.begin() as session:  # the restart: the same picture writes nothing
        assert reconcile(AddressTimeline(session, db.cluster), holders, at(100)) == 0
    moved = dict(holders)
    del moved["10.1.0.6"]
    moved["10.1.0.7"] = holders["10.1.0.6"]
    with db.sessions.begin() as session:
        assert reconcile(AddressTimeline(session, db.cluster), moved, at(200)) == 2
        assert AddressTimeline(session, db.cluster).holders() == moved
    assert timeline_at(db, "10.1.0.6", 150) == holders["10.1.0.6"]
    assert timeline_at(db, "10.1.0.6", 250) is None
    assert timeline_at(db, "10.1.0.7", 250) == holders["10.1.0.6"]


def test_the_feed_follows_the_loop(db: Db) -> None:  # noqa: F811
    objects = world()
    view = StaticView(objects)
    compiler = Compiler(settings())
    compiler.full(view)
    writer = TimelineWriter(db.sessions, db.cluster, lambda: True).start()
    feed = TimelineFeed(AddressBook(db.cluster), writer, compiler)
    try:
        feed.rebuilt(view)
        changes = [view.put(with_uid(pod("shop", "db-1", "10.1.0.8", node="node2"), "uid-db-1"))]
        compiler.apply(changes)
        feed.changed(changes)
        feed.leading()
        assert writer.flush(10)
    finally:
        writer.stop()
    with db.sessions() as session:
        stored = AddressTimeline(session, db.cluster).holders()
    assert stored == feed.book.holders
    assert "10.1.0.6" not in stored and stored["10.1.0.8"].pod == "db-1"


def test_wall_time_of_a_monotonic_reading() -> None:
    now = datetime.now(UTC)
    assert abs((wall_time(time.monotonic() - 5) - (now - timedelta(seconds=5))).total_seconds()) < 1
    assert wall_time(None) >= now


# -- when a holder began to hold its address ------------------------------------------------------

def created_at(obj: Obj, moment: datetime, started: datetime | None = None) -> Obj:
    obj["metadata"]["creationTimestamp"] = rfc3339(moment)
    if started is not None:
        obj["status"]["startTime"] = rfc3339(started)
    return obj


def pod_at(store: Db, address: str, seconds: float) -> str | None:
    found = timeline_at(store, address, seconds)
    return found.pod if found is not None else None


def attributed(store: Db, address: str, moment: datetime) -> FlowIdentity | None:
    line = FlowLine(time=moment, device="fgt", action="Allow", src=address, dst="198.51.100.10",
                    protocol="TCP", dst_port=443)
    record = Attributor(store.sessions, store.cluster, SKEW).attribute([line])[0]
    return record.identity


def test_a_pod_older_than_the_connector_holds_its_address_from_its_start(db: Db) -> None:  # noqa: F811
    start = datetime.now(UTC).replace(microsecond=0)  # the connector starts now
    created = start - timedelta(minutes=10)
    old = created_at(with_uid(pod("shop", "web-1", "10.1.0.5"), "uid-web-1"), created,
                     created + timedelta(seconds=3))
    young = created_at(with_uid(pod("shop", "db-1", "10.1.0.6"), "uid-db-1"), start - timedelta(seconds=30))
    objects = [namespace("shop"), *(transform(Kind.POD, p) for p in (old, young))]  # as the watch cache
    view = StaticView(objects)
    compiler = Compiler(settings())
    compiler.full(view)
    writer = TimelineWriter(db.sessions, db.cluster, lambda: True).start()
    try:
        TimelineFeed(AddressBook(db.cluster), writer, compiler).rebuilt(view)
        assert writer.flush(10)
    finally:
        writer.stop()
    web = attributed(db, "10.1.0.5", start - timedelta(minutes=5))  # logged before the start
    assert web is not None and (web.pod, web.pod_uid) == ("web-1", "uid-web-1")
    # from the kubelet's start (the later bound), not before: it held no address then
    assert attributed(db, "10.1.0.5", created + timedelta(seconds=1)) is None
    assert attributed(db, "10.1.0.5", created + timedelta(seconds=4)) == web
    assert attributed(db, "10.1.0.6", start - timedelta(minutes=5)) is None  # not created yet
    found = attributed(db, "10.1.0.6", start - timedelta(seconds=20))
    assert found is not None and found.pod == "db-1"


def test_a_new_owner_never_starts_before_the_previous_owner_ended(db: Db) -> None:  # noqa: F811
    cluster = Cluster(world())
    with db.sessions.begin() as session:
        reconcile(AddressTimeline(session, db.cluster), cluster.book.holders, at(0))
    gone = cluster.delete(Kind.POD, "shop", "db-1")
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), gone, at(100))
    # created before db-1's interval ended (the deletion was seen late), seen at 110
    taken = cluster.put(created_at(with_uid(pod("billing", "pay-1", "10.1.0.6"), "uid-pay-1"), at(90)))
    assert [(c.address, c.since) for c in taken] == [("10.1.0.6", at(90))]
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), taken, at(110))
    with db.sessions() as session:
        before, after = (AddressTimeline(session, db.cluster).at("10.1.0.6", at(s), SKEW) for s in (95, 101))
    # no overlap: neither is ambiguous
    assert before.identity is not None and before.identity.pod == "db-1" and not before.ambiguous
    assert after.identity is not None and after.identity.pod == "pay-1" and not after.ambiguous
    # created after that end: its own start
    gone = cluster.delete(Kind.POD, "billing", "pay-1")
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), gone, at(200))
    taken = cluster.put(created_at(with_uid(pod("billing", "pay-2", "10.1.0.6"), "uid-pay-2"), at(204)))
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), taken, at(230))
    assert [timeline_at(db, "10.1.0.6", s) for s in (202,)] == [None]
    assert pod_at(db, "10.1.0.6", 205) == "pay-2"
    # an owner taking an address another still holds (a terminating pod's stale status) starts
    # when seen: the open interval ends there
    stale = with_uid(pod("shop", "web-1", ["10.1.0.5", "fd00::5"], node="node1"), "uid-web-1")
    stale["metadata"]["deletionTimestamp"] = rfc3339(at(300))
    changes = cluster.put(stale)
    changes += cluster.put(created_at(with_uid(pod("billing", "web-2", "10.1.0.5"), "uid-web-2"), at(250)))
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), changes, at(310))
    assert pod_at(db, "10.1.0.5", 305) == "web-1"
    assert pod_at(db, "10.1.0.5", 311) == "web-2"
    # a start the API server dates after the connector's clock: the interval starts when seen
    gone = cluster.delete(Kind.POD, "billing", "web-2")
    taken = cluster.put(created_at(with_uid(pod("billing", "web-3", "10.1.0.5"), "uid-web-3"), at(500)))
    with db.sessions.begin() as session:
        write_changes(AddressTimeline(session, db.cluster), gone, at(400))
        write_changes(AddressTimeline(session, db.cluster), taken, at(410))
    assert pod_at(db, "10.1.0.5", 411) == "web-3"


def test_nodes_and_egress_ips_date_from_their_objects_when_first_seen() -> None:
    objects = world()
    for obj in objects:
        if obj["kind"] in ("Node", "Namespace"):
            created_at(obj, at(-3600))
    cluster = Cluster(objects)
    since = {c.address: c.since for c in cluster.first}
    assert since["10.0.0.2"] == at(-3600)  # node2's InternalIP
    assert since["192.0.2.10"] == at(-3600)  # namespace edge's annotated egress IP
    assert since["10.1.0.6"] is None  # a pod with no creation time: when seen
    # an address a known node gains later is dated when seen, not by the node's age
    changes = cluster.put(created_at(node("node2", "10.0.0.2", "10.0.0.7"), at(-3600)))
    assert [(c.address, c.since) for c in changes] == [("10.0.0.7", None)]
    # a new node, a namespace's new annotation, a new EgressIP
    changes = cluster.put(created_at(node("node3", "10.0.0.3"), at(-60)))
    assert [(c.address, c.since) for c in changes] == [("10.0.0.3", at(-60))]
    edge = namespace("edge", annotations={"fusion-connector.io/source-mode": "egress-ip",
                                          "fusion-connector.io/egress-ips": "192.0.2.10, 192.0.2.11"})
    changes = cluster.put(created_at(edge, at(-3600)))
    assert [(c.address, c.since) for c in changes] == [("192.0.2.11", None)]
    ovn = created_at(namespace("ovn", labels={"team": "ovn"},
                               annotations={"fusion-connector.io/source-mode": "egress-ip"}), at(-600))
    eip = created_at(egress_ip("eip", {"matchLabels": {"team": "ovn"}}, "192.0.2.20"), at(-120))
    changes = cluster.put(ovn, eip)
    assert [(c.address, c.since) for c in changes] == [("192.0.2.20", at(-120))]  # the later one
    # a restart: everything is new to the new book; a re-list in the same process keeps the dates
    assert cluster.book.since_of("192.0.2.20") == int(at(-120).timestamp())
    cluster.book.rebuild(cluster.view, cluster.compiler)
    assert cluster.book.since_of("192.0.2.20") == int(at(-120).timestamp())
    assert cluster.book.since_of("10.0.0.7") == 0 and cluster.book.since_of("10.0.0.2") > 0
    fresh = AddressBook("c1")
    fresh.rebuild(cluster.view, cluster.compiler)
    assert {c.address: c.since for c in fresh.rebuild(cluster.view, cluster.compiler)} == {}
    assert fresh.since_of("10.0.0.7") == int(at(-3600).timestamp())


def vars_of(identity: FlowIdentity) -> dict[str, Any]:
    return {name: getattr(identity, name) for name in identity.__slots__}
