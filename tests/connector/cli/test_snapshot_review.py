"""`snapshot` and `review` against the kube mock: a snapshot compiles to the same desired state as
the live cluster, and `review` says the same from either."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from connector.compiler import compile_cluster
from connector.review.snapshot import read_snapshot
from connector.sources.listing import list_all
from connector.wiring import compile_settings, load_config
from tests.connector.cli.lab import FC, Lab, invoke, lab

ROOT = Path(__file__).resolve().parents[3]
NEW_RULE = f"""apiVersion: {FC}
kind: NamespaceEgressRule
metadata: {{name: deny-stripe, namespace: shop}}
spec: {{action: Deny, priority: 10, externalServices: [stripe]}}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab(tmp_path_factory.mktemp("snapshot")) as made:
        yield made


def test_a_snapshot_compiles_to_the_same_desired_state_as_the_live_cluster(world: Lab) -> None:
    config_path = world.config()
    output = world.directory / "snapshot.json"
    result = invoke("snapshot", "--config", str(config_path), "--output", str(output))
    assert result.exit_code == 0, result.output
    document = json.loads(output.read_text())
    schema = json.loads((ROOT / "docs" / "snapshot.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["objects"]["pods"] and document["objects"]["namespaceegressrules"]

    settings = compile_settings(load_config(config_path))
    live = compile_cluster(list_all(world.api), settings)
    view, header = read_snapshot(output)
    offline = compile_cluster(view, settings)
    assert header["cluster"] == "t"
    assert ({d: s.to_json() for d, s in offline.devices.items()}
            == {d: s.to_json() for d, s in live.devices.items()})
    assert [s.to_json() for s in offline.rules.values()] == [s.to_json() for s in live.rules.values()]
    assert any(state.rules for state in live.devices.values())


def test_review_says_the_same_from_the_live_cluster_and_from_its_snapshot(world: Lab) -> None:
    config_path = world.config()
    snapshot = world.directory / "review-snapshot.json"
    assert invoke("snapshot", "--config", str(config_path), "--output", str(snapshot)).exit_code == 0
    manifest = world.directory / "deny-stripe.yaml"
    manifest.write_text(NEW_RULE)
    live = invoke("review", "--config", str(config_path), "--manifests", str(manifest), "--output", "json")
    offline = invoke("review", "--config", str(config_path), "--snapshot", str(snapshot),
                     "--manifests", str(manifest), "--output", "json")
    assert live.exit_code == offline.exit_code == 0, live.output + offline.output
    live_doc, offline_doc = json.loads(live.stdout), json.loads(offline.stdout)
    assert live_doc["basis"] == "the live cluster" and offline_doc["basis"].startswith("snapshot ")
    assert {k: v for k, v in live_doc.items() if k != "basis"} == {k: v for k, v in offline_doc.items()
                                                                    if k != "basis"}
    closes = [c for c in live_doc["changes"] if c["direction"] == "closes"]
    assert closes and closes[0]["after"]["rule"] == "NamespaceEgressRule shop/deny-stripe"
