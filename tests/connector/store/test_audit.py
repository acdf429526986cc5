"""The audit log of applied plans: append and query by window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.planner.types import Change, Op, Plan
from connector.store import AuditLog, PlanResult
from tests.connector.store.conftest import Db

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def plan(cluster: str, device: str, *changes: Change) -> Plan:
    return Plan(device=device, cluster=cluster, changes=changes, existing=10)


CREATE = Change(
    Op.CREATE, "address", "fc_web_1", after={"subnet": "10.0.0.1/32"}, identities=("Pod/shop/web-1",)
)
DELETE = Change(Op.DELETE, "address", "fc_web_0", before={"subnet": "10.0.0.9/32"})
UPDATE = Change(Op.UPDATE, "policy", "fc_allow", before={"action": "deny"}, after={"action": "accept"})


def test_append_and_read_back_everything(db: Db) -> None:
    applied = plan(db.cluster, "fgt", CREATE, DELETE, UPDATE)
    with db.sessions.begin() as session:
        entry_id = AuditLog(session, db.cluster).append(
            applied,
            PlanResult.PARTIAL,
            1.25,
            error="policy fc_allow: 500",
            forced=True,
            triggers=["Pod/shop/web-1", "NamespaceEgressRule/shop/allow"],
            at=T0,
        )
    with db.sessions.begin() as session:
        (entry,) = AuditLog(session, db.cluster).window()
    assert entry.id == entry_id
    assert (entry.device, entry.applied_at, entry.plan_checksum) == ("fgt", T0, applied.checksum())
    assert entry.changes == tuple(change.to_json() for change in applied.changes)
    assert entry.counts == {"create": 1, "update": 1, "delete": 1, "reorder": 0}
    assert (entry.result, entry.error, entry.duration_seconds, entry.forced) == (
        PlanResult.PARTIAL,
        "policy fc_allow: 500",
        1.25,
        True,
    )
    assert entry.triggers == ("Pod/shop/web-1", "NamespaceEgressRule/shop/allow")


def test_window_bounds_device_filter_and_limit(db: Db) -> None:
    with db.sessions.begin() as session:
        log = AuditLog(session, db.cluster)
        for hour in range(6):
            device = "fgt" if hour % 2 == 0 else "bigip"
            log.append(
                plan(db.cluster, device, CREATE), PlanResult.APPLIED, 0.1, at=T0 + timedelta(hours=hour)
            )
        log.append(
            plan(db.cluster, "fgt"), PlanResult.REFUSED, 0.0, error="unsafe", at=T0 + timedelta(hours=6)
        )
    with db.sessions.begin() as session:
        log = AuditLog(session, db.cluster)
        hours = [int((e.applied_at - T0).total_seconds() // 3600) for e in log.window()]
        assert hours == [0, 1, 2, 3, 4, 5, 6]
        window = log.window(T0 + timedelta(hours=2), T0 + timedelta(hours=5))
        assert [e.applied_at for e in window] == [T0 + timedelta(hours=h) for h in (2, 3, 4)]
        assert [e.device for e in log.window(device="bigip")] == ["bigip"] * 3
        newest = log.window(limit=2)
        assert [e.applied_at for e in newest] == [T0 + timedelta(hours=5), T0 + timedelta(hours=6)]
        assert newest[-1].result is PlanResult.REFUSED and newest[-1].changes == ()
        assert log.window(since=T0 + timedelta(days=1)) == []
        assert AuditLog(session, db.cluster + "-other").window() == []


def test_a_plan_of_another_cluster_is_refused(db: Db) -> None:
    with db.sessions.begin() as session, pytest.raises(ValueError, match="cluster"):
        AuditLog(session, db.cluster).append(plan("elsewhere", "fgt"), PlanResult.APPLIED, 0.1)
