"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch and JSON patch (RFC 6902).

Strategic merge follows the real server for the fields it merges by key (containers by name,
conditions by type, service ports by port, ...): such lists merge item by item and honour the
`$patch: delete|replace` directives; other lists are replaced. Custom resources do not accept
strategic merge patches (415), as on a real server.
"""

from __future__ import annotations

import copy
from typing import Any

from mocks.kube.errors import ApiError, bad_request

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# list field name -> merge key (the patchMergeKey of the real types for the kinds served here)
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "taints": "key",
    "addresses": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
}
PRIMITIVE_MERGE_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _list_merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is None:
            return None
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch of `target` by `patch` (see module docstring)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, list):
            result[key] = _merge_list(key, current if isinstance(current, list) else [], value)
        elif isinstance(value, dict):
            merged = strategic_merge(current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/") and isinstance(value, list):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in PRIMITIVE_MERGE_LISTS:
        merged = list(current)
        merged.extend(v for v in patch if v not in merged)
        return merged
    merge_key = _list_merge_key(field, patch) or _list_merge_key(field, current)
    if merge_key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    if any(i.get("$patch") == "replace" for i in patch):
        return [
            copy.deepcopy({k: v for k, v in i.items() if k != "$patch"})
            for i in patch
            if i.get("$patch") != "replace"
        ]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        key_value = item.get(merge_key)
        index = next(
            (
                n
                for n, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(merge_key) == key_value
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(
            f"the server rejected our request due to an error in our request: invalid JSON pointer {path!r}"
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict):
            if part not in doc:
                raise KeyError(part)
            doc = doc[part]
        elif isinstance(doc, list):
            doc = doc[_index(part, len(doc), allow_end=False)]
        else:
            raise KeyError(part)
    return doc


def _index(part: str, length: int, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return length
    if not part.isdigit():
        raise KeyError(part)
    index = int(part)
    if index > length or (index == length and not allow_end):
        raise KeyError(part)
    return index


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), allow_end=True), value)
    else:
        raise KeyError(last)
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise KeyError("")
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise KeyError(last)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, len(parent), allow_end=False))
    raise KeyError(last)


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902; a failed operation is a 422 like the real server's."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind = op["op"]
        parts = _pointer(str(op["path"]))
        try:
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                _resolve(doc, parts)
                if parts:
                    _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind in ("move", "copy"):
                source = _pointer(str(op.get("from", "")))
                value = _resolve(doc, source)
                if kind == "move":
                    _remove(doc, source)
                doc = _add(doc, parts, copy.deepcopy(value))
            elif kind == "test":
                if _resolve(doc, parts) != op.get("value"):
                    raise ApiError(
                        422,
                        f"the server rejected our request due to an error in our request: "
                        f"testing value {op['path']} failed",
                        "Invalid",
                    )
            else:
                raise bad_request(f"unexpected kind of json patch operation: {kind!r}")
        except (KeyError, IndexError) as exc:
            raise ApiError(
                422,
                f"the server rejected our request due to an error in our request: "
                f"{kind} operation does not apply: doc is missing path: {op['path']}",
                "Invalid",
            ) from exc
    return doc


def apply_patch(content_type: str, target: Any, body: Any, custom: bool) -> Any:
    """Apply a PATCH body of the given content type; 415 for types the resource does not take."""
    media = content_type.split(";")[0].strip().lower()
    if media == MERGE_PATCH:
        return merge_patch(target, body)
    if media == JSON_PATCH:
        return json_patch(target, body)
    if media == STRATEGIC_PATCH and not custom:
        return strategic_merge(target, body)
    supported = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([] if custom else [STRATEGIC_PATCH])
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types "
        f"include: {', '.join(supported)}",
        "UnsupportedMediaType",
    )
