"""to_yaml(): the header says what was read, used and left out; every manifest follows as its
own document with its comment; the text is exactly the expected one for the scenario and parses
back to the manifests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from connector.flows.record import FlowLine, FlowRecord
from connector.recommend import Target, observe, recommend, to_yaml
from connector.recommend.render import LIST_LIMIT
from tests.connector.recommend.scenario import CLUSTER, NOW, observed_records

EXPECTED = Path(__file__).resolve().parent / "expected"
WINDOW = "the last 7d (2026-11-29T16:00:00Z to 2026-12-06T16:00:00Z)"


def test_the_scenario_s_recommendation_is_exactly_the_expected_yaml() -> None:
    observed = observe(observed_records(), Target("shop", "web"), min_count=2)
    text = to_yaml(recommend(observed, window=WINDOW), CLUSTER, "--min-count 2")
    assert text == (EXPECTED / "web.yaml").read_text()


def test_the_yaml_parses_back_to_the_manifests_each_preceded_by_its_comment() -> None:
    recommendation = recommend(observe(observed_records(), Target("shop")), window=WINDOW)
    text = to_yaml(recommendation, CLUSTER)
    assert list(yaml.safe_load_all(text)) == [m.obj for m in recommendation.manifests]
    documents = text.split("\n---\n")[1:]
    assert len(documents) == len(recommendation.manifests)
    for document, manifest in zip(documents, recommendation.manifests, strict=True):
        assert document.startswith(f"# {manifest.label}: ")


def test_long_lists_of_left_out_flows_are_cut() -> None:
    (record,) = [r for r in observed_records() if r.line.dst == "203.0.113.9"]
    many = [FlowRecord(FlowLine(NOW - timedelta(minutes=1), "soc", "Deny", record.line.src, f"203.0.113.{n}",
                                "TCP", 40000, 443), record.identity, record.rule) for n in range(30)]
    observed = observe(many, Target("shop"))
    text = to_yaml(recommend(observed), CLUSTER)
    assert text.count("#     203.0.113.") == LIST_LIMIT
    assert f"#     ... and {30 - LIST_LIMIT} more\n" in text
    assert "# nothing to recommend: no flow of it can be allowed by a rule\n" in text
    assert list(yaml.safe_load_all(text)) == []
