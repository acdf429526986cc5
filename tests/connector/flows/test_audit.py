"""Audit counts from given attributed records against compiled device states: which audit rule
would have decided each flow, and whether its decision would differ from what the device did."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.flows.audit import AuditCount, SourceIndexes, count_audit, probe_of
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord
from connector.model import Capabilities, DeviceState
from tests.adapters.audit_scenario import API, BAD, ELSEWHERE, STRIPE, WORKER, state

T = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
API_RULE = ("ServiceEgressRule", "payments", "api-no-stripe")
BAD_RULE = ("ClusterEgressRule", "", "no-bad")
WORKER_RULE = ("NamespaceEgressRule", "payments", "worker-anything")


def record(src: str, dst: str, port: int | None, action: str, *, device: str = "fw1", count: int = 1,
           protocol: str = "TCP", attributed: bool = True) -> FlowRecord:
    line = FlowLine(time=T, device=device, action=action, src=src, dst=dst,  # type: ignore[arg-type]
                    protocol=protocol, src_port=40000, dst_port=port, count=count)
    identity = FlowIdentity("c1", "payments", pod="p") if attributed else None
    return FlowRecord(line=line, identity=identity, rule=None)


def states() -> dict[str, DeviceState]:
    return {"fw1": state("fw1", Capabilities())}


def test_each_audit_rule_counts_the_flows_it_would_decide_and_those_it_would_change() -> None:
    records = [
        record(API, STRIPE, 443, "Allow", count=5),     # api-no-stripe would deny: changed
        record(API, BAD, 443, "Deny", count=2),         # no-bad (Admin) would deny: same
        record(WORKER, BAD, 22, "Deny"),                # each alone: no-bad (same), worker-anything (changed)
        record(WORKER, ELSEWHERE, 80, "Deny", count=3),  # worker-anything would allow: changed
        record(WORKER, STRIPE, 443, "Allow"),           # to-stripe decides first: no audit rule
        record(API, ELSEWHERE, 80, "Deny"),             # no audit rule of the api holds it
    ]
    counts = count_audit(records, states())
    assert counts == {
        API_RULE: AuditCount(5, 5),
        BAD_RULE: AuditCount(3, 0),
        WORKER_RULE: AuditCount(4, 4),
    }


def test_records_that_cannot_be_judged_are_skipped() -> None:
    records = [
        record(API, STRIPE, 443, "Allow", attributed=False),  # no identity
        record(API, STRIPE, 443, "Allow", device="other"),    # a device without a state
        record("not-an-ip", STRIPE, 443, "Allow"),
    ]
    assert count_audit(records, states()) == {}
    enforced_only = {"fw1": state("fw1", Capabilities(), audit=False)}
    assert count_audit([record(API, STRIPE, 443, "Allow")], enforced_only) == {}


def test_a_portless_flow_matches_only_rules_without_ports() -> None:
    icmp = record(WORKER, ELSEWHERE, None, "Deny", protocol="ICMP")
    probe = probe_of(icmp)
    assert probe is not None and probe.port is None
    assert count_audit([icmp], states()) == {WORKER_RULE: AuditCount(1, 1)}
    # api-no-stripe lists port 443: a port-less flow to Stripe is not one it would decide
    assert count_audit([record(API, STRIPE, None, "Allow", protocol="ICMP")], states()) == {}


def test_indexes_are_kept_per_state_and_follow_a_new_one() -> None:
    indexes = SourceIndexes()
    first = state("fw1", Capabilities())
    one = indexes.of(first)
    assert indexes.of(first) is one
    again = state("fw1", Capabilities(), audit=False)
    enforced, staged = indexes.of(again)
    assert enforced.state is again and not staged.holding(API)
    counted = count_audit([record(API, STRIPE, 443, "Allow")], {"fw1": first}, indexes)
    assert counted == {API_RULE: AuditCount(1, 1)}
