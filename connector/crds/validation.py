"""Offline validation of fusion-connector manifests, as the API server checks a create request.

Contract:
- `load_definitions(paths)` reads CRD files (default: the chart's, `definitions/`) into one
  `ResourceDefinition` per served (apiVersion, kind).
- `ManifestValidator(definitions).check(obj)` returns a `Checked`: the object as the server
  would store it (pruned and defaulted by the version's schema, `status` dropped as the status
  subresource does on create), or the refusal. A refusal has the API server's `message` and
  metav1 StatusCauses (`field`, `message`, `reason`): schema and CEL violations give exactly the
  422 `Invalid` message of the API server (`ExternalService.fusion-connector.io "x" is invalid:
  spec.addresses: Required value`); an apiVersion or kind no definition serves is refused like
  the server's 404; an invalid `metadata.name` (missing, not an RFC 1123 subdomain) is refused
  alone like its 422, and label and annotation syntax and size (`metadata`) come first among the
  other causes, as on the server.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.crds import metadata as metadata_rules
from connector.crds import schema as structural
from connector.crds.schema import Cause, cause

DEFINITIONS = Path(__file__).resolve().parent / "definitions"

Obj = dict[str, Any]


@dataclass(frozen=True)
class ResourceDefinition:
    """One served version of a custom resource: names, scope and its openAPIV3Schema."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Obj
    status_subresource: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def load_definitions(paths: Iterable[str | Path] | None = None) -> dict[tuple[str, str], ResourceDefinition]:
    """(apiVersion, kind) -> definition for every served version in the CRD files `paths`
    (default: the chart's CRDs)."""
    files = sorted(DEFINITIONS.glob("*.yaml")) if paths is None else [Path(p) for p in paths]
    out: dict[tuple[str, str], ResourceDefinition] = {}
    for path in files:
        for crd in yaml.safe_load_all(path.read_text()):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            names = spec["names"]
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                subresources = version.get("subresources") or spec.get("subresources") or {}
                definition = ResourceDefinition(
                    group=spec["group"], version=version["name"], kind=names["kind"],
                    plural=names["plural"], namespaced=spec.get("scope") == "Namespaced",
                    schema=(version.get("schema") or {}).get("openAPIV3Schema") or {},
                    status_subresource="status" in subresources)
                out[(definition.api_version, definition.kind)] = definition
    return out


def invalid_message(kind: str, group: str, name: str, causes: Iterable[Cause]) -> str:
    """The API server's 422 `Invalid` message for `causes`."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return f'{kind}{"." + group if group else ""} "{name}" is invalid: {joined}'


@dataclass(frozen=True)
class Checked:
    """The outcome of one check: `obj` as stored (None when refused), else `message`, `causes`
    and `reason` (`Invalid` or `NotFound`, the API server's Status reason)."""

    obj: Obj | None
    message: str = ""
    reason: str = ""
    causes: tuple[Cause, ...] = field(default=())

    @property
    def refused(self) -> bool:
        return self.obj is None


class ManifestValidator:
    """Checks manifests against the custom resource definitions (module docstring)."""

    def __init__(self, definitions: dict[tuple[str, str], ResourceDefinition] | None = None) -> None:
        self.definitions = load_definitions() if definitions is None else definitions

    def definition(self, obj: Obj) -> ResourceDefinition | None:
        return self.definitions.get((str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")))

    def check(self, obj: Obj) -> Checked:
        """`obj` validated as a create request would be (module docstring)."""
        definition = self.definition(obj)
        if definition is None:
            message = (f"no kind {obj.get('kind')!r} is served at apiVersion {obj.get('apiVersion')!r}: "
                       "the server could not find the requested resource")
            return Checked(None, message, "NotFound",
                           (cause("apiVersion", message, "FieldValueNotSupported"),))
        body = copy.deepcopy(obj)
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            metadata = body["metadata"] = {}
        name = str(metadata.get("name") or "")
        refused = metadata_rules.name_causes(name)
        if refused:
            return Checked(None, invalid_message(definition.kind, definition.group, name, refused),
                           "Invalid", tuple(refused))
        if definition.status_subresource:
            body.pop("status", None)
        if not definition.namespaced:
            metadata.pop("namespace", None)
        causes = metadata_rules.metadata_causes(body)
        prepared = structural.prepare(body, definition.schema) if definition.schema else body
        causes += structural.validate(prepared, definition.schema) if definition.schema else []
        if causes:
            return Checked(None, invalid_message(definition.kind, definition.group, name, causes),
                           "Invalid", tuple(causes))
        return Checked(prepared)
