"""`fusion-connector report`: a plan-only pass, then the report; exit 1 (report still written) when
a device cannot be read; input errors exit 2. Mocks run in process."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client as k8s_client

from connector.cli import main
from connector.manifests import ManifestApplier, load_documents
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from mocks.rest import RestMock
from tests.connector.reports.helpers import validate_report
from tests.e2e.conftest import REPO_ROOT

CRDS = sorted((REPO_ROOT / "helm" / "fusion-connector" / "crds").glob("*.yaml"))
FC = "fusion-connector.io/v1alpha1"


def _objects() -> list[dict[str, object]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "shop", "labels": {"fusion-connector.io/managed": "true"}}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        {"apiVersion": FC, "kind": "ExternalService", "metadata": {"name": "stripe", "namespace": "shop"},
         "spec": {"addresses": ["198.51.100.0/24"], "ports": [{"port": "443"}]}},
        {"apiVersion": FC, "kind": "NamespaceEgressRule",
         "metadata": {"name": "to-stripe", "namespace": "shop"},
         "spec": {"action": "Allow", "externalServices": ["stripe"]}},
    ]


@dataclass
class Setup:
    path: Path
    rest: RestMock


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.setenv("GOOD_TOKEN", "mock-token")
    monkeypatch.setenv("BAD_TOKEN", "not-the-token")
    rest_app = RestMock(token="mock-token")
    with HttpServer(KubeApp()) as kube, HttpServer(rest_app) as rest, \
            k8s_client.ApiClient(k8s_client.Configuration(host=kube.url)) as api:
        ManifestApplier(api).apply_all([*load_documents(CRDS), *_objects()])
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({
            "cluster": "t", "database": f"sqlite:///{tmp_path / 'store.db'}",
            "kubernetes": {"host": kube.url},
            "devices": [
                {"name": "soc", "type": "rest", "url": rest.url, "auth": {"tokenEnv": "GOOD_TOKEN"}},
                {"name": "soc-b", "type": "rest", "url": rest.url, "auth": {"tokenEnv": "BAD_TOKEN"}}]}))
        yield Setup(path, rest_app)


@pytest.fixture
def config(setup: Setup) -> Path:
    return setup.path


def _report(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["report", "--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_unreadable_device_exits_1_and_the_report_names_it(setup: Setup, tmp_path: Path) -> None:
    output = tmp_path / "report.json"
    code, stdout, stderr = _report(setup.path, "--format", "json", "--output", str(output))
    assert code == 1 and "soc-b: could not be read" in stderr and "report written to" in stdout
    report = json.loads(output.read_text())
    validate_report(report)
    devices = {d["name"]: d for d in report["devices"]}
    assert devices["soc-b"]["readError"] and devices["soc"]["readError"] is None
    assert devices["soc"]["lastReadAt"] and devices["soc"]["inSync"] is False  # nothing applied yet
    missing = [f for f in report["findings"] if f["device"] == "soc" and f["objectKind"] == "rule"]
    assert missing and all(f["type"] == "missing" and f["namespaces"] == ["shop"] for f in missing)
    assert report["history"] == []  # a report pass writes nothing
    assert {r["method"] for r in setup.rest.requests(0)} == {"GET"}


def test_one_device_to_standard_output(config: Path) -> None:
    code, stdout, _ = _report(config, "--format", "csv", "--output", "-", "--device", "soc", "--since", "1h")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert rows and {r["device"] for r in rows} == {"soc"}
    assert {r["record"] for r in rows} == {"drift", "transport-warning"}  # a token over plain http://


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "forever"), "not a window"),
    (("--device", "nope"), "no device named 'nope'"),
    (("--format", "pdf"), "Invalid value for '--format'"),
])
def test_input_errors_exit_2(config: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    base = {"--format": "json", "--output": str(tmp_path / "r.json")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, _, stderr = _report(config, *[x for pair in base.items() for x in pair])
    assert code == 2 and message in stderr


def test_weakened_transport_security_is_in_the_report(config: Path, tmp_path: Path) -> None:
    """The mock devices are plain http:// with a token: the report names each connection."""
    output = tmp_path / "report.json"
    code, _, stderr = _report(config, "--format", "json", "--output", str(output), "--device", "soc")
    assert "warning: device soc" in stderr and "[PlaintextCredentials]" in stderr
    assert code == 0
    report = json.loads(output.read_text())
    validate_report(report)
    found = [(w["device"], w["reason"]) for w in report["transportWarnings"]]
    assert found == [("soc", "PlaintextCredentials")]
    assert "GOOD_TOKEN" in report["transportWarnings"][0]["message"]
    assert report["summary"]["transportWarnings"] == 1


def test_a_window_longer_than_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--config", str(tmp_path / "absent.yaml"),
                                       "--since", "99999999999999d"])
    assert result.exit_code == 2, result.output
    assert "too long" in result.output and "Traceback" not in result.output


def test_the_report_numbers_rules_as_the_device_holds_them(setup: Setup, tmp_path: Path) -> None:
    """After an apply, the report's plan-only read gives each entry the receiver's own number of its
    rule (its place in `GET /state`'s rules) beside the connector's order."""
    applied = CliRunner().invoke(main, ["apply", "--config", str(setup.path), "--device", "soc"])
    assert applied.exit_code == 0, applied.output
    output = tmp_path / "report.json"
    code, _, _ = _report(setup.path, "--format", "json", "--output", str(output), "--device", "soc")
    assert code == 0
    report = json.loads(output.read_text())
    validate_report(report)
    assert report["devices"][0]["ruleNumbering"] == {"scheme": "rule-position", "label": "rule"}
    url = yaml.safe_load(setup.path.read_text())["devices"][0]["url"]
    listed = httpx.get(f"{url}/state", headers={"Authorization": "Bearer mock-token"}).json()["rules"]
    held = [str(r.get("description", "")) for r in listed]
    entries = [e for s in report["egress"] for d in s["devices"] for e in d["entries"]]
    assert entries and all(e["deviceNumbers"] for e in entries)
    for entry in entries:
        (number,) = entry["deviceNumbers"]
        rule, text = entry["rule"], held[int(number) - 1]
        if rule["kind"] == "DefaultAction":  # a namespace default is held as the grouped default action
            assert text.startswith("DefaultAction ")
        else:
            assert text.startswith(f"{rule['kind']} {rule['namespace']}/{rule['name']}")
