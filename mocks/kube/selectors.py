"""Label and field selectors with the API server's syntax and error behaviour.

Label selectors: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`,
comma-separated (all must hold). Field selectors: `f=v`, `f==v`, `f!=v` over the fields the kind
supports (`metadata.name` and `metadata.namespace` everywhere, plus per-kind fields as the real
server allows); any other field is a 400 `field label not supported`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mocks.kube.errors import bad_request

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

COMMON_FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "namespaces"): ("status.phase",),
    ("", "secrets"): ("type",),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("events.k8s.io", "events"): (
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ),
}

_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY_RE = re.compile(_KEY + r"$")
_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _check_key(key: str, raw: str) -> None:
    if not _KEY_RE.match(key) or len(key.rpartition("/")[2]) > 63:
        raise bad_request(f"unable to parse requirement: invalid label key {key!r} in {raw!r}")


def _check_value(value: str, raw: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise bad_request(f"unable to parse requirement: invalid label value {value!r} in {raw!r}")


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^!=<>\s]+)\s*(==|!=|=|<|>)\s*(\S*)\s*$")


def _label_requirement(raw: str) -> Predicate:
    text = raw.strip()
    if not text:
        raise bad_request(f"unable to parse requirement: empty requirement in {raw!r}")
    match = _SET_RE.match(text)
    if match:
        key, op, values_text = match.groups()
        _check_key(key, raw)
        values = frozenset(v.strip() for v in values_text.split(",") if v.strip())
        for value in values:
            _check_value(value, raw)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    match = _CMP_RE.match(text)
    if match:
        key, op, value = match.groups()
        _check_key(key, raw)
        if op in ("<", ">"):
            try:
                bound = int(value)
            except ValueError as exc:
                raise bad_request(f"unable to parse requirement: {value!r} is not an integer") from exc
            if op == "<":
                return lambda labels: _compare(labels.get(key), bound, less=True)
            return lambda labels: _compare(labels.get(key), bound, less=False)
        _check_value(value, raw)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if text.startswith("!"):
        key = text[1:].strip()
        _check_key(key, raw)
        return lambda labels: key not in labels
    _check_key(text, raw)
    return lambda labels: text in labels


def _compare(value: Any, bound: int, less: bool) -> bool:
    number = _int_or_none(value)
    if number is None:
        return False
    return number < bound if less else number > bound


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_label_selector(selector: str | None) -> Predicate | None:
    """A predicate over whole objects, or None when the selector selects everything."""
    if selector is None or not selector.strip():
        return None
    requirements = [_label_requirement(part) for part in _split_top(selector)]

    def matches(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return matches


def labels_match(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """Equality-based map selector (Service.spec.selector); an empty selector selects everything."""
    if not selector:
        return True
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def field_value(obj: Obj, path: str) -> str:
    """The string value of a dotted field path, "" when absent (booleans as "true"/"false")."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("component", "")) if path == "source" else ""
    return str(value)


def parse_field_selector(selector: str | None, resource_key: tuple[str, str]) -> Predicate | None:
    """A predicate over objects; 400 for a malformed selector or an unsupported field."""
    if selector is None or not selector.strip():
        return None
    allowed = COMMON_FIELDS + KIND_FIELDS.get(resource_key, ())
    checks: list[tuple[str, bool, str]] = []
    for part in _split_top(selector):
        text = part.strip()
        match = re.match(r"^([^!=]+?)\s*(==|!=|=)\s*(.*)$", text)
        if not match:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{text}'")
        name, op, value = match.group(1).strip(), match.group(2), match.group(3).strip()
        if name not in allowed:
            raise bad_request(f"field label not supported: {name}")
        checks.append((name, op != "!=", value))

    def matches(obj: Obj) -> bool:
        return all((field_value(obj, name) == value) == equal for name, equal, value in checks)

    return matches


def combine(*predicates: Predicate | None) -> Predicate | None:
    active = [p for p in predicates if p is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]
    return lambda obj: all(p(obj) for p in active)
