"""The write fence around the adapters a process opens.

Contract: every device HTTP client created inside `write_fence(may_write)` takes `may_write` as
its fence (`current_fence()` at creation) and asks it right before each write request, sending
nothing when it answers False. So the controller fences each device by its leadership of the
Lease (`connector.controller.fence`) without the adapters knowing. Outside any block there is no
fence (None).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

MayWrite = Callable[[], bool]
_FENCE: ContextVar[MayWrite | None] = ContextVar("device_write_fence", default=None)


@contextlib.contextmanager
def write_fence(may_write: MayWrite) -> Iterator[None]:
    """Every device client created inside this block asks `may_write()` before each write."""
    token = _FENCE.set(may_write)
    try:
        yield
    finally:
        _FENCE.reset(token)


def current_fence() -> MayWrite | None:
    """The fence of the enclosing `write_fence` block (None outside any)."""
    return _FENCE.get()
