"""Rule status content: conditions, device entries, timestamps carried over, no churn."""

from __future__ import annotations

from connector.compiler import DevicePresence, Problem, Reason, RuleRef, RuleStatus
from connector.controller.device_report import DeviceReport, fingerprints
from connector.controller.status_subresource import build_status
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

REF = RuleRef(RuleKind.NAMESPACE, "payments", "allow-db")
KEY = ("NamespaceEgressRule", "payments", "allow-db")
T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"


def rule_status(*presence: DevicePresence, problems: tuple[Problem, ...] = (), sources: int = 2,
                generation: int = 3) -> RuleStatus:
    return RuleStatus(REF, generation, problems, sources, presence)


def on(*devices: str) -> tuple[DevicePresence, ...]:
    return tuple(DevicePresence(d, True, "compiled") for d in devices)


def report(name: str, held: int | None, wanted: int = 7,
           problem: tuple[str, str] | None = None) -> DeviceReport:
    return DeviceReport(name, {KEY: held} if held is not None else {}, {KEY: wanted}, problem)


def conditions(status: dict) -> dict:  # type: ignore[type-arg]
    return {c["type"]: c for c in status["conditions"]}


def test_programmed_on_every_device_it_should_be_on() -> None:
    status = build_status(rule_status(*on("a", "b")), {"a": report("a", 7), "b": report("b", 7)}, None, T0)
    programmed = conditions(status)["Programmed"]
    assert (programmed["status"], programmed["reason"]) == ("True", "Programmed")
    assert conditions(status)["Accepted"]["status"] == "True"
    assert status["devices"] == [
        {"name": "a", "programmed": True, "message": "programmed", "lastSyncTime": T0},
        {"name": "b", "programmed": True, "message": "programmed", "lastSyncTime": T0}]
    assert status["sources"] == 2 and status["observedGeneration"] == 3
    assert all(c["lastTransitionTime"] == T0 and c["observedGeneration"] == 3 for c in status["conditions"])


def test_rebuilding_an_unchanged_situation_gives_an_equal_status() -> None:
    reports = {"a": report("a", 7)}
    first = build_status(rule_status(*on("a")), reports, None, T0)
    assert build_status(rule_status(*on("a")), reports, first, T1) == first


def test_a_device_holding_an_older_form_is_pending_then_programmed_with_new_times() -> None:
    first = build_status(rule_status(*on("a")), {"a": report("a", 7)}, None, T0)
    pending = build_status(rule_status(*on("a")), {"a": report("a", 6)}, first, T1)
    assert conditions(pending)["Programmed"]["reason"] == "Pending"
    assert conditions(pending)["Programmed"]["lastTransitionTime"] == T1
    assert conditions(pending)["Accepted"]["lastTransitionTime"] == T0
    assert pending["devices"][0]["programmed"] is False
    assert pending["devices"][0]["lastSyncTime"] == T0  # when it was last in sync
    later = "2026-01-01T00:06:00Z"
    again = build_status(rule_status(*on("a")), {"a": report("a", 7)}, pending, later)
    assert again["devices"][0]["lastSyncTime"] == later
    assert conditions(again)["Programmed"]["lastTransitionTime"] == later


def test_device_error_and_refusal_name_the_problem() -> None:
    reports = {"a": report("a", 7), "b": report("b", None, problem=("DeviceError", "HTTP 503"))}
    status = build_status(rule_status(*on("a", "b")), reports, None, T0)
    programmed = conditions(status)["Programmed"]
    assert (programmed["status"], programmed["reason"]) == ("False", "DeviceError")
    assert "b: HTTP 503" in programmed["message"]
    assert status["devices"][1] == {"name": "b", "programmed": False, "message": "HTTP 503"}
    refused = {"a": report("a", None, problem=("PlanRefused", "unsafe plan refused: 80% deletes"))}
    assert conditions(build_status(rule_status(*on("a")), refused, None, T0))["Programmed"]["reason"] == \
        "PlanRefused"


