"""Moved to `connector.kube` (kept until every import names the new place)."""

from connector.kube import KubernetesConfigError as KubernetesClientError
from connector.kube import (
    build_api_client,
    build_configuration,
    describe_api_error,
    kubeconfig_skips_tls_verify,
)

__all__ = ["KubernetesClientError", "build_api_client", "build_configuration", "describe_api_error",
           "kubeconfig_skips_tls_verify"]
