"""Kubernetes access fails in one hierarchy: `KubernetesError`, with a subclass for a client that
cannot be configured, an API server that cannot be reached and an error status it answered."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from kubernetes import client as k8s_client

from connector.cluster import KINDS, Kind
from connector.config import KubernetesConfig, Secrets
from connector.kube import (
    KubeApi,
    KubeListWatch,
    KubernetesConfigError,
    KubernetesError,
    KubernetesStatusError,
    KubernetesUnavailable,
    build_api_client,
    build_configuration,
)
from mocks.common.http import HttpServer
from mocks.kube import KubeApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_every_error_is_a_kubernetes_error() -> None:
    for error in (KubernetesConfigError, KubernetesUnavailable, KubernetesStatusError):
        assert issubclass(error, KubernetesError)


def test_a_client_that_cannot_be_configured(tmp_path: Path) -> None:
    with pytest.raises(KubernetesConfigError, match="cannot configure the Kubernetes client"):
        build_configuration(KubernetesConfig.model_validate({"kubeconfig": str(tmp_path / "nope")}),
                            Secrets({}))


def test_an_unreachable_api_server_on_a_raw_call() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    with build_api_client(KubernetesConfig.model_validate({"host": host}), Secrets({})) as api, \
            pytest.raises(KubernetesUnavailable, match=r"^GET /api/v1/namespaces: "):
        KubeApi(api).get("/api/v1/namespaces")


def test_an_error_status_on_a_list() -> None:
    server = HttpServer(KubeApp(controllers=False)).start()
    try:
        configuration = k8s_client.Configuration()
        configuration.host = server.url
        with k8s_client.ApiClient(configuration) as api, pytest.raises(KubernetesStatusError) as caught:
            KubeListWatch(api).list(KINDS[Kind.POD], limit=1, continue_token="not-a-token")
        assert caught.value.status == 400 and str(caught.value).startswith("HTTP 400: continue key")
    finally:
        server.stop()


def test_a_status_error_keeps_its_message() -> None:
    error = KubernetesStatusError(403, "namespaces is forbidden")
    assert (error.status, error.message, str(error)) == (403, "namespaces is forbidden",
                                                         "HTTP 403: namespaces is forbidden")
    assert str(KubernetesStatusError(500)) == "HTTP 500" and not KubernetesStatusError(500).expired
