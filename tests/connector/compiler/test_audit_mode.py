"""`mode: Audit`: an audit rule takes no part in any device's decision; its compiled rules are kept
apart in `DeviceState.staged` with the position each would have had, and incremental compiles
keep them like full ones."""

from __future__ import annotations

from typing import Any

from connector.cluster import StaticView
from connector.compiler import Compiler, Reason
from connector.evaluate import Probe, decide
from connector.model import Protocol, RuleKind
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    service_rule,
    settings,
)
from tests.connector.compiler.helpers import compile_objects, reasons, status

CNS = "fusion-system"
WEB, DB = "10.0.0.1", "10.0.0.2"
EXT, OTHER = "198.51.100.7", "203.0.113.9"


def base() -> list[dict[str, Any]]:
    return [
        namespace("a", labels={"env": "prod"}),
        pod("a", "web-1", WEB, labels={"app": "web"}),
        pod("a", "db-1", DB, labels={"app": "db"}),
        service("a", "web"),
        endpoint_slice("a", "web", [WEB]),
        external_service("a", "ext", ["198.51.100.0/24"], [{"protocol": "TCP", "port": "443"}]),
        external_service(CNS, "bad", ["203.0.113.0/24"]),
        namespace_rule("a", "allow-ext", "Allow", priority=300, externalServices=["ext"]),
    ]


def audits() -> list[dict[str, Any]]:
    return [
        service_rule("a", "web-deny", "Deny", "web", priority=100, externalServices=["ext"], mode="Audit"),
        cluster_rule("no-bad", "Deny", externalServices=["bad"], mode="Audit"),
    ]


PROBES = [Probe(src, dst, port, Protocol.TCP) for src in (WEB, DB) for dst in (EXT, OTHER)
          for port in (443, 80)]


def test_audit_rules_take_no_part_in_any_decision() -> None:
    enforced_only = compile_objects(base())
    with_audit = compile_objects(base() + audits())
    for device in ("fw1", "fw2"):
        state = with_audit.devices[device]
        assert not any(r.audit for r in state.rules)
        assert not any(r.origin.name in ("web-deny", "no-bad") for r in state.rules)
        assert state.rules == enforced_only.devices[device].rules
        assert state.groups == enforced_only.devices[device].groups
        for probe in PROBES:
            assert decide(state, probe) == decide(enforced_only.devices[device], probe), probe


def test_audit_rules_are_staged_in_order_with_their_positions() -> None:
    state = compile_objects(base() + audits()).devices["fw1"]
    staged = state.staged
    assert [(r.origin.kind, r.origin.name, r.audit) for r in staged.rules] == [
        (RuleKind.CLUSTER, "no-bad", True), (RuleKind.SERVICE, "web-deny", True)]
    # the Admin rule would come first; the Service rule before the namespace's own rules
    first_namespace_rule = next(i for i, r in enumerate(state.rules) if r.origin.name == "allow-ext")
    assert staged.positions == (0, first_namespace_rule)
    assert set(staged.groups) == {"c1/_cluster/rule/no-bad", "c1/a", "c1/a/svc/web"}
    assert set(staged.destinations) == {"c1/fusion-system/bad", "c1/a/ext"}
    assert staged.groups["c1/a/svc/web"].addresses == (WEB,)
    assert state.to_json()["staged"]["positions"] == list(staged.positions)
    # the staged rules as a state of their own decide like the audit rules would alone
    alone = state.as_staged()
    rule = decide(alone, Probe(WEB, EXT, 443))
    assert rule is not None and rule.origin.name == "web-deny"
    assert decide(alone, Probe(DB, EXT, 443)) is None


def test_a_state_without_audit_rules_serialises_as_before() -> None:
    state = compile_objects(base()).devices["fw1"]
    assert "staged" not in state.to_json()
    assert all("mode" not in rule for rule in state.to_json()["rules"])


def test_audit_rule_status_is_accepted_and_reports_its_presence() -> None:
    result = compile_objects(base() + audits())
    rule = status(result, RuleKind.SERVICE, "a", "web-deny")
    assert rule.accepted and rule.sources == 1
    assert all(p.present for p in rule.devices)


def test_an_invalid_mode_is_refused_naming_the_object_and_field() -> None:
    bad = service_rule("a", "web-deny", "Deny", "web", externalServices=["ext"], mode="DryRun")
    result = compile_objects([*base(), bad])
    assert reasons(result, RuleKind.SERVICE, "a", "web-deny") == {Reason.INVALID_SPEC}
    message = status(result, RuleKind.SERVICE, "a", "web-deny").message
    assert message == "ServiceEgressRule a/web-deny: spec.mode: 'DryRun' is not Enforce or Audit"
    assert not result.devices["fw1"].staged.rules


def test_switching_modes_incrementally_equals_a_full_compile() -> None:
    view = StaticView(base() + audits())
    compiler = Compiler(settings())
    compiler.full(view)
    enforce = service_rule("a", "web-deny", "Deny", "web", priority=100, externalServices=["ext"],
                           mode="Enforce")
    result = compiler.apply([view.put(enforce)])
    assert result.devices == Compiler(settings()).full(view).devices
    state = result.devices["fw1"]
    assert any(r.origin.name == "web-deny" for r in state.rules)
    assert [r.origin.name for r in state.staged.rules] == ["no-bad"]
    decided = decide(state, Probe(WEB, EXT, 443))
    assert decided is not None and decided.origin.name == "web-deny"
    # a pod joining the Service changes the staged group too, copy on write
    audit_again = service_rule("a", "web-deny", "Deny", "web", priority=100, externalServices=["ext"],
                               mode="Audit")
    compiler.apply([view.put(audit_again)])
    before = compiler.result.devices["fw1"]
    result = compiler.apply([view.put(pod("a", "web-2", "10.0.0.3", labels={"app": "web"})),
                             view.put(endpoint_slice("a", "web", [WEB, "10.0.0.3"]))])
    after = result.devices["fw1"]
    assert after.staged.groups["c1/a/svc/web"].addresses == (WEB, "10.0.0.3")
    assert after.staged.rules is before.staged.rules
    assert after.rules is before.rules
    assert result.devices == Compiler(settings()).full(view).devices
