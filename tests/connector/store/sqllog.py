"""Capturing the SQL statements an engine executes, to show what a repository reads and writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements executed on `engine` inside the block, whitespace collapsed."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def touching(seen: list[str], table: str, *verbs: str) -> list[str]:
    """The statements of `seen` that name `table` (and start with one of `verbs`, if given)."""
    return [s for s in seen if table in s and (not verbs or s.startswith(verbs))]
