"""OpenAPI documents of the served kinds: `/openapi/v2` (JSON) and `/openapi/v3[/<group-version>]`.

Built from the registry when asked, so a CRD's kinds appear as soon as it is created. Custom
resources carry their CRD version's `openAPIV3Schema` (with `metadata` referring to ObjectMeta and
`x-kubernetes-group-version-kind`, as the real server publishes them); built-in kinds carry their
root fields with loose `spec`/`status` objects (fields below them are not described). Every
operation has `x-kubernetes-action` and `x-kubernetes-group-version-kind` and lists its query
parameters, `fieldValidation` included, which is how kubectl learns that the server validates fields
itself (`kubectl apply` then sends `fieldValidation=Strict`), and how `kubectl explain` finds kinds.

The real server also speaks protobuf here; the mock answers an `Accept` that names only protobuf
with 406, as the real server does for a media type it cannot produce.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from mocks.kube.discovery import VERSION_INFO
from mocks.kube.resources import Registry, ResourceType

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
API_VERSION_TEXT = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should "
    "convert recognized schemas to the latest internal value, and may reject unrecognized values."
)
KIND_TEXT = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer "
    "this from the endpoint the client submits requests to. In CamelCase."
)
META_TEXT = "Standard object's metadata."
PACKAGES = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
}
ROOT_FIELDS: dict[tuple[str, str], dict[str, Obj]] = {
    ("", "configmaps"): {"data": {"type": "object", "additionalProperties": {"type": "string"}},
                         "binaryData": {"type": "object", "additionalProperties": {"type": "string",
                                                                                    "format": "byte"}},
                         "immutable": {"type": "boolean"}},
    ("", "secrets"): {"data": {"type": "object",
                               "additionalProperties": {"type": "string", "format": "byte"}},
                      "stringData": {"type": "object", "additionalProperties": {"type": "string"}},
                      "type": {"type": "string"}, "immutable": {"type": "boolean"}},
    ("", "serviceaccounts"): {"secrets": {"type": "array", "items": {"type": "object"}},
                              "imagePullSecrets": {"type": "array", "items": {"type": "object"}},
                              "automountServiceAccountToken": {"type": "boolean"}},
    ("", "events"): {name: {"type": "string"} for name in (
        "reason", "message", "type", "firstTimestamp", "lastTimestamp", "eventTime", "action",
        "reportingComponent", "reportingInstance")} | {
        "involvedObject": {"type": "object"}, "source": {"type": "object"}, "count": {"type": "integer"},
        "series": {"type": "object"}, "related": {"type": "object"}},
    ("discovery.k8s.io", "endpointslices"): {"addressType": {"type": "string"},
                                             "endpoints": {"type": "array", "items": {"type": "object"}},
                                             "ports": {"type": "array", "items": {"type": "object"}}},
    ("rbac.authorization.k8s.io", "roles"): {"rules": {"type": "array", "items": {"type": "object"}}},
    ("rbac.authorization.k8s.io", "clusterroles"): {"rules": {"type": "array", "items": {"type": "object"}},
                                                    "aggregationRule": {"type": "object"}},
    ("rbac.authorization.k8s.io", "rolebindings"): {
        "subjects": {"type": "array", "items": {"type": "object"}}, "roleRef": {"type": "object"}},
    ("rbac.authorization.k8s.io", "clusterrolebindings"): {
        "subjects": {"type": "array", "items": {"type": "object"}}, "roleRef": {"type": "object"}},
}  # fmt: skip
ROOT_FIELDS[("events.k8s.io", "events")] = {
    name: {"type": "string"}
    for name in ("reason", "note", "type", "eventTime", "action", "reportingController", "reportingInstance")
} | {"regarding": {"type": "object"}, "related": {"type": "object"}, "series": {"type": "object"}}


def definition_name(rtype: ResourceType, kind: str | None = None) -> str:
    """The schema name the real server uses (`io.k8s.api.core.v1.Pod`, `io.example.v1.Widget`)."""
    kind = kind or rtype.kind
    if rtype.custom:
        return ".".join(reversed(rtype.group.split("."))) + f".{rtype.version}.{kind}"
    package = PACKAGES.get(rtype.group)
    if package is None:
        package = "io.k8s.api." + rtype.group.split(".")[0]
    return f"{package}.{rtype.version}.{kind}"


def _gvk(rtype: ResourceType, kind: str | None = None) -> list[Obj]:
    return [{"group": rtype.group, "version": rtype.version, "kind": kind or rtype.kind}]


def _meta_definitions(ref: str) -> dict[str, Obj]:
    time = {"type": "string", "format": "date-time"}
    string_map = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {
        f"{META}.ObjectMeta": {
            "description": "ObjectMeta is metadata that all persisted resources must have.",
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Name must be unique within a namespace."},
                "generateName": {"type": "string", "description": "Prefix for a server-generated name."},
                "namespace": {"type": "string", "description": "The namespace the object lives in."},
                "uid": {"type": "string", "description": "Unique in time and space for this object."},
                "resourceVersion": {
                    "type": "string",
                    "description": "Version of the object, for concurrency.",
                },
                "generation": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Sequence number of the desired state.",
                },
                "creationTimestamp": {**time, "description": "When the object was created."},
                "deletionTimestamp": {**time, "description": "When the object will be deleted."},
                "deletionGracePeriodSeconds": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Seconds allowed for graceful termination.",
                },
                "labels": {**string_map, "description": "Map of string keys and values to select objects."},
                "annotations": {**string_map, "description": "Unstructured key value map."},
                "finalizers": {
                    "type": "array",
                    "items": {"type": "string", "default": ""},
                    "description": "Must be empty before the object is deleted.",
                },
                "ownerReferences": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Objects this object depends on.",
                },
                "managedFields": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Which manager owns which fields.",
                },
                "selfLink": {"type": "string", "description": "Deprecated."},
            },
        },
        f"{META}.ListMeta": {
            "description": "ListMeta describes metadata that synthetic resources must have.",
            "type": "object",
            "properties": {
                "resourceVersion": {"type": "string"},
                "continue": {"type": "string"},
                "remainingItemCount": {"type": "integer", "format": "int64"},
            },
        },
        f"{META}.Status": {
            "description": "Status is a return value for calls that don't return other objects.",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "status": {"type": "string"},
                "message": {"type": "string"},
                "reason": {"type": "string"},
                "code": {"type": "integer", "format": "int32"},
                "details": {"type": "object"},
                "metadata": _ref(ref, f"{META}.ListMeta"),
            },
        },
        f"{META}.Patch": {"description": "The body of a PATCH request.", "type": "object"},
    }


def _ref(ref: str, name: str, wrap: bool = False) -> Obj:
    target = {"$ref": f"{ref}{name}"}
    return {"allOf": [target], "default": {}} if wrap else target


def kind_schema(rtype: ResourceType, ref: str, v3: bool) -> Obj:
    """The schema of one kind as published."""
    if rtype.custom and rtype.schema:
        schema = copy.deepcopy(rtype.schema)
        properties = schema.setdefault("properties", {})
    else:
        schema = {"description": f"{rtype.kind} ({rtype.group_version}).", "type": "object"}
        properties = schema["properties"] = {}
        extra = ROOT_FIELDS.get(rtype.key)
        if extra is not None:
            properties.update(copy.deepcopy(extra))
        elif not rtype.custom:
            loose = (
                {"type": "object", "x-kubernetes-preserve-unknown-fields": True} if v3 else {"type": "object"}
            )
            properties["spec"] = {**loose, "description": f"The desired state of the {rtype.kind}."}
            properties["status"] = {**loose, "description": f"The observed state of the {rtype.kind}."}
        else:
            schema["x-kubernetes-preserve-unknown-fields"] = True
    properties["apiVersion"] = {"type": "string", "description": API_VERSION_TEXT}
    properties["kind"] = {"type": "string", "description": KIND_TEXT}
    meta_ref = _ref(ref, f"{META}.ObjectMeta", wrap=v3)
    properties["metadata"] = {**meta_ref, "description": META_TEXT} if v3 else meta_ref
    schema["x-kubernetes-group-version-kind"] = _gvk(rtype)
    return schema


def list_schema(rtype: ResourceType, ref: str) -> Obj:
    return {
        "description": f"{rtype.list_kind_name} is a list of {rtype.kind}.",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_TEXT},
            "kind": {"type": "string", "description": KIND_TEXT},
            "metadata": _ref(ref, f"{META}.ListMeta"),
            "items": {"type": "array", "items": _ref(ref, definition_name(rtype))},
        },
        "x-kubernetes-group-version-kind": _gvk(rtype, rtype.list_kind_name),
    }


def _parameter(name: str, description: str, kind: str = "string", where: str = "query") -> Obj:
    parameter: Obj = {"name": name, "in": where, "description": description, "schema": {"type": kind}}
    if where == "path":
        parameter["required"] = True
    return parameter


COMMON_WRITE = [
    _parameter("dryRun", "When present, modifications are not persisted (All)."),
    _parameter("fieldManager", "A name associated with the actor making these changes."),
    _parameter("fieldValidation", "How to treat unknown fields: Ignore, Warn or Strict."),
]
LIST_PARAMS = [
    _parameter(name, text, kind)
    for name, text, kind in (
        ("labelSelector", "Restrict the list by labels.", "string"),
        ("fieldSelector", "Restrict the list by fields.", "string"),
        ("limit", "Maximum number of responses for a list call.", "integer"),
        ("continue", "Continue token of a previous list call.", "string"),
        ("resourceVersion", "Resource version constraint.", "string"),
        ("watch", "Watch for changes.", "boolean"),
        ("allowWatchBookmarks", "Request BOOKMARK events.", "boolean"),
        ("timeoutSeconds", "Timeout of the list/watch call.", "integer"),
    )
]


def _operation(
    rtype: ResourceType,
    action: str,
    verb: str,
    ref: str,
    params: list[Obj],
    body: bool,
    kind: str | None = None,
) -> Obj:
    target = definition_name(rtype, kind)
    media = ["application/json", "application/yaml"]
    operation: Obj = {
        "description": f"{verb} {rtype.kind}",
        "operationId": f"{action}{rtype.group_version.replace('/', '_')}{rtype.kind}",
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {m: {"schema": _ref(ref, target)} for m in media}},
            "401": {"description": "Unauthorized"},
        },
        "tags": [rtype.group_version.replace("/", "_").replace(".", "_")],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rtype)[0],
    }
    if body:
        types = (
            ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
            + ([] if rtype.custom else ["application/strategic-merge-patch+json"])
            if action == "patch"
            else ["*/*"]
        )
        schema = _ref(ref, f"{META}.Patch" if action == "patch" else target)
        operation["requestBody"] = {"content": {t: {"schema": schema} for t in types}, "required": True}
    return operation


def _paths(rtype: ResourceType, ref: str) -> dict[str, Obj]:
    base = f"/api/{rtype.version}" if not rtype.group else f"/apis/{rtype.group}/{rtype.version}"
    scoped = (
        f"{base}/namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced else f"{base}/{rtype.plural}"
    )
    path_params = (
        [_parameter("namespace", "object name and auth scope", where="path")] if rtype.namespaced else []
    )
    name_param = [_parameter("name", f"name of the {rtype.kind}", where="path")]
    verbs = rtype.extra.get("verbs")
    if verbs == ["create"]:
        return {
            scoped: {"post": _operation(rtype, "post", "create", ref, COMMON_WRITE, True)},
        }
    patch_params = [*COMMON_WRITE, _parameter("force", "Force server-side apply.", "boolean")]
    out: dict[str, Obj] = {
        scoped: {
            "get": _operation(rtype, "list", "list or watch", ref, LIST_PARAMS, False, rtype.list_kind_name),
            "post": _operation(rtype, "post", "create", ref, COMMON_WRITE, True),
            "delete": _operation(rtype, "deletecollection", "delete collection of", ref, LIST_PARAMS, False),
            "parameters": path_params,
        },
        f"{scoped}/{{name}}": {
            "get": _operation(rtype, "get", "read", ref, [], False),
            "put": _operation(rtype, "put", "replace", ref, COMMON_WRITE, True),
            "patch": _operation(rtype, "patch", "partially update", ref, patch_params, True),
            "delete": _operation(
                rtype,
                "delete",
                "delete",
                ref,
                [_parameter("gracePeriodSeconds", "Grace period.", "integer")],
                False,
            ),
            "parameters": [*name_param, *path_params],
        },
    }
    if rtype.status_subresource:
        out[f"{scoped}/{{name}}/status"] = {
            "get": _operation(rtype, "get", "read status of", ref, [], False),
            "put": _operation(rtype, "put", "replace status of", ref, COMMON_WRITE, True),
            "patch": _operation(rtype, "patch", "partially update status of", ref, patch_params, True),
            "parameters": [*name_param, *path_params],
        }
    if rtype.namespaced:
        out[f"{base}/{rtype.plural}"] = {
            "get": _operation(rtype, "list", "list or watch", ref, LIST_PARAMS, False, rtype.list_kind_name)
        }
    return out


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schemas(types: list[ResourceType], ref: str, v3: bool) -> dict[str, Obj]:
    schemas = _meta_definitions(ref)
    for rtype in types:
        schemas[definition_name(rtype)] = kind_schema(rtype, ref, v3)
        if rtype.extra.get("verbs") != ["create"]:
            schemas[definition_name(rtype, rtype.list_kind_name)] = list_schema(rtype, ref)
    return schemas


def v3_document(registry: Registry, group: str, version: str) -> Obj | None:
    """The OpenAPI 3.0 document of one group-version (None when not served)."""
    types = sorted(registry.in_group_version(group, version), key=lambda t: t.plural)
    if not types:
        return None
    ref = "#/components/schemas/"
    paths: dict[str, Obj] = {}
    for rtype in types:
        paths.update(_paths(rtype, ref))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": _schemas(types, ref, True)},
    }


def _digest(doc: Obj) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def v3_index(registry: Registry) -> Obj:
    """`/openapi/v3`: every served group-version and the URL of its document."""
    paths: dict[str, Obj] = {}
    for group, versions in sorted(registry.group_versions().items()):
        for version in versions:
            doc = v3_document(registry, group, version)
            if doc is not None:
                key = _gv_key(group, version)
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_digest(doc)}"}
    return {"paths": paths}


def _v2_operation(operation: Obj) -> Obj:
    out = {k: v for k, v in operation.items() if k not in ("requestBody", "responses", "parameters")}
    out["parameters"] = [
        {k: v for k, v in p.items() if k != "schema"} | {"type": p["schema"]["type"]}
        for p in operation.get("parameters") or []
    ]
    if "requestBody" in operation:
        schema = next(iter(operation["requestBody"]["content"].values()))["schema"]
        out["parameters"].append({"name": "body", "in": "body", "required": True, "schema": schema})
        out["consumes"] = list(operation["requestBody"]["content"])
    ok = operation["responses"]["200"]
    out["responses"] = {
        "200": {"description": "OK", "schema": next(iter(ok["content"].values()))["schema"]},
        "401": {"description": "Unauthorized"},
    }
    out["produces"] = ["application/json", "application/yaml"]
    out["schemes"] = ["https"]
    return out


def v2_document(registry: Registry) -> Obj:
    """`/openapi/v2`: one Swagger 2.0 document of every served kind."""
    ref = "#/definitions/"
    types = sorted(registry.all(), key=lambda t: (t.group, t.version, t.plural))
    paths: dict[str, Obj] = {}
    for rtype in types:
        for path, item in _paths(rtype, ref).items():
            converted: Obj = {}
            for method, operation in item.items():
                if method == "parameters":
                    converted[method] = [
                        {k: v for k, v in p.items() if k != "schema"} | {"type": "string"} for p in operation
                    ]
                else:
                    converted[method] = _v2_operation(operation)
            paths[path] = converted
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "definitions": _schemas(types, ref, False),
    }
