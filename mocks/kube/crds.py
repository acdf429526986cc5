"""CustomResourceDefinitions: validation of the CRD itself and the resource types it registers."""

from __future__ import annotations

import re
from typing import Any

from mocks.kube.errors import ApiError, cause, invalid
from mocks.kube.resources import ResourceType

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate_crd(crd: dict[str, Any]) -> None:
    """422 for a CRD the real server would refuse (the checks that matter for registration)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    causes = []
    group, plural = spec.get("group"), names.get("plural")
    if not group:
        causes.append(cause("spec.group", "Required value", "FieldValueRequired"))
    if not plural:
        causes.append(cause("spec.names.plural", "Required value", "FieldValueRequired"))
    elif not _DNS_LABEL.match(plural):
        causes.append(cause("spec.names.plural", f'Invalid value: "{plural}": a lowercase RFC 1123 label'))
    if not names.get("kind"):
        causes.append(cause("spec.names.kind", "Required value", "FieldValueRequired"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            cause(
                "spec.scope",
                f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"',
                "FieldValueNotSupported",
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            cause(
                "spec.versions",
                "Invalid value: null: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            cause(
                "spec.versions",
                'Invalid value: "array": must have exactly one version marked as storage version',
            )
        )
    for index, version in enumerate(versions):
        if not version.get("name"):
            causes.append(cause(f"spec.versions[{index}].name", "Required value", "FieldValueRequired"))
        if not ((version.get("schema") or {}).get("openAPIV3Schema")):
            causes.append(
                cause(
                    f"spec.versions[{index}].schema.openAPIV3Schema",
                    "Required value: schemas are required",
                    "FieldValueRequired",
                )
            )
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
        )
    if causes:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)


def resource_types(crd: dict[str, Any]) -> list[tuple[ResourceType, bool]]:
    """(type, is storage version) for every served version of the CRD."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or spec.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            (
                ResourceType(
                    group=spec["group"],
                    version=version["name"],
                    plural=names["plural"],
                    singular=names.get("singular") or names["kind"].lower(),
                    kind=names["kind"],
                    namespaced=spec["scope"] == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    status_subresource="status" in subresources,
                    custom=True,
                    schema=schema,
                    return_deleted=True,
                    categories=tuple(names.get("categories") or ()),
                    list_kind=names.get("listKind") or "",
                    extra={"printerColumns": list(version.get("additionalPrinterColumns") or [])},
                ),
                bool(version.get("storage")),
            )
        )
    return out


def established_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": storage,
    }


def check_conflicts(crd: dict[str, Any], existing: list[ResourceType]) -> None:
    """409-free but realistic: a CRD may not redefine a built-in resource."""
    spec = crd.get("spec") or {}
    plural = (spec.get("names") or {}).get("plural")
    for rtype in existing:
        if rtype.group == spec.get("group") and rtype.plural == plural and not rtype.custom:
            raise ApiError(422, f"{plural}.{rtype.group} is a built-in resource", "Invalid")
