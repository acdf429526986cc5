"""`fusion-connector explain` against an in-process mock API server; devices are never contacted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client as k8s_client

from connector.cli import main
from connector.manifests import ManifestApplier, expand
from mocks.common.http import HttpServer
from mocks.kube import KubeApp

REPO = Path(__file__).resolve().parents[3]

SCENARIO = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {fusion-connector.io/managed: "true"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: web}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: fusion-connector.io/v1alpha1
kind: ExternalService
metadata: {name: payments-api, namespace: shop}
spec: {addresses: [api.pay.example, 198.51.100.0/24], ports: [{port: "443"}]}
---
apiVersion: fusion-connector.io/v1alpha1
kind: ServiceEgressRule
metadata: {name: web-to-payments, namespace: shop}
spec: {service: web, action: Allow, priority: 100, externalServices: [payments-api]}
"""


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with HttpServer(KubeApp()) as server:
        api = k8s_client.ApiClient(k8s_client.Configuration(host=server.url))
        crds = sorted((REPO / "helm/fusion-connector/crds").glob("*.yaml"))
        objects = [doc for path in crds for doc in expand(yaml.safe_load_all(path.read_text()))]
        objects += list(expand(yaml.safe_load_all(SCENARIO)))
        ManifestApplier(api).apply_all(objects)
        path = tmp_path_factory.mktemp("explain") / "fc.yaml"
        # The device URL points nowhere: explain must not contact devices.
        path.write_text(f"cluster: test\ndatabase: sqlite:///{path.parent}/fc.db\n"
                        f"kubernetes: {{host: '{server.url}'}}\n"
                        "devices:\n- {name: edge, type: rest, url: 'http://127.0.0.1:9'}\n")
        yield path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--log-level", "warning", "explain", "--config", str(config), *args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_allow_by_the_service_rule(config_path: Path) -> None:
    code, output = run(config_path, "--from", "shop/web-1", "--to", "api.pay.example:443")
    assert code == 0, output
    assert "edge: Allow by ServiceEgressRule shop/web-to-payments" in output


def test_default_deny_after_the_rule_is_considered(config_path: Path) -> None:
    code, output = run(config_path, "--from", "shop/svc/web", "--to", "198.51.100.7:22/TCP")
    assert code == 0, output
    assert "edge: Deny by DefaultAction" in output
    assert "ServiceEgressRule shop/web-to-payments" in output


def test_json_output(config_path: Path) -> None:
    code, output = run(config_path, "--from", "shop/web-1", "--to", "198.51.100.7:443", "--output", "json")
    assert code == 0, output
    payload = json.loads(output)
    assert payload["devices"][0]["device"] == "edge"


def test_bad_input_exits_2_naming_it(config_path: Path) -> None:
    code, output = run(config_path, "--from", "shop/web-1", "--to", "api.pay.example:70000")
    assert code == 2
    assert "70000" in output
