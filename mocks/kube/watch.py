"""Watch streams: newline-delimited JSON events over a chunked 200 response.

A stream replays retained events after the requested resourceVersion (or synthetic ADDED events
for the current state when none is given or it is "0"), then follows live events. Label and field
selectors apply per event: an object that starts matching arrives as ADDED, one that stops
matching as DELETED. With `allowWatchBookmarks`, a BOOKMARK is sent every `bookmark_interval`
seconds of quiet and once more just before `timeoutSeconds` ends the stream. A resourceVersion
older than the history yields a single ERROR event carrying a 410 Expired Status, as the real
server does. A dropped watcher (fault injection) closes the connection without the final chunk.
With `table` (a watch asking for `as=Table`), each event's object is a one-row Table; only the first
carries the column definitions, as the real server sends them.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

from mocks.common.http import DropConnection
from mocks.kube import tables
from mocks.kube.errors import status_object
from mocks.kube.resources import ResourceType
from mocks.kube.selectors import Predicate
from mocks.kube.store import ADDED, DELETED, DROP, MODIFIED, Event, Store, TooOld, Watcher, dumps

DEFAULT_TIMEOUT = 1800.0
MAX_BATCH = 512


def event_type_for(event: Event, match: Predicate | None) -> str | None:
    """The event type a watcher with selector `match` sees for `event` (None: not at all)."""
    if match is None:
        return event.type
    if event.type == MODIFIED:
        now, before = match(event.obj), event.old is not None and match(event.old)
        if now and before:
            return MODIFIED
        if now:
            return ADDED
        return DELETED if before else None
    return event.type if match(event.obj) else None


def error_line(rv: int, floor: int) -> bytes:
    status = status_object(410, f"too old resource version: {rv} ({floor})", "Expired")
    return b'{"type":"ERROR","object":%s}\n' % dumps(status)


def open_watch(
    store: Store,
    rtype: ResourceType,
    namespace: str | None,
    since: int | None,
    match: Predicate | None,
    timeout: float | None,
    bookmarks: bool,
    bookmark_interval: float,
    initial_events_end: bool = False,
    table: tuple[str, str] | None = None,
) -> Iterator[bytes]:
    """The byte chunks of one watch response (see the module docstring); `table` is
    (includeObject, meta.k8s.io version) for Table events."""

    def current_state() -> list[dict[str, Any]]:
        _, objects = store.snapshot(rtype.key, namespace)
        return [obj for obj in objects if match is None or match(obj)]

    try:
        backlog, watcher = store.watch(
            rtype.key, namespace, since, None if since is not None else current_state
        )
    except TooOld:
        return iter([error_line(since or 0, store.floor)])
    render = _TableLines(rtype, *table) if table is not None else None
    return _stream(
        store,
        rtype,
        watcher,
        backlog,
        match,
        timeout,
        bookmarks,
        bookmark_interval,
        initial_events_end,
        render,
    )


class _TableLines:
    """Watch lines whose objects are one-row Tables."""

    def __init__(self, rtype: ResourceType, include: str, version: str) -> None:
        self.rtype, self.include, self.version = rtype, include, version
        self.first = True

    def line(self, event_type: str, event: Event) -> bytes:
        rv = (event.obj.get("metadata") or {}).get("resourceVersion", "")
        table = tables.table(self.rtype, [event.obj], {"resourceVersion": rv}, self.include, self.version)
        if not self.first:
            table["columnDefinitions"] = None
        self.first = False
        return b'{"type":"%s","object":%s}\n' % (event_type.encode(), dumps(table))


def _bookmark(rtype: ResourceType, rv: int, initial_events_end: bool = False) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": metadata}
    return b'{"type":"BOOKMARK","object":%s}\n' % dumps(obj)


def _lines(
    store: Store, events: list[Event], match: Predicate | None, render: _TableLines | None = None
) -> bytes:
    out = []
    for event in events:
        event_type = event_type_for(event, match)
        if event_type is not None:
            out.append(
                render.line(event_type, event) if render is not None else event.line(event_type, store.encode)
            )
    return b"".join(out)


def _stream(
    store: Store,
    rtype: ResourceType,
    watcher: Watcher,
    backlog: list[Event],
    match: Predicate | None,
    timeout: float | None,
    bookmarks: bool,
    interval: float,
    initial_events_end: bool,
    render: _TableLines | None = None,
) -> Iterator[bytes]:
    try:
        for start in range(0, len(backlog), MAX_BATCH):
            if watcher.dropped:
                raise DropConnection()
            chunk = _lines(store, backlog[start : start + MAX_BATCH], match, render)
            if chunk:
                yield chunk
        if initial_events_end:
            yield _bookmark(rtype, store.resource_version, True)
        deadline = time.monotonic() + (timeout if timeout is not None else DEFAULT_TIMEOUT)
        next_bookmark = time.monotonic() + interval
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                break
            wait = min(remaining, max(0.0, next_bookmark - now)) if bookmarks else remaining
            try:
                item = watcher.queue.get(timeout=wait)
            except queue.Empty:
                if bookmarks and time.monotonic() >= next_bookmark:
                    rv = store.quiet_rv(watcher)
                    if rv is not None:
                        yield _bookmark(rtype, rv)
                    next_bookmark = time.monotonic() + interval
                continue
            if item is DROP or watcher.dropped:
                raise DropConnection()
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = watcher.queue.get_nowait()
                except queue.Empty:
                    break
                if more is DROP:
                    raise DropConnection()
                batch.append(more)
            chunk = _lines(store, batch, match, render)
            if watcher.dropped:
                raise DropConnection()
            if chunk:
                yield chunk
        if bookmarks:
            rv = store.quiet_rv(watcher)
            if rv is not None:
                yield _bookmark(rtype, rv)
    finally:
        store.unwatch(watcher)
