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
from dataclasses import dataclass

from connector.planner.types import DeviceObject

Ref = tuple[str, str]


@dataclass(frozen=True)
class Holdings:
    """What a device is known to hold after a sync that left it as planned.

    `objects`: every object, as a read reports it. `desired`: the render our objects came from (the
    very objects the adapter rendered, so that the next render's unchanged parts are recognised by
    identity); `foreign`: the (kind, name) of the objects we do not own; `referenced`: those of ours
    that a foreign object references; `owned`: how many objects we own there."""

    objects: tuple[DeviceObject, ...]
    desired: tuple[DeviceObject, ...] | None = None
    foreign: frozenset[Ref] = frozenset()
    referenced: frozenset[Ref] = frozenset()
    owned: int = 0


class KnownState:
    """The objects one device is known to hold, or nothing (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holdings: Holdings | None = None
        self._generation = 0
        self.memo = StripMemo()

    def take(self) -> tuple[tuple[DeviceObject, ...] | None, int]:
        """The known objects (None: unknown, read the device) and a token for `remember`; forgets
        them, so that a sync that ends without `remember` (any failure) leaves the state unknown."""
        holdings, token = self.take_holdings()
        return (holdings.objects if holdings is not None else None), token

    def take_holdings(self) -> tuple[Holdings | None, int]:
        """`take`, with everything known about the holdings."""
        with self._lock:
            holdings, self._holdings = self._holdings, None
            self._generation += 1
            return holdings, self._generation

    def remember(self, objects: Sequence[DeviceObject] | Holdings, token: int) -> None:
        """Record what the device holds after the sync that `take` returned `token` to, unless the
        state was forgotten since (a leadership change during the sync)."""
        holdings = objects if isinstance(objects, Holdings) else Holdings(tuple(objects))
        with self._lock:
            if token == self._generation:
                self._holdings = holdings

    def forget(self) -> None:
        with self._lock:
            self._holdings = None
            self._generation += 1

    @property
    def known(self) -> bool:
        with self._lock:
            return self._holdings is not None


class StripMemo:
    """Desired objects as a read reports them (without identities), remembered by object so that
    the objects a render reused cost nothing the next time. Holds only the latest call's objects.
    One device's worker uses it."""

    def __init__(self) -> None:
        self._previous: dict[int, tuple[DeviceObject, DeviceObject]] = {}

    def strip(self, desired: Sequence[DeviceObject]) -> list[DeviceObject]:
        previous = self._previous
        current: dict[int, tuple[DeviceObject, DeviceObject]] = {}
        out = []
        for obj in desired:
            entry = previous.get(id(obj))
            if entry is None or entry[0] is not obj:
                entry = (obj, obj if not obj.identities else dataclasses.replace(obj, identities=()))
            current[id(obj)] = entry
            out.append(entry[1])
        self._previous = current
        return out


def held_after(desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], owner_mark: str,
               kept: Collection[Ref] = (), memo: StripMemo | None = None) -> list[DeviceObject]:
    """What a device that held `actual` holds once a plan towards `desired` is fully applied: our
    desired objects (in desired order, as a read reports them: without identities), then the
    foreign objects and the owned ones the plan `kept`, as they were. `memo` reuses the stripped
    copies of objects seen by its previous call."""
    wanted = {(obj.kind, obj.name) for obj in desired}
    untouched = [obj for obj in actual
                 if (obj.kind, obj.name) not in wanted and (obj.owner != owner_mark or obj.ref in kept)]
    ours = (memo or StripMemo()).strip(desired)
    return ours + untouched
