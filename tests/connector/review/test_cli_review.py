"""`review` over the scenario's snapshot: the exact output in every format, and the exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.connector.review.scenario import EXPECTED, SCENARIO, write_scenario_snapshot

ROOT = Path(__file__).resolve().parents[3]
ARGS = ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
        "--manifests", "pr/api-to-stripe.yaml", "pr/bank.yaml", "pr/broken.yaml", "--delete", "gone"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("config.yaml", "pr", "gone"):
        source = SCENARIO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    write_scenario_snapshot(tmp_path / "snapshot.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("output, expected", [("text", "review.txt"), ("markdown", "review.md"),
                                              ("json", "review.json")])
def test_the_change_set_reviews_to_the_expected_output(workdir: Path, output: str, expected: str) -> None:
    result = CliRunner().invoke(main, [*ARGS, "--output", output])
    assert result.exit_code == 2, result.output  # broken.yaml is refused
    assert result.stdout == (EXPECTED / expected).read_text()


def test_the_json_output_follows_its_documented_schema(workdir: Path) -> None:
    result = CliRunner().invoke(main, [*ARGS, "--output", "json"])
    schema = json.loads((ROOT / "docs" / "review.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(result.stdout))


def test_without_the_invalid_manifest_the_review_exits_0(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
                                       "--manifests", "pr/api-to-stripe.yaml", "pr/bank.yaml"])
    assert result.exit_code == 0, result.output
    assert "refused" not in result.stdout
    assert "Service api → api.stripe.com port 443/TCP" in result.stdout


def test_a_directory_stands_for_its_manifests(workdir: Path) -> None:
    by_files = CliRunner().invoke(main, [*ARGS, "--output", "json"])
    by_directory = CliRunner().invoke(main, [*ARGS[:6], "pr", "--delete", "gone", "--output", "json"])
    assert json.loads(by_directory.stdout)["changes"] == json.loads(by_files.stdout)["changes"]


def test_a_rule_of_the_change_set_not_accepted_makes_the_review_invalid(workdir: Path) -> None:
    (workdir / "typo.yaml").write_text(
        "apiVersion: fusion-connector.io/v1alpha1\nkind: NamespaceEgressRule\n"
        "metadata: {name: typo, namespace: payments}\nspec: {action: Allow, externalServices: [strpie]}\n")
    result = CliRunner().invoke(main, ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
                                       "--manifests", "typo.yaml"])
    assert result.exit_code == 2
    assert ("not accepted: NamespaceEgressRule payments/typo (typo.yaml#1): ExternalServiceNotFound"
            in result.stdout)


@pytest.mark.parametrize("args, message", [
    (["--manifests", "nowhere.yaml"], "no such file or directory: nowhere.yaml"),
    (["--manifests", "pr", "--window", "soon"], "--window 'soon'"),
])
def test_bad_input_exits_2_naming_it(workdir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
                                       *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_unusable_snapshot_exits_2_naming_the_file(workdir: Path) -> None:
    (workdir / "snapshot.json").write_text('{"kind": "FusionConnectorSnapshot", "version": 9}')
    result = CliRunner().invoke(main, ARGS)
    assert result.exit_code == 2
    assert "snapshot.json: snapshot format version 9 is not supported" in result.stderr
