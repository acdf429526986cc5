"""Compiled rules per device: order, round trip, no-op rewrites, lookup by origin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connector.model import Action, CompiledRule, DeviceState, RuleKind, RuleOrigin, Tier
from connector.store import RuleRepository
from connector.store.models import CompiledRuleRow
from tests.connector.store.conftest import Db
from tests.connector.store.sqllog import statements


def rule(
    key: str,
    kind: RuleKind = RuleKind.NAMESPACE,
    name: str = "r",
    priority: int = 500,
    action: Action = Action.ALLOW,
    destination: str | None = "dst/stripe",
    ports: str | None = None,
    logging: bool = False,
) -> CompiledRule:
    tier = {RuleKind.CLUSTER: Tier.ADMIN, RuleKind.DEFAULT: Tier.DEFAULT}.get(kind, Tier.NAMESPACE)
    namespace = "" if kind == RuleKind.CLUSTER else "shop"
    return CompiledRule(
        key=key,
        origin=RuleOrigin(kind, namespace, name, tier, priority),
        source="ns/shop",
        destination=destination,
        ports=ports,
        action=action,
        logging=logging,
    )


T0 = datetime(2026, 2, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 2, tzinfo=UTC)
RULES = (
    rule("admin/deny-tor", RuleKind.CLUSTER, "deny-tor", 100, Action.DENY, "dst/tor", logging=True),
    rule("svc/web/allow", RuleKind.SERVICE, "allow-stripe", 200, ports="ports/https"),
    rule("ns/shop/allow", RuleKind.NAMESPACE, "allow-github", 500, destination=None),
    rule("default/shop", RuleKind.DEFAULT, "shop", 0, Action.DENY, None),
)


def test_rules_round_trip_in_evaluation_order(db: Db) -> None:
    with db.sessions.begin() as session:
        repo = RuleRepository(session, db.cluster)
        assert repo.replace("bigip", RULES) is True
        assert repo.record_state(DeviceState(device="fgt", cluster=db.cluster, rules=RULES[:2])) is True
    with db.sessions.begin() as session:
        repo = RuleRepository(session, db.cluster)
        assert repo.rules("bigip") == RULES
        assert repo.rules("fgt") == RULES[:2]
        assert repo.rules("absent") == ()
        assert repo.devices() == ["bigip", "fgt"]
        assert repo.by_origin(RuleKind.SERVICE, "shop", "allow-stripe") == {"bigip": 1, "fgt": 1}
        assert repo.by_origin(RuleKind.NAMESPACE, "shop", "allow-github") == {"bigip": 1}


def test_unchanged_lists_are_not_rewritten_and_reorders_are(db: Db) -> None:
    with db.sessions.begin() as session:
        RuleRepository(session, db.cluster).replace("bigip", RULES)
    with db.sessions.begin() as session:
        repo = RuleRepository(session, db.cluster)
        assert repo.replace("bigip", RULES) is False
        reordered = (RULES[1], RULES[0], *RULES[2:])
        assert repo.replace("bigip", reordered) is True
        changed = (*RULES[:3], rule("default/shop", RuleKind.DEFAULT, "shop", 0, Action.ALLOW, None))
        assert repo.replace("fgt", changed) is True
    with db.sessions.begin() as session:
        repo = RuleRepository(session, db.cluster)
        assert repo.rules("bigip") == reordered
        assert repo.rules("fgt")[-1].action is Action.ALLOW
        assert repo.replace("bigip", ()) is True
        assert repo.rules("bigip") == ()


def test_repeated_keys_and_foreign_states_are_refused(db: Db) -> None:
    with db.sessions.begin() as session:
        repo = RuleRepository(session, db.cluster)
        with pytest.raises(ValueError, match="repeat"):
            repo.replace("bigip", (RULES[0], RULES[0]))
        with pytest.raises(ValueError, match="cluster"):
            repo.record_state(DeviceState(device="bigip", cluster="elsewhere"))


def test_only_rules_added_removed_changed_or_moved_are_written(db: Db) -> None:
    with db.sessions.begin() as session:
        RuleRepository(session, db.cluster).replace("bigip", RULES, T0)
    inserted = rule("svc/api/allow", RuleKind.SERVICE, "allow-api", 300)
    changed = rule("ns/shop/allow", RuleKind.NAMESPACE, "allow-github", 500, destination="dst/github")
    wanted = (RULES[0], inserted, RULES[1], changed)  # default/shop removed
    with statements(db.engine) as seen, db.sessions.begin() as session:
        assert RuleRepository(session, db.cluster).replace("bigip", wanted, T1) is True
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE")) and "compiled_rules" in s]
    # one delete; added, changed and moved rules upserted by key in one statement
    assert [s.split()[0] for s in writes] == ["DELETE", "INSERT"] and "ON CONFLICT" in writes[1]
    with db.sessions.begin() as session:
        assert RuleRepository(session, db.cluster).rules("bigip") == wanted
        written = dict(session.execute(select(CompiledRuleRow.key, CompiledRuleRow.updated_at).where(
            CompiledRuleRow.cluster == db.cluster, CompiledRuleRow.device == "bigip")).all())
    assert written == {RULES[0].key: T0, inserted.key: T1, RULES[1].key: T1, changed.key: T1}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lists=st.lists(st.lists(st.tuples(st.sampled_from(range(6)), st.sampled_from(range(3))),
                               max_size=6, unique_by=lambda item: item[0]), min_size=1, max_size=4))
def test_any_sequence_of_lists_reads_back_as_the_last(db: Db, lists: list[list[tuple[int, int]]]) -> None:
    device = f"d-{uuid.uuid4().hex[:8]}"
    for entries in lists:
        wanted = tuple(rule(f"k{key}", priority=priority) for key, priority in entries)
        with db.sessions.begin() as session:
            RuleRepository(session, db.cluster).replace(device, wanted)
        with db.sessions.begin() as session:
            repo = RuleRepository(session, db.cluster)
            assert repo.rules(device) == wanted
            assert repo.replace(device, wanted) is False
