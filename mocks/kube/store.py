"""Versioned object store with a bounded event history and watch fan-out.

Every write takes the next global resourceVersion, stores a fresh dict (stored dicts are never
mutated afterwards, so readers may serialize them without the lock) and appends an `Event` to the
history. Each watcher owns a queue; writers only append to queues under the lock, and every watcher
writes to its own socket from its own thread. A watch or continue from a resourceVersion older than
the history floor is "too old" (410).
"""

from __future__ import annotations

import bisect
import json
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass
class Event:
    rv: int
    type: str
    key: Key
    namespace: str
    obj: Obj
    old: Obj | None = None
    _lines: dict[str, bytes] = field(default_factory=dict)

    def line(self, event_type: str, encode: Callable[[Key, Obj], bytes] | None = None) -> bytes:
        """The watch-stream line for this event as `event_type` (cached: shared by every watcher)."""
        cached = self._lines.get(event_type)
        if cached is None:
            body = encode(self.key, self.obj) if encode is not None else dumps(self.obj)
            cached = b'{"type":"%s","object":%s}\n' % (event_type.encode(), body)
            self._lines[event_type] = cached
        return cached


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


DROP = object()


class Watcher:
    """One open watch: its resource, namespace (None: all) and a queue of events (or DROP).

    `dropped` is set when the server cuts the watch (fault injection, or a consumer so slow that
    its backlog outgrew the history, as a real server stops slow watchers); the stream then ends at
    once, without draining its backlog."""

    def __init__(self, key: Key, namespace: str | None) -> None:
        self.key = key
        self.namespace = namespace
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.dropped = False

    def drop(self) -> None:
        self.dropped = True
        self.queue.put(DROP)


class TooOld(Exception):
    """The requested resourceVersion is older than the retained history."""


