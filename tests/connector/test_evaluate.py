"""First-match evaluation of a compiled DeviceState: the deciding rule, the steps before it, port
questions, and destination names taken exactly or as whatever they resolve to."""

from __future__ import annotations

from typing import Any

import pytest

from connector.evaluate import Names, Outcome, Probe, decide, evaluate
from connector.model import DeviceState, RuleKind
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    service_rule,
)
from tests.connector.compiler.helpers import compile_objects

CNS = "fusion-system"
WEB, WEB6, DB = "10.0.0.1", "fd00::1", "10.0.0.2"


def state(*extra: Any) -> DeviceState:
    objects = [
        namespace("shop"),
        pod("shop", "web-1", [WEB, WEB6], labels={"app": "web"}),
        pod("shop", "db-1", DB, labels={"app": "db"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", [WEB]),
        external_service("shop", "github", ["api.github.com", "140.82.112.0/20"], [{"port": "443"}]),
        external_service(CNS, "tor", ["185.220.0.0/16"]),
        service_rule("shop", "web-github", "Allow", "web", externalServices=["github"], priority=100),
        namespace_rule("shop", "dbs", "Deny", podSelector={"matchLabels": {"app": "db"}}),
        cluster_rule("no-tor", "Deny", externalServices=["tor"]),
        *extra,
    ]
    return compile_objects(objects).devices["fw1"]


def steps(evaluation: Any) -> list[tuple[str, str]]:
    return [(step.rule.origin.name, step.outcome.value) for step in evaluation.steps]


def test_the_first_matching_rule_decides_and_each_rule_before_it_says_why_not() -> None:
    evaluation = evaluate(state(), Probe(WEB, "140.82.113.1", 80))
    assert evaluation.decision is not None and evaluation.decision.origin.kind == RuleKind.DEFAULT
    assert steps(evaluation) == [("no-tor", "no-match"), ("web-github", "no-match")]
    assert evaluation.steps[0].reason == (
        "140.82.113.1 is not in ExternalService fusion-system/tor (185.220.0.0/16)")
    assert evaluation.steps[1].reason == "port 80/TCP is not among 443/TCP"
    assert evaluation.skipped == 1 and evaluation.source_held  # dbs: for db-1 only
    assert evaluate(state(), Probe(WEB, "140.82.113.1", 443)).decision.origin.name == "web-github"  # type: ignore[union-attr]


def test_without_a_port_port_specific_rules_do_not_decide() -> None:
    evaluation = evaluate(state(), Probe(WEB, "140.82.113.1", None))
    assert steps(evaluation) == [("no-tor", "no-match"), ("web-github", "port-dependent")]
    assert evaluation.steps[1].reason == "matches only ports 443/TCP"
    assert evaluation.decision is not None and evaluation.decision.origin.kind == RuleKind.DEFAULT


def test_an_address_in_no_group_decides_nothing() -> None:
    evaluation = evaluate(state(), Probe("172.16.0.1", "1.1.1.1", 53))
    assert evaluation.decision is None and not evaluation.source_held
    assert evaluation.steps == () and evaluation.skipped == len(state().rules)


def anywhere(*addresses: str, ports: list[dict[str, Any]] | None = None) -> list[Any]:
    return [external_service("shop", "anywhere", list(addresses), ports),
            namespace_rule("shop", "web-out", "Allow", externalServices=["anywhere"], priority=50)]


def test_a_name_known_only_by_name_is_in_no_network() -> None:
    """`decide` (names EXACT) is what the devices' name objects match: 0.0.0.0/0 is not a name."""
    device = state(*anywhere("0.0.0.0/0", ports=[{"port": "80"}]))
    evaluation = evaluate(device, Probe(WEB, "api.stripe.com", 80))
    assert ("web-out", "no-match") in steps(evaluation)
    assert decide(device, Probe(WEB, "api.stripe.com", 80)) == evaluation.decision
    assert evaluation.decision is not None and evaluation.decision.origin.kind == RuleKind.DEFAULT


@pytest.mark.parametrize("addresses", [("0.0.0.0/0",), ("0.0.0.0/1", "128.0.0.0/1"), ("0.0.0.0/0", "::/0")])
def test_a_resolved_name_matches_a_destination_holding_every_address_of_its_family(
        addresses: tuple[str, ...]) -> None:
    device = state(*anywhere(*addresses, ports=[{"port": "80"}]))
    evaluation = evaluate(device, Probe(WEB, "api.stripe.com", 80), Names.RESOLVED)
    assert evaluation.decision is not None and evaluation.decision.origin.name == "web-out"
    assert evaluation.reason.startswith("ExternalService shop/anywhere (")
    assert evaluation.reason.endswith(
        "holds every IPv4 address: it matches whatever api.stripe.com resolves to")
    assert steps(evaluation) == [("no-tor", "resolution-dependent")]
    assert evaluation.steps[0].reason == ("matches if api.stripe.com resolves to an address in"
                                          " ExternalService fusion-system/tor (185.220.0.0/16)")


def test_a_resolved_name_follows_the_family_of_the_source() -> None:
    device = state(*anywhere("::/0"))
    from_v4 = evaluate(device, Probe(WEB, "api.stripe.com", 80), Names.RESOLVED)
    assert ("web-out", "no-match") in steps(from_v4)
    reason = next(s.reason for s in from_v4.steps if s.rule.origin.name == "web-out")
    assert reason == ("api.stripe.com is not an FQDN of ExternalService shop/anywhere (no FQDN entries),"
                      " and it holds no IPv4 address")
    from_v6 = evaluate(device, Probe(WEB6, "api.stripe.com", 80), Names.RESOLVED)
    assert from_v6.decision is not None and from_v6.decision.origin.name == "web-out"


def test_resolution_and_port_dependence_are_stated_together() -> None:
    device = state(*anywhere("203.0.113.0/24", ports=[{"port": "80"}]))
    evaluation = evaluate(device, Probe(WEB, "api.stripe.com", None), Names.RESOLVED)
    step = next(s for s in evaluation.steps if s.rule.origin.name == "web-out")
    assert step.outcome is Outcome.RESOLUTION_DEPENDENT
    assert step.reason == ("matches if api.stripe.com resolves to an address in ExternalService shop/anywhere"
                           " (203.0.113.0/24); matches only ports 80/TCP")
    other_port = evaluate(device, Probe(WEB, "api.stripe.com", 22), Names.RESOLVED)
    assert ("web-out", "no-match") in steps(other_port)


def test_a_listed_name_matches_either_way() -> None:
    for names in Names:
        evaluation = evaluate(state(), Probe(WEB, "API.GitHub.com.", 443), names)
        assert evaluation.decision is not None and evaluation.decision.origin.name == "web-github"
        assert evaluation.reason == ""
