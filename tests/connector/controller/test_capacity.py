"""Capacity refusals in the controller: rule status, the device Event, and the table metrics."""

from __future__ import annotations

from typing import Any

from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.device_report import CAPACITY_EXCEEDED, DeviceReport, capacities
from connector.controller.events import WARNING
from connector.controller.metrics import ControllerMetrics
from connector.controller.status_subresource import build_status
from connector.controller.worker import Job
from connector.model import DeviceState
from connector.planner import SafetyThresholds
from connector.planner.capacity import CapacityReport, Table, TableUsage
from connector.reconciler.device import sync_device
from connector.wiring import validate_config
from tests.connector.controller.test_status import KEY, T0, conditions, on, report, rule_status
from tests.connector.reconciler.test_capacity import LimitedAdapter
from tests.connector.reconciler.test_device import state

MESSAGE = "CapacityExceeded: policies 12 > limit 10; nothing written to the device"


def test_a_capacity_refusal_unprograms_every_rule_of_the_device_even_those_it_holds() -> None:
    blocked = {"a": report("a", 7, problem=(CAPACITY_EXCEEDED, MESSAGE)), "b": report("b", 7)}
    status = build_status(rule_status(*on("a", "b")), blocked, None, T0)
    programmed = conditions(status)["Programmed"]
    assert programmed["status"] == "False" and programmed["reason"] == CAPACITY_EXCEEDED
    assert programmed["message"] == f"a: {MESSAGE}"
    assert [(d["name"], d["programmed"], d["message"]) for d in status["devices"]] == [
        ("a", False, MESSAGE), ("b", True, "programmed")]


def test_capacities_lists_the_devices_with_known_usage() -> None:
    usage = CapacityReport("a", (TableUsage(Table.POLICIES, 1, 10),))
    reports = {"a": DeviceReport("a", {KEY: 1}, {KEY: 1}, None, usage), "b": DeviceReport("b")}
    assert capacities(reports) == {"a": usage}


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rpartition(" ")[2])
    return None


def test_table_gauges_follow_the_latest_plan_and_an_unlimited_table_has_no_limit() -> None:
    metrics = ControllerMetrics()
    metrics.table_usage(CapacityReport("fgt", (TableUsage(Table.POLICIES, 12, 10),
                                               TableUsage(Table.RULES, 3, None))))
    text = metrics.render().decode()
    assert sample(text, "fusion_connector_device_table_usage", device="fgt", table="policies") == 12
    assert sample(text, "fusion_connector_device_table_limit", device="fgt", table="policies") == 10
    assert sample(text, "fusion_connector_device_table_usage", device="fgt", table="rules") == 3
    assert sample(text, "fusion_connector_device_table_limit", device="fgt", table="rules") is None
    metrics.table_usage(CapacityReport("fgt", (TableUsage(Table.POLICIES, 9, None),)))
    text = metrics.render().decode()
    assert sample(text, "fusion_connector_device_table_usage", device="fgt", table="policies") == 9
    assert sample(text, "fusion_connector_device_table_limit", device="fgt", table="policies") is None


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str]] = []

    def record(self, involved: Any, type: str, reason: str, message: str) -> None:
        self.recorded.append((type, reason, message))


class Leader:
    is_leader = True
    problem = None


def test_accounting_a_capacity_refusal_sets_the_problem_event_and_metrics() -> None:
    config = validate_config({"cluster": "c1", "database": "sqlite:///:memory:", "devices": [
        {"name": "dev", "type": "rest", "url": "http://127.0.0.1:1"}]})
    controller = Controller(config, Secrets({}))
    events = Events()
    controller.events.recorder = events
    controller._elector = Leader()  # type: ignore[assignment]
    desired: DeviceState = state("a", "b", "c")
    outcome = sync_device(LimitedAdapter([], limit=2), desired, SafetyThresholds(), apply=True)
    ok = controller.accounting.account("dev", Job(desired), outcome, apply=True)

    assert ok  # not retried with backoff: the next change or interval tries again
    problem = controller.device_reports()["dev"].problem
    assert problem == (CAPACITY_EXCEEDED,
                       "CapacityExceeded: groups 3 > limit 2; nothing written to the device")
    assert controller.device_reports()["dev"].capacity == outcome.capacity
    assert [(t, r) for t, r, _ in events.recorded] == [(WARNING, CAPACITY_EXCEEDED)]
    assert "groups 3 > limit 2" in events.recorded[0][2]
    text = controller.render_metrics().decode()
    assert sample(text, "fusion_connector_capacity_refusals_total", device="dev") == 1
    assert sample(text, "fusion_connector_device_table_usage", device="dev", table="groups") == 3
    assert sample(text, "fusion_connector_device_table_limit", device="dev", table="groups") == 2
    assert sample(text, "fusion_connector_unsafe_plans_total", device="dev") is None
