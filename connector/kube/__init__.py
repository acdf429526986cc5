"""Kubernetes access: the client, the calls the connector makes, and their errors.

- `build_api_client(config.kubernetes, secrets)` / `build_configuration` — the official client's
  `ApiClient` for the `kubernetes:` settings (`client`); `describe_api_error` says in one line
  what went wrong.
- `KubeListWatch(api_client)` — list, watch and discovery on raw JSON for the watch layer, behind
  the `ListWatchApi` protocol (`listwatch`).
- `KubeApi(api_client)` — raw JSON GET/POST/PUT/PATCH by path: Leases, Events, rule status (`rest`).
- `KubernetesError` and its subclasses `KubernetesConfigError`, `KubernetesUnavailable`,
  `KubernetesStatusError` — every failure of the above (`errors`).
"""

from connector.kube.client import (
    build_api_client,
    build_configuration,
    describe_api_error,
    kubeconfig_skips_tls_verify,
)
from connector.kube.errors import (
    KubernetesConfigError,
    KubernetesError,
    KubernetesStatusError,
    KubernetesUnavailable,
)
from connector.kube.listwatch import KubeListWatch, ListWatchApi, WatchStream
from connector.kube.rest import KubeApi

__all__ = [
    "KubeApi",
    "KubeListWatch",
    "KubernetesConfigError",
    "KubernetesError",
    "KubernetesStatusError",
    "KubernetesUnavailable",
    "ListWatchApi",
    "WatchStream",
    "build_api_client",
    "build_configuration",
    "describe_api_error",
    "kubeconfig_skips_tls_verify",
]
