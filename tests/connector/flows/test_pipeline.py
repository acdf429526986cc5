"""The flow pipeline: bounded intake, one worker attributing, storing per batch and signalling."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from connector.flows.metrics import FlowMetrics
from connector.flows.pipeline import FlowPipeline
from connector.flows.record import FlowLine, FlowRecord
from tests.connector.flows.fakes import T0, attribute, line, sample


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[FlowRecord]] = []

    def __call__(self, records: Sequence[FlowRecord]) -> None:
        self.batches.append(list(records))


class Gate:
    """An attribute function whose first call waits until `release()`."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def __call__(self, lines: Sequence[FlowLine]) -> list[FlowRecord]:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.released.wait(10)
        return attribute(lines)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def make(registry: CollectorRegistry, **kwargs: object) -> tuple[FlowPipeline, Recorder]:
    store = Recorder()
    defaults: dict[str, object] = {"attribute": attribute, "store": store}
    defaults.update(kwargs)
    if "metrics" not in defaults:
        defaults["metrics"] = FlowMetrics(registry)
    return FlowPipeline(**defaults).start(), store  # type: ignore[arg-type]


def test_lines_are_attributed_stored_counted_and_told(registry: CollectorRegistry) -> None:
    pipeline, store = make(registry)
    seen = Recorder()
    pipeline.subscribe(seen)
    try:
        lines = [line(), line(count=4), line("10.9.9.9", action="Deny", rule="p-deny"),
                 line(device="bigip", rule=None)]
        assert pipeline.submit(lines) == 4
        assert pipeline.drain(10)
    finally:
        pipeline.stop()
    stored = [record for batch in store.batches for record in batch]
    assert [r.line for r in stored] == lines
    assert [r.line for batch in seen.batches for r in batch] == lines
    assert sample(registry, "fusion_connector_flow_lines_total", device="fgt", result="attributed") == 2
    assert sample(registry, "fusion_connector_flow_lines_total", device="fgt", result="unattributed") == 1
    assert sample(registry, "fusion_connector_flows_total", device="fgt", namespace="shop", service="api",
                  rule="NamespaceEgressRule/shop/allow-bank", action="Allow") == 5
    assert sample(registry, "fusion_connector_flows_total", device="fgt", namespace="", service="",
                  rule="ClusterEgressRule//deny-all", action="Deny") == 1
    assert sample(registry, "fusion_connector_flows_total", device="bigip", namespace="shop", service="api",
                  rule="", action="Allow") == 1
    assert pipeline.processed == 4


def test_waiting_lines_are_stored_in_batches_of_at_most_the_batch_size(registry: CollectorRegistry) -> None:
    gate = Gate()
    pipeline, store = make(registry, attribute=gate, max_batch_lines=3)
    try:
        pipeline.submit([line()])
        assert gate.entered.wait(10)
        pipeline.submit([line(dst_port=port) for port in range(1, 8)])
        gate.released.set()
        assert pipeline.drain(10)
    finally:
        pipeline.stop()
    assert [len(batch) for batch in store.batches] == [1, 3, 3, 1]
    assert [r.line.dst_port for batch in store.batches[1:] for r in batch] == list(range(1, 8))


def test_lines_beyond_the_bound_are_shed_and_counted_per_device(registry: CollectorRegistry) -> None:
    gate = Gate()
    pipeline, store = make(registry, attribute=gate, max_pending_lines=5)
    try:
        pipeline.submit([line()])
        assert gate.entered.wait(10)  # the worker holds one line; five may wait
        assert pipeline.submit([line()] * 4) == 4
        assert pipeline.submit([line(), line(device="bigip"), line(device="bigip")]) == 1
        assert pipeline.pending == 5
        gate.released.set()
        assert pipeline.drain(10)
    finally:
        pipeline.stop()
    assert sum(len(batch) for batch in store.batches) == 6
    assert sample(registry, "fusion_connector_flow_lines_shed_total", device="bigip") == 2
    assert sample(registry, "fusion_connector_flow_lines_shed_total", device="fgt") == 0


