"""The AS3 deploy request of one tenant as bytes, joined from cached per-object JSON fragments.

A tenant can hold tens of megabytes of address lists while a sync changes a few of them. The
render reuses the very same `DeviceObject` for every item whose inputs did not change (see
`adapters.base.memo`), so `RequestWriter` serializes each object once (`"name":{...}`) and keeps
the fragment for as long as the object is used: a request costs serializing the changed objects
plus one join of bytes. Objects are frozen data; a fragment is found by the object's identity
(the cache holds the object, so its id cannot be reused while the fragment is kept). The cache
holds the fragments the latest request used, so it never grows beyond one tenant.

Contract: `json.loads(writer.request(tenant, objects, version))` equals
`as3_request(adc(tenant, tenant_declaration(tenant, objects), version))`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.f5.declaration import TENANT, adc, as3_request
from adapters.f5.names import APPLICATION
from connector.planner.types import DeviceObject

_SHARED_HEAD = (b'"class":"Application"', b'"template":"shared"')


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _pair(key: str, value: bytes) -> bytes:
    return _dumps(key) + b":" + value


def _object(pairs: Sequence[bytes]) -> bytes:
    return b"{" + b",".join(pairs) + b"}"


def _fields(body: Mapping[str, Any], inner: str, inner_value: bytes) -> bytes:
    """`body` as a JSON object whose `inner` member is the already serialized `inner_value`."""
    return _object([_pair(key, inner_value if key == inner else _dumps(value))
                    for key, value in body.items()])


class RequestWriter:
    """Builds deploy requests (see the module docstring). Not thread-safe: one per adapter."""

    def __init__(self) -> None:
        self._previous: dict[int, tuple[DeviceObject, bytes]] = {}
        self._current: dict[int, tuple[DeviceObject, bytes]] = {}

    def fragment(self, obj: DeviceObject) -> bytes:
        """`"<name>":<body>` of one application item."""
        key = id(obj)
        entry = self._current.get(key) or self._previous.get(key)
        if entry is None or entry[0] is not obj:
            entry = (obj, _pair(obj.name, _dumps(obj.body)))
        self._current[key] = entry
        return entry[1]

    def request(self, tenant: str, objects: Sequence[DeviceObject], schema_version: str) -> bytes:
        """The deploy request of `tenant` holding `objects` (its `tenant` object gives the Tenant's
        own properties; every other object is an item of the `Shared` application)."""
        head = next((o for o in objects if o.kind == TENANT), None)
        tenant_body: dict[str, Any] = dict(head.body) if head is not None else {"class": "Tenant"}
        tenant_body[APPLICATION] = None
        shared = _object([*_SHARED_HEAD, *(self.fragment(o) for o in objects if o.kind != TENANT)])
        self._previous, self._current = self._current, {}
        declaration = adc(tenant, {}, schema_version)
        body = _fields(declaration, tenant, _fields(tenant_body, APPLICATION, shared))
        return _fields(as3_request({}), "declaration", body)

    def clear(self) -> None:
        self._previous, self._current = {}, {}
