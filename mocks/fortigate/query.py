"""FortiOS list query parameters: `filter`, `format`, `start`, `count`.

- `filter=<key><op><pattern>`: ops `==` `!=` `=@` (contains) `!@` (does not contain), all four
  case-insensitive as the FortiOS swagger documents, and `<=` `<` `>=` `>`; a `,` inside one
  filter ORs alternatives; repeated `filter` parameters AND. List attributes (e.g. `member`) match
  when any entry's name matches.
- `format=a|b`: keep only those fields (plus `q_origin_key`).
- `start`/`count`: a window of the filtered list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

_FILTER = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)(?P<op>==|!=|=@|!@|<=|>=|<|>)(?P<pattern>.*)$", re.S)


class QueryError(ValueError):
    """A query parameter is malformed."""


def _values(entry: dict[str, Any], key: str) -> list[str]:
    value = entry.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item.get("name", "")) if isinstance(item, dict) else str(item) for item in value]
    return [str(value)]


def _compare(op: str, value: str, pattern: str) -> bool:
    if op in ("==", "!=", "=@", "!@"):
        value, pattern = value.casefold(), pattern.casefold()
    if op == "==":
        return value == pattern
    if op == "!=":
        return value != pattern
    if op == "=@":
        return pattern in value
    if op == "!@":
        return pattern not in value
    try:
        left: float | str = float(value)
        right: float | str = float(pattern)
    except ValueError:
        left, right = value, pattern
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">=":
        return left >= right  # type: ignore[operator]
    if op == "<":
        return left < right  # type: ignore[operator]
    return left > right  # type: ignore[operator]


def _alternative(text: str) -> Callable[[dict[str, Any]], bool]:
    match = _FILTER.match(text)
    if not match:
        raise QueryError(f"invalid filter {text!r}")
    key, op, pattern = match["key"], match["op"], match["pattern"]
    negative = op in ("!=", "!@")

    def test(entry: dict[str, Any]) -> bool:
        values = _values(entry, key)
        if negative:
            return all(_compare(op, value, pattern) for value in values)
        return any(_compare(op, value, pattern) for value in values)

    return test


def compile_filters(filters: Sequence[str]) -> Callable[[dict[str, Any]], bool]:
    """A predicate for repeated `filter` parameters (AND of ORs)."""
    clauses = [[_alternative(part) for part in text.split(",")] for text in filters if text]

    def test(entry: dict[str, Any]) -> bool:
        return all(any(alt(entry) for alt in clause) for clause in clauses)

    return test


def project(entry: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return entry
    keep = [f for f in fields.split("|") if f]
    out = {key: entry[key] for key in keep if key in entry}
    out["q_origin_key"] = entry.get("q_origin_key")
    return out


def window(items: list[dict[str, Any]], start: str | None, count: str | None) -> list[dict[str, Any]]:
    try:
        first = int(start) if start else 0
        size = int(count) if count else None
    except ValueError as exc:
        raise QueryError("start and count must be integers") from exc
    if first < 0 or (size is not None and size < 0):
        raise QueryError("start and count must not be negative")
    return items[first:] if size is None else items[first:first + size]
