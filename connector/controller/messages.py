"""What the reconcile loop is told (`ReconcileLoop.post`), one dataclass per kind of message."""

from __future__ import annotations

from dataclasses import dataclass

from connector.cluster import ObjectChange


@dataclass(frozen=True)
class ChangesSeen:
    """A batch of watch changes, already in the cache, and when it was seen (monotonic seconds)."""

    at: float
    changes: tuple[ObjectChange, ...]


@dataclass(frozen=True)
class PeriodicReconcile:
    """The reconcile interval is up: recompile everything and sync every device, reading it back."""


@dataclass(frozen=True)
class LeadershipChanged:
    """This process started (`leading`) or stopped leading."""

    leading: bool


@dataclass(frozen=True)
class Stop:
    """Wakes the loop so that it sees the controller stopping."""


Message = ChangesSeen | PeriodicReconcile | LeadershipChanged | Stop
