"""A snapshot: the cluster view the compiler reads, as one JSON document (docs/review.md).

Contract (format version 1, JSON schema `schemas/snapshot.schema.json`, also docs/snapshot.schema.json):
`{"kind": "FusionConnectorSnapshot", "version": 1, "cluster": NAME, "takenAt": RFC 3339,
"objects": {KIND: [object, ...]}}` with one key per kind of `connector.cluster.Kind` (`namespaces`,
`pods`, `services`, `endpointslices`, `nodes`, `externalservices`, `clusteregressrules`,
`namespaceegressrules`, `serviceegressrules`, `egressips`), each list sorted by (namespace, name).
Objects are written as the watch cache holds them (`connector.sources.transform`) and read back
as they are (the compiler reads only the fields the cache keeps), so that
`read_snapshot(dump_snapshot(view))` gives a view the compiler compiles to the same desired state
as `view`. `read_snapshot` refuses (SnapshotError, naming the place) a document that is not valid
against the schema, of another version, or with an object filed under the wrong kind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from connector.cluster import BY_OBJECT_KIND, Kind, StaticView, object_key

KIND = "FusionConnectorSnapshot"
VERSION = 1
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "snapshot.schema.json"


class SnapshotError(ValueError):
    """A snapshot file that cannot be used; the message names the file and the place."""


@cache
def snapshot_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def dump_snapshot(view: StaticView, cluster: str, taken_at: datetime | None = None) -> dict[str, Any]:
    """The snapshot document of `view` (module docstring)."""
    when = (taken_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    objects = {kind.value: sorted(view.list(kind), key=object_key) for kind in Kind}
    return {"kind": KIND, "version": VERSION, "cluster": cluster, "takenAt": when, "objects": objects}


def write_snapshot(path: str | Path, document: dict[str, Any]) -> None:
    """Write `document` as JSON (sorted keys, one object per line is not needed: compact)."""
    Path(path).write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(top level)"


def _object_problem(obj: Any) -> str:
    """What makes `obj` not an object of the schema's `$defs/object` (checked in code: the
    schema validator costs a millisecond per object, a snapshot holds a hundred thousand)."""
    if not isinstance(obj, dict):
        return "is not an object"
    if not isinstance(obj.get("kind"), str) or not obj["kind"]:
        return "'kind' is a required property"
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return "'metadata' is a required property" if metadata is None else "metadata: is not an object"
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return "metadata: 'name' is a required property"
    if "namespace" in metadata and not isinstance(metadata["namespace"], str):
        return "metadata/namespace: is not a string"
    for key in ("labels", "annotations"):
        value = metadata.get(key)
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(v, str) for v in value.values())):
            return f"metadata/{key}: is not a map of strings"
    for key in ("spec", "status"):
        if key in obj and not isinstance(obj[key], dict):
            return f"{key}: is not an object"
    return ""


def load_snapshot(document: Any, source: str = "<snapshot>") -> StaticView:
    """The view held by a snapshot `document` (already parsed); SnapshotError when unusable.
    The envelope is checked with the schema, each object in code (same rules)."""
    if isinstance(document, dict) and document.get("kind") == KIND and document.get("version") != VERSION:
        raise SnapshotError(f"{source}: snapshot format version {document.get('version')!r} is not "
                            f"supported (this fusion-connector reads version {VERSION})")
    envelope = document
    if isinstance(document, dict) and isinstance(document.get("objects"), dict):
        objects = document["objects"]
        envelope = {**document, "objects": {k: [] if isinstance(v, list) else v for k, v in objects.items()}}
    errors = sorted(jsonschema.Draft202012Validator(snapshot_schema()).iter_errors(envelope),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        raise SnapshotError(f"{source}: {_where(first)}: {first.message}")
    view = StaticView()
    for kind in Kind:
        for index, obj in enumerate(document["objects"][kind.value]):
            problem = _object_problem(obj)
            if problem:
                raise SnapshotError(f"{source}: objects/{kind.value}/{index}: {problem}")
            info = BY_OBJECT_KIND.get(str(obj.get("kind")))
            if info is None or info.kind is not kind:
                raise SnapshotError(f"{source}: objects/{kind.value}/{index}: kind {obj.get('kind')!r} "
                                    f"does not belong under {kind.value}")
            view.put(obj)
    return view


def read_snapshot(path: str | Path) -> tuple[StaticView, dict[str, Any]]:
    """The view held by the snapshot file at `path`, and the document's header (`cluster`,
    `takenAt`, `version`); SnapshotError when unreadable or invalid."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SnapshotError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not JSON: {exc}") from None
    view = load_snapshot(document, str(path))
    header = {key: document.get(key) for key in ("kind", "version", "cluster", "takenAt")}
    return view, header
