"""Drift findings: open while observed, resolved when gone, queried by window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from connector.planner.types import Change, Op, Plan
from connector.store import DriftObservation, DriftRepository, DriftUpdate, FindingType
from connector.store.models import DriftFindingRow
from tests.connector.store.conftest import Db

T0 = datetime(2026, 6, 1, tzinfo=UTC)
MISSING = DriftObservation(
    "address", "fc_web_1", FindingType.MISSING, {"required": {"subnet": "10.0.0.1/32"}}, ("Pod/shop/web-1",)
)
DIFFERENT = DriftObservation(
    "policy",
    "fc_allow",
    FindingType.DIFFERENT,
    {"device": {"action": "deny"}, "required": {"action": "accept"}},
    ("NamespaceEgressRule/shop/allow",),
)
UNEXPECTED = DriftObservation("address", "fc_old", FindingType.UNEXPECTED)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_finding_lifecycle(db: Db) -> None:
    with db.sessions.begin() as session:
        drift = DriftRepository(session, db.cluster)
        assert drift.observe("fgt", [MISSING, DIFFERENT], at(0)) == DriftUpdate(opened=2)
        assert drift.observe("bigip", [UNEXPECTED], at(0)) == DriftUpdate(opened=1)
    changed_detail = DriftObservation(
        "policy",
        "fc_allow",
        FindingType.DIFFERENT,
        {"device": {"action": "reject"}},
        ("NamespaceEgressRule/shop/allow",),
    )
    with db.sessions.begin() as session:
        drift = DriftRepository(session, db.cluster)
        assert drift.observe("fgt", [changed_detail], at(5)) == DriftUpdate(still_open=1, resolved=1)
    with db.sessions.begin() as session:
        drift = DriftRepository(session, db.cluster)
        (policy,) = drift.open_findings("fgt")
        assert (policy.kind, policy.name, policy.finding) == ("policy", "fc_allow", FindingType.DIFFERENT)
        assert (policy.first_seen, policy.last_seen, policy.open) == (at(0), at(5), True)
        assert policy.detail == {"device": {"action": "reject"}}
        assert policy.identities == ("NamespaceEgressRule/shop/allow",)
        everything = drift.findings(device="fgt")
        resolved = [f for f in everything if not f.open]
        assert [(f.name, f.resolved_at, f.last_seen) for f in resolved] == [("fc_web_1", at(5), at(0))]
        assert [f.device for f in drift.open_findings()] == ["bigip", "fgt"]
        # the same difference seen again later is a new finding; the old one stays resolved
        assert drift.observe("fgt", [MISSING, changed_detail], at(10)) == DriftUpdate(opened=1, still_open=1)
        missing = [f for f in drift.findings(device="fgt") if f.name == "fc_web_1"]
        assert [(f.first_seen, f.resolved_at) for f in missing] == [(at(0), at(5)), (at(10), None)]
        # an empty observation means the device is in sync
        assert drift.observe("fgt", [], at(15)) == DriftUpdate(resolved=2)
        assert drift.open_findings("fgt") == []
        assert [f.name for f in drift.open_findings()] == ["fc_old"]


def test_findings_by_window(db: Db) -> None:
    with db.sessions.begin() as session:
        drift = DriftRepository(session, db.cluster)
        drift.observe("fgt", [MISSING], at(0))
        drift.observe("fgt", [DIFFERENT], at(10))  # MISSING resolved at 10
        drift.observe("fgt", [], at(20))  # DIFFERENT resolved at 20
        drift.observe("fgt", [UNEXPECTED], at(30))  # still open

        def names(since: datetime | None, until: datetime | None) -> list[str]:
            return sorted(f.name for f in drift.findings(since, until))

        assert names(None, None) == ["fc_allow", "fc_old", "fc_web_1"]
        assert names(at(11), at(25)) == ["fc_allow"]
        assert names(at(10), at(11)) == ["fc_allow", "fc_web_1"]
        assert names(at(21), None) == ["fc_old"]
        assert names(None, at(5)) == ["fc_web_1"]


def test_at_most_one_open_finding_per_object_and_type(db: Db) -> None:
    with db.sessions.begin() as session:
        DriftRepository(session, db.cluster).observe("fgt", [MISSING], at(0))
    session = db.sessions()
    try:
        session.add(
            DriftFindingRow(
                cluster=db.cluster,
                device="fgt",
                kind="address",
                name="fc_web_1",
                finding="missing",
                detail={},
                identities=[],
                first_seen=at(1),
                last_seen=at(1),
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
    finally:
        session.rollback()
        session.close()


def test_observations_from_a_plan() -> None:
    from connector.store import observations_from_plan

    plan = Plan(
        device="fgt",
        cluster="c",
        changes=(
            Change(Op.CREATE, "address", "a", after={"subnet": "10.0.0.1/32"}, identities=("Pod/shop/a",)),
            Change(Op.DELETE, "address", "b", before={"subnet": "10.0.0.2/32"}),
            Change(Op.UPDATE, "policy", "p", before={"action": "deny"}, after={"action": "accept"}),
            Change(Op.REORDER, "policy", "policy", after={"order": ["p", "q"]}),
        ),
    )
    assert observations_from_plan(plan) == [
        DriftObservation(
            "address", "a", FindingType.MISSING, {"required": {"subnet": "10.0.0.1/32"}}, ("Pod/shop/a",)
        ),
        DriftObservation("address", "b", FindingType.UNEXPECTED, {"device": {"subnet": "10.0.0.2/32"}}),
        DriftObservation(
            "policy",
            "p",
            FindingType.DIFFERENT,
            {"device": {"action": "deny"}, "required": {"action": "accept"}},
        ),
        DriftObservation("policy", "policy", FindingType.DIFFERENT, {"required": {"order": ["p", "q"]}}),
    ]


def test_only_changes_behind_our_back_count_when_what_we_pushed_is_known() -> None:
    from connector.model import checksum
    from connector.store import observations_from_plan

    wrote = {"subnet": "10.0.0.9/32"}
    pushed = {("address", "gone"): checksum(wrote), ("address", "edited"): checksum(wrote),
              ("address", "retired"): checksum(wrote), ("address", "moved-on"): checksum(wrote)}
    plan = Plan(
        device="fgt",
        cluster="c",
        changes=(
            Change(Op.CREATE, "address", "new-pod", after=wrote),  # the cluster gained a pod
            Change(Op.CREATE, "address", "gone", after=wrote),  # we wrote it; someone removed it
            Change(Op.UPDATE, "address", "edited", before={"subnet": "10.9.9.9/32"}, after=wrote),
            Change(Op.UPDATE, "address", "moved-on", before=wrote, after={"subnet": "10.0.0.8/32"}),
            Change(Op.DELETE, "address", "retired", before=wrote),  # the cluster dropped it
            Change(Op.DELETE, "address", "stray", before=wrote),  # our mark, never written by us
            Change(Op.REORDER, "policy", "policy", after={"order": ["p", "q"]}),
        ),
    )
    found = {(o.name, o.finding) for o in observations_from_plan(plan, pushed)}
    assert found == {("gone", FindingType.MISSING), ("edited", FindingType.DIFFERENT),
                     ("stray", FindingType.UNEXPECTED)}
