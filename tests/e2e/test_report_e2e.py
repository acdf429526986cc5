"""The report end to end: mock Kubernetes API and the three mock devices as processes, the
documented examples loaded, `apply`, drift made by hand on each device through its own API, then
`report` in every format, `apply` again and the findings resolved with their duration. The HTML
page is opened in a real headless Chromium."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client as k8s_client

from connector.cli import main
from connector.cli.passes import read_cluster
from connector.compiler import compile_cluster
from connector.config import Secrets
from connector.manifests import ManifestApplier, load_documents
from connector.wiring import compile_settings, load_config
from tests.connector.reports.browser import chromium, dump_dom
from tests.connector.reports.helpers import assert_egress_agrees_with_explain, validate_report
from tests.e2e.conftest import REPO_ROOT, start_mock

pytestmark = pytest.mark.e2e

CLUSTER = "e2e"
OWNER = f"fusion-connector:{CLUSTER}"
EXAMPLES = sorted((REPO_ROOT / "docs" / "examples").glob("*.yaml"))
CRDS = sorted((REPO_ROOT / "helm" / "fusion-connector" / "crds").glob("*.yaml"))
TOKEN = "mock-token"


def _workloads() -> list[dict[str, Any]]:
    """Namespaces the examples assume, pods and Services (the mock assigns IPs and EndpointSlices)."""
    def pod(ns: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}

    def service(ns: str, name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]}}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fusion-system"}},
        pod("payments", "checkout-1", {"app": "checkout"}),
        pod("payments", "checkout-2", {"app": "checkout"}),
        pod("payments", "checkout-staging-1", {"app": "checkout-staging"}),
        pod("payments", "nightly-1", {"tier": "batch"}),
        service("payments", "checkout"),
        service("payments", "checkout-staging"),
        pod("billing", "ledger-1", {"app": "ledger"}),
        service("billing", "ledger"),
    ]


@dataclass
class Run:
    """What the module's scenario produced: report files before and after the repair."""

    config_path: Path
    tampered: dict[str, str]  # device → name of the device object changed by hand
    before: dict[str, Path]  # format → report written with the drift open
    after: dict[str, Any]  # JSON report after the next apply
    exit_codes: list[int]


def _cli(*args: str) -> int:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code


def _tamper_bigip(url: str) -> str:
    """Add an address to one of our source address lists, as an operator would in the GUI."""
    auth = ("admin", "admin")
    tenant = f"fc_{CLUSTER}"
    declared = httpx.get(f"{url}/mgmt/shared/appsvcs/declare/{tenant}", auth=auth).json()
    shared = declared[tenant]["Shared"]
    name = next(k for k, v in sorted(shared.items()) if isinstance(v, dict)
                and v.get("class") == "Firewall_Address_List" and "sources" in v.get("remark", ""))
    shared[name]["addresses"] = [*shared[name]["addresses"], "192.0.2.250"]
    answer = httpx.post(f"{url}/mgmt/shared/appsvcs/declare", auth=auth, json=declared, timeout=30)
    assert answer.status_code == 200, answer.text
    return name


def _tamper_fortigate(url: str) -> str:
    """Delete one of our firewall policies."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    policies = httpx.get(f"{url}/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                         headers=headers).json()
    ours = next(p for p in policies["results"] if OWNER in p.get("comments", ""))
    answer = httpx.delete(f"{url}/api/v2/cmdb/firewall/policy/{ours['policyid']}", params={"vdom": "root"},
                          headers=headers)
    assert answer.status_code == 200, answer.text
    return str(ours["name"])


def _tamper_rest(url: str) -> str:
    """Delete one of our rules through the protocol's change set."""
    media = "application/vnd.fusion-connector.v1+json"
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": media}
    state = httpx.get(f"{url}/state", headers=headers).json()
    name = next(r["name"] for r in state["rules"] if r["owner"] == OWNER)
    body = {"owner": OWNER, "changes": [{"op": "delete", "kind": "rule", "name": name}]}
    answer = httpx.post(f"{url}/changes", headers={**headers, "Content-Type": media,
                                                   "Idempotency-Key": uuid.uuid4().hex},
                        content=json.dumps(body))
    assert answer.status_code == 200, answer.text
    return str(name)


