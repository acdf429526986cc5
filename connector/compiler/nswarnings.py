"""The warnings of one namespace, as clear one-line strings.

Every line starts with `namespace NAME: ` and, for an annotation, names it and quotes the bad value
(JSON-style, control characters escaped, at most `VALUE_LIMIT` characters), then says what the
connector does instead, e.g.
`namespace shop: annotation fusion-connector.io/default-action: "maybe" is not one of Deny, Allow,
None; using Deny`. The controller turns them into Events, the CLI and the report print them, so a
line is self-contained and never holds a line break. Bad list entries are reported one line each,
at most `ENTRY_LIMIT` per annotation, then one line counting the rest.
"""

from __future__ import annotations

import json

VALUE_LIMIT = 100
ENTRY_LIMIT = 10


def quoted(value: str) -> str:
    """`value` in double quotes, escaped onto one line, cut to `VALUE_LIMIT` characters."""
    cut = value if len(value) <= VALUE_LIMIT else value[:VALUE_LIMIT] + "..."
    return json.dumps(cut)


def unquoted(problem: Exception, value: str) -> str:
    """A parser's message without the value it starts with (the warning quotes the value itself)."""
    text = str(problem)
    prefix = f"{value.strip()!r} "
    return text[len(prefix):] if text.startswith(prefix) else text


class NamespaceWarnings:
    """Collects the warnings of namespace `namespace`."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._lines: list[str] = []
        self._entries: dict[str, int] = {}  # annotation -> bad entries seen
        self._summary: dict[str, int] = {}  # annotation -> index of its "more bad entries" line

    def note(self, text: str) -> None:
        """A warning about the namespace as a whole."""
        self._lines.append(f"namespace {self.namespace}: {text}")

    def value(self, annotation: str, value: str, problem: str) -> None:
        """The annotation's whole `value` is bad: `problem` says why and what is used instead."""
        self.note(f"annotation {annotation}: {quoted(value)} {problem}")

    def not_one_of(self, annotation: str, value: str, allowed: tuple[str, ...], using: str) -> None:
        """The annotation's `value` is none of `allowed`; `using` is used instead."""
        self.value(annotation, value, f"is not one of {', '.join(allowed)}; using {using}")

    def entry(self, annotation: str, entry: str, problem: str) -> None:
        """One bad entry of a list annotation; `problem` says why (and that it is ignored)."""
        count = self._entries[annotation] = self._entries.get(annotation, 0) + 1
        if count <= ENTRY_LIMIT:
            self.note(f"annotation {annotation}: {quoted(entry)} {problem}")
        elif count == ENTRY_LIMIT + 1:
            self._summary[annotation] = len(self._lines)
            self._lines.append("")

    def lines(self) -> tuple[str, ...]:
        out = list(self._lines)
        for annotation, index in self._summary.items():
            more = self._entries[annotation] - ENTRY_LIMIT
            out[index] = (
                f"namespace {self.namespace}: annotation {annotation}: {more} more bad entries ignored"
            )
        return tuple(out)
