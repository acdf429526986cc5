"""`explain` with audit rules: the answer is the one without them; the audit rules that would have
decided, had each been enforced alone, are listed as "would decide" (`evaluate.would_decide`)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from connector.cluster import StaticView
from connector.evaluate import Probe, SourceIndex, evaluate, would_decide
from connector.explain import explain
from connector.model import DeviceState
from tests.adapters.strategies import states_with_probes
from tests.connector.compiler.builders import cluster_rule, external_service, namespace_rule, service_rule
from tests.connector.compiler.helpers import compile_objects
from tests.connector.test_explain import CNS, cluster

AUDITS = [
    service_rule("shop", "web-no-github", "Deny", "web", externalServices=["github"], priority=50,
                 mode="Audit"),
    external_service(CNS, "github-net", ["140.82.112.0/20"]),
    cluster_rule("allow-github", "Allow", externalServices=["github-net"], priority=10, mode="Audit"),
    namespace_rule("shop", "late", "Allow", priority=900, mode="Audit"),
]


def run(objects: list[dict[str, Any]], source: str, destination: str) -> Any:
    return explain(StaticView(objects), compile_objects(objects), source, destination)


def test_audit_rules_do_not_change_the_answer_and_are_listed() -> None:
    plain = run(cluster(), "shop/web-1", "140.82.113.1:443")
    audited = run(cluster(*AUDITS), "shop/web-1", "140.82.113.1:443")
    for before, after in zip(plain.devices, audited.devices, strict=True):
        assert after.decision == before.decision and after.action == "Allow"
        assert after.considered == before.considered
        assert [r.origin.name for r in before.would_decide] == []
        # the service rule decides at priority 100: both audit rules before it would decide,
        # the namespace rule at 900 comes after it and would not
        assert [(r.origin.name, r.action.value) for r in after.would_decide] == [
            ("allow-github", "Allow"), ("web-no-github", "Deny")]
    entries = audited.to_json()["devices"][0]["wouldDecide"]
    assert [(e["origin"]["name"], e["wouldChange"]) for e in entries] == [
        ("allow-github", False), ("web-no-github", True)]
    lines = audited.lines()
    assert ("  would decide (audit): Deny by ServiceEgressRule shop/web-no-github (tier Namespace,"
            " priority 50): would change the decision") in lines
    assert ("  would decide (audit): Allow by ClusterEgressRule allow-github (tier Admin, priority 10):"
            " same decision") in lines


def test_an_audit_rule_after_the_deciding_rule_would_not_decide() -> None:
    explanation = run(cluster(*AUDITS), "shop/db-1", "198.51.100.1:443")
    device = explanation.devices[0]
    assert device.decision is not None and device.decision.origin.name == "dbs"
    assert device.would_decide == ()


def test_an_audit_rule_decides_where_no_rule_does() -> None:
    objects = cluster(*AUDITS, annotations={"fusion-connector.io/default-action": "None"})
    explanation = run(objects, "shop/web-1", "192.0.2.1:80")
    device = explanation.devices[0]
    assert device.decision is None
    assert [r.origin.name for r in device.would_decide] == ["late"]
    assert explanation.to_json()["devices"][0]["wouldDecide"][0]["wouldChange"] is True


def test_the_source_index_gives_what_the_scan_gives() -> None:
    state = compile_objects(cluster(*AUDITS)).devices["fw1"]
    staged = state.as_staged()
    enforced_index, staged_index = SourceIndex(state), SourceIndex(staged)
    walked = []
    for source in ("10.0.0.1", "10.0.0.2", "fd00::1", "fd00:0::1", "192.0.2.9"):
        for destination, port in (("140.82.113.1", 443), ("140.82.113.1", 80), ("185.220.1.1", None)):
            probe = Probe(source, destination, port)
            scanned = evaluate(state, probe)
            walked.append(scanned)
            indexed = evaluate(state, probe, index=enforced_index)
            assert indexed == scanned
            assert would_decide(state, probe, scanned) == would_decide(state, probe, indexed,
                                                                       index=staged_index)
    assert any(e.skipped and e.steps for e in walked) and any(e.decision is None for e in walked)


@settings(max_examples=60, deadline=None)
@given(states_with_probes())
def test_the_indexed_walk_equals_the_full_walk(case: tuple[DeviceState, list[Probe]]) -> None:
    state, probes = case
    index = SourceIndex(state)
    for probe in probes:
        assert evaluate(state, probe, index=index) == evaluate(state, probe)


def test_an_updated_index_equals_a_fresh_one() -> None:
    from connector.cluster import Kind
    from connector.compiler import Compiler
    from tests.connector.compiler.builders import endpoint_slice, pod, settings

    view = StaticView(cluster(*AUDITS))
    compiler = Compiler(settings())
    before = compiler.full(view).devices["fw1"]
    index, staged = SourceIndex(before), SourceIndex(before.as_staged())
    changes = [view.put(pod("shop", "web-2", "10.0.0.9", labels={"app": "web"})),
               view.put(endpoint_slice("shop", "web", ["10.0.0.1", "10.0.0.9"])),
               view.delete(Kind.POD, "shop", "db-1")]
    after = compiler.apply(changes).devices["fw1"]
    assert after.groups != before.groups
    index.update(after)
    staged.update(after.as_staged())
    fresh, fresh_staged = SourceIndex(after), SourceIndex(after.as_staged())
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.9", "fd00::1", "192.0.2.9"):
        assert index.holding(address) == fresh.holding(address)
        assert index.positions(index.holding(address)) == fresh.positions(fresh.holding(address))
        assert staged.holding(address) == fresh_staged.holding(address)
    assert "c1/shop/svc/web" in staged.holding("10.0.0.9") and not index.holding("10.0.0.2")
