"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the kinds kubectl's
typed clients send that way: Namespace, ServiceAccount, Secret, ConfigMap, Service, the RBAC kinds,
TokenRequest, SelfSubjectAccessReview and SelfSubjectReview (`kubectl create namespace|serviceaccount|
secret|configmap|service|role|rolebinding|clusterrole|clusterrolebinding|token`, `kubectl auth can-i`,
`kubectl auth whoami`).

A body is the 4-byte magic `k8s\\0` and a `runtime.Unknown` (typeMeta, raw, contentEncoding,
contentType) whose `raw` is the object's message. `decode(body)` returns the object as its JSON
form would be (zero values omitted, as Go's `omitempty` does); a kind outside the table, or bytes
that are not such a body, raise `Undecodable` (the router answers 415 then, as for any media type
it cannot read). Field numbers are those of the Kubernetes API's generated.proto files.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

MAGIC = b"k8s\x00"
MEDIA = "application/vnd.kubernetes.protobuf"

# message -> field number -> (json name, type, repeated); a type is "string", "bytes", "int",
# "bool", "time", "intorstr", "map:string", "map:bytes" or a message name.
Field = tuple[str, str, bool]
S, B, I, T = "string", "bool", "int", "time"  # noqa: E741
MESSAGES: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False),
                3: ("contentEncoding", S, False), 4: ("contentType", S, False)},
    "TypeMeta": {1: ("apiVersion", S, False), 2: ("kind", S, False)},
    "ObjectMeta": {1: ("name", S, False), 2: ("generateName", S, False), 3: ("namespace", S, False),
                   4: ("selfLink", S, False), 5: ("uid", S, False), 6: ("resourceVersion", S, False),
                   7: ("generation", I, False), 8: ("creationTimestamp", T, False),
                   9: ("deletionTimestamp", T, False), 10: ("deletionGracePeriodSeconds", I, False),
                   11: ("labels", "map:string", False), 12: ("annotations", "map:string", False),
                   13: ("ownerReferences", "OwnerReference", True), 14: ("finalizers", S, True)},
    "OwnerReference": {1: ("kind", S, False), 3: ("name", S, False), 4: ("uid", S, False),
                       5: ("apiVersion", S, False), 6: ("controller", B, False),
                       7: ("blockOwnerDeletion", B, False)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False),
                  3: ("status", "NamespaceStatus", False)},
    "NamespaceSpec": {1: ("finalizers", S, True)},
    "NamespaceStatus": {1: ("phase", S, False)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map:string", False),
                  3: ("binaryData", "map:bytes", False), 4: ("immutable", B, False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map:bytes", False), 3: ("type", S, False),
               4: ("stringData", "map:string", False), 5: ("immutable", B, False)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 2: ("secrets", "ObjectReference", True),
                       3: ("imagePullSecrets", "LocalObjectReference", True),
                       4: ("automountServiceAccountToken", B, False)},
    "ObjectReference": {1: ("kind", S, False), 2: ("namespace", S, False), 3: ("name", S, False),
                        4: ("uid", S, False), 5: ("apiVersion", S, False), 6: ("resourceVersion", S, False),
                        7: ("fieldPath", S, False)},
    "LocalObjectReference": {1: ("name", S, False)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
    "ServiceSpec": {1: ("ports", "ServicePort", True), 2: ("selector", "map:string", False),
                    3: ("clusterIP", S, False), 4: ("type", S, False), 5: ("externalIPs", S, True),
                    7: ("sessionAffinity", S, False), 10: ("externalName", S, False),
                    11: ("externalTrafficPolicy", S, False), 17: ("ipFamilyPolicy", S, False),
                    18: ("clusterIPs", S, True), 19: ("ipFamilies", S, True),
                    22: ("internalTrafficPolicy", S, False)},
    "ServicePort": {1: ("name", S, False), 2: ("protocol", S, False), 3: ("port", I, False),
                    4: ("targetPort", "intorstr", False), 5: ("nodePort", I, False),
                    6: ("appProtocol", S, False)},
    "IntOrString": {1: ("type", I, False), 2: ("intVal", I, False), 3: ("strVal", S, False)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "PolicyRule": {1: ("verbs", S, True), 2: ("apiGroups", S, True), 3: ("resources", S, True),
                   4: ("resourceNames", S, True), 5: ("nonResourceURLs", S, True)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                    3: ("roleRef", "RoleRef", False)},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                           3: ("roleRef", "RoleRef", False)},
    "Subject": {1: ("kind", S, False), 2: ("apiGroup", S, False), 3: ("name", S, False),
                4: ("namespace", S, False)},
    "RoleRef": {1: ("apiGroup", S, False), 2: ("kind", S, False), 3: ("name", S, False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenRequestSpec": {1: ("audiences", S, True), 3: ("boundObjectRef", "BoundObjectReference", False),
                         4: ("expirationSeconds", I, False)},
    "BoundObjectReference": {1: ("kind", S, False), 2: ("apiVersion", S, False), 3: ("name", S, False),
                             4: ("uid", S, False)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False),
                                2: ("spec", "SelfSubjectAccessReviewSpec", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "ResourceAttributes": {1: ("namespace", S, False), 2: ("verb", S, False), 3: ("group", S, False),
                           4: ("version", S, False), 5: ("resource", S, False), 6: ("subresource", S, False),
                           7: ("name", S, False)},
    "NonResourceAttributes": {1: ("path", S, False), 2: ("verb", S, False)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
}  # fmt: skip
KINDS = {
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("authentication.k8s.io/v1", "TokenRequest"), ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview"),
}  # fmt: skip


class Undecodable(ValueError):
    """Not a protobuf body of a kind the mock can read."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise Undecodable("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise Undecodable("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise Undecodable(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, raw: Any) -> Any:
    if kind == S:
        return bytes(raw).decode("utf-8")
    if kind == "bytes":
        return bytes(raw)
    if kind == I:
        return _signed(int(raw))
    if kind == B:
        return bool(raw)
    raise Undecodable(kind)


def _time(raw: bytes) -> str | None:
    seconds = 0
    for number, _, value in _fields(raw):
        if number == 1:
            seconds = _signed(int(value))
    if seconds == 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map(raw: bytes, values: str) -> tuple[str, Any]:
    key, value = "", b"" if values == "bytes" else ""
    for number, _, item in _fields(raw):
        if number == 1:
            key = bytes(item).decode("utf-8")
        elif number == 2:
            value = bytes(item) if values == "bytes" else bytes(item).decode("utf-8")
    if isinstance(value, bytes):
        return key, base64.b64encode(value).decode()
    return key, value


def message(name: str, data: bytes) -> dict[str, Any]:
    """Decode message `name`; zero values are left out."""
    schema = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue
        field, kind, repeated = spec
        value: Any
        if kind.startswith("map:"):
            key, item = _map(raw, kind[4:])
            out.setdefault(field, {})[key] = item
            continue
        if kind == T:
            value = _time(raw)
        elif kind == "intorstr":
            parts = message("IntOrString", raw)
            value = parts.get("strVal") if parts.get("type") == 1 else parts.get("intVal", 0)
        elif kind in MESSAGES:
            value = message(kind, raw)
        else:
            value = _scalar(kind, raw)
        if repeated:
            out.setdefault(field, []).append(value)
        elif value not in (None, "", 0, False, {}) or (isinstance(value, int) and kind == "intorstr"):
            out[field] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The object a protobuf request body carries (see the module docstring)."""
    if not body.startswith(MAGIC):
        raise Undecodable("missing the k8s protobuf magic")
    try:
        envelope = message("Unknown", body[len(MAGIC) :])
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        if (api_version, kind) not in KINDS:
            raise Undecodable(f"no protobuf decoding for {api_version} {kind}")
        obj = message(kind, envelope.get("raw") or b"")
    except (UnicodeDecodeError, KeyError) as exc:
        raise Undecodable(str(exc)) from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
