"""Namespaces, source groups and members: round trips, diffs, identities, cluster isolation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.model import Identity, SourceGroup
from connector.store import GroupChanges, NamespaceRecord, SnapshotRepository, clusters, record_cluster_seen
from connector.store.models import AddressGroupRow, AddressMemberRow
from tests.connector.store.conftest import Db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pod(namespace: str, name: str) -> Identity:
    return Identity("Pod", namespace, name)


def group(cluster: str, key: str, members: Mapping[str, tuple[Identity, ...]], **extra: str) -> SourceGroup:
    return SourceGroup(
        key=key,
        cluster=cluster,
        namespace=extra.pop("namespace", "shop"),
        members=tuple(members.items()),
        **extra,
    )


def test_namespaces_round_trip_and_replace(db: Db) -> None:
    first = [
        NamespaceRecord("shop", managed=True, source_mode="pod", default_action="Deny"),
        NamespaceRecord(
            "pay", managed=True, source_mode="egress-ip", default_action="Allow", devices=("bigip-dc1",)
        ),
        NamespaceRecord("kube-system", managed=False),
    ]
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).replace_namespaces(first, T0) == 3
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        assert repo.namespaces() == sorted(first, key=lambda ns: ns.name)
        assert repo.replace_namespaces(first) == 0
        second = [
            NamespaceRecord("shop", managed=True, default_action="None", devices=()),
            NamespaceRecord("new", managed=True),
        ]
        assert repo.replace_namespaces(second) == 4  # 1 updated, 1 created, 2 deleted
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).namespaces() == sorted(second, key=lambda ns: ns.name)


def test_groups_round_trip_with_the_identities_behind_every_address(db: Db) -> None:
    web = group(
        db.cluster,
        "svc/shop/web",
        {
            "10.0.0.2": (pod("shop", "web-1"),),
            "10.0.0.10": (pod("shop", "web-2"), pod("shop", "web-3")),  # hostNetwork pods share an IP
            "fd00::5": (pod("shop", "web-6"),),
        },
        service="web",
        purpose="service",
    )
    nodes = group(
        db.cluster,
        "node/shop",
        {"192.168.1.1": (Identity("Node", "", "node-a"),), "192.168.1.2": ()},
        purpose="node",
    )
    with db.sessions.begin() as session:
        changes = SnapshotRepository(session, db.cluster).replace_groups([web, nodes], T0)
    assert changes == GroupChanges(created=2, members_added=6)
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        stored = repo.groups()
        assert stored == {web.key: web, nodes.key: nodes}
        assert repo.group("svc/shop/web") == web
        assert repo.group("absent") is None
        assert repo.groups_containing("10.0.0.10") == {
            "svc/shop/web": (pod("shop", "web-2"), pod("shop", "web-3"))
        }
        assert repo.groups_containing("192.168.1.2") == {"node/shop": ()}
        assert repo.groups_containing("10.9.9.9") == {}
        assert set(repo.group_keys()) == {web.key, nodes.key}


def n1_member_ids(session: Session, cluster: str) -> dict[str, int]:
    return {
        address: member_id
        for address, member_id in session.execute(
            select(AddressMemberRow.address, AddressMemberRow.id).where(
                AddressMemberRow.cluster == cluster, AddressMemberRow.identity_namespace == "n1"
            )
        )
    }


def test_only_changed_groups_and_members_are_written(db: Db) -> None:
    groups = [
        group(
            db.cluster,
            f"ns/n{i}",
            {f"10.1.{i}.{j}": (pod(f"n{i}", f"p{j}"),) for j in range(1, 6)},
            namespace=f"n{i}",
        )
        for i in range(4)
    ]
    with db.sessions.begin() as session:
        SnapshotRepository(session, db.cluster).replace_groups(groups, T0)
    changed = dict(groups[1].members)
    del changed["10.1.1.1"]
    changed["10.1.1.99"] = (pod("n1", "p99"),)
    changed["10.1.1.2"] = (pod("n1", "p2-renamed"),)
    groups[1] = group(db.cluster, "ns/n1", changed, namespace="n1")
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        member_ids = n1_member_ids(session, db.cluster)
        changes = repo.replace_groups([*groups[:3], groups[1]], datetime(2026, 1, 2, tzinfo=UTC))
        assert changes == GroupChanges(updated=1, deleted=1, unchanged=2, members_added=2, members_removed=2)
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        assert repo.groups() == {g.key: g for g in groups[:3]}
        kept = n1_member_ids(session, db.cluster)
        for address in ("10.1.1.3", "10.1.1.4", "10.1.1.5"):  # untouched members keep their rows
            assert kept[address] == member_ids[address]
        updated = session.execute(
            select(AddressGroupRow.key, AddressGroupRow.updated_at).where(
                AddressGroupRow.cluster == db.cluster
            )
        )
        assert {key: at.day for key, at in updated} == {"ns/n0": 1, "ns/n1": 2, "ns/n2": 1}


def test_upsert_and_delete_leave_other_groups_alone(db: Db) -> None:
    a = group(db.cluster, "a", {"10.0.0.1": (pod("shop", "a"),)})
    b = group(db.cluster, "b", {"10.0.0.2": (pod("shop", "b"),)})
    c = group(db.cluster, "c", {"10.0.0.3": (pod("shop", "c"),)})
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        repo.replace_groups([a, b])
        assert repo.upsert_groups([c]) == GroupChanges(created=1, members_added=1)
        assert repo.delete_groups(["a", "absent"]) == 1
    with db.sessions.begin() as session:
        repo = SnapshotRepository(session, db.cluster)
        assert repo.groups() == {"b": b, "c": c}
        orphans = session.scalar(
            select(func.count())
            .select_from(AddressMemberRow)
            .where(AddressMemberRow.cluster == db.cluster, AddressMemberRow.address == "10.0.0.1")
        )
        assert orphans == 0


def test_large_groups_are_written_and_shrunk_in_bulk(db: Db) -> None:
    members = {f"10.{i // 65536}.{i // 256 % 256}.{i % 256}": (pod("big", f"p{i}"),) for i in range(6000)}
    big = group(db.cluster, "ns/big", members, namespace="big")
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).replace_groups([big]).members_added == 6000
    smaller = group(db.cluster, "ns/big", dict(list(members.items())[1500:]), namespace="big")
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).replace_groups([smaller]).members_removed == 1500
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).groups() == {"ns/big": smaller}


def test_clusters_sharing_a_database_stay_apart(db: Db) -> None:
    other = db.cluster + "-other"
    mine = group(db.cluster, "ns/shop", {"10.0.0.1": (pod("shop", "a"),)})
    theirs = group(other, "ns/shop", {"10.0.0.1": (pod("shop", "z"),), "10.0.0.2": ()})
    with db.sessions.begin() as session:
        SnapshotRepository(session, db.cluster).replace_groups([mine])
        SnapshotRepository(session, other).replace_groups([theirs])
        SnapshotRepository(session, other).replace_namespaces([NamespaceRecord("shop", managed=True)])
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, db.cluster).replace_groups([]).deleted == 1
        assert SnapshotRepository(session, db.cluster).namespaces() == []
    with db.sessions.begin() as session:
        assert SnapshotRepository(session, other).groups() == {"ns/shop": theirs}
        assert SnapshotRepository(session, db.cluster).groups() == {}


def test_a_group_of_another_cluster_is_refused(db: Db) -> None:
    with db.sessions.begin() as session, pytest.raises(ValueError, match="belongs to cluster"):
        SnapshotRepository(session, db.cluster).replace_groups([group("elsewhere", "k", {})])


def test_repositories_never_commit(db: Db) -> None:
    session = db.sessions()
    try:
        SnapshotRepository(session, db.cluster).replace_groups([group(db.cluster, "k", {"10.0.0.1": ()})])
        session.rollback()
        assert SnapshotRepository(session, db.cluster).groups() == {}
    finally:
        session.close()


def test_clusters_are_listed_with_when_they_were_last_seen(db: Db) -> None:
    t1 = datetime(2026, 1, 5, tzinfo=UTC)
    with db.sessions.begin() as session:
        SnapshotRepository(session, db.cluster).replace_namespaces([], T0)
        record_cluster_seen(session, db.cluster + "-b", T0)
        record_cluster_seen(session, db.cluster, t1)
    with db.sessions.begin() as session:
        mine = {c.name: c for c in clusters(session) if c.name.startswith(db.cluster)}
    assert set(mine) == {db.cluster, db.cluster + "-b"}
    assert (mine[db.cluster].created_at, mine[db.cluster].last_seen_at) == (T0, t1)
    assert mine[db.cluster + "-b"].last_seen_at == T0
