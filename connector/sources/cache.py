"""The thread-safe object cache behind the watch layer: a `ClusterView` over raw JSON dicts.

Objects are stored per kind by (namespace, name) and indexed by namespace, so `list(kind, ns)` costs
the size of that namespace. Writers (`apply_event`, `replace`) return the `ObjectChange`s they made;
resourceVersion equality decides whether an object changed (resourceVersions are opaque strings:
never compared for order). Cached dicts are shared with readers and must not be mutated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from connector.cluster import Kind, Obj, ObjectChange, object_key

ObjList = list[Obj]
ChangeList = list[ObjectChange]
Names = list[str]


def resource_version(obj: Obj | None) -> str:
    """metadata.resourceVersion of `obj`, "" when absent."""
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class ObjectCache:
    """A `ClusterView` that reflectors write into."""

    def __init__(self, kinds: Iterable[Kind] = tuple(Kind)) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Kind, dict[tuple[str, str], Obj]] = {kind: {} for kind in kinds}
        self._by_namespace: dict[Kind, dict[str, dict[str, Obj]]] = {kind: {} for kind in kinds}

    # --- ClusterView ----------------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._objects[kind].get((namespace, name))

    def list(self, kind: Kind, namespace: str | None = None) -> ObjList:
        with self._lock:
            if namespace is None:
                return list(self._objects[kind].values())
            return list(self._by_namespace[kind].get(namespace, {}).values())

    # --- extra reads ------------------------------------------------------------------------------
    def namespaces(self, kind: Kind) -> Names:
        """The namespaces holding at least one object of `kind` ("" for cluster-scoped kinds)."""
        with self._lock:
            return list(self._by_namespace[kind])

    def count(self, kind: Kind, namespace: str | None = None) -> int:
        with self._lock:
            if namespace is None:
                return len(self._objects[kind])
            return len(self._by_namespace[kind].get(namespace, {}))

    def keys(self, kind: Kind) -> set[tuple[str, str]]:
        """Every (namespace, name) of `kind`."""
        with self._lock:
            return set(self._objects[kind])

    # --- writes -----------------------------------------------------------------------------------
    def _store(self, kind: Kind, key: tuple[str, str], obj: Obj) -> None:
        self._objects[kind][key] = obj
        self._by_namespace[kind].setdefault(key[0], {})[key[1]] = obj

    def _remove(self, kind: Kind, key: tuple[str, str]) -> Obj | None:
        old = self._objects[kind].pop(key, None)
        if old is not None:
            names = self._by_namespace[kind].get(key[0])
            if names is not None:
                names.pop(key[1], None)
                if not names:
                    del self._by_namespace[kind][key[0]]
        return old

    def apply_event(self, kind: Kind, event_type: str, obj: Obj) -> ObjectChange | None:
        """Apply one watch event (ADDED, MODIFIED or DELETED); None when nothing changed.

        ADDED and MODIFIED both upsert (a resumed watch may repeat an event); an upsert with the
        resourceVersion already cached changes nothing; deleting an unknown object changes nothing.
        """
        namespace, name = key = object_key(obj)
        with self._lock:
            if event_type == "DELETED":
                old = self._remove(kind, key)
                return ObjectChange(kind, namespace, name, old, None) if old is not None else None
            if event_type not in ("ADDED", "MODIFIED"):
                raise ValueError(f"not an object event: {event_type!r}")
            old = self._objects[kind].get(key)
            if old is not None and resource_version(old) == resource_version(obj):
                return None
            self._store(kind, key, obj)
            return ObjectChange(kind, namespace, name, old, obj)

    def replace(self, kind: Kind, objects: Iterable[Obj]) -> ChangeList:
        """Make `objects` the whole content of `kind` (a list or relist) and return the differences:
        DELETED for what vanished (`observed` False: no watch event reported it), ADDED for what
        is new, MODIFIED for a changed resourceVersion."""
        incoming: dict[tuple[str, str], Obj] = {object_key(obj): obj for obj in objects}
        changes: list[ObjectChange] = []
        with self._lock:
            current = self._objects[kind]
            for key, old in current.items():
                if key not in incoming:
                    changes.append(ObjectChange(kind, key[0], key[1], old, None, observed=False))
            objects_now: dict[tuple[str, str], Obj] = {}
            by_namespace: dict[str, dict[str, Obj]] = {}
            for key, obj in incoming.items():
                previous = current.get(key)
                if previous is not None and resource_version(previous) == resource_version(obj):
                    obj = previous
                else:
                    changes.append(ObjectChange(kind, key[0], key[1], previous, obj))
                objects_now[key] = obj
                by_namespace.setdefault(key[0], {})[key[1]] = obj
            self._objects[kind] = objects_now
            self._by_namespace[kind] = by_namespace
        return changes
