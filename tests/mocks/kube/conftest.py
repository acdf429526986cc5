"""An in-process mock API server and real `kubernetes` client APIs bound to it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from mocks.common.http import HttpServer
from mocks.kube import KubeApp


@dataclass
class Cluster:
    app: KubeApp
    url: str
    api_client: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @property
    def discovery(self) -> client.DiscoveryV1Api:
        return client.DiscoveryV1Api(self.api_client)

    @property
    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api_client)

    @property
    def extensions(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.api_client)

    def mock(self, path: str, payload: Any = None, method: str = "POST") -> Any:
        """Call a /_mock/ endpoint."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def raw(
        self, path: str, method: str = "GET", body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """A plain HTTP call: (status, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def start(app: KubeApp) -> Iterator[Cluster]:
    server = HttpServer(app).start()
    api_client = client.ApiClient(client.Configuration(host=server.url))
    try:
        yield Cluster(app, server.url, api_client)
    finally:
        app.api.store.drop_watchers()
        api_client.close()
        server.stop()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    yield from start(KubeApp(bookmark_interval=0.2))


@pytest.fixture
def bare_cluster() -> Iterator[Cluster]:
    """No controllers: pods stay Pending, no EndpointSlices appear."""
    yield from start(KubeApp(controllers=False, bookmark_interval=0.2))


def pod(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
    metadata.update(extra.pop("metadata", {}))
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }
    body.update(extra)
    return body


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
