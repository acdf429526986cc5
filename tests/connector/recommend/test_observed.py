"""observe(): which flow records of a workload count, which are left out and why, and how the
used ones add up per destination, protocol and port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.recommend import Target, observe
from connector.recommend.observed import (
    AMBIGUOUS,
    BELOW_MIN_COUNT,
    DENIED,
    EXPLICIT_DENY,
    UNEXPRESSIBLE,
    overridable,
    rule_label,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WEB = FlowIdentity("c1", "shop", "web-1", "u1", ("web", "frontend"))
DB = FlowIdentity("c1", "shop", "db-1", "u2")
OTHER = FlowIdentity("c1", "jobs", "batch-1", "u3")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")
BASELINE = FlowRule("ClusterEgressRule", "", "baseline-deny", "Baseline")
ADMIN = FlowRule("ClusterEgressRule", "", "block-tor", "Admin")
NS_DENY = FlowRule("NamespaceEgressRule", "shop", "no-db", "Namespace")
SVC_DENY = FlowRule("ServiceEgressRule", "shop", "no-ssh", "Namespace")
ALLOW = FlowRule("NamespaceEgressRule", "shop", "allow-bank", "Namespace")


def rec(dst: str, port: int | None = 443, action: str = "Allow", rule: FlowRule | None = ALLOW,
        identity: FlowIdentity | None = WEB, count: int = 1, protocol: str = "TCP", minutes: int = 0,
        device: str = "fw1", ambiguous: bool = False,
        candidates: tuple[FlowIdentity, ...] = ()) -> FlowRecord:
    line = FlowLine(T0 + timedelta(minutes=minutes), device, action, "10.0.0.1", dst, protocol,  # type: ignore[arg-type]
                    40000, port, device_rule="7", count=count)
    return FlowRecord(line, identity, rule, ambiguous, candidates)


def test_allowed_flows_and_denials_a_namespace_rule_overrides_are_used() -> None:
    records = [rec("198.51.100.1"), rec("198.51.100.2", action="Deny", rule=DEFAULT),
               rec("198.51.100.3", action="Deny", rule=BASELINE),
               rec("198.51.100.4", action="Deny", rule=None)]
    observed = observe(records, Target("shop", "web"))
    assert [(u.destination, u.port, u.denied) for u in observed.uses] == [
        ("198.51.100.1", 443, 0), ("198.51.100.2", 443, 1), ("198.51.100.3", 443, 1),
        ("198.51.100.4", 443, 1)]
    assert not observed.left_out


@pytest.mark.parametrize("rule", [ADMIN, NS_DENY, SVC_DENY])
def test_a_flow_denied_by_an_explicit_deny_is_left_out_naming_the_rule(rule: FlowRule) -> None:
    observed = observe([rec("203.0.113.9", 22, "Deny", rule, count=4), rec("198.51.100.1")], Target("shop"))
    assert [(u.destination, u.port) for u in observed.uses] == [("198.51.100.1", 443)]
    (left,) = observed.left_out
    assert (left.reason, left.detail, left.where, left.count) == (
        EXPLICIT_DENY, rule_label(rule), "203.0.113.9 22/TCP", 4)


def test_a_destination_port_an_explicit_deny_denied_once_is_left_out_entirely() -> None:
    records = [rec("198.51.100.1", count=5), rec("198.51.100.1", action="Deny", rule=NS_DENY, count=2),
               rec("198.51.100.1", 80, count=3), rec("198.51.100.1", action="Deny", rule=DEFAULT)]
    for allowed_only in (False, True):
        observed = observe(records, Target("shop"), allowed_only=allowed_only)
        assert [(u.destination, u.port, u.count) for u in observed.uses] == [("198.51.100.1", 80, 3)]
        assert [(o.reason, o.detail, o.where, o.count) for o in observed.left_out
                if o.reason == EXPLICIT_DENY] == [
            (EXPLICIT_DENY, "NamespaceEgressRule shop/no-db", "198.51.100.1 443/TCP",
             7 if allowed_only else 8)]


def test_only_the_default_action_baseline_and_foreign_device_rules_are_overridable() -> None:
    assert [overridable(r) for r in (None, DEFAULT, BASELINE, ADMIN, NS_DENY, SVC_DENY)] == [
        True, True, True, False, False, False]
    assert rule_label(ADMIN) == "ClusterEgressRule block-tor (Admin tier)"
    assert rule_label(DEFAULT) == "the default action of namespace shop"
    assert rule_label(None, "7") == "the device's own rule 7"


def test_allowed_only_leaves_every_denied_flow_out() -> None:
    records = [rec("198.51.100.1"), rec("198.51.100.2", action="Deny", rule=DEFAULT, count=3)]
    observed = observe(records, Target("shop"), allowed_only=True)
    assert [u.destination for u in observed.uses] == ["198.51.100.1"]
    assert [(o.reason, o.detail, o.count) for o in observed.left_out] == [
        (DENIED, "the default action of namespace shop", 3)]


def test_only_the_target_s_records_count_and_ambiguous_ones_are_left_out() -> None:
    records = [rec("198.51.100.1"), rec("198.51.100.2", identity=DB), rec("198.51.100.3", identity=OTHER),
               rec("198.51.100.4", identity=None),
               rec("198.51.100.5", identity=WEB, ambiguous=True, candidates=(WEB, OTHER), count=2),
               rec("198.51.100.6", identity=None, ambiguous=True, candidates=(DB, OTHER))]
    service = observe(records, Target("shop", "web"))
    assert [u.destination for u in service.uses] == ["198.51.100.1"]
    assert (service.records, service.foreign) == (2, 4)
    assert [(o.reason, o.destination, o.count) for o in service.left_out] == [(AMBIGUOUS, "198.51.100.5", 2)]
    namespace = observe(records, Target("shop"))
    assert [u.destination for u in namespace.uses] == ["198.51.100.1", "198.51.100.2"]
    assert [(o.reason, o.destination) for o in namespace.left_out] == [
        (AMBIGUOUS, "198.51.100.5"), (AMBIGUOUS, "198.51.100.6")]


def test_flows_no_port_rule_can_name_are_left_out() -> None:
    records = [rec("198.51.100.1", None, protocol="ICMP"), rec("198.51.100.2", None),
               rec("198.51.100.3", 47, protocol="47"), rec("not-an-address"), rec("198.51.100.4", 0),
               rec("198.51.100.5", 53, protocol="udp")]
    observed = observe(records, Target("shop"))
    assert [(u.destination, u.protocol) for u in observed.uses] == [("198.51.100.5", "UDP")]
    assert {o.reason for o in observed.left_out} == {UNEXPRESSIBLE}
    assert sum(o.count for o in observed.left_out) == 5


def test_counts_add_up_per_destination_port_and_min_count_drops_the_rest() -> None:
    records = [rec("198.51.100.1", count=2, minutes=5, device="fw2"),
               rec("198.51.100.1", action="Deny", rule=DEFAULT, count=3, minutes=1),
               rec("198.51.100.1", 80, count=1), rec("198.51.100.2", count=1), rec("198.51.100.2", count=1)]
    observed = observe(records, Target("shop"), min_count=2)
    assert [(u.destination, u.port, u.count, u.denied, u.devices) for u in observed.uses] == [
        ("198.51.100.1", 443, 5, 3, ("fw1", "fw2")), ("198.51.100.2", 443, 2, 0, ("fw1",))]
    first = observed.uses[0]
    assert (first.first, first.last) == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))
    assert first.denied_by == ("the default action of namespace shop",)
    assert [(o.reason, o.where, o.count) for o in observed.left_out] == [
        (BELOW_MIN_COUNT, "198.51.100.1 80/TCP", 1)]
    assert (observed.flows, observed.used_flows) == (8, 7)


def test_uses_are_sorted_by_protocol_port_family_and_address_and_addresses_are_canonical() -> None:
    records = [rec("2001:DB8:0::1", 443), rec("10.0.0.10", 443), rec("10.0.0.9", 443),
               rec("10.0.0.9", 53, protocol="UDP"), rec("10.0.0.9", 8443), rec("2001:db8::1", 443)]
    observed = observe(records, Target("shop"))
    assert [(u.protocol, u.port, u.destination, u.count) for u in observed.uses] == [
        ("TCP", 443, "10.0.0.9", 1), ("TCP", 443, "10.0.0.10", 1), ("TCP", 443, "2001:db8::1", 2),
        ("TCP", 8443, "10.0.0.9", 1), ("UDP", 53, "10.0.0.9", 1)]


@pytest.mark.parametrize(("namespace", "service"), [("Shop", None), ("shop_x", None), ("", None),
                                                    ("shop", "Web"), ("shop", "9web"), ("shop", "w" * 64)])
def test_an_invalid_target_is_refused(namespace: str, service: str | None) -> None:
    with pytest.raises(ValueError, match="namespace" if service is None else "service"):
        Target(namespace, service)


def test_min_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_count"):
        observe([], Target("shop"), min_count=0)
