"""Structural-schema handling of custom resources, as the real API server does it.

`prepare(obj, schema)` prunes unknown fields (keeping `apiVersion`, `kind`, `metadata` at the root,
honouring `x-kubernetes-preserve-unknown-fields` and `additionalProperties`), drops nulls that are
not `nullable`, and applies `default` values (a default is itself pruned and defaulted).
`validate(obj, schema, old)` returns metav1 Status causes with field paths (`spec.ports[0].port`)
and the real server's messages for: type, nullable, required, enum, minimum/maximum (and exclusive
forms), multipleOf, minLength/maxLength, pattern, format (ipv4, ipv6, cidr, hostname, date-time,
uuid, mac, byte), minItems/maxItems, uniqueItems, x-kubernetes-list-type set/map,
minProperties/maxProperties, allOf/anyOf/oneOf/not, x-kubernetes-int-or-string, and
`x-kubernetes-validations` through `connector.crds.cel` (rules outside its subset are skipped;
`messageExpression` replaces `message` when it evaluates to a one-line string; as on the API
server, a rule's error shows the field's type, `Invalid value: "string": ...`, not its value).
A cause is a metav1 StatusCause (`reason`, `message` without the field, `field`).

The one implementation: `review` validates manifests offline with it, and the mock Kubernetes API
server (`mocks.kube`) validates custom resources with it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import re
from datetime import datetime
from typing import Any

from connector.crds import cel

Schema = dict[str, Any]
Cause = dict[str, str]
ROOT_KEEP = ("apiVersion", "kind", "metadata")


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    """A metav1 StatusCause."""
    return {"reason": reason, "message": message, "field": field}


# --- pruning and defaulting ---------------------------------------------------------------------
def prepare(obj: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """A pruned and defaulted copy of `obj` (a custom resource) under its version's schema."""
    result = _prepare(copy.deepcopy(obj), schema, root=True)
    return result if isinstance(result, dict) else obj


def _preserves(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _prepare(value: Any, schema: Schema, root: bool = False) -> Any:
    if isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        prunes = not _preserves(schema) and not isinstance(additional, dict) and additional is not True
        if prunes and (props or schema.get("type") == "object"):
            for key in list(value):
                if key not in props and not (root and key in ROOT_KEEP):
                    del value[key]
        for key in list(value):
            if root and key in ROOT_KEEP:
                continue
            child = props.get(key)
            if child is None and isinstance(additional, dict):
                child = additional
            if child is None:
                continue
            if value[key] is None and not child.get("nullable"):
                del value[key]
                continue
            value[key] = _prepare(value[key], child)
        for key, child in props.items():
            if key not in value and "default" in child:
                value[key] = _prepare(copy.deepcopy(child["default"]), child)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_prepare(item, items) for item in value]
    return value


