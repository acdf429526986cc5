"""docs/review.md: the generic CI shell step runs as printed, and the GitHub Actions job file
runs the same review."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.connector.review.scenario import SCENARIO, write_scenario_snapshot

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "review.md").read_text()
JOB = ROOT / "docs" / "ci" / "github-actions-review.yml"


def _shell_step() -> str:
    (block,) = re.findall(r"^```sh\n(.*?)^```", DOC, re.S | re.M)
    return str(block)


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.net",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.net"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_generic_shell_step_reviews_a_pull_request_as_printed(tmp_path: Path) -> None:
    repo = tmp_path / "rules"
    policies = repo / "policies"
    policies.mkdir(parents=True)
    documents = list(yaml.safe_load_all((SCENARIO / "cluster.yaml").read_text()))
    for document in documents:
        if document["apiVersion"].startswith("fusion-connector.io/"):
            name = f"{document['metadata']['namespace']}-{document['metadata']['name']}.yaml"
            (policies / name).write_text(yaml.safe_dump(document))
    shutil.copy(SCENARIO / "config.yaml", repo / "fusion-connector.yaml")
    write_scenario_snapshot(repo / "snapshot.json")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "change")
    shutil.copy(SCENARIO / "pr" / "api-to-stripe.yaml", policies / "payments-api-to-stripe.yaml")
    shutil.copy(SCENARIO / "pr" / "bank.yaml", policies / "payments-bank.yaml")
    shutil.copy(SCENARIO / "pr" / "broken.yaml", policies / "shop-too-wide.yaml")
    (policies / "shop-legacy-any.yaml").unlink()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")

    env = {**os.environ, "BASE_REF": "main",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    finished = subprocess.run(["bash", "-c", _shell_step()], cwd=repo, env=env, capture_output=True,
                              text=True, check=False)
    assert finished.returncode == 2, finished.stderr  # shop-too-wide.yaml is refused
    review = (repo / "review.md").read_text()
    assert finished.stdout == review
    assert ("refused `review/changed/policies/shop-too-wide.yaml#1` NamespaceEgressRule shop/too-wide"
            in review)
    assert "| namespace | 198.51.100.0/24 except 198.51.100.0/25 (payments/bank) | 443/TCP |" in review
    assert "| namespace | any other | any other | Allow by NamespaceEgressRule shop/legacy-any |" in review
    assert "| Service api | api.stripe.com (payments/stripe) | 443/TCP |" in review


def test_the_github_actions_job_runs_the_documented_review() -> None:
    job = yaml.safe_load(JOB.read_text())
    steps = job["jobs"]["review"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert job[True]["pull_request"]["paths"] == ["policies/**"]  # YAML 1.1 reads the key `on` as true
    assert "review --config fusion-connector.yaml --snapshot snapshot.json" in script
    assert "--manifests review/changed --delete review/deleted --output markdown > review.md" in script
    collect = next(step["run"] for step in steps
                   if step.get("name") == "Collect the changed and deleted manifests")
    assert collect.replace("$BASE_REF", "$base").strip() in _shell_step()
    assert "(ci/github-actions-review.yml)" in DOC
