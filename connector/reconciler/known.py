"""What one device is known to hold, so that an event-driven sync can skip reading it back.

After a sync whose outcome leaves the device exactly as the planner expects (a successful apply,
or a read whose plan was empty), the device holds our desired objects plus what we did not touch
(foreign objects, and our objects kept because foreign ones reference them), as of that sync.
`KnownState` keeps that list; the next sync may plan against it instead of reading. Anything else
(an error, a refused, withheld or partial apply, a plan left unapplied, a crash mid-sync, a change
of leadership) forgets it, so the following sync reads the device again. Callers decide when a
sync must read regardless (the first one, periodic drift repair).

Thread-safe: one device's worker uses it, the leadership callback may `forget` from another thread.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Sequence

from connector.planner.types import DeviceObject

Ref = tuple[str, str]


class KnownState:
    """The objects one device is known to hold, or nothing (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: tuple[DeviceObject, ...] | None = None
        self._generation = 0

    def take(self) -> tuple[tuple[DeviceObject, ...] | None, int]:
        """The known objects (None: unknown, read the device) and a token for `remember`; forgets
        them, so that a sync that ends without `remember` (any failure) leaves the state unknown."""
        with self._lock:
            objects, self._objects = self._objects, None
            self._generation += 1
            return objects, self._generation

    def remember(self, objects: Sequence[DeviceObject], token: int) -> None:
        """Record what the device holds after the sync that `take` returned `token` to, unless the
        state was forgotten since (a leadership change during the sync)."""
        with self._lock:
            if token == self._generation:
                self._objects = tuple(objects)

    def forget(self) -> None:
        with self._lock:
            self._objects = None
            self._generation += 1

    @property
    def known(self) -> bool:
        with self._lock:
            return self._objects is not None


def held_after(desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], owner_mark: str,
               kept: Collection[Ref] = ()) -> list[DeviceObject]:
    """What a device that held `actual` holds once a plan towards `desired` is fully applied: our
    desired objects (in desired order, as a read reports them: without identities), then the
    foreign objects and the owned ones the plan `kept`, as they were."""
    wanted = {(obj.kind, obj.name) for obj in desired}
    untouched = [obj for obj in actual
                 if (obj.kind, obj.name) not in wanted and (obj.owner != owner_mark or obj.ref in kept)]
    ours = [obj if not obj.identities else dataclasses.replace(obj, identities=()) for obj in desired]
    return ours + untouched