# --- validation ---------------------------------------------------------------------------------
def validate(obj: dict[str, Any], schema: Schema, old: dict[str, Any] | None = None) -> list[Cause]:
    """Causes for every violation of `schema` by `obj` (empty when valid)."""
    causes: list[Cause] = []
    _validate(obj, schema, "", causes, old, True)
    return causes


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def render(value: Any) -> str:
    """A value as the API server prints it in messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '"null"'
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, expected: str) -> bool:
    actual = _type_name(value)
    return actual == expected or (expected == "number" and actual == "integer")


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return cause(path, f"Invalid value: {render(value)}: {detail}")


_FORMATS = {
    "hostname": re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    "mac": re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$"),
}


def format_ok(fmt: str, value: str) -> bool:
    """Whether `value` has the string format `fmt`; unknown formats always pass (as on a real server)."""
    try:
        if fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(value)
        elif fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        elif fmt == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif fmt == "byte":
            base64.b64decode(value, validate=True)
        elif fmt in _FORMATS:
            return bool(_FORMATS[fmt].match(value))
    except (ValueError, binascii.Error):
        return False
    return True


def _validate(
    value: Any, schema: Schema, path: str, causes: list[Cause], old: Any, root: bool = False
) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(
                cause(
                    path,
                    f'Invalid value: "null": {path} in body must be of type {schema["type"]}: "null"',
                    "FieldValueTypeInvalid",
                )
            )
        return
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if _type_name(value) not in ("integer", "string"):
            causes.append(
                cause(
                    path,
                    f"Invalid value: {render(value)}: {path} in body must be of type "
                    f"integer-or-string: {render(_type_name(value))}",
                    "FieldValueTypeInvalid",
                )
            )
            return
    elif expected and not _type_ok(value, expected):
        causes.append(
            cause(
                path,
                f"Invalid value: {render(value)}: {path} in body must be of type {expected}: "
                f"{json.dumps(_type_name(value))}",
                "FieldValueTypeInvalid",
            )
        )
        return
    before = len(causes)
    _validate_scalar(value, schema, path, causes)
    if isinstance(value, dict):
        _validate_object(value, schema, path, causes, old if isinstance(old, dict) else None, root)
    elif isinstance(value, list):
        _validate_array(value, schema, path, causes, old if isinstance(old, list) else None)
    _validate_combinators(value, schema, path, causes, old)
    if len(causes) == before:
        _validate_rules(value, schema, path, causes, old)


def _validate_scalar(value: Any, schema: Schema, path: str, causes: list[Cause]) -> None:
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        supported = ", ".join(render(v) for v in enum)
        causes.append(
            cause(
                path,
                f"Unsupported value: {render(value)}: supported values: {supported}",
                "FieldValueNotSupported",
            )
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        if minimum is not None:
            if schema.get("exclusiveMinimum") and value <= minimum:
                causes.append(_invalid(path, value, f"{path} in body should be greater than {minimum}"))
            elif value < minimum:
                causes.append(
                    _invalid(path, value, f"{path} in body should be greater than or equal to {minimum}")
                )
        if maximum is not None:
            if schema.get("exclusiveMaximum") and value >= maximum:
                causes.append(_invalid(path, value, f"{path} in body should be less than {maximum}"))
            elif value > maximum:
                causes.append(
                    _invalid(path, value, f"{path} in body should be less than or equal to {maximum}")
                )
        multiple = schema.get("multipleOf")
        if multiple and (value / multiple) % 1 != 0:
            causes.append(_invalid(path, value, f"{path} in body should be a multiple of {multiple}"))
    if isinstance(value, str):
        min_length, max_length = schema.get("minLength"), schema.get("maxLength")
        if min_length is not None and len(value) < min_length:
            causes.append(_invalid(path, value, f"{path} in body should be at least {min_length} chars long"))
        if max_length is not None and len(value) > max_length:
            causes.append(cause(path, f"Too long: may not be longer than {max_length}", "FieldValueTooLong"))
        pattern = schema.get("pattern")
        if pattern is not None and not _search(pattern, value):
            causes.append(_invalid(path, value, f"{path} in body should match '{pattern}'"))
        fmt = schema.get("format")
        if fmt and not format_ok(fmt, value):
            causes.append(_invalid(path, value, f"{path} in body must be of type {fmt}: {render(value)}"))


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def _validate_object(
    value: dict[str, Any],
    schema: Schema,
    path: str,
    causes: list[Cause],
    old: dict[str, Any] | None,
    root: bool,
) -> None:
    props: dict[str, Schema] = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in value:
            causes.append(cause(_join(path, key), "Required value", "FieldValueRequired"))
    min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
    if min_props is not None and len(value) < min_props:
        causes.append(_invalid(path, value, f"{path} in body should have at least {min_props} properties"))
    if max_props is not None and len(value) > max_props:
        causes.append(
            cause(path, f"Too many: {len(value)}: must have at most {max_props} items", "FieldValueTooMany")
        )
    additional = schema.get("additionalProperties")
    for key, child_value in value.items():
        if root and key in ROOT_KEEP and key not in props:
            continue
        child = props.get(key)
        if child is not None:
            _validate(child_value, child, _join(path, key), causes, (old or {}).get(key))
        elif isinstance(additional, dict):
            _validate(
                child_value, additional, f"{path}[{key}]" if path else key, causes, (old or {}).get(key)
            )
        elif additional is False and not _preserves(schema):
            causes.append(cause(_join(path, key), f"Forbidden: {key} is not allowed", "FieldValueForbidden"))


def _validate_array(
    value: list[Any], schema: Schema, path: str, causes: list[Cause], old: list[Any] | None
) -> None:
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if min_items is not None and len(value) < min_items:
        causes.append(_invalid(path, value, f"{path} in body should have at least {min_items} items"))
    if max_items is not None and len(value) > max_items:
        causes.append(
            cause(path, f"Too many: {len(value)}: must have at most {max_items} items", "FieldValueTooMany")
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                causes.append(
                    cause(f"{path}[{index}]", f"Duplicate value: {render(item)}", "FieldValueDuplicate")
                )
            else:
                seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            item_key = tuple(item.get(k) for k in keys)
            if item_key in seen_keys:
                shown = "{" + ", ".join(f'"{k}":{render(item.get(k))}' for k in keys) + "}"
                causes.append(
                    cause(
                        f"{path}[{index}]",
                        f"Duplicate value: map[string]interface {{}}{shown}",
                        "FieldValueDuplicate",
                    )
                )
            else:
                seen_keys.append(item_key)
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            old_item = old[index] if old is not None and index < len(old) else None
            _validate(item, items, f"{path}[{index}]", causes, old_item)


def _validate_combinators(value: Any, schema: Schema, path: str, causes: list[Cause], old: Any) -> None:
    def ok(sub: Schema) -> bool:
        found: list[Cause] = []
        _validate(value, sub, path, found, old)
        return not found

    for sub in schema.get("allOf") or []:
        _validate(value, sub, path, causes, old)
    any_of = schema.get("anyOf")
    if any_of and not any(ok(sub) for sub in any_of):
        causes.append(_invalid(path, value, f"{path} in body must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if one_of and sum(1 for sub in one_of if ok(sub)) != 1:
        causes.append(_invalid(path, value, f"{path} in body must validate one and only one schema (oneOf)"))
    negated = schema.get("not")
    if isinstance(negated, dict) and ok(negated):
        causes.append(_invalid(path, value, f"{path} in body must not validate the schema (not)"))


def _schema_type(schema: Schema, value: Any) -> str:
    """The type a rule's error names (`"string"`, `"object"`...): the schema's, else the value's."""
    declared = schema.get("type")
    return declared if isinstance(declared, str) else _type_name(value)


_REASON_TEXT = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}


def _validate_rules(value: Any, schema: Schema, path: str, causes: list[Cause], old: Any) -> None:
    for rule in schema.get("x-kubernetes-validations") or []:
        expression = rule.get("rule")
        if not isinstance(expression, str):
            continue
        transition = "oldSelf" in expression
        if transition and old is None:
            continue
        outcome = cel.evaluate(expression, value, old if transition else None)
        if outcome is not False:
            continue
        message_expression = rule.get("messageExpression")
        message = (cel.message(message_expression, value, old if transition else None)
                   if isinstance(message_expression, str) else None)
        message = message or rule.get("message") or f"failed rule: {expression}"
        field_path = rule.get("fieldPath") or ""
        target = path + field_path if field_path.startswith((".", "[")) else path
        if target.startswith("."):
            target = target[1:]
        reason = rule.get("reason") or "FieldValueInvalid"
        prefix = _REASON_TEXT.get(reason)
        # the API server shows the schema type, not the value, of a field a rule refuses
        shown = render(_schema_type(schema, value))
        text = f"{prefix}: {message}" if prefix else f"Invalid value: {shown}: {message}"
        causes.append(cause(target, text, reason))
