"""Moved to `connector.kube` (kept until every import names the new place)."""

from connector.kube import KubeListWatch, ListWatchApi, WatchStream
from connector.kube import KubernetesStatusError as ApiStatusError

__all__ = ["ApiStatusError", "KubeListWatch", "ListWatchApi", "WatchStream"]
