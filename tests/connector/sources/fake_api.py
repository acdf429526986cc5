"""An in-memory `ListWatchApi` with real list/watch semantics, for reflector tests.

Objects get increasing resourceVersions; watches replay history after their resourceVersion and
then stream live events; `compact()` expires old resourceVersions (410 as an ERROR event, or as an
HTTP status when `expire_with_status`); `drop_watches()` ends every open stream; `disconnect()` also
holds new watches until `reconnect()`; `silent` makes new streams stay open without sending.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connector.cluster import KINDS, Kind, KindInfo, Obj, object_key
from connector.kube import KubernetesStatusError

_END = object()


class FakeStream:
    def __init__(self, kind: Kind, timeout_seconds: int, silent: bool = False) -> None:
        self.kind = kind
        self.timeout_seconds = timeout_seconds
        self.silent = silent
        self.closed = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()

    def send(self, event: Obj) -> None:
        if not self.silent:
            self._queue.put(event)

    def close(self) -> None:
        self.closed.set()
        self._queue.put(_END)

    def __iter__(self) -> Iterator[Obj]:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            if item is _END:
                return
            yield item


@dataclass
class WatchCall:
    kind: Kind
    resource_version: str
    timeout_seconds: int


@dataclass
class FakeApi:
    served_kinds: set[Kind] = field(default_factory=lambda: set(Kind))
    expire_with_status: bool = False
    list_failures: list[Exception] = field(default_factory=list)
    watch_failures: list[Exception] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.version = 100
        self.compacted_through = 0
        self.objects: dict[Kind, dict[tuple[str, str], Obj]] = {kind: {} for kind in Kind}
        self.history: list[tuple[int, Kind, str, Obj]] = []
        self.streams: list[FakeStream] = []
        self.list_calls: list[tuple[Kind, int | None, str | None]] = []
        self.watch_calls: list[WatchCall] = []
        self.silent = False
        self.ignore_timeout = False
        self.expire_continue_tokens = 0
        self.accepting = threading.Event()
        self.accepting.set()

    # --- server-side mutations ------------------------------------------------------------------
    def _record(self, kind: Kind, event_type: str, obj: Obj) -> None:
        self.history.append((self.version, kind, event_type, obj))
        for stream in list(self.streams):
            if stream.kind is kind and not stream.closed.is_set():
                stream.send({"type": event_type, "object": copy.deepcopy(obj)})

    def put(self, kind: Kind, namespace: str, name: str, **fields: Any) -> Obj:
        with self.lock:
            self.version += 1
            info = KINDS[kind]
            key = (namespace if info.namespaced else "", name)
            metadata: Obj = {"name": name, "resourceVersion": str(self.version), "uid": f"uid-{name}"}
            if info.namespaced:
                metadata["namespace"] = namespace
            metadata.update(fields.pop("metadata", {}))
            obj: Obj = {"apiVersion": info.api_version, "kind": info.object_kind, "metadata": metadata,
                        **fields}
            event = "MODIFIED" if key in self.objects[kind] else "ADDED"
            self.objects[kind][key] = obj
            self._record(kind, event, obj)
            return obj

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        with self.lock:
            obj = self.objects[kind].pop((namespace, name))
            self.version += 1
            gone = copy.deepcopy(obj)
            gone["metadata"]["resourceVersion"] = str(self.version)
            self._record(kind, "DELETED", gone)

    def bookmark(self, kind: Kind) -> str:
        with self.lock:
            self.version += 1
            for stream in self.streams:
                if stream.kind is kind:
                    stream.send({"type": "BOOKMARK", "object": {
                        "kind": KINDS[kind].object_kind,
                        "metadata": {"resourceVersion": str(self.version)}}})
            return str(self.version)

    def compact(self) -> None:
        with self.lock:
            self.compacted_through = self.version

    def disconnect(self) -> None:
        """End every watch and hold new ones until `reconnect()`, as during a network cut."""
        self.accepting.clear()
        self.drop_watches()

    def reconnect(self) -> None:
        self.accepting.set()

    def drop_watches(self) -> None:
        with self.lock:
            for stream in self.streams:
                stream.close()
            self.streams.clear()

    def keys(self, kind: Kind) -> set[tuple[str, str]]:
        with self.lock:
            return set(self.objects[kind])

    # --- ListWatchApi -----------------------------------------------------------------------------
    def list(self, info: KindInfo, limit: int | None, continue_token: str | None) -> Obj:
        with self.lock:
            self.list_calls.append((info.kind, limit, continue_token))
            if self.list_failures:
                raise self.list_failures.pop(0)
            if info.kind not in self.served_kinds:
                raise KubernetesStatusError(404, "not found")
            if continue_token and self.expire_continue_tokens:
                self.expire_continue_tokens -= 1
                raise KubernetesStatusError(410, "the provided continue parameter is too old")
            items = [copy.deepcopy(self.objects[info.kind][key]) for key in sorted(self.objects[info.kind])]
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
            start = int(continue_token or 0)
            end = len(items) if limit is None else start + limit
            metadata: Obj = {"resourceVersion": str(self.version)}
            if end < len(items):
                metadata["continue"] = str(end)
            return {"kind": info.object_kind + "List", "metadata": metadata, "items": items[start:end]}

    def watch(self, info: KindInfo, resource_version: str, timeout_seconds: int,
              read_timeout: float) -> FakeStream:
        if not self.accepting.wait(30):
            raise ConnectionRefusedError("disconnected")
        with self.lock:
            self.watch_calls.append(WatchCall(info.kind, resource_version, timeout_seconds))
            if self.watch_failures:
                raise self.watch_failures.pop(0)
            if info.kind not in self.served_kinds:
                raise KubernetesStatusError(404, "not found")
            start = int(resource_version or 0)
            stream = FakeStream(info.kind, 3600 if self.ignore_timeout else timeout_seconds,
                                silent=self.silent)
            if start < self.compacted_through:
                if self.expire_with_status:
                    raise KubernetesStatusError(410, "too old resource version")
                stream.send({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                         "reason": "Expired", "message": "too old"}})
                return stream
            for version, kind, event_type, obj in self.history:
                if kind is info.kind and version > start:
                    stream.send({"type": event_type, "object": copy.deepcopy(obj)})
            self.streams.append(stream)
            return stream

    def served(self, info: KindInfo) -> bool:
        return info.kind in self.served_kinds


def eventually(predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll `predicate` until true; fail the test when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def object_keys(objects: list[Obj]) -> set[tuple[str, str]]:
    return {object_key(obj) for obj in objects}
