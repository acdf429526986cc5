"""The device-rule map over time: references recorded after syncs, changes only, lookup at a
moment, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connector.flows.record import FlowRule
from connector.store import DeviceRuleMap
from connector.store.models import DeviceRuleRefRow
from connector.store.rule_map import rule_at
from tests.connector.store.conftest import Db

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ALLOW_DNS = FlowRule("ClusterEgressRule", "", "allow-dns", "Admin")
PAY = FlowRule("ServiceEgressRule", "shop", "pay", "Namespace")
PAY_V2 = FlowRule("ServiceEgressRule", "shop", "pay-v2", "Namespace")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rows(db: Db) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DeviceRuleRefRow)
                                  .where(DeviceRuleRefRow.cluster == db.cluster)) or 0)


def test_a_reference_maps_to_the_rule_it_stood_for_at_the_time(db: Db) -> None:
    with db.sessions.begin() as session:
        rules = DeviceRuleMap(session, db.cluster)
        rules.record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY, "7": PAY, "fc-9": DEFAULT}, at(0))
        rules.record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY_V2, "7": PAY_V2, "fc-9": DEFAULT}, at(100))
        rules.record("fw1", {"fc-1": ALLOW_DNS, "fc-9": DEFAULT}, at(200))
    with db.sessions() as session:
        rules = DeviceRuleMap(session, db.cluster)
        assert rules.at("fw1", "fc-2", at(50)) == PAY
        assert rules.at("fw1", "fc-2", at(150)) == PAY_V2
        assert rules.at("fw1", "7", at(150)) == PAY_V2
        assert rules.at("fw1", "fc-2", at(250)) is None  # removed
        assert rules.at("fw1", "fc-2", at(-1)) is None  # before it existed
        assert rules.at("fw1", "fc-9", at(250)) == DEFAULT
        assert rules.at("fw2", "fc-1", at(50)) is None  # another device
        assert rules.at("fw1", "implicit-deny", at(50)) is None  # not ours
        history = rules.history([("fw1", "fc-2"), ("fw1", "nothing")])
        assert [rule_at(history[("fw1", "fc-2")], at(s)) for s in (-1, 0, 99, 100, 199, 200)] == \
            [None, PAY, PAY, PAY_V2, PAY_V2, None]
        assert ("fw1", "nothing") not in history


def test_recording_the_same_mapping_writes_nothing(db: Db) -> None:
    with db.sessions.begin() as session:
        DeviceRuleMap(session, db.cluster).record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY}, at(0))
    assert rows(db) == 2
    with db.sessions.begin() as session:
        rules = DeviceRuleMap(session, db.cluster)
        assert not rules.record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY}, at(10))
        assert not session.dirty and not session.new
    assert rows(db) == 2
    with db.sessions.begin() as session:
        assert DeviceRuleMap(session, db.cluster).record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY_V2}, at(20))
    assert rows(db) == 3  # one closed, one opened; fc-1 untouched


def test_prune_keeps_open_references(db: Db) -> None:
    with db.sessions.begin() as session:
        rules = DeviceRuleMap(session, db.cluster)
        rules.record("fw1", {"fc-1": ALLOW_DNS, "fc-2": PAY}, at(0))
        rules.record("fw1", {"fc-1": ALLOW_DNS}, at(10))
        assert rules.prune(at(5)) == 0
        assert rules.prune(at(11)) == 1
        assert rules.at("fw1", "fc-1", at(1000)) == ALLOW_DNS
        assert rules.devices() == ["fw1"]
