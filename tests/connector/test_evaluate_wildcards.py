"""Wildcard names in the one evaluation (`connector.evaluate`) and in `explain`: `*.example.com`
covers one or more labels before `example.com`, never `example.com` itself."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connector.cluster import StaticView
from connector.evaluate import Names, Outcome, Probe, evaluate, name_matches
from connector.explain import explain
from tests.connector.compiler.builders import (
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    settings,
)
from tests.connector.compiler.helpers import compile_objects

WEB = "10.0.0.1"
LABELS = st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4)


def _covered(domain: list[str], name: list[str]) -> bool:
    """The documented meaning, label by label: more labels than the domain, ending with them."""
    return len(name) > len(domain) and name[len(name) - len(domain):] == domain


@given(LABELS, LABELS, LABELS)
def test_name_matches_is_one_or_more_labels_before_the_domain(domain: list[str], before: list[str],
                                                              other: list[str]) -> None:
    pattern = "*." + ".".join(domain)
    assert name_matches(pattern, ".".join([*before, *domain]))
    assert not name_matches(pattern, ".".join(domain))
    assert name_matches(pattern, ".".join(other)) == _covered(domain, other)
    assert name_matches(".".join(domain), ".".join(other)) == (domain == other)


def test_a_label_that_merely_ends_with_the_domain_text_is_not_covered() -> None:
    assert not name_matches("*.example.com", "badexample.com")
    assert name_matches("*.example.com", "bad.example.com")


def objects() -> list[dict[str, Any]]:
    return [
        namespace("shop"),
        pod("shop", "web-1", WEB, labels={"app": "web"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", [WEB]),
        external_service("shop", "cdn", ["*.cdn.example.com", "192.0.2.0/24"], [{"port": "443"}]),
        namespace_rule("shop", "cdn", "Allow", externalServices=["cdn"], priority=100),
    ]


def test_evaluate_says_which_wildcard_covers_a_name() -> None:
    state = compile_objects(objects()).devices["fw1"]
    evaluation = evaluate(state, Probe(WEB, "img.cdn.example.com", 443))
    assert evaluation.decision is not None and evaluation.decision.origin.name == "cdn"
    assert evaluation.reason == ("img.cdn.example.com is covered by *.cdn.example.com of"
                                 " ExternalService shop/cdn")
    apex = evaluate(state, Probe(WEB, "cdn.example.com", 443))
    assert apex.decision is not None and apex.decision.origin.name != "cdn"
    [step] = [s for s in apex.steps if s.rule.origin.name == "cdn"]
    assert step.outcome is Outcome.NO_MATCH
    assert step.reason == ("cdn.example.com is not covered by an FQDN of ExternalService shop/cdn"
                           " (*.cdn.example.com)")
    resolved = evaluate(state, Probe(WEB, "cdn.example.com", 443), Names.RESOLVED)
    [step] = [s for s in resolved.steps if s.rule.origin.name == "cdn"]
    assert step.outcome is Outcome.RESOLUTION_DEPENDENT  # it may resolve into 192.0.2.0/24


def test_explain_shows_the_wildcard_decision_per_device() -> None:
    items = objects()
    result = compile_objects(items, settings(no_wildcard=("fw2",)))
    explanation = explain(StaticView(items), result, "shop/web-1", "img.cdn.example.com:443")
    by_device = {d.device: d for d in explanation.devices}
    assert by_device["fw1"].decision is not None and by_device["fw1"].decision.origin.name == "cdn"
    assert "img.cdn.example.com is covered by *.cdn.example.com of ExternalService shop/cdn" in (
        by_device["fw1"].notes)
    fw2 = by_device["fw2"]
    assert fw2.decision is None or fw2.decision.origin.name != "cdn"
    assert any("WildcardFQDNUnsupported" in note and "*.cdn.example.com" in note for note in fw2.notes)
