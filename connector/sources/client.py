"""Build a `kubernetes.client.ApiClient` from the `kubernetes:` section of the configuration.

Exactly one source is used: `host` (a URL, optionally with a bearer token from `tokenEnv`),
`kubeconfig` (a file), or `inCluster` (the pod's service account). With none set, the in-cluster
service account is used when running in a pod, else the default kubeconfig (`$KUBECONFIG` or
`~/.kube/config`). TLS verification stays on unless `verifyTls: false`; `caBundle` names the CA
file. The connection pool is sized for one long-lived watch per kind plus concurrent lists.
"""

from __future__ import annotations

import logging
import os

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from connector.config import KubernetesConfig, SecretError, Secrets

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 32


class KubernetesClientError(RuntimeError):
    """The Kubernetes client cannot be configured (missing kubeconfig, service account, token)."""


def _in_pod(environ: dict[str, str]) -> bool:
    return bool(environ.get("KUBERNETES_SERVICE_HOST"))


def build_configuration(settings: KubernetesConfig, secrets: Secrets | None = None,
                        pool_size: int = DEFAULT_POOL_SIZE,
                        environ: dict[str, str] | None = None) -> k8s_client.Configuration:
    """The client `Configuration` for `settings`; raises KubernetesClientError."""
    environ = dict(os.environ) if environ is None else environ
    secrets = secrets or Secrets(environ)
    configuration = k8s_client.Configuration()
    try:
        if settings.host:
            configuration.host = settings.host.rstrip("/")
            source = f"host {configuration.host}"
        elif settings.kubeconfig:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=settings.kubeconfig, client_configuration=configuration,
                persist_config=False)
            source = f"kubeconfig {settings.kubeconfig}"
        elif settings.in_cluster or (settings.in_cluster is None and _in_pod(environ)):
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration)
            source = "in-cluster service account"
        else:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration, persist_config=False)
            source = "default kubeconfig"
    except (k8s_config.ConfigException, OSError) as exc:
        raise KubernetesClientError(f"cannot configure the Kubernetes client: {exc}") from exc
    try:
        token = secrets.optional(settings.token_env, "kubernetes.tokenEnv")
    except SecretError as exc:
        raise KubernetesClientError(str(exc)) from exc
    if token is not None:
        configuration.api_key = {"BearerToken": token.get_secret_value()}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if not settings.verify_tls:
        configuration.verify_ssl = False
        log.warning("TLS verification of the Kubernetes API server is disabled (verifyTls: false)")
    if settings.ca_bundle:
        configuration.ssl_ca_cert = settings.ca_bundle
    configuration.connection_pool_maxsize = pool_size
    log.info("Kubernetes API client configured from %s", source)
    return configuration


def build_api_client(settings: KubernetesConfig, secrets: Secrets | None = None,
                     pool_size: int = DEFAULT_POOL_SIZE) -> k8s_client.ApiClient:
    """An `ApiClient` for `settings` (see the module docstring); raises KubernetesClientError."""
    return k8s_client.ApiClient(build_configuration(settings, secrets, pool_size))
