"""What one device is known to hold, so that an event-driven sync can skip reading it back.

After a sync whose outcome leaves the device exactly as the planner expects (a successful apply,
or a read whose plan was empty), the device holds our desired objects plus what we did not touch
(foreign objects, and our objects kept because foreign ones reference them), as of that sync.
`KnownState` keeps that list; the next sync may plan against it instead of reading. A sync whose
unsafe deletions were withheld (docs/operations.md, "Safety") leaves the device as planned too:
the list then also holds the withheld objects as that sync left them (`Holdings.withheld`), and
the next sync plans against the whole list rather than by difference, so they are planned again.
Anything else (an error, a refused or partial apply, a plan left unapplied, a crash mid-sync, a
change of leadership) forgets it, so the following sync reads the device again. Callers decide
when a sync must read regardless (the first one, periodic drift repair).

The safety check also asks which deletions are confirmed (`confirmed`): those of objects that a
render the device took holds (the baseline: the last render applied, or, after an apply that
failed part-way, that one too), when every change of the cluster since was reported by the API
server. A sync that carries changes the API did not report (objects that vanished without a
DELETE event) marks the view unconfirmed (`unconfirm`) until a sync leaves the device as planned.

Thread-safe: one device's worker uses it, the leadership callback may `forget` from another thread.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from connector.planner.types import DeviceObject

Ref = tuple[str, str]


@dataclass(frozen=True)
class Holdings:
    """What a device is known to hold after a sync that left it as planned.

    `objects`: every object, as a read reports it. `desired`: the render our objects came from (the
    very objects the adapter rendered, so that the next render's unchanged parts are recognised by
    identity); `foreign`: the (kind, name) of the objects we do not own; `referenced`: those of ours
    that a foreign object references; `owned`: how many objects we own there; `withheld`: our
    objects left on the device because their deletion was withheld, as they are now (also in
    `objects`)."""

    objects: tuple[DeviceObject, ...]
    desired: tuple[DeviceObject, ...] | None = None
    foreign: frozenset[Ref] = frozenset()
    referenced: frozenset[Ref] = frozenset()
    owned: int = 0
    withheld: tuple[DeviceObject, ...] = ()

    @property
    def by_difference(self) -> bool:
        """Whether the next sync may plan by difference from `desired` (nothing withheld)."""
        return self.desired is not None and not self.withheld


class KnownState:
    """The objects one device is known to hold, or nothing (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holdings: Holdings | None = None
        self._generation = 0
        self._baseline: tuple[Sequence[DeviceObject], ...] = ()
        self._unconfirmed = False
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
        state was forgotten since (a leadership change during the sync). The render it holds
        becomes the baseline, and the view is confirmed again."""
        holdings = objects if isinstance(objects, Holdings) else Holdings(tuple(objects))
        with self._lock:
            if token == self._generation:
                self._holdings = holdings
                self._baseline = (holdings.desired,) if holdings.desired is not None else ()
                self._unconfirmed = False

    def attempted(self, desired: Sequence[DeviceObject], token: int) -> None:
        """An apply towards the render `desired` ran but did not finish: the device may hold any
        of its objects, so their deletions stay confirmed too (beside the last good render)."""
        with self._lock:
            if token == self._generation:
                self._baseline = (*self._baseline[:1], desired)

    def unconfirm(self) -> None:
        """The cluster view changed in ways the API server did not report (objects vanished
        without a DELETE event): no deletion is confirmed until a sync leaves the device as
        planned."""
        with self._lock:
            self._unconfirmed = True

    def confirmed(self, refs: Iterable[Ref]) -> frozenset[Ref]:
        """The (kind, name) among `refs` whose deletion the cluster's reported changes explain:
        objects of the baseline, unless the view is unconfirmed (see the module docstring).
        O(objects of the baseline): asked only of plans over the safety thresholds."""
        with self._lock:
            if self._unconfirmed or not self._baseline:
                return frozenset()
            baseline = self._baseline
        wanted = set(refs)
        return frozenset(obj.ref for render in baseline for obj in render if obj.ref in wanted)

    def forget(self) -> None:
        with self._lock:
            self._holdings = None
            self._baseline = ()
            self._unconfirmed = False
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
