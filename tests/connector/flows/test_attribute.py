"""The Attributor: identity from the address timeline and deciding rule from the device-rule
map, both at each line's time, for a whole batch; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.flows.attribute import Attributor
from connector.flows.record import FlowIdentity, FlowLine, FlowRule
from connector.store import AddressTimeline, DeviceRuleMap
from tests.connector.store.conftest import Db, db  # noqa: F401 (the fixture)
from tests.connector.store.postgres import postgres_databases, postgres_url  # noqa: F401
from tests.connector.store.sqllog import statements, touching

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IP = "10.244.1.7"
PAY = FlowRule("ServiceEgressRule", "shop", "pay", "Namespace")
PAY_V2 = FlowRule("ServiceEgressRule", "shop", "pay-v2", "Namespace")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def line(seconds: float, *, src: str = IP, rule: str | None = "fc-pay", rule_id: str | None = None,
         device: str = "fw1", action: str = "Allow") -> FlowLine:
    return FlowLine(time=at(seconds), device=device, action=action, src=src,  # type: ignore[arg-type]
                    dst="203.0.113.10", protocol="TCP", src_port=40000, dst_port=443,
                    device_rule=rule, device_rule_id=rule_id)


@pytest.fixture
def world(db: Db) -> Db:  # noqa: F811
    a = FlowIdentity(cluster=db.cluster, namespace="shop", pod="web-a", pod_uid="uid-a", services=("web",))
    b = FlowIdentity(cluster=db.cluster, namespace="billing", pod="pay-b", pod_uid="uid-b")
    with db.sessions.begin() as session:
        timeline = AddressTimeline(session, db.cluster)
        timeline.open(IP, a, at(0))
        timeline.close(IP, at(100), pod_uid="uid-a")
        timeline.open(IP, b, at(101))
        rules = DeviceRuleMap(session, db.cluster)
        rules.record("fw1", {"fc-pay": PAY, "12": PAY, "fc-default-shop": DEFAULT}, at(0))
        rules.record("fw1", {"fc-pay": PAY_V2, "12": PAY_V2, "fc-default-shop": DEFAULT}, at(150))
    return db


def test_a_batch_is_attributed_line_by_line_at_each_time(world: Db) -> None:
    attributor = Attributor(world.sessions, world.cluster, clock_skew_seconds=2)
    lines = [line(50), line(200), line(100.5), line(300, src="198.51.100.9"),
             line(50, rule="fc-default-shop", action="Deny"), line(50, rule="implicit-deny"),
             line(50, rule=None, rule_id="12"), line(200, rule="Unknown name", rule_id="12"),
             line(50, device="fw2")]
    records = attributor.attribute(lines)
    assert [r.line for r in records] == lines
    pods = [r.identity.pod if r.identity else None for r in records]
    assert pods[:4] == ["web-a", "pay-b", None, None]
    assert records[2].ambiguous and [c.pod for c in records[2].candidates] == ["web-a", "pay-b"]
    assert not records[0].ambiguous and records[0].candidates == ()
    assert [r.rule for r in records] == [PAY, PAY_V2, PAY, PAY_V2, DEFAULT, None, PAY, PAY_V2, None]
    assert records[4].to_json()["rule"] == {"kind": "DefaultAction", "namespace": "shop",
                                            "name": "default", "tier": "Default"}


def test_an_empty_batch_and_a_negative_skew(world: Db) -> None:
    assert Attributor(world.sessions, world.cluster, 0).attribute([]) == []
    with pytest.raises(ValueError, match="clock_skew_seconds"):
        Attributor(world.sessions, world.cluster, -1)


def test_a_batch_costs_one_statement_per_500_addresses_whatever_its_size(world: Db) -> None:
    attributor = Attributor(world.sessions, world.cluster, clock_skew_seconds=2)
    small = [line(50 + i % 7, src=f"10.3.0.{i % 50}") for i in range(50)]
    large = [line(50 + i % 7, src=f"10.3.{i // 250}.{i % 250}") for i in range(1000)] * 5
    with statements(world.engine) as seen:
        attributor.attribute(small)
    assert len(touching(seen, "address_intervals", "SELECT")) == 1
    assert len(touching(seen, "device_rule_refs", "SELECT")) == 1
    with statements(world.engine) as seen:
        records = attributor.attribute(large)
    assert len(records) == 5000
    assert len(touching(seen, "address_intervals", "SELECT")) == 2  # 1000 distinct addresses
    assert len(touching(seen, "device_rule_refs", "SELECT")) == 1
