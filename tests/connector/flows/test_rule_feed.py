"""The device-rule map's feed: after a successful sync, the device's rule references become the
rules behind them in the store, written only when they changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connector.flows.record import FlowRule
from connector.flows.rule_feed import DeviceRuleFeed, device_rules, flow_rule
from connector.model import DeviceState, RuleKind, RuleOrigin, Tier
from connector.store import DeviceRuleMap
from connector.store.models import DeviceRuleRefRow
from tests.adapters.fortios.scenarios import payments_state
from tests.connector.store.conftest import Db, db  # noqa: F401 (the fixture)
from tests.connector.store.postgres import postgres_databases, postgres_url  # noqa: F401

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Names:
    """A stand-in adapter naming each rule `fw-<key>` (and counting the calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def rule_references(self, state: DeviceState) -> Mapping[str, str]:
        self.calls += 1
        return {f"fw-{rule.key}": rule.key for rule in state.rules} | {"foreign": "not-a-key"}


def rows(store: Db) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DeviceRuleRefRow)
                                  .where(DeviceRuleRefRow.cluster == store.cluster)) or 0)


def test_the_default_action_is_the_namespace_default() -> None:
    origin = RuleOrigin(RuleKind.DEFAULT, "payments", "anything", Tier.DEFAULT, 0)
    assert flow_rule(origin) == FlowRule("DefaultAction", "payments", "default", "Default")
    origin = RuleOrigin(RuleKind.CLUSTER, "", "allow-dns", Tier.ADMIN, 10)
    assert flow_rule(origin) == FlowRule("ClusterEgressRule", "", "allow-dns", "Admin")


def test_references_map_to_the_rules_and_unknown_keys_are_left_out() -> None:
    state = payments_state()
    mapped = device_rules(Names(), state)  # type: ignore[arg-type]
    assert "foreign" not in mapped
    assert mapped["fw-allow-db"] == FlowRule("ServiceEgressRule", "payments", "allow-db", "Namespace")
    assert mapped["fw-payments-default"] == FlowRule("DefaultAction", "payments", "default", "Default")


def test_syncs_record_only_changes(db: Db) -> None:  # noqa: F811
    feed = DeviceRuleFeed(db.sessions, db.cluster)
    names = Names()
    state = payments_state()
    adapter = names  # the feed needs only rule_references
    assert feed.synced("fgt", adapter, state, wrote=True, at=T0)  # type: ignore[arg-type]
    assert rows(db) == len(state.rules)
    assert not feed.synced("fgt", adapter, state, wrote=False, at=T0 + timedelta(seconds=1))  # type: ignore[arg-type]
    assert names.calls == 1  # the same state, nothing written: not even asked
    assert not feed.synced("fgt", adapter, state, wrote=True, at=T0 + timedelta(seconds=2))  # type: ignore[arg-type]
    smaller = DeviceState(state.device, state.cluster, state.groups, state.destinations, state.port_sets,
                          state.rules[1:])
    assert feed.synced("fgt", adapter, smaller, wrote=True, at=T0 + timedelta(seconds=10))  # type: ignore[arg-type]
    with db.sessions() as session:
        rule_map = DeviceRuleMap(session, db.cluster)
        gone = f"fw-{state.rules[0].key}"
        assert rule_map.at("fgt", gone, T0 + timedelta(seconds=5)) is not None
        assert rule_map.at("fgt", gone, T0 + timedelta(seconds=15)) is None
    feed.forget()  # a new leader compares with the store: nothing to write
    assert not feed.synced("fgt", adapter, smaller, wrote=False, at=T0 + timedelta(seconds=20))  # type: ignore[arg-type]
    assert rows(db) == len(state.rules)
