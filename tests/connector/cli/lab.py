"""An in-process lab for `plan` and `apply`: the kube mock and two REST receivers served on
threads, a configuration naming them, and the CLI run through click's runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import CliRunner, Result
from kubernetes import client as k8s_client

from connector.cli import main
from connector.manifests import ManifestApplier, load_documents
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from mocks.rest import RestMock
from tests.e2e.conftest import REPO_ROOT

CRDS = sorted((REPO_ROOT / "helm" / "fusion-connector" / "crds").glob("*.yaml"))
FC = "fusion-connector.io/v1alpha1"
TOKEN = "mock-token"
DEVICES = ("soc", "siem")


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"fusion-connector.io/managed": "true"},
                         "annotations": annotations or {}}}


def objects() -> list[dict[str, Any]]:
    """One managed namespace with a pod and a rule allowing it to reach Stripe."""
    return [
        namespace("shop"),
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
class Lab:
    directory: Path
    kube: str
    receivers: dict[str, RestMock]
    urls: dict[str, str]
    api: k8s_client.ApiClient
    env: dict[str, str] = field(default_factory=dict)

    def apply_objects(self, documents: Sequence[dict[str, Any]]) -> None:
        ManifestApplier(self.api).apply_all(list(documents))

    def delete(self, kind: str, namespace: str, name: str) -> None:
        path = {"NamespaceEgressRule": f"/apis/{FC}/namespaces/{namespace}/namespaceegressrules/{name}"}[kind]
        httpx.delete(self.kube + path, timeout=10).raise_for_status()

    def config(self, name: str = "config.yaml", **overrides: Any) -> Path:
        document: dict[str, Any] = {
            "cluster": "t", "database": f"sqlite:///{self.directory / 'store.db'}",
            "kubernetes": {"host": self.kube},
            "safety": {"maxDeletePercent": 100, "maxUpdatePercent": 100, "minExisting": 0},
            "devices": [{"name": device, "type": "rest", "url": self.urls[device],
                         "auth": {"tokenEnv": f"{device.upper()}_TOKEN"}} for device in DEVICES],
        }
        document.update(overrides)
        path = self.directory / name
        path.write_text(yaml.safe_dump(document))
        return path

    def seed(self, device: str, **collections: list[dict[str, Any]]) -> None:
        httpx.post(f"{self.urls[device]}/_mock/seed", json=collections, timeout=10).raise_for_status()

    def state(self, device: str) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.urls[device]}/_mock/state", timeout=10).json()
        return data


def invoke(*args: str) -> Result:
    """Run the CLI in process; stdout and stderr are kept apart."""
    return CliRunner().invoke(main, list(args))


@contextlib.contextmanager
def lab(directory: Path) -> Iterator[Lab]:
    with contextlib.ExitStack() as stack:
        kube = stack.enter_context(HttpServer(KubeApp()))
        receivers = {device: RestMock(token=TOKEN) for device in DEVICES}
        urls = {device: stack.enter_context(HttpServer(app)).url for device, app in receivers.items()}
        api = stack.enter_context(k8s_client.ApiClient(k8s_client.Configuration(host=kube.url)))
        ManifestApplier(api).apply_all([*load_documents(CRDS), *objects()])
        yield Lab(directory, kube.url, receivers, urls, api)
