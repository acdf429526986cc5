"""Moved to `connector.kube` (kept until every import names the new place)."""

from connector.kube import KubeApi
from connector.kube import KubernetesUnavailable as KubeUnavailable

__all__ = ["KubeApi", "KubeUnavailable"]
