"""Unknown fields (`fieldValidation`) and field ownership (`managedFields`, server-side apply).

Unknown fields of a custom resource are those its schema prunes; of a built-in kind, the root
fields the kind does not have and unknown `metadata` fields (deeper fields of built-in kinds are not
checked). Paths are printed as the server prints them: `spec.ports[0].foo`.

Ownership is tracked per leaf field; lists are atomic (a list is one field), a simplification of
the real merge keys. An Update (create, PUT, PATCH) gives its manager the fields it changed and takes
them from every other manager; an Apply owns exactly the fields of the applied configuration,
conflicts (409) with any other manager owning one of them with a different value unless forced, and
removes the fields it owned before and no longer applies when nobody else owns them.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from mocks.kube.errors import ApiError
from mocks.kube.resources import ResourceType

Obj = dict[str, Any]
Path = tuple[str, ...]
OBJECT_META = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}  # fmt: skip
ROOTS: dict[tuple[str, str], set[str]] = {
    ("", "configmaps"): {"data", "binaryData", "immutable"},
    ("", "secrets"): {"data", "stringData", "type", "immutable"},
    ("", "serviceaccounts"): {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    ("", "events"): {
        "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
        "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance",
    },
    ("events.k8s.io", "events"): {
        "eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
        "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp", "deprecatedCount",
    },
    ("discovery.k8s.io", "endpointslices"): {"addressType", "endpoints", "ports"},
    ("rbac.authorization.k8s.io", "roles"): {"rules"},
    ("rbac.authorization.k8s.io", "clusterroles"): {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "clusterrolebindings"): {"subjects", "roleRef"},
}  # fmt: skip
UNTRACKED_META = {
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName",
}  # fmt: skip


def _join(path: Path) -> str:
    out = ""
    for part in path:
        out += part if part.startswith("[") else (f".{part}" if out else part)
    return out


# --- unknown fields -------------------------------------------------------------------------------
def pruned_paths(original: Any, pruned: Any, path: Path = ()) -> list[str]:
    """Fields of `original` that pruning removed (absent from `pruned`), as printed paths."""
    out: list[str] = []
    if isinstance(original, dict) and isinstance(pruned, dict):
        for key, value in original.items():
            if key not in pruned:
                if value is not None:
                    out.append(_join((*path, str(key))))
            else:
                out.extend(pruned_paths(value, pruned[key], (*path, str(key))))
    elif isinstance(original, list) and isinstance(pruned, list) and len(original) == len(pruned):
        for index, (a, b) in enumerate(zip(original, pruned, strict=True)):
            out.extend(pruned_paths(a, b, (*path, f"[{index}]")))
    return out


def builtin_unknown(rtype: ResourceType, obj: Obj) -> list[str]:
    """Unknown root and metadata fields of a built-in kind."""
    allowed = {"apiVersion", "kind", "metadata"} | ROOTS.get(rtype.key, {"spec", "status"})
    out = [key for key in obj if key not in allowed]
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        out.extend(f"metadata.{key}" for key in metadata if key not in OBJECT_META)
    return out


def strict_error(rtype: ResourceType, unknown: list[str]) -> ApiError:
    texts = ", ".join(f'unknown field "{path}"' for path in unknown)
    return ApiError(
        400,
        f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
        f"strict decoding error: {texts}",
        "BadRequest",
    )


def apply_schema_error(rtype: ResourceType, unknown: list[str]) -> ApiError:
    texts = ", ".join(f".{path}: field not declared in schema" for path in unknown)
    return ApiError(
        400,
        f"failed to create typed patch object ({rtype.group_version}, Kind={rtype.kind}): {texts}",
        "BadRequest",
    )


# --- field sets -----------------------------------------------------------------------------------
def leaves(obj: Any, path: Path = ()) -> set[Path]:
    """The leaf field paths of an object (lists are leaves; empty objects have none)."""
    if isinstance(obj, dict):
        out: set[Path] = set()
        for key, value in obj.items():
            out |= leaves(value, (*path, str(key)))
        return out
    return {path} if path else set()


def tracked(obj: Obj) -> set[Path]:
    """The fields of `obj` ownership is recorded for."""
    out = set()
    for path in leaves(obj):
        if path[0] in ("apiVersion", "kind"):
            continue
        if path[0] == "metadata" and (len(path) < 2 or path[1] in UNTRACKED_META):
            continue
        out.add(path)
    return out


def encode(paths: set[Path]) -> Obj:
    """fieldsV1: `{"f:spec": {"f:action": {}}}`."""
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def decode(fields: Any, path: Path = ()) -> set[Path]:
    if not isinstance(fields, dict):
        return set()
    children = {k: v for k, v in fields.items() if k.startswith("f:")}
    if not children:
        return {path} if path else set()
    out: set[Path] = set()
    for key, value in children.items():
        out |= decode(value, (*path, key[2:]))
    return out


def _get(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _delete(obj: Obj, path: Path) -> None:
    node: Any = obj
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _related(a: Path, b: Path) -> bool:
    short = min(len(a), len(b))
    return a[:short] == b[:short]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Entry:
    """One managedFields entry."""

    def __init__(self, raw: Obj) -> None:
        self.manager = str(raw.get("manager", ""))
        self.operation = str(raw.get("operation", "Update"))
        self.api_version = str(raw.get("apiVersion", ""))
        self.subresource = str(raw.get("subresource", ""))
        self.time = raw.get("time") or _now()
        self.paths = decode(raw.get("fieldsV1"))

    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def describe(self) -> str:
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def raw(self) -> Obj:
        out: Obj = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(self.paths),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _entries(obj: Obj) -> list[Entry]:
    return [Entry(e) for e in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(e, dict)]


def _store(obj: Obj, entries: list[Entry]) -> None:
    kept = [e.raw() for e in entries if e.paths]
    metadata = obj.setdefault("metadata", {})
    if kept:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def _entry(entries: list[Entry], manager: str, operation: str, api_version: str, subresource: str) -> Entry:
    for entry in entries:
        if entry.key() == (manager, operation, subresource):
            entry.api_version, entry.time = api_version, _now()
            return entry
    entry = Entry({"manager": manager, "operation": operation, "apiVersion": api_version,
                   "subresource": subresource})  # fmt: skip
    entries.append(entry)
    return entry


def record_update(
    old: Obj | None,
    new: Obj,
    manager: str,
    api_version: str,
    subresource: str = "",
    operation: str = "Update",
) -> None:
    """Give `manager` the fields `new` changed relative to `old` (in place on `new`)."""
    entries = _entries(old) if old is not None else []
    before, after = (tracked(old) if old is not None else set()), tracked(new)
    changed = {p for p in after if old is None or _get(old, p) != _get(new, p)}
    removed = before - after
    for entry in entries:
        entry.paths = {
            p for p in entry.paths if p not in removed and not any(_related(p, c) for c in changed)
        }
    if changed:
        mine = _entry(entries, manager, operation, api_version, subresource)
        mine.paths |= changed
    _store(new, entries)


def apply(
    current: Obj, applied: Obj, manager: str, api_version: str, force: bool, subresource: str = ""
) -> Obj:
    """The object after `manager` applies `applied` to `current`, with its managedFields; 409 on
    conflicts unless `force`. The caller merges the applied values in (see `merge_applied`)."""
    entries = _entries(current)
    wanted = tracked(applied)
    conflicts: list[tuple[Entry, Path]] = []
    for entry in entries:
        if entry.key() == (manager, "Apply", subresource):
            continue
        for path in sorted(wanted):
            if any(_related(path, owned) for owned in entry.paths) and _get(current, path) != _get(
                applied, path
            ):
                conflicts.append((entry, path))
    if conflicts and not force:
        raise conflict_error(conflicts)
    result = copy.deepcopy(current)
    mine = _entry(entries, manager, "Apply", api_version, subresource)
    others = set().union(*(e.paths for e in entries if e is not mine))
    for path in mine.paths - wanted:
        if not any(_related(path, owned) for owned in others):
            _delete(result, path)
    for entry, path in conflicts:
        entry.paths = {p for p in entry.paths if not _related(p, path)}
    mine.paths = wanted
    _store(result, entries)
    return result


def conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": "." + _join(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: .{_join(path)}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append("." + _join(path))
        for described in sorted(by_manager):
            lines.append(f"conflicts with {described}:")
            lines.extend(f"- {p}" for p in by_manager[described])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, "Conflict", {"causes": causes})