def test_the_receivers_counts_go_to_the_line_metrics(registry: CollectorRegistry) -> None:
    pipeline, _ = make(registry)
    try:
        pipeline.count("fgt", "malformed", 3)
        pipeline.count("unknown", "rejected", 2)
        pipeline.count("fgt", "shed", 7)
    finally:
        pipeline.stop()
    assert sample(registry, "fusion_connector_flow_lines_total", device="fgt", result="malformed") == 3
    assert sample(registry, "fusion_connector_flow_lines_total", device="unknown", result="rejected") == 2
    assert sample(registry, "fusion_connector_flow_lines_shed_total", device="fgt") == 7


def test_a_failing_stage_is_counted_and_the_pipeline_goes_on(registry: CollectorRegistry) -> None:
    calls: list[int] = []

    def flaky_attribute(lines: Sequence[FlowLine]) -> list[FlowRecord]:
        calls.append(len(lines))
        if len(calls) == 1:
            raise RuntimeError("store unreachable")
        return attribute(lines)

    def broken_store(records: Sequence[FlowRecord]) -> None:
        raise RuntimeError("disk full")

    def broken_subscriber(records: Sequence[FlowRecord]) -> None:
        raise ZeroDivisionError

    seen = Recorder()
    pipeline, _ = make(registry, attribute=flaky_attribute, store=broken_store)
    pipeline.subscribe(broken_subscriber)
    pipeline.subscribe(seen)
    try:
        pipeline.submit([line()])
        assert pipeline.drain(10)
        pipeline.submit([line(), line()])
        assert pipeline.drain(10)
    finally:
        pipeline.stop()
    assert sample(registry, "fusion_connector_flow_errors_total", stage="attribute") == 1
    assert sample(registry, "fusion_connector_flow_errors_total", stage="store") == 1
    assert sample(registry, "fusion_connector_flow_errors_total", stage="subscriber") == 1
    # the records of the batch whose store failed are still counted and told
    assert sample(registry, "fusion_connector_flow_lines_total", device="fgt", result="attributed") == 2
    assert [len(batch) for batch in seen.batches] == [2]


def test_flow_label_sets_are_bounded_per_device(registry: CollectorRegistry) -> None:
    metrics = FlowMetrics(registry, max_flow_series=2)
    pipeline, _ = make(registry, metrics=metrics)
    try:
        pipeline.submit([line(), line(rule="p-deny", action="Deny"), line(rule=None),
                         line(rule=None, count=2), line(device="bigip", rule=None)])
        assert pipeline.drain(10)
    finally:
        pipeline.stop()
    assert sample(registry, "fusion_connector_flows_total", device="fgt", namespace="other", service="other",
                  rule="other", action="Allow") == 3
    assert sample(registry, "fusion_connector_flows_total", device="bigip", namespace="shop", service="api",
                  rule="", action="Allow") == 1
    series = {s.labels["rule"] for m in registry.collect() if m.name == "fusion_connector_flows"
              for s in m.samples if s.name.endswith("_total") and s.labels["device"] == "fgt"}
    assert series == {"NamespaceEgressRule/shop/allow-bank", "ClusterEgressRule//deny-all", "other"}


def test_records_older_than_the_retention_are_pruned(registry: CollectorRegistry) -> None:
    pruned: list[datetime] = []
    called = threading.Event()

    def prune(before: datetime) -> None:
        pruned.append(before)
        called.set()

    pipeline, _ = make(registry, prune=prune, retention=3600.0, now=lambda: T0)
    try:
        assert called.wait(10)  # at start, then every prune_every seconds
    finally:
        pipeline.stop()
    assert pruned[0] == T0 - timedelta(hours=1)


def test_stop_processes_what_waits_and_takes_nothing_more(registry: CollectorRegistry) -> None:
    pipeline, store = make(registry)
    pipeline.submit([line() for _ in range(50)])
    pipeline.stop(10)
    assert sum(len(batch) for batch in store.batches) == 50
    assert pipeline.submit([line(device="late")]) == 0
    assert sample(registry, "fusion_connector_flow_lines_shed_total", device="late") == 1
