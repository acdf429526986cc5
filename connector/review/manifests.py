"""A change set: the manifests of a pull request, read, validated offline and turned into changes.

Contract:
- `read_change_set(manifests, deletes, validator)` reads every file given (a directory: its
  `*.yaml`, `*.yml` and `*.json` files, recursively, in name order; multi-document YAML; `kind:
  List` expanded). Objects of the fusion-connector.io group are checked by `validator` as the API
  server checks a create; a refused one becomes a `Refusal` (reason, field, the server's message)
  and is not applied. Objects of other groups are listed as `ignored`: review judges the
  connector's resources only. A file that cannot be read or parsed is one `Refusal`.
- `--delete` files only name objects (kind, namespace, name): they are not validated.
- A namespaced object without `metadata.namespace` is refused (`metadata.namespace`): the
  review cannot know where it would be applied.
- `ChangeSet.apply(view)` deletes, then creates or replaces, in `view` (objects shaped as the
  watch cache holds them) and returns the `ObjectChange`s; each `Entry` then says whether it
  created, changed, deleted, left unchanged or named a missing object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.cluster import BY_OBJECT_KIND, GROUP, Obj, ObjectChange, StaticView
from connector.crds.validation import ManifestValidator
from connector.manifests import expand
from connector.sources.transform import transform

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Refusal:
    """A manifest refused: where (`source`: `FILE#N`, N the document's position from 1), what
    (kind, namespace, name as far as known), the API server's `reason` and `message`, and the
    first offending `field` (every cause in `causes`)."""

    source: str
    kind: str
    namespace: str
    name: str
    reason: str
    field: str
    message: str
    causes: tuple[dict[str, str], ...] = ()

    @property
    def object(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or 'object'} {where}{self.name}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind or None, "namespace": self.namespace or None,
                "name": self.name or None, "reason": self.reason, "field": self.field or None,
                "message": self.message, "causes": [dict(c) for c in self.causes]}


@dataclass
class Entry:
    """One object of the change set: `operation` is `apply` or `delete`; `outcome` is set by
    `ChangeSet.apply`: created, changed, unchanged, deleted or missing (a delete of an object
    the cluster does not hold)."""

    source: str
    operation: str
    kind: str
    namespace: str
    name: str
    obj: Obj | None = None
    outcome: str = ""

    @property
    def object(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "operation": self.operation, "kind": self.kind,
                "namespace": self.namespace or None, "name": self.name, "outcome": self.outcome}


@dataclass
class ChangeSet:
    entries: list[Entry] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # `FILE#N Kind name: why`

    def apply(self, view: StaticView) -> list[ObjectChange]:
        """Apply the entries to `view` (deletions first) and return the changes made."""
        changes: list[ObjectChange] = []
        for entry in (e for e in self.entries if e.operation == "delete"):
            info = BY_OBJECT_KIND[entry.kind]
            gone = view.delete(info.kind, entry.namespace, entry.name)
            entry.outcome = "deleted" if gone is not None else "missing"
            if gone is not None:
                changes.append(gone)
        for entry in (e for e in self.entries if e.operation == "apply"):
            assert entry.obj is not None
            info = BY_OBJECT_KIND[entry.kind]
            old = view.get(info.kind, entry.namespace, entry.name)
            new = transform(info.kind, entry.obj)
            if old is not None and _content(old) == _content(new):
                entry.outcome = "unchanged"
                continue
            entry.outcome = "created" if old is None else "changed"
            changes.append(view.put(new))
        return changes


def _content(obj: Obj) -> tuple[Any, Any, Any]:
    meta = obj.get("metadata") or {}
    return (obj.get("spec"), meta.get("labels") or {}, meta.get("annotations") or {})


def files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, a directory standing for its manifest files (recursively, name order)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES))
        else:
            out.append(path)
    return out


def _documents(path: Path) -> list[tuple[str, Any]]:
    """(`FILE#N`, document) for each document of `path`; raises OSError or yaml.YAMLError."""
    with open(path) as handle:
        documents = list(yaml.safe_load_all(handle))
    return [(f"{path}#{index}", document) for index, document in enumerate(documents, start=1)
            if document is not None]


def _identity(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    return str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _ours(obj: Obj) -> bool:
    return str(obj.get("apiVersion") or "").split("/")[0] == GROUP


def _read(paths: Sequence[str | Path], changes: ChangeSet) -> Iterator[tuple[str, Obj]]:
    for path in files(paths):
        try:
            documents = _documents(path)
        except OSError as exc:
            changes.refused.append(Refusal(str(path), "", "", "", "Unreadable", "", exc.strerror or str(exc)))
            continue
        except yaml.YAMLError as exc:
            text = " ".join(str(exc).split())
            changes.refused.append(Refusal(str(path), "", "", "", "InvalidYAML", "", text))
            continue
        for source, document in documents:
            if not isinstance(document, dict):
                changes.refused.append(Refusal(source, "", "", "", "InvalidObject", "",
                                               "the document is not an object (a mapping)"))
                continue
            for item in expand([document]):
                yield source, item


def read_change_set(manifests: Sequence[str | Path], deletes: Sequence[str | Path] = (),
                    validator: ManifestValidator | None = None) -> ChangeSet:
    """The change set of `manifests` (applied) and `deletes` (removed) (module docstring)."""
    validator = validator or ManifestValidator()
    changes = ChangeSet()
    for source, obj in _read(manifests, changes):
        kind, namespace, name = _identity(obj)
        if not _ours(obj):
            changes.ignored.append(f"{source} {kind or 'object'} {name}: not a {GROUP} resource".rstrip())
            continue
        checked = validator.check(obj)
        if checked.obj is None:
            first = checked.causes[0].get("field", "") if checked.causes else ""
            changes.refused.append(Refusal(source, kind, namespace, name, checked.reason, first,
                                           checked.message, checked.causes))
            continue
        info = BY_OBJECT_KIND[kind]
        if info.namespaced and not namespace:
            message = f"{kind} {name}: metadata.namespace: Required value: review needs the namespace"
            changes.refused.append(Refusal(source, kind, "", name, "Invalid", "metadata.namespace", message))
            continue
        changes.entries.append(Entry(source, "apply", kind, namespace if info.namespaced else "", name,
                                     checked.obj))
    for source, obj in _read(deletes, changes):
        kind, namespace, name = _identity(obj)
        known = BY_OBJECT_KIND.get(kind)
        if not _ours(obj) or known is None:
            changes.ignored.append(f"{source} {kind or 'object'} {name}: not a {GROUP} resource".rstrip())
            continue
        if not name or (known.namespaced and not namespace):
            missing = "metadata.name" if not name else "metadata.namespace"
            changes.refused.append(Refusal(source, kind, namespace, name, "Invalid", missing,
                                           f"{missing}: Required value: a deletion names the object"))
            continue
        changes.entries.append(Entry(source, "delete", kind, namespace if known.namespaced else "", name))
    return changes
