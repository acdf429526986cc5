"""`ClusterWatcher`: one reflector thread per kind into one `ObjectCache`, plus notifications.

Usage: `watcher = ClusterWatcher(KubeListWatch(api_client)); watcher.add_listener(fn);
watcher.start(); watcher.wait_synced(60); view = watcher.cache` ... `watcher.stop()`.

`synced` is true once every kind has completed its first list (an optional kind the server does not
serve counts as synced and empty). Listeners receive batches of `ObjectChange` (old and new dict)
after the cache holds them, in order per object (see `connector.sources.dispatch`); changes of
different kinds are not ordered with respect to each other. `stats()` gives per-kind counters for
metrics. A watchdog thread closes silent or overdue watch streams.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable

from connector.cluster import GROUP, KINDS, Kind, KindInfo
from connector.kube import ListWatchApi
from connector.sources.cache import ObjectCache
from connector.sources.dispatch import ChangeDispatcher, Listener
from connector.sources.reflector import KindStats, Reflector, WatchTimings

log = logging.getLogger(__name__)

OPTIONAL_GROUPS = frozenset({GROUP, "k8s.ovn.org"})


def is_optional(info: KindInfo) -> bool:
    """Kinds whose API may be absent: the fusion-connector.io CRDs and OVN EgressIP."""
    return info.group in OPTIONAL_GROUPS


class ClusterWatcher:
    """Lists and watches `kinds` (default: every `Kind`) into `cache`."""

    def __init__(self, api: ListWatchApi, kinds: Iterable[Kind] = tuple(Kind),
                 timings: WatchTimings | None = None, watchdog_interval: float = 1.0,
                 rng: random.Random | None = None) -> None:
        self.timings = timings or WatchTimings()
        chosen = list(kinds)
        self.cache = ObjectCache(chosen)
        self._stop = threading.Event()
        self._dispatcher = ChangeDispatcher()
        self._watchdog_interval = watchdog_interval
        rng = rng or random.Random()
        self._reflectors = {
            kind: Reflector(KINDS[kind], api, self.cache, self._dispatcher.publish, self._stop,
                            self.timings, optional=is_optional(KINDS[kind]),
                            rng=random.Random(rng.random()))
            for kind in chosen
        }
        self._threads: list[threading.Thread] = []
        self._started = False

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ClusterWatcher:
        if self._started:
            raise RuntimeError("ClusterWatcher already started")
        self._started = True
        self._dispatcher.start()
        for kind, reflector in self._reflectors.items():
            thread = threading.Thread(target=reflector.run, name=f"reflector-{kind.value}", daemon=True)
            thread.start()
            self._threads.append(thread)
        watchdog = threading.Thread(target=self._watchdog, name="watch-watchdog", daemon=True)
        watchdog.start()
        self._threads.append(watchdog)
        log.info("watching %s", ", ".join(kind.value for kind in self._reflectors))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every reflector, close their watches and drain notifications."""
        self._stop.set()
        for reflector in self._reflectors.values():
            reflector.close_stream()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._dispatcher.stop(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ClusterWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _watchdog(self) -> None:
        while not self._stop.wait(self._watchdog_interval):
            now = time.monotonic()
            for reflector in self._reflectors.values():
                reflector.check_watchdog(now)

    # --- state --------------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return all(reflector.synced.is_set() for reflector in self._reflectors.values())

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until `synced` (True) or `timeout` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for reflector in self._reflectors.values():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not reflector.synced.wait(remaining):
                return False
        return True

    def served(self, kind: Kind) -> bool:
        """False while an optional kind's API is absent from the server."""
        return self._reflectors[kind].stats.served

    def stats(self) -> dict[Kind, KindStats]:
        """A snapshot of every reflector's counters."""
        return {kind: reflector.stats.copy() for kind, reflector in self._reflectors.items()}

    # --- notifications ------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call `listener(changes)` with every batch of changes from now on."""
        self._dispatcher.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._dispatcher.remove_listener(listener)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the changes applied so far have reached the listeners."""
        return self._dispatcher.flush(timeout)

    @property
    def notification_backlog(self) -> int:
        return self._dispatcher.backlog