def test_a_device_whose_last_sync_failed_or_was_refused_holds_nothing_as_desired() -> None:
    # The fingerprints leave source membership out: a device that held the rule's form before
    # its syncs started failing does not hold the addresses that joined since. Every rule of a
    # device whose last sync failed or was refused is reported not programmed, with its reason.
    for reason, message in (("DeviceError", "HTTP 503"), ("PlanRefused", "unsafe plan refused: x"),
                            ("CapacityExceeded", "CapacityExceeded: policies 12 > limit 10")):
        reports = {"a": report("a", 7, problem=(reason, message)), "b": report("b", 7)}
        status = build_status(rule_status(*on("a", "b")), reports, None, T0)
        programmed = conditions(status)["Programmed"]
        assert (programmed["status"], programmed["reason"]) == ("False", reason)
        assert programmed["message"] == f"a: {message}"
        assert [(d["name"], d["programmed"], d["message"]) for d in status["devices"]] == [
            ("a", False, message), ("b", True, "programmed")]


def test_a_plan_mode_difference_does_not_unprogram_what_the_device_holds() -> None:
    reports = {"a": report("a", 7, problem=("PlanMode", "plan mode: 2 change(s) not applied"))}
    status = build_status(rule_status(*on("a")), reports, None, T0)
    assert conditions(status)["Programmed"]["status"] == "True"


def test_not_accepted_and_no_sources() -> None:
    blocking = (Problem(Reason.EXTERNAL_SERVICE_NOT_FOUND, "externalServices: db not found", True),)
    rejected = rule_status(DevicePresence("a", False, "not accepted"), problems=blocking)
    status = build_status(rejected, {}, None, T0)
    assert conditions(status)["Accepted"]["reason"] == "ExternalServiceNotFound"
    assert conditions(status)["Programmed"]["reason"] == "NotAccepted"
    assert status["devices"] == []
    empty = rule_status(DevicePresence("a", False, "no source addresses"), sources=0)
    status = build_status(empty, {}, None, T0)
    assert conditions(status)["Programmed"]["reason"] == "NoSources"
    assert status["devices"] == [{"name": "a", "programmed": False, "message": "no source addresses"}]


def test_devices_the_rule_does_not_target_are_left_out() -> None:
    presence = (*on("a"), DevicePresence("b", False, "not selected by spec.devices"))
    status = build_status(rule_status(*presence), {"a": report("a", 7)}, None, T0)
    assert [d["name"] for d in status["devices"]] == ["a"]
    assert conditions(status)["Programmed"]["status"] == "True"


def test_fingerprints_ignore_source_membership() -> None:
    origin = RuleOrigin(RuleKind.NAMESPACE, "payments", "allow-db", Tier.NAMESPACE, 200)
    compiled = CompiledRule("k", origin, "g", None, None, Action.ALLOW)

    def state(addresses: tuple[str, ...], action: Action = Action.ALLOW) -> DeviceState:
        members = tuple((a, (Identity("Pod", "payments", a),)) for a in addresses)
        group = SourceGroup("g", "c1", "payments", members)
        rules = (CompiledRule("k", origin, "g", None, None, action),)
        return DeviceState("a", "c1", {"g": group}, rules=rules)

    assert fingerprints(state(("10.0.0.1",))) == fingerprints(state(("10.0.0.1", "10.0.0.2")))
    assert fingerprints(state(("10.0.0.1",))) != fingerprints(state(("10.0.0.1",), Action.DENY))
    assert set(fingerprints(state(("10.0.0.1",)))) == {KEY}
    assert compiled.origin == origin


def test_a_change_of_the_source_count_alone_is_told_apart() -> None:
    from connector.controller.status_subresource import only_sources_differ

    base = {"observedGeneration": 1, "conditions": [{"type": "Accepted"}], "sources": 3}
    assert only_sources_differ({**base, "sources": 4}, base)
    assert not only_sources_differ(base, dict(base))
    assert not only_sources_differ({**base, "sources": 4, "observedGeneration": 2}, base)
    assert not only_sources_differ({**base, "conditions": []}, base)
