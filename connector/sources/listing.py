"""A one-shot listing of the cluster for commands that need no watch (`plan`, `explain`): every
kind read once into a `StaticView` (the store's own snapshots are `connector.store.snapshot`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubernetes import client as k8s_client

from connector.cluster import KINDS, Kind, StaticView
from connector.kube import KubeListWatch, ListWatchApi
from connector.sources.reflector import WatchTimings, list_kind
from connector.sources.watcher import is_optional

log = logging.getLogger(__name__)


def list_all(api: k8s_client.ApiClient | ListWatchApi, kinds: Iterable[Kind] = tuple(Kind),
             page_size: int = WatchTimings.page_size) -> StaticView:
    """Every object of `kinds`, transformed as the watch cache would hold them. Optional kinds the
    server does not serve are empty. API errors propagate (`KubernetesStatusError`, connection errors)."""
    lister: ListWatchApi = KubeListWatch(api) if isinstance(api, k8s_client.ApiClient) else api
    view = StaticView()
    for kind in kinds:
        info = KINDS[kind]
        if is_optional(info) and not lister.served(info):
            log.info("%s (%s) is not served; treated as empty", kind.value, info.api_version)
            continue
        items, version = list_kind(lister, info, page_size)
        for item in items:
            view.put(item)
        log.debug("listed %d %s at resourceVersion %s", len(items), kind.value, version)
    return view