def _settle(core: Any, discovery: Any, timeout: float = 20.0) -> None:
    """Wait until every pod has an IP and every Service's EndpointSlice lists its pods."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = core.list_pod_for_all_namespaces().items
        slices = discovery.list_endpoint_slice_for_all_namespaces().items
        listed = sum(len(e.addresses) for s in slices for e in s.endpoints or [])
        if all(p.status and p.status.pod_ip for p in pods) and listed >= 4:
            return
        time.sleep(0.1)
    raise AssertionError("the mock cluster did not settle")


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        kube, _ = stack.enter_context(start_mock("kube"))
        bigip, _ = stack.enter_context(start_mock("bigip", "--processing-ms", "5"))
        fortigate, _ = stack.enter_context(start_mock("fortigate"))
        rest, _ = stack.enter_context(start_mock("rest"))
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        for variable, value in (("BIGIP_PASSWORD", "admin"), ("FGT_TOKEN", TOKEN), ("SOC_TOKEN", TOKEN)):
            patch.setenv(variable, value)
        config_path = work / "config.yaml"
        config_path.write_text(yaml.safe_dump({
            "cluster": CLUSTER, "database": f"sqlite:///{work / 'store.db'}",
            "kubernetes": {"host": kube, "connectorNamespace": "fusion-system"},
            "devices": [
                {"name": "bigip-dc1", "type": "f5-as3", "url": bigip,
                 "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"},
                 "attach": {"routeDomain": "/Common/0"}},
                {"name": "fgt-edge", "type": "fortios", "url": fortigate, "auth": {"tokenEnv": "FGT_TOKEN"},
                 "srcintf": ["port2"], "dstintf": ["port1"]},
                {"name": "soc", "type": "rest", "url": rest, "auth": {"tokenEnv": "SOC_TOKEN"}},
            ]}))
        api = stack.enter_context(k8s_client.ApiClient(k8s_client.Configuration(host=kube)))
        ManifestApplier(api).apply_all([*load_documents(CRDS), *_workloads(), *load_documents(EXAMPLES)])
        _settle(k8s_client.CoreV1Api(api), k8s_client.DiscoveryV1Api(api))
        codes = [_cli("apply", "--config", str(config_path), "--quiet")]
        tampered = {"bigip-dc1": _tamper_bigip(bigip), "fgt-edge": _tamper_fortigate(fortigate),
                    "soc": _tamper_rest(rest)}
        before = {fmt: work / f"report.{fmt}" for fmt in ("json", "csv", "html")}
        for fmt, path in before.items():
            codes.append(_cli("report", "--config", str(config_path), "--format", fmt, "--output", str(path)))
        codes.append(_cli("apply", "--config", str(config_path), "--quiet"))
        after = work / "after.json"
        codes.append(_cli("report", "--config", str(config_path), "--format", "json", "--output", str(after),
                          "--since", "1h"))
        yield Run(config_path, tampered, before, json.loads(after.read_text()), codes)


def _drift(report: dict[str, Any], device: str, name: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["device"] == device and f["objectName"] == name)


def test_drift_named_in_every_format(run: Run) -> None:
    assert run.exit_codes == [0, 0, 0, 0, 0, 0]
    report = json.loads(run.before["json"].read_text())
    validate_report(report)
    rows = list(csv.DictReader(io.StringIO(run.before["csv"].read_text())))
    html = run.before["html"].read_text()
    for device, name in run.tampered.items():
        finding = _drift(report, device, name)
        assert finding["status"] == "open" and finding["type"] in ("missing", "different")
        assert finding["namespaces"], finding  # the Kubernetes identity behind it
        row = next(r for r in rows if r["device"] == device and r["object_name"] == name)
        assert (row["record"], row["status"], row["namespaces"]) == ("drift", "open", "; ".join(
            finding["namespaces"]))
        assert name in html and finding["namespaces"][0] in html
    assert _drift(report, "fgt-edge", run.tampered["fgt-edge"])["rules"]
    assert _drift(report, "soc", run.tampered["soc"])["rules"]
    assert _drift(report, "bigip-dc1", run.tampered["bigip-dc1"])["type"] == "different"
    edited = next(r for r in rows if r["object_name"] == run.tampered["bigip-dc1"])
    assert edited["message"] == "addresses: unexpected 192.0.2.250" and edited["message"] in html
    assert {d["name"]: d["inSync"] for d in report["devices"]} == {"bigip-dc1": False, "fgt-edge": False,
                                                                   "soc": False}


def test_findings_resolved_after_apply(run: Run) -> None:
    validate_report(run.after)
    for device, name in run.tampered.items():
        finding = _drift(run.after, device, name)
        assert finding["status"] == "resolved" and finding["openSeconds"] > 0
        assert finding["resolvedAt"] >= finding["firstSeen"]
    assert all(d["inSync"] and d["lastWriteAt"] for d in run.after["devices"])
    assert {h["device"] for h in run.after["history"]} == set(run.tampered)


def test_egress_agrees_with_explain(run: Run) -> None:
    config = load_config(str(run.config_path))
    view = read_cluster(config, Secrets())
    compiled = compile_cluster(view, compile_settings(config))
    services = {s["service"] for s in run.after["egress"] if s["kind"] == "Service"}
    assert {"checkout", "checkout-staging", "ledger"} <= services
    assert assert_egress_agrees_with_explain(run.after, view, compiled) > 20


def test_html_in_chromium(run: Run, tmp_path: Path) -> None:
    chromium()  # skips, or fails when the environment requires it, without the browser
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>x</p><script>console.error("control")</script>')
    assert dump_dom(control, tmp_path)[1], "console messages must be detectable"
    dom, messages = dump_dom(run.before["html"], tmp_path)
    assert messages == []
    report = json.loads(run.before["json"].read_text())
    for device in report["devices"]:
        assert f'class="device-row" data-device="{device["name"]}"' in dom
    for device, name in run.tampered.items():
        assert f'class="finding" data-device="{device}" data-status="open"' in dom and name in dom
