"""A device whose syncs keep failing is visible: rule status, readiness JSON, metrics and Events,
including a sync that fails with an unexpected exception rather than a device error."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from connector.adapter import TransientDeviceError
from connector.compiler import DevicePresence, RuleRef, RuleStatus
from connector.config import Secrets
from connector.controller import Controller, ControllerOptions
from connector.controller.device_report import DeviceReport
from connector.controller.events import NORMAL, WARNING
from connector.controller.status_subresource import build_status
from connector.controller.worker import Job
from connector.model import (
    Action,
    CompiledRule,
    DeviceState,
    Identity,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)
from connector.reconciler.device import DeviceOutcome, ErrorClass
from connector.wiring import validate_config
from tests.connector.controller.test_capacity import Events, Leader, sample
from tests.connector.controller.test_status import conditions
from tests.connector.reconciler.test_device import state


def controller() -> tuple[Controller, Events]:
    config = validate_config({"cluster": "c1", "database": "sqlite:///:memory:", "devices": [
        {"name": "dev", "type": "rest", "url": "http://127.0.0.1:1"},
        {"name": "ok", "type": "rest", "url": "http://127.0.0.1:2"}]})
    made = Controller(config, Secrets({}), ControllerOptions(mode="plan"))
    events = Events()
    made.events.recorder = events
    made._elector = Leader()  # type: ignore[assignment]
    return made, events


class Exploding:
    """An adapter whose read raises something that is not a DeviceError (a bug, or a planner
    invariant broken by the input)."""

    name = "dev"

    def read(self) -> Any:
        raise ValueError("desired objects name policy 'fc_rt_x' twice")

    def close(self) -> None:
        pass


def test_an_unexpected_exception_in_a_sync_is_accounted_as_a_device_error() -> None:
    made, events = controller()
    made.syncs.adapters = {"dev": Exploding()}  # type: ignore[dict-item]
    desired: DeviceState = state("a")
    assert made.syncs.run("dev", Job(desired)) is False  # retried with backoff
    report = made.device_reports()["dev"]
    assert report.problem is not None and report.problem[0] == "DeviceError"
    assert "ValueError: desired objects name policy 'fc_rt_x' twice" in report.problem[1]
    text = made.render_metrics().decode()
    assert sample(text, "fusion_connector_device_errors_total", device="dev", **{"class": "permanent"}) == 1
    assert sample(text, "fusion_connector_device_problem", device="dev", reason="DeviceError") == 1
    assert [(t, r) for t, r, _ in events.recorded] == [(WARNING, "DeviceError")]


def failed(name: str) -> DeviceOutcome:
    error = TransientDeviceError(name, "POST /changes: HTTP 503: busy")
    return DeviceOutcome(name, error=str(error), error_class=ErrorClass.TRANSIENT)


def test_a_failing_device_is_listed_by_readiness_with_its_reason_and_recovers() -> None:
    made, events = controller()
    desired: DeviceState = state("a")
    for _ in range(3):
        assert not made.accounting.account("dev", Job(desired), failed("dev"), apply=True)
    assert made.accounting.account("ok", Job(desired), DeviceOutcome("ok"), apply=True)

    ready = made.readiness()
    assert ready["degraded"] == ["dev"]
    dev = ready["devices"]["dev"]
    assert dev["state"] == "failing" and dev["reason"] == "DeviceError"
    assert "HTTP 503: busy" in dev["message"] and dev["failures"] == 3 and dev["since"]
    assert ready["devices"]["ok"]["state"] == "in-sync" and ready["devices"]["ok"]["lastSync"]
    text = made.render_metrics().decode()
    assert sample(text, "fusion_connector_device_errors_total", device="dev", **{"class": "transient"}) == 3
    assert sample(text, "fusion_connector_device_problem", device="dev", reason="DeviceError") == 1
    assert sample(text, "fusion_connector_device_problem", device="ok", reason="DeviceError") is None

    assert made.accounting.account("dev", Job(desired), DeviceOutcome("dev"), apply=True)
    ready = made.readiness()
    assert ready["degraded"] == [] and ready["devices"]["dev"]["state"] == "in-sync"
    assert ready["devices"]["dev"]["failures"] == 0
    text = made.render_metrics().decode()
    assert sample(text, "fusion_connector_device_problem", device="dev", reason="DeviceError") is None
    assert (NORMAL, "DeviceSynced") in [(t, r) for t, r, _ in events.recorded]


def test_a_rule_held_before_the_device_started_failing_is_no_longer_programmed() -> None:
    made, _ = controller()
    origin = RuleOrigin(RuleKind.NAMESPACE, "shop", "allow-db", Tier.NAMESPACE, 200)
    group = SourceGroup("g", "c1", "shop", (("10.0.0.1", (Identity("Pod", "shop", "p"),)),))
    desired = DeviceState("dev", "c1", {"g": group}, rules=(CompiledRule("k", origin, "g", None, None,
                                                                         Action.ALLOW),))
    made.book.publish("dev", desired)
    assert made.accounting.account("dev", Job(desired), DeviceOutcome("dev"), apply=True)
    rule = RuleStatus(RuleRef(RuleKind.NAMESPACE, "shop", "allow-db"), 1, (), 1,
                      (DevicePresence("dev", True, "compiled"),))
    assert conditions(build_status(rule, made.device_reports(), None, "t"))["Programmed"]["status"] == "True"
    made.accounting.account("dev", Job(desired), failed("dev"), apply=True)
    programmed = conditions(build_status(rule, made.device_reports(), None, "t"))["Programmed"]
    assert (programmed["status"], programmed["reason"]) == ("False", "DeviceError")
    assert "HTTP 503: busy" in programmed["message"]


def test_a_rule_gets_one_warning_when_its_device_starts_failing_not_one_per_retry() -> None:
    made, events = controller()
    ref = RuleRef(RuleKind.NAMESPACE, "shop", "allow-db")
    rule = RuleStatus(ref, 1, (), 1, (DevicePresence("dev", True, "compiled"),))
    key = ("NamespaceEgressRule", "shop", "allow-db")

    def status(problem: tuple[str, str] | None, previous: dict[str, Any] | None) -> dict[str, Any]:
        report = DeviceReport("dev", {key: 1}, {key: 1}, problem)
        return build_status(rule, {"dev": report}, previous, "t")

    good = status(None, None)
    first = status(("DeviceError", "dev: HTTP 503"), good)
    made.statuses.tell_changes(ref, "uid", good, first)
    second = status(("DeviceError", "dev: connection refused"), first)
    made.statuses.tell_changes(ref, "uid", first, second)
    assert [(t, r) for t, r, _ in events.recorded] == [(WARNING, "DeviceError")]
    refused = status(("PlanRefused", "unsafe plan refused: x"), second)
    made.statuses.tell_changes(ref, "uid", second, refused)
    assert [(t, r) for t, r, _ in events.recorded] == [(WARNING, "DeviceError"), (WARNING, "PlanRefused")]


class Unelectable:
    is_leader = False
    problem = ("namespace 'fusion-sytem' not found: the Lease fusion-connector-c1 cannot be created there, "
               "so this process can never lead; create the namespace or set kubernetes.connectorNamespace")


def test_a_process_that_can_never_lead_is_not_ready_and_says_why() -> None:
    made, _ = controller()
    made._watcher = SimpleNamespace(synced=True)  # type: ignore[assignment]
    made.health.store.last = (time.monotonic(), True)
    made.loop.compiled.set()
    assert made.readiness()["ready"] is True and made.readiness()["reasons"] == []
    made._elector = Unelectable()  # type: ignore[assignment]
    ready = made.readiness()
    assert ready["ready"] is False and ready["role"] == "standby"
    assert ready["leaderElection"] == Unelectable.problem
    assert any("kubernetes.connectorNamespace" in reason for reason in ready["reasons"])


def test_withheld_deletions_refuse_the_device_but_leave_its_rules_programmed() -> None:
    from connector.planner import Change, Op, Plan
    from connector.reconciler.device import Refusal

    made, events = controller()
    origin = RuleOrigin(RuleKind.NAMESPACE, "t9", "allow-db", Tier.NAMESPACE, 200)
    group = SourceGroup("g", "c1", "t9", (("10.0.0.2", (Identity("Pod", "t9", "new-27"),)),))
    desired = DeviceState("dev", "c1", {"g": group}, rules=(CompiledRule("k", origin, "g", None, None,
                                                                         Action.ALLOW),))
    made.book.publish("dev", desired)
    rule = RuleStatus(RuleRef(RuleKind.NAMESPACE, "t9", "allow-db"), 1, (), 1,
                      (DevicePresence("dev", True, "compiled"),))
    gone = tuple(Change(Op.DELETE, "group", f"fc_t{i}") for i in range(6))
    unsafe = "would delete 6 of 10 owned objects"

    # the safe part (t9's new rule and pods) applied, the unconfirmed deletions withheld
    applied = Plan("dev", "c1", changes=(Change(Op.CREATE, "group", "fc_t9"),), unsafe=unsafe,
                   withheld=gone)
    outcome = DeviceOutcome("dev", plan=applied, refused=True, refusal=Refusal.UNSAFE, applied=True)
    assert made.accounting.account("dev", Job(desired), outcome, apply=True)
    status = build_status(rule, made.device_reports(), None, "t")
    assert conditions(status)["Programmed"]["status"] == "True"
    dev = made.readiness()["devices"]["dev"]
    assert (dev["state"], dev["reason"]) == ("refused", "PlanRefused") and "withheld" in dev["message"]
    assert made.readiness()["degraded"] == ["dev"]
    text = made.render_metrics().decode()
    assert sample(text, "fusion_connector_device_problem", device="dev", reason="PlanRefused") == 1
    [(_, reason, message)] = events.recorded
    assert reason == "UnsafePlanRefused" and "6 deletion(s) withheld" in message

    # a whole plan refused (nothing written): the rules are not programmed
    whole = Plan("dev", "c1", changes=(Change(Op.CREATE, "group", "fc_t9"), *gone), unsafe=unsafe)
    refused = DeviceOutcome("dev", plan=whole, refused=True, refusal=Refusal.UNSAFE)
    made.accounting.account("dev", Job(desired), refused, apply=True)
    programmed = conditions(build_status(rule, made.device_reports(), None, "t"))["Programmed"]
    assert (programmed["status"], programmed["reason"]) == ("False", "PlanRefused")
    assert "nothing written" in events.recorded[-1][2]
