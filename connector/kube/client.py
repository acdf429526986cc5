"""Build a `kubernetes.client.ApiClient` from the `kubernetes:` section of the configuration.

Exactly one source is used: `host` (a URL, optionally with a bearer token from `tokenEnv`),
`kubeconfig` (a file), or `inCluster` (the pod's service account). With none set, the in-cluster
service account is used when running in a pod, else the default kubeconfig (`$KUBECONFIG` or
`~/.kube/config`). TLS verification stays on unless `verifyTls: false` (or the kubeconfig sets
`insecure-skip-tls-verify`: see `kubeconfig_skips_tls_verify`); `caBundle` names the CA file. The
connection pool is sized for one long-lived watch per kind plus concurrent lists.

Weakened transport security is reported once, by the caller (`connector.security`), not on every
request: urllib3's per-request `InsecureRequestWarning` is silenced for such a client.
`describe_api_error` turns what the client raises into one line for people.
"""

from __future__ import annotations

import logging
import os
import re
import warnings

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from urllib3 import exceptions as urllib3_errors

from connector.config import KubernetesConfig, SecretError, Secrets
from connector.kube.errors import KubernetesConfigError

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 32


def _in_pod(environ: dict[str, str]) -> bool:
    return bool(environ.get("KUBERNETES_SERVICE_HOST"))


def build_configuration(settings: KubernetesConfig, secrets: Secrets | None = None,
                        pool_size: int = DEFAULT_POOL_SIZE,
                        environ: dict[str, str] | None = None) -> k8s_client.Configuration:
    """The client `Configuration` for `settings`; raises KubernetesConfigError."""
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
        raise KubernetesConfigError(f"cannot configure the Kubernetes client: {exc}") from exc
    try:
        token = secrets.optional(settings.token_env, "kubernetes.tokenEnv")
    except SecretError as exc:
        raise KubernetesConfigError(str(exc)) from exc
    if token is not None:
        configuration.api_key = {"BearerToken": token.get_secret_value()}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if not settings.verify_tls:
        configuration.verify_ssl = False
    if not configuration.verify_ssl:
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
    if settings.ca_bundle:
        configuration.ssl_ca_cert = settings.ca_bundle
    configuration.connection_pool_maxsize = pool_size
    log.debug("Kubernetes API client configured from %s", source)
    return configuration


def kubeconfig_skips_tls_verify(configuration: k8s_client.Configuration, settings: KubernetesConfig) -> bool:
    """Whether the kubeconfig behind `configuration` turned TLS verification off
    (`insecure-skip-tls-verify`) while the configuration file did not (`verifyTls` true)."""
    return settings.verify_tls and not configuration.verify_ssl


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*([^'\")]+)")


def _reason(error: BaseException) -> str:
    text = str(error)
    found = _ERRNO.search(text)
    return found.group(1).strip().lower() if found else text


def describe_api_error(exc: BaseException, host: str | None = None) -> str:
    """One line for people about an error of the Kubernetes client: the API server at `host`
    could not be reached (and why), or answered with an error status."""
    where = f"the API server at {host}" if host else "the API server"
    if isinstance(exc, urllib3_errors.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3_errors.SSLError):
        return f"cannot reach {where}: TLS failed: {exc}"
    if isinstance(exc, urllib3_errors.NameResolutionError):
        return f"cannot reach {where}: the name does not resolve ({_reason(exc)})"
    if isinstance(exc, urllib3_errors.NewConnectionError):  # a ConnectTimeoutError subclass
        return f"cannot reach {where}: {_reason(exc)}"
    if isinstance(exc, urllib3_errors.ConnectTimeoutError):
        return f"cannot reach {where}: connecting timed out"
    if isinstance(exc, urllib3_errors.ReadTimeoutError):
        return f"{where} did not answer in time"
    if isinstance(exc, urllib3_errors.ProtocolError | urllib3_errors.HTTPError | ConnectionError):
        return f"the connection to {where} failed: {_reason(exc)}"
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        message = getattr(exc, "message", None) or getattr(exc, "reason", None) or ""
        hint = {401: " (check the credentials: kubernetes.tokenEnv or the kubeconfig's user)",
                403: " (the connector's account lacks a permission: see docs/install.md)"}.get(status, "")
        return f"{where} answered HTTP {status}{': ' + str(message) if message else ''}{hint}"
    return f"cannot read the cluster from {where}: {type(exc).__name__}: {exc}"


def build_api_client(settings: KubernetesConfig, secrets: Secrets | None = None,
                     pool_size: int = DEFAULT_POOL_SIZE) -> k8s_client.ApiClient:
    """An `ApiClient` for `settings` (see the module docstring); raises KubernetesConfigError."""
    return k8s_client.ApiClient(build_configuration(settings, secrets, pool_size))
