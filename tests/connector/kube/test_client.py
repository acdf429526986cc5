from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api

from connector.config import KubernetesConfig, Secrets
from connector.kube import (
    KubernetesConfigError,
    build_api_client,
    build_configuration,
    describe_api_error,
    kubeconfig_skips_tls_verify,
)

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://kube.example:6443", certificate-authority-data: ""}
users:
- name: u
  user: {token: kubeconfig-token}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
"""


def test_host_with_token_from_environment_keeps_tls_verification(caplog: pytest.LogCaptureFixture) -> None:
    settings = KubernetesConfig.model_validate({"host": "https://kube.example:6443/",
                                                "tokenEnv": "KUBE_TOKEN"})
    with caplog.at_level(logging.DEBUG):
        configuration = build_configuration(settings, Secrets({"KUBE_TOKEN": "s3cret"}), pool_size=40)
    assert configuration.host == "https://kube.example:6443"
    assert configuration.verify_ssl is True
    assert configuration.connection_pool_maxsize == 40
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer s3cret"
    assert "s3cret" not in caplog.text


def test_tls_options_are_honoured() -> None:
    # reporting a disabled verification is connector.security's job, once, not the client's
    settings = KubernetesConfig.model_validate({"host": "https://k:6443", "verifyTls": False})
    configuration = build_configuration(settings, Secrets({}))
    assert configuration.verify_ssl is False
    assert not kubeconfig_skips_tls_verify(configuration, settings)  # the file's choice, not the kubeconfig's
    bundle = KubernetesConfig.model_validate({"host": "https://k:6443", "caBundle": "/etc/ca.pem"})
    assert build_configuration(bundle, Secrets({})).ssl_ca_cert == "/etc/ca.pem"


def test_missing_token_variable_is_a_client_error() -> None:
    settings = KubernetesConfig.model_validate({"host": "https://k:6443", "tokenEnv": "ABSENT"})
    with pytest.raises(KubernetesConfigError, match="ABSENT"):
        build_configuration(settings, Secrets({}))


def test_kubeconfig_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    settings = KubernetesConfig.model_validate({"kubeconfig": str(path)})
    configuration = build_configuration(settings, Secrets({}))
    assert configuration.host == "https://kube.example:6443"
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer kubeconfig-token"


def test_missing_kubeconfig_or_service_account_is_a_client_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesConfigError):
        build_configuration(KubernetesConfig.model_validate({"kubeconfig": str(tmp_path / "nope")}),
                            Secrets({}))
    with pytest.raises(KubernetesConfigError):
        build_configuration(KubernetesConfig.model_validate({"inCluster": True}), Secrets({}),
                            environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"})


def test_build_api_client_returns_a_usable_client() -> None:
    settings = KubernetesConfig.model_validate({"host": "http://127.0.0.1:1"})
    api_client = build_api_client(settings, Secrets({}))
    try:
        assert api_client.configuration.host == "http://127.0.0.1:1"
    finally:
        api_client.close()


def test_a_kubeconfig_skipping_tls_verification_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG.replace('certificate-authority-data: ""', "insecure-skip-tls-verify: true"))
    settings = KubernetesConfig.model_validate({"kubeconfig": str(path)})
    assert kubeconfig_skips_tls_verify(build_configuration(settings, Secrets({})), settings)
    path.write_text(KUBECONFIG)
    assert not kubeconfig_skips_tls_verify(build_configuration(settings, Secrets({})), settings)


def _failure(host: str) -> BaseException:
    settings = KubernetesConfig.model_validate({"host": host})
    with build_api_client(settings, Secrets({})) as api, pytest.raises(Exception) as caught:
        CoreV1Api(api).list_namespace(_request_timeout=5)
    return caught.value


def test_connection_failures_are_one_line_naming_the_host_and_the_reason() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    assert describe_api_error(_failure(host), host) == (
        f"cannot reach the API server at {host}: connection refused")
    assert describe_api_error(_failure("http://nohost.invalid:1"), "http://nohost.invalid:1").startswith(
        "cannot reach the API server at http://nohost.invalid:1: the name does not resolve")


def test_error_statuses_are_described_with_a_hint() -> None:
    from kubernetes.client import ApiException

    from connector.kube import KubernetesStatusError

    assert describe_api_error(KubernetesStatusError(403, "namespaces is forbidden")) == (
        "the API server answered HTTP 403: namespaces is forbidden (the connector's account lacks a"
        " permission: see docs/install.md)")
    assert describe_api_error(ApiException(status=401, reason="Unauthorized"), "https://k").startswith(
        "the API server at https://k answered HTTP 401: Unauthorized (check the credentials")
