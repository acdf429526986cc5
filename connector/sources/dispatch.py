"""Delivery of change notifications to listeners, off the watch threads.

Reflectors `publish` changes after the cache holds them; a dispatcher thread takes everything
queued since its last round and calls every listener with one batch, in publication order (so in
order per object). The queue is unbounded: a slow listener delays notifications, never the watch
threads; it holds references to objects, most of which the cache holds anyway. A listener that
raises is logged and does not stop delivery to the others.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

from connector.cluster import ObjectChange

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[ObjectChange]], None]


class ChangeDispatcher:
    """Queue + thread delivering batches of `ObjectChange` to listeners."""

    def __init__(self, name: str = "change-dispatcher") -> None:
        self._listeners: list[Listener] = []
        self._pending: deque[Sequence[ObjectChange]] = deque()
        self._condition = threading.Condition()
        self._published = 0
        self._delivered = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def add_listener(self, listener: Listener) -> None:
        with self._condition:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._condition:
            self._listeners.remove(listener)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def publish(self, changes: Sequence[ObjectChange]) -> None:
        if not changes:
            return
        with self._condition:
            self._pending.append(changes)
            self._published += 1
            self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything published so far has been delivered; False on timeout."""
        with self._condition:
            target = self._published
            return self._condition.wait_for(lambda: self._delivered >= target, timeout)

    @property
    def backlog(self) -> int:
        """Published batches not yet delivered."""
        with self._condition:
            return self._published - self._delivered

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:
                    return
                parts = list(self._pending)
                self._pending.clear()
                listeners = list(self._listeners)
            batch: list[ObjectChange] = []
            for part in parts:
                batch.extend(part)
            for listener in listeners:
                try:
                    listener(batch)
                except Exception:
                    log.exception("change listener %r failed", listener)
            with self._condition:
                self._delivered += len(parts)
                self._condition.notify_all()
