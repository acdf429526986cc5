"""One kind's list-then-watch loop keeping the `ObjectCache` in step with the API server.

The loop: (optional kinds) discovery → paged list (`limit`/`continue`) replacing the kind's cache
content → watch from the list's resourceVersion with bookmarks and a randomized server
`timeoutSeconds`, resuming from the last resourceVersion seen (events and bookmarks) whenever the
stream ends or breaks. 410 Gone (HTTP status or an ERROR event) means that resourceVersion is
compacted away: relist, and the relist diff synthesizes DELETED for whatever vanished and
ADDED/MODIFIED for what changed. Errors back off with jitter. Every change is passed to `emit`
after the cache holds it, in the order of the watch stream.

An optional kind that the API server does not serve (a CRD not installed yet, no OVN) counts as
synced and empty; discovery is retried every `discovery_interval`.

`check_watchdog` (called periodically by the owner) closes a watch stream that has been silent for
`inactivity_timeout` (API servers send bookmarks about once a minute, so a healthy stream is never
that quiet) or outlived its server timeout by `timeout_grace`, so a half-dead connection cannot
stall the cache; the socket read timeout (server timeout + grace) is a second line of defence.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connector.cluster import KindInfo, Obj, ObjectChange
from connector.kube import KubernetesStatusError, ListWatchApi, WatchStream
from connector.sources.backoff import Backoff
from connector.sources.cache import ObjectCache, resource_version
from connector.sources.transform import transform_for

log = logging.getLogger(__name__)

Emit = Callable[[Sequence[ObjectChange]], None]


@dataclass(frozen=True)
class WatchTimings:
    """Timeouts of the watch layer, in seconds."""

    min_server_timeout: int = 240
    max_server_timeout: int = 360
    timeout_grace: float = 30.0
    inactivity_timeout: float = 150.0
    discovery_interval: float = 30.0
    page_size: int = 500
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


@dataclass
class KindStats:
    """Counters of one reflector, for metrics. Written by its own thread only."""

    lists: int = 0
    relists: int = 0
    expired: int = 0
    watch_starts: int = 0
    watch_restarts: int = 0
    watchdog_closes: int = 0
    errors: int = 0
    events: dict[str, int] = field(default_factory=dict)
    served: bool = True
    synced: bool = False

    def copy(self) -> KindStats:
        return KindStats(self.lists, self.relists, self.expired, self.watch_starts,
                         self.watch_restarts, self.watchdog_closes, self.errors, dict(self.events),
                         self.served, self.synced)


class _Relist(Exception):
    """The watch cannot resume: list again (410 Gone, or an optional kind disappeared)."""


class Reflector:
    """Keeps `cache`'s content of `info.kind` equal to the server's; run `run()` in a thread."""

    def __init__(self, info: KindInfo, api: ListWatchApi, cache: ObjectCache, emit: Emit,
                 stop: threading.Event, timings: WatchTimings | None = None, optional: bool = False,
                 rng: random.Random | None = None) -> None:
        self.info = info
        self.kind = info.kind
        self.optional = optional
        self.stats = KindStats()
        self.synced = threading.Event()
        self._api = api
        self._cache = cache
        self._emit = emit
        self._stop = stop
        self._timings = timings or WatchTimings()
        self._rng = rng or random.Random()
        self._backoff = Backoff(self._timings.backoff_base, self._timings.backoff_cap, self._rng)
        self._transform = transform_for(info.kind)
        self._stream_lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._stream_deadline = 0.0
        self._last_activity = 0.0
        self.resource_version = ""

    # --- thread body --------------------------------------------------------------------------
    def run(self) -> None:
        log.debug("reflector for %s started", self.kind.value)
        while not self._stop.is_set():
            try:
                if self.optional and not self._api.served(self.info):
                    self._absent()
                    self._stop.wait(self._timings.discovery_interval)
                    continue
                self.stats.served = True
                self._list()
                self._watch_until_relist()
            except _Relist:
                continue
            except Exception as exc:  # API errors, connection refused, malformed JSON: retry later
                self._failed(exc)
        log.debug("reflector for %s stopped", self.kind.value)

    def _failed(self, exc: BaseException) -> None:
        if self._stop.is_set():
            return
        self.stats.errors += 1
        delay = self._backoff.next()
        log.warning("%s: %s; retrying in %.1fs", self.kind.value, exc, delay)
        self._stop.wait(delay)

    def _absent(self) -> None:
        if self.stats.served or not self.synced.is_set():
            log.info("%s (%s) is not served by the API server; treated as empty",
                     self.kind.value, self.info.api_version)
        self.stats.served = False
        changes = self._cache.replace(self.kind, [])
        if changes:
            self._emit(changes)
        self.resource_version = ""
        self._mark_synced()

    def _mark_synced(self) -> None:
        self.stats.synced = True
        self.synced.set()

    # --- list -------------------------------------------------------------------------------------
    def _list(self) -> None:
        items, version = self._list_pages()
        first = self.stats.lists == 0
        self.stats.lists += 1
        if not first:
            self.stats.relists += 1
        changes = self._cache.replace(self.kind, items)
        self.resource_version = version
        if changes:
            self._emit(changes)
        self._backoff.reset()
        self._mark_synced()
        log.info("%s %s: %d objects at resourceVersion %s (%d changes)",
                 "listed" if first else "relisted", self.kind.value, len(items), version, len(changes))

    def _list_pages(self) -> tuple[list[Obj], str]:
        limit: int | None = self._timings.page_size
        while True:
            try:
                return list_kind(self._api, self.info, limit, self._stop)
            except KubernetesStatusError as exc:
                if not exc.expired or limit is None:
                    raise
                log.info("%s: continue token expired while paging; listing in one request",
                         self.kind.value)
                limit = None

    # --- watch -----------------------------------------------------------------------------------
    def _watch_until_relist(self) -> None:
        while not self._stop.is_set():
            timeout = self._rng.randint(self._timings.min_server_timeout,
                                        self._timings.max_server_timeout)
            started = time.monotonic()
            try:
                stream = self._api.watch(self.info, self.resource_version, timeout,
                                         timeout + self._timings.timeout_grace)
            except KubernetesStatusError as exc:
                self._expired_or_raise(exc)
                self._watch_failed(exc)
                continue
            except Exception as exc:  # connection refused or reset: retry the watch later
                self._watch_failed(exc)
                continue
            self.stats.watch_starts += 1
            healthy = self._consume(stream, started, timeout)
            if self._stop.is_set():
                return
            self.stats.watch_restarts += 1
            if healthy:
                self._backoff.reset()
            else:
                self._stop.wait(self._backoff.next())

    def _watch_failed(self, exc: BaseException) -> None:
        if self._stop.is_set():
            return
        self.stats.errors += 1
        delay = self._backoff.next()
        log.warning("%s: cannot watch from %s: %s; retrying in %.1fs", self.kind.value,
                    self.resource_version, exc, delay)
        self._stop.wait(delay)

    def _expired_or_raise(self, exc: KubernetesStatusError) -> None:
        if exc.expired:
            self.stats.expired += 1
            log.info("%s: resourceVersion %s expired (410); relisting", self.kind.value,
                     self.resource_version)
            raise _Relist() from exc
        if exc.status == 404 and self.optional:
            raise _Relist() from exc

    def _consume(self, stream: WatchStream, started: float, timeout: int) -> bool:
        """Apply the stream's events until it ends. Healthy when it delivered events without an
        error, or lived long enough not to count as a failure loop."""
        delivered = 0
        failed = False
        with self._stream_lock:
            self._stream = stream
            self._last_activity = started
            self._stream_deadline = started + timeout + self._timings.timeout_grace
        if self._stop.is_set():
            stream.close()
        try:
            for event in stream:
                self._last_activity = time.monotonic()
                delivered += 1
                self._handle(event)
        except _Relist:
            raise
        except KubernetesStatusError as exc:
            failed = True
            self.stats.errors += 1
            log.warning("%s: watch error event (%s); resuming from %s", self.kind.value, exc,
                        self.resource_version)
        except Exception as exc:
            failed = True
            if not self._stop.is_set():
                log.info("%s: watch stream broke (%s); resuming from %s", self.kind.value,
                         exc or type(exc).__name__, self.resource_version)
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()
        lived = time.monotonic() - started
        return not failed and (delivered > 0 or lived >= min(5.0, timeout))

    def _handle(self, event: Obj) -> None:
        event_type = str(event.get("type") or "")
        obj = event.get("object") or {}
        self.stats.events[event_type] = self.stats.events.get(event_type, 0) + 1
        if event_type == "ERROR":
            status = KubernetesStatusError(int(obj.get("code") or 0), str(obj.get("message") or ""))
            self._expired_or_raise(status)
            raise status
        version = resource_version(obj)
        if event_type == "BOOKMARK":
            if version:
                self.resource_version = version
            return
        change = self._cache.apply_event(self.kind, event_type, self._transform(obj))
        if version:
            self.resource_version = version
        if change is not None:
            self._emit((change,))

    # --- watchdog ---------------------------------------------------------------------------------
    def check_watchdog(self, now: float | None = None) -> bool:
        """Close the current watch if it is silent or overdue; True when it was closed."""
        now = time.monotonic() if now is None else now
        with self._stream_lock:
            stream = self._stream
            if stream is None:
                return False
            silent = now - self._last_activity > self._timings.inactivity_timeout
            overdue = now > self._stream_deadline
            if not (silent or overdue):
                return False
            self._stream = None
        self.stats.watchdog_closes += 1
        log.warning("%s: watch %s; closing it and resuming from %s", self.kind.value,
                    "silent too long" if silent else "outlived its timeout", self.resource_version)
        stream.close()
        return True

    def close_stream(self) -> None:
        """Close the current watch (used on stop)."""
        with self._stream_lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


def list_kind(api: ListWatchApi, info: KindInfo, limit: int | None,
              stop: threading.Event | None = None) -> tuple[list[Obj], str]:
    """Every object of `info` (transformed), paging with `limit`, and the list's resourceVersion."""
    shape = transform_for(info.kind)
    items: list[Obj] = []
    token: str | None = None
    version = ""
    while True:
        page = api.list(info, limit, token)
        items.extend(shape(item) for item in page.get("items") or [])
        metadata = page.get("metadata") or {}
        version = str(metadata.get("resourceVersion") or version)
        token = metadata.get("continue") or None
        if token is None or limit is None:
            return items, version
        if stop is not None and stop.is_set():
            raise InterruptedError("stopped while listing")
