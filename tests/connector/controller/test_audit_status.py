"""Audit counts in rule statuses: the `AuditBook` tallies what the flow pipeline hands it, keeps
`since`, goes on from a previous status of the same generation, starts afresh otherwise; the
status writer writes `status.audit` (and removes it once the rule is enforced); the metric."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from connector.cluster import Kind, StaticView
from connector.compiler import DevicePresence, RuleRef, RuleStatus
from connector.controller.audit_status import AuditBook
from connector.controller.events import EventChannel
from connector.controller.metrics import ControllerMetrics
from connector.controller.status_subresource import AUDIT_HELD, build_status, only_sources_differ
from connector.controller.status_writer import StatusWriter
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord
from connector.model import Capabilities, DeviceState, Mode, RuleKind
from tests.adapters.audit_scenario import API, STRIPE, state

T0, T1 = "2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"
REF = RuleRef(RuleKind.SERVICE, "payments", "api-no-stripe")


def rule(mode: Mode = Mode.AUDIT, generation: int = 2) -> RuleStatus:
    return RuleStatus(REF, generation, (), 1, (DevicePresence("fw1", True, "compiled"),), mode)


def flow(action: str = "Allow", count: int = 1) -> FlowRecord:
    line = FlowLine(time=datetime(2026, 12, 6, tzinfo=UTC), device="fw1", action=action,  # type: ignore[arg-type]
                    src=API, dst=STRIPE, protocol="TCP", dst_port=443, count=count)
    return FlowRecord(line=line, identity=FlowIdentity("c1", "payments", pod="api-1"), rule=None)


def book(registry: CollectorRegistry | None = None, kicks: list[int] | None = None,
         now: str = T0) -> AuditBook:
    states: dict[str, DeviceState] = {"fw1": state("fw1", Capabilities())}
    return AuditBook(lambda: states, registry or CollectorRegistry(),
                     kick=lambda: (kicks if kicks is not None else []).append(1), now=lambda: now)


def test_counts_accumulate_with_since_and_kick_the_writer() -> None:
    kicks: list[int] = []
    registry = CollectorRegistry()
    audit = book(registry, kicks)
    assert audit.status(rule(), {}) == {"matched": 0, "wouldChange": 0, "since": T0}
    audit.count([flow("Allow", 3), flow("Deny", 2)])
    audit.count([flow("Allow")])
    assert audit.status(rule(), {}) == {"matched": 6, "wouldChange": 4, "since": T0}
    assert len(kicks) == 2
    label = "ServiceEgressRule/payments/api-no-stripe"
    assert registry.get_sample_value("fusion_connector_audit_flows_total",
                                     {"rule": label, "result": "matched"}) == 6
    assert registry.get_sample_value("fusion_connector_audit_flows_total",
                                     {"rule": label, "result": "wouldChange"}) == 4


def test_a_flow_no_audit_rule_would_decide_kicks_nothing() -> None:
    kicks: list[int] = []
    audit = book(kicks=kicks)
    other = FlowRecord(line=FlowLine(time=datetime(2026, 12, 6, tzinfo=UTC), device="fw1", action="Deny",
                                     src="10.9.9.9", dst=STRIPE, protocol="TCP", dst_port=443),
                       identity=FlowIdentity("c1", "x"), rule=None)
    audit.count([other])
    assert kicks == []


def test_a_previous_status_of_the_same_generation_goes_on_counting() -> None:
    previous = {"observedGeneration": 2, "audit": {"matched": 10, "wouldChange": 1, "since": T0}}
    audit = book(now=T1)
    audit.count([flow()])
    assert audit.status(rule(), previous) == {"matched": 11, "wouldChange": 2, "since": T0}


def test_a_new_generation_or_enforce_starts_afresh() -> None:
    audit = book(now=T1)
    stale = {"observedGeneration": 1, "audit": {"matched": 10, "wouldChange": 1, "since": T0}}
    assert audit.status(rule(generation=2), stale) == {"matched": 0, "wouldChange": 0, "since": T1}
    audit.count([flow()])
    assert audit.status(rule(mode=Mode.ENFORCE), {}) is None
    assert audit.status(rule(), {}) == {"matched": 0, "wouldChange": 0, "since": T1}


def test_build_status_carries_audit_and_says_the_rule_is_not_enforced() -> None:
    counts = {"matched": 1, "wouldChange": 0, "since": T0}
    status = build_status(rule(), {}, None, T0, counts)
    assert status["audit"] == counts
    assert "audit" not in build_status(rule(mode=Mode.ENFORCE), {}, None, T0)
    from connector.controller.device_report import DeviceReport
    key = ("ServiceEgressRule", "payments", "api-no-stripe")
    held = build_status(rule(), {"fw1": DeviceReport("fw1", {key: 1}, {key: 1})}, None, T0, counts)
    assert held["devices"][0]["message"] == AUDIT_HELD
    programmed = next(c for c in held["conditions"] if c["type"] == "Programmed")
    assert programmed["message"] == "audit mode, not enforced: held on fw1"
    # a change of the counts alone is deferred like one of the source count
    assert only_sources_differ({**status, "audit": {**counts, "matched": 2}}, status)


class FakeKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def merge_patch(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.patches.append(body)
        return 200, body


def test_the_writer_writes_status_audit_and_removes_it_once_enforced() -> None:
    obj = {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ServiceEgressRule",
           "metadata": {"name": REF.name, "namespace": REF.namespace, "uid": "u1"},
           "spec": {"action": "Deny", "service": "api", "mode": "Audit"}}
    audit = book()
    metrics = ControllerMetrics()
    writer = StatusWriter(debounce=0, sources_interval=0, reports=dict, events=EventChannel(metrics),
                          metrics=metrics, leading=lambda: True, compiled=lambda: True,
                          stopping=threading.Event(), audit=audit.status)
    kube = FakeKube()
    writer.connect(kube, StaticView([obj]))  # type: ignore[arg-type]
    assert writer.cache is not None and writer.cache.get(Kind.SERVICE_EGRESS_RULE, "payments", REF.name)
    writer.set_rules({REF: rule()})
    audit.count([flow()])
    assert writer.write() == 1
    assert kube.patches[-1]["status"]["audit"] == {"matched": 1, "wouldChange": 1, "since": T0}
    writer.set_rules({REF: rule(mode=Mode.ENFORCE)})
    assert writer.write() == 1
    assert kube.patches[-1]["status"]["audit"] is None
    assert writer.write() == 0


def test_the_book_counts_what_the_flow_pipeline_hands_its_subscribers() -> None:
    from connector.flows.metrics import FlowMetrics
    from connector.flows.pipeline import FlowPipeline

    records = [flow("Allow", 2), flow("Deny")]
    registry = CollectorRegistry()
    pipeline = FlowPipeline(lambda lines: list(records), lambda batch: None, FlowMetrics(registry))
    audit = book(registry)
    pipeline.subscribe(audit.observe)
    audit.start()
    try:
        pipeline.process([r.line for r in records])
        assert audit.drain(10)
    finally:
        audit.stop()
    assert audit.status(rule(), {}) == {"matched": 3, "wouldChange": 2, "since": T0}


def test_records_beyond_the_queue_are_dropped_and_counted() -> None:
    registry = CollectorRegistry()
    audit = AuditBook(lambda: {}, registry, max_pending=2)
    audit.observe([flow(), flow()])
    audit.observe([flow(count=5)])
    assert registry.get_sample_value("fusion_connector_audit_flows_dropped_total") == 5
    audit.start()
    try:
        assert audit.drain(10)
    finally:
        audit.stop()
