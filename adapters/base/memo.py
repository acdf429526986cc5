"""`RenderMemo`: reuse the pieces of the previous render whose inputs did not change.

The compiler keeps the very same `SourceGroup`, `Destination`, `PortSet` and `CompiledRule` objects
for the parts of a `DeviceState` a change did not touch, so a render that remembers what it built
from each of them re-renders only what changed (one pod change: the groups holding that pod).
Inputs match when each is the same object as before or equal to it (model objects are frozen, and
rendering is a pure function of its inputs, so the output is identical). The memo holds only what
the latest render used, so it never grows beyond one state. Not thread-safe: one adapter renders
for one device at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class RenderMemo:
    """See the module docstring. Call `get` for every piece of a render, then `done()`."""

    def __init__(self) -> None:
        self._previous: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}
        self._current: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}

    def get(self, key: Hashable, build: Callable[..., T], *inputs: Any) -> T:
        """`build(*inputs)`, or the value built for `key` from the same `inputs` by the previous
        render (or earlier in this one)."""
        entry = self._current.get(key) or self._previous.get(key)
        if entry is not None and _same(entry[0], inputs):
            value: T = entry[1]
        else:
            value = build(*inputs)
        self._current[key] = (inputs, value)
        return value

    def done(self) -> None:
        """End a render: forget every piece it did not use."""
        self._previous, self._current = self._current, {}

    def clear(self) -> None:
        self._previous, self._current = {}, {}


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    return len(old) == len(new) and all(a is b or a == b for a, b in zip(old, new, strict=True))
