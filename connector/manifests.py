"""Create-or-replace Kubernetes manifests through the API server (what `kubectl apply` does for
the kinds the connector knows), used by `demo` and the end-to-end tests.

Contract: each object is created (POST to its collection); when it exists (409) it is read and
replaced with the server's resourceVersion (PUT). Supported: every kind of `connector.cluster`,
CustomResourceDefinitions, Leases and Events. Errors raise `ManifestError` naming the object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client

from connector.cluster import BY_OBJECT_KIND, Obj

_EXTRA_COLLECTIONS: dict[str, tuple[str, str, bool]] = {
    # kind: (api prefix, plural, namespaced)
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "Lease": ("/apis/coordination.k8s.io/v1", "leases", True),
    "Event": ("/api/v1", "events", True),
}


class ManifestError(RuntimeError):
    """An object could not be applied; the message names it."""


def load_documents(paths: Iterable[str | Path]) -> list[Obj]:
    """Every object in the YAML files (multi-document; `kind: List` expanded)."""
    out: list[Obj] = []
    for path in paths:
        with open(path) as handle:
            out.extend(expand(yaml.safe_load_all(handle)))
    return out


def expand(documents: Iterable[Any]) -> Iterator[Obj]:
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "List" or str(document.get("kind", "")).endswith("List"):
            yield from (item for item in document.get("items") or [] if isinstance(item, dict))
        else:
            yield document


def collection_path(obj: Obj) -> str:
    """The collection URL path the object is created in."""
    kind = str(obj.get("kind"))
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    info = BY_OBJECT_KIND.get(kind)
    if info is not None:
        if info.namespaced and not namespace:
            raise ManifestError(f"{kind} {_name(obj)}: metadata.namespace is required")
        return info.collection_path(namespace if info.namespaced else None)
    if kind in _EXTRA_COLLECTIONS:
        prefix, plural, namespaced = _EXTRA_COLLECTIONS[kind]
        if namespaced:
            if not namespace:
                raise ManifestError(f"{kind} {_name(obj)}: metadata.namespace is required")
            return f"{prefix}/namespaces/{namespace}/{plural}"
        return f"{prefix}/{plural}"
    raise ManifestError(f"{kind} {_name(obj)}: unsupported kind")


def _name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


class ManifestApplier:
    """Applies objects with an `ApiClient` (its configuration carries host, TLS and credentials)."""

    def __init__(self, api: k8s_client.ApiClient) -> None:
        self._api = api

    def _call(self, method: str, path: str, body: Obj | None = None) -> tuple[int, Obj]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        params = self._api.param_serialize(method=method, resource_path=path, header_params=headers,
                                           body=body, auth_settings=["BearerToken"])
        response: Any = self._api.call_api(*params, _request_timeout=(5, 60))
        response.read()
        raw = response.data
        data: Obj = json.loads(raw) if raw else {}
        return int(response.status), data

    def apply(self, obj: Obj) -> str:
        """Create or replace `obj`; returns "created" or "replaced"."""
        path = collection_path(obj)
        status, answer = self._call("POST", path, obj)
        if status in (200, 201):
            return "created"
        if status != 409:
            raise _failed(obj, status, answer)
        item = f"{path}/{(obj.get('metadata') or {}).get('name')}"
        status, current = self._call("GET", item)
        if status != 200:
            raise ManifestError(f"{obj.get('kind')} {_name(obj)}: HTTP {status} reading it back")
        replacement = json.loads(json.dumps(obj))
        replacement.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        status, answer = self._call("PUT", item, replacement)
        if status != 200:
            raise _failed(obj, status, answer)
        return "replaced"

    def apply_all(self, objects: Iterable[Obj]) -> dict[str, int]:
        """Apply CRDs and namespaces first, then everything else; returns counts by outcome."""
        ordered = sorted(objects, key=_apply_rank)
        counts = {"created": 0, "replaced": 0}
        for obj in ordered:
            counts[self.apply(obj)] += 1
        return counts


def _failed(obj: Obj, status: int, answer: Obj) -> ManifestError:
    return ManifestError(f"{obj.get('kind')} {_name(obj)}: HTTP {status}: {answer.get('message', answer)}")


def _apply_rank(obj: Obj) -> int:
    return {"CustomResourceDefinition": 0, "Namespace": 1, "Node": 2}.get(str(obj.get("kind")), 3)
