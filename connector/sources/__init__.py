"""The watch layer: list+watch every kind the connector reads into a thread-safe cache of raw JSON.

- `build_api_client(config.kubernetes)` — the Kubernetes client (`client`).
- `ClusterWatcher(KubeListWatch(api_client))` — reflectors, `synced`, `wait_synced`, listeners of
  `ObjectChange` batches, `stats()`; `.cache` is the `ClusterView` (`watcher`).
- `list_all(api_client)` — a one-shot `StaticView` snapshot (`snapshot`).
"""

from connector.sources.api import ApiStatusError, KubeListWatch, ListWatchApi, WatchStream
from connector.sources.cache import ObjectCache
from connector.sources.client import KubernetesClientError, build_api_client, build_configuration
from connector.sources.reflector import KindStats, WatchTimings
from connector.sources.snapshot import list_all
from connector.sources.transform import transform
from connector.sources.watcher import ClusterWatcher, is_optional

__all__ = [
    "ApiStatusError",
    "ClusterWatcher",
    "KindStats",
    "KubeListWatch",
    "KubernetesClientError",
    "ListWatchApi",
    "ObjectCache",
    "WatchStream",
    "WatchTimings",
    "build_api_client",
    "build_configuration",
    "is_optional",
    "list_all",
    "transform",
]
