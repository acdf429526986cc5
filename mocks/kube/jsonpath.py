"""The JSONPath subset of CRD `additionalPrinterColumns`: `.a.b`, `.a[0]`, `.a[*]`, `.a['k.x']`,
`.a[?(@.k=="v")].b` (also `!=`, and numbers or booleans on the right), optionally wrapped in `{}`.

`find(obj, path)` returns every match in document order (empty when nothing matches).
"""

from __future__ import annotations

import json
import re
from typing import Any

_FILTER = re.compile(r"^\?\(@((?:\.[A-Za-z0-9_\-/]+)+)\s*(==|!=)\s*(.+)\)$")


class JsonPathError(ValueError):
    """A path outside the supported subset."""


def _steps(path: str) -> list[tuple[str, str]]:
    """("field"|"index"|"all"|"filter", argument) steps of `path`."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            j = i + 1
            while j < len(text) and text[j] not in ".[":
                j += 1
            if j > i + 1:
                steps.append(("field", text[i + 1 : j]))
            i = j
        elif char == "[":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise JsonPathError(f"unterminated [ in {path!r}")
            inner = text[i + 1 : j].strip()
            if inner == "*":
                steps.append(("all", ""))
            elif inner.lstrip("-").isdigit():
                steps.append(("index", inner))
            elif inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                steps.append(("field", inner[1:-1]))
            elif inner.startswith("?("):
                steps.append(("filter", inner))
            else:
                raise JsonPathError(f"unsupported JSONPath {path!r}")
            i = j + 1
        else:
            raise JsonPathError(f"unsupported JSONPath {path!r}")
    return steps


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _filter(items: list[Any], expression: str) -> list[Any]:
    match = _FILTER.match(expression)
    if match is None:
        raise JsonPathError(f"unsupported filter {expression!r}")
    fields = [f for f in match.group(1).split(".") if f]
    wanted = _literal(match.group(3))
    out = []
    for item in items:
        value: Any = item
        for name in fields:
            value = value.get(name) if isinstance(value, dict) else None
        if (value == wanted) == (match.group(2) == "=="):
            out.append(item)
    return out


def find(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj`."""
    current = [obj]
    for kind, arg in _steps(path):
        following: list[Any] = []
        for value in current:
            if kind == "field":
                if isinstance(value, dict) and arg in value:
                    following.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= int(arg) < len(value):
                    following.append(value[int(arg)])
            elif kind == "all":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, dict):
                    following.extend(value.values())
            elif isinstance(value, list):
                following.extend(_filter(value, arg))
        current = following
    return current
