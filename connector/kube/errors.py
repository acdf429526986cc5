"""The errors of Kubernetes access: one hierarchy under `KubernetesError`.

- `KubernetesConfigError`: the client cannot be configured (missing kubeconfig, service account,
  token).
- `KubernetesUnavailable`: the API server could not be reached (a raw call of `KubeApi`).
- `KubernetesStatusError`: the API server answered with an error status (an HTTP status, or the
  code of a watch ERROR event); `expired` tells a 410 Gone.
"""

from __future__ import annotations


class KubernetesError(RuntimeError):
    """Base of every error of Kubernetes access."""


class KubernetesConfigError(KubernetesError):
    """The Kubernetes client cannot be configured (missing kubeconfig, service account, token)."""


class KubernetesUnavailable(KubernetesError):
    """The API server could not be reached."""


class KubernetesStatusError(KubernetesError):
    """The API server answered with an error status (HTTP status or a watch ERROR event's code)."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        self.message = message
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")

    @property
    def expired(self) -> bool:
        """410 Gone: the requested resourceVersion (or continue token) is too old."""
        return self.status == 410
