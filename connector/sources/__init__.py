"""The watch layer: list+watch every kind the connector reads into a thread-safe cache of raw JSON.

- `ClusterWatcher(KubeListWatch(api_client))` — reflectors, `synced`, `wait_synced`, listeners of
  `ObjectChange` batches, `stats()`; `.cache` is the `ClusterView` (`watcher`). The client and
  `KubeListWatch` are `connector.kube`'s.
- `list_all(api_client)` — a one-shot `StaticView` snapshot (`listing`).
"""

from connector.sources.cache import ObjectCache
from connector.sources.listing import list_all
from connector.sources.reflector import KindStats, WatchTimings
from connector.sources.transform import transform
from connector.sources.watcher import ClusterWatcher, is_optional

__all__ = [
    "ClusterWatcher",
    "KindStats",
    "ObjectCache",
    "WatchTimings",
    "is_optional",
    "list_all",
    "transform",
]