class Store:
    def __init__(self, history_size: int = 50_000) -> None:
        self.lock = threading.RLock()
        self.history_size = history_size
        self._rv = 0
        self._floor = 0
        self._objects: dict[Key, dict[str, dict[str, Obj]]] = {}
        self._history: deque[Event] = deque()
        self._watchers: dict[Key, set[Watcher]] = {}
        self._encoded: dict[int, tuple[Obj, bytes]] = {}
        self._sorted: dict[tuple[Key, str], list[str]] = {}

    # --- reads ----------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def floor(self) -> int:
        return self._floor

    def get(self, key: Key, namespace: str, name: str) -> Obj | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def encode(self, key: Key, obj: Obj) -> bytes:
        """The JSON of a stored object, cached while it stays the stored version (so lists and watches
        serialize each version once)."""
        cached = self._encoded.get(id(obj))
        if cached is not None and cached[0] is obj:
            return cached[1]
        data = dumps(obj)
        metadata = obj.get("metadata") or {}
        with self.lock:
            by_name = self._objects.get(key, {}).get(metadata.get("namespace") or "", {})
            if by_name.get(metadata.get("name", "")) is obj:
                self._encoded[id(obj)] = (obj, data)
        return data

    def _forget(self, old: Obj | None) -> None:
        if old is not None:
            self._encoded.pop(id(old), None)

    def _sorted_names(self, key: Key, namespace: str, objs: dict[str, Obj]) -> list[str]:
        """Names of one namespace in order, cached until a name is added or removed (lock held)."""
        names = self._sorted.get((key, namespace))
        if names is None:
            names = sorted(objs)
            self._sorted[(key, namespace)] = names
        return names

    def snapshot(
        self, key: Key, namespace: str | None, start_after: tuple[str, str] | None = None
    ) -> tuple[int, Iterator[Obj]]:
        """(current resourceVersion, objects in (namespace, name) order after `start_after`).

        The order is fixed when called; objects are read as iteration reaches them (a page of a
        list may see later versions, as paging a real server across writes can)."""
        with self.lock:
            rv = self._rv
            by_ns = self._objects.get(key, {})
            if namespace is not None:
                candidates = [namespace] if by_ns.get(namespace) else []
            else:
                candidates = sorted(ns for ns, objs in by_ns.items() if objs)
            if start_after is not None:
                candidates = [ns for ns in candidates if ns >= start_after[0]]
            spaces = [(ns, by_ns[ns], self._sorted_names(key, ns, by_ns[ns])) for ns in candidates]

        def iterate() -> Iterator[Obj]:
            for ns, objs, names in spaces:
                first = 0
                if start_after is not None and ns == start_after[0]:
                    first = bisect.bisect_right(names, start_after[1])
                for index in range(first, len(names)):
                    obj = objs.get(names[index])
                    if obj is not None:
                        yield obj

        return rv, iterate()

    def count(self, key: Key, namespace: str | None = None) -> int:
        with self.lock:
            by_ns = self._objects.get(key, {})
            if namespace is not None:
                return len(by_ns.get(namespace, {}))
            return sum(len(objs) for objs in by_ns.values())

    def count_after(self, key: Key, namespace: str | None, after: tuple[str, str]) -> int:
        """How many objects come after `after` ((namespace, name)) in list order."""
        with self.lock:
            by_ns = self._objects.get(key, {})
            total = 0
            for ns, objs in by_ns.items():
                if not objs or (namespace is not None and ns != namespace) or ns < after[0]:
                    continue
                if ns > after[0]:
                    total += len(objs)
                else:
                    names = self._sorted_names(key, ns, objs)
                    total += len(names) - bisect.bisect_right(names, after[1])
            return total

    def namespaced_keys(self, namespace: str) -> list[Key]:
        with self.lock:
            return [key for key, by_ns in self._objects.items() if by_ns.get(namespace)]

    # --- writes ---------------------------------------------------------------------------------
    def _commit(self, event_type: str, key: Key, namespace: str, obj: Obj, old: Obj | None) -> Event:
        """Record a change whose object already carries resourceVersion `self._rv` (lock held)."""
        event = Event(self._rv, event_type, key, namespace, obj, old)
        self._history.append(event)
        while len(self._history) > self.history_size:
            self._floor = self._history.popleft().rv
        watchers = self._watchers.get(key)
        if watchers:
            slow = []
            for watcher in watchers:
                if watcher.namespace is None or watcher.namespace == namespace:
                    watcher.queue.put(event)
                    if watcher.queue.qsize() > self.history_size:
                        slow.append(watcher)
            for watcher in slow:
                watchers.discard(watcher)
                watcher.drop()
        return event

    def next_rv(self) -> int:
        """Take the next resourceVersion (call with the lock held, then write with it)."""
        self._rv += 1
        return self._rv

    def put(self, key: Key, namespace: str, name: str, obj: Obj) -> Event:
        """Store `obj` (already stamped with the current rv from `next_rv`): ADDED or MODIFIED."""
        with self.lock:
            by_name = self._objects.setdefault(key, {}).setdefault(namespace, {})
            old = by_name.get(name)
            by_name[name] = obj
            self._forget(old)
            if old is None:
                self._sorted.pop((key, namespace), None)
            return self._commit(MODIFIED if old is not None else ADDED, key, namespace, obj, old)

    def remove(self, key: Key, namespace: str, name: str, tombstone: Obj) -> Event | None:
        """Remove an object; `tombstone` (the object stamped with the delete's rv) goes in the event."""
        with self.lock:
            by_name = self._objects.get(key, {}).get(namespace)
            if by_name is None or name not in by_name:
                return None
            old = by_name.pop(name)
            self._forget(old)
            self._sorted.pop((key, namespace), None)
            return self._commit(DELETED, key, namespace, tombstone, old)

    def bulk_put(self, items: Iterable[tuple[Key, str, str, Callable[[int, Obj | None], Obj]]]) -> int:
        """Store many objects under one lock; each factory receives its resourceVersion and the object
        it replaces (None when new)."""
        count = 0
        with self.lock:
            for key, namespace, name, factory in items:
                by_name = self._objects.setdefault(key, {}).setdefault(namespace, {})
                old = by_name.get(name)
                obj = factory(self.next_rv(), old)
                by_name[name] = obj
                self._forget(old)
                if old is None:
                    self._sorted.pop((key, namespace), None)
                self._commit(MODIFIED if old is not None else ADDED, key, namespace, obj, old)
                count += 1
        return count

    # --- history and watches --------------------------------------------------------------------
    def check_fresh(self, rv: int) -> None:
        """TooOld when events after `rv` are no longer all retained."""
        if rv < self._floor:
            raise TooOld()

    def watch(
        self,
        key: Key,
        namespace: str | None,
        since: int | None,
        initial: Callable[[], list[Obj]] | None = None,
    ) -> tuple[list[Event], Watcher]:
        """Open a watcher. With `since`, replay retained events after it (TooOld when expired);
        otherwise `initial()` (evaluated under the lock) becomes synthetic ADDED events."""
        watcher = Watcher(key, namespace)
        with self.lock:
            backlog: list[Event] = []
            if since is not None:
                if since < self._floor:
                    raise TooOld()
                if since < self._rv:
                    for event in self._history:
                        if (
                            event.rv > since
                            and event.key == key
                            and (namespace is None or event.namespace == namespace)
                        ):
                            backlog.append(event)
            elif initial is not None:
                for obj in initial():
                    meta = obj.get("metadata") or {}
                    backlog.append(
                        Event(
                            int(meta.get("resourceVersion") or 0),
                            ADDED,
                            key,
                            meta.get("namespace") or "",
                            obj,
                        )
                    )
            self._watchers.setdefault(key, set()).add(watcher)
        return backlog, watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            self._watchers.get(watcher.key, set()).discard(watcher)

    def drop_watchers(self) -> int:
        """Make every open watch close its connection; returns how many."""
        with self.lock:
            watchers = [w for group in self._watchers.values() for w in group]
            self._watchers.clear()
        for watcher in watchers:
            watcher.drop()
        return len(watchers)

    def quiet_rv(self, watcher: Watcher) -> int | None:
        """The current rv if `watcher` has nothing pending (a safe bookmark), else None."""
        with self.lock:
            return self._rv if watcher.queue.empty() else None

    def compact(self) -> int:
        """Forget the history: any resourceVersion older than the current one becomes too old."""
        with self.lock:
            self._history.clear()
            self._floor = self._rv
            return self._rv

    def clear(self) -> None:
        """Forget every object and the history (the resourceVersion keeps increasing)."""
        with self.lock:
            self._objects.clear()
            self._encoded.clear()
            self._sorted.clear()
            self._history.clear()
            self._floor = self._rv
        self.drop_watchers()
