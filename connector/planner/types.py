"""Plan vocabulary shared by the planner and the adapters.

An adapter renders a `DeviceState` into `DeviceObject`s (its own kinds and remote names, bodies in
a canonical comparable form) and reads the device back into the same form. The planner diffs the
two into an ordered `Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from connector.model import checksum


@dataclass(frozen=True)
class SafetyThresholds:
    """When a plan is unsafe (docs/operations.md, "Safety"): with at least `min_existing` objects
    of ours on the device, it deletes more than `max_delete_percent` % of them or updates more
    than `max_update_percent` %. Plain numbers; the configuration's `safety` section gives them
    (`SafetyConfig.thresholds`)."""

    max_delete_percent: float = 30
    max_update_percent: float = 30
    min_existing: int = 10


class Op(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REORDER = "reorder"


@dataclass(frozen=True)
class DeviceObject:
    """One object on a device, as the planner compares it.

    `kind` is adapter-defined (e.g. "address", "addrgrp", "policy"); `name` is the remote name;
    `body` is the normalized content compared for equality; `owner` is the owner mark found on the
    device (None when the object carries none); `identities` name the Kubernetes objects behind it
    ("Namespace/payments", "ServiceEgressRule/payments/allow-stripe") for reports.
    """

    kind: str
    name: str
    body: Mapping[str, Any]
    owner: str | None = None
    identities: tuple[str, ...] = ()

    @property
    def ref(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "body": dict(self.body), "owner": self.owner,
                "identities": list(self.identities)}


@dataclass(frozen=True)
class Change:
    """One step of a plan. For REORDER, `after` is `{"order": [names...]}` of that kind."""

    op: Op
    kind: str
    name: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    identities: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op.value, "kind": self.kind, "name": self.name,
                "before": dict(self.before) if self.before is not None else None,
                "after": dict(self.after) if self.after is not None else None,
                "identities": list(self.identities)}


@dataclass(frozen=True)
class Conflict:
    """A desired object whose name is taken on the device by an object we do not own."""

    kind: str
    name: str
    owner: str | None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "owner": self.owner}


@dataclass(frozen=True)
class KeptFor:
    """An owned object (`kind`, `name`) kept although no longer desired, because the foreign
    object (`by_kind`, `by_name`, owner mark `by_owner`) references it, directly or through other
    kept objects."""

    kind: str
    name: str
    by_kind: str
    by_name: str
    by_owner: str | None

    @property
    def referrer(self) -> str:
        """The foreign object for people: `policy 'netops-audit' (owner netops)`."""
        return f"{self.by_kind} {self.by_name!r} (owner {self.by_owner or 'none'})"


@dataclass(frozen=True)
class Plan:
    """Ordered changes for one device. `unsafe` says why the plan exceeds a safety threshold and
    `forced` whether it was planned to be applied anyway. `withheld` lists the deletions the
    safety check took out of `changes` (`connector.planner.safety.withhold`): `changes` is then
    the part that is always safe to apply, with each withheld object emptied instead of deleted.
    `blocked` lists the desired objects withheld because they reference a name held by a foreign
    object (see `conflicts`); `kept` the owned objects no longer desired but kept because a
    foreign object references them, and `kept_for` which foreign object that is for each."""

    device: str
    cluster: str
    changes: tuple[Change, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    existing: int = 0
    unsafe: str | None = None
    forced: bool = False
    blocked: tuple[tuple[str, str], ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    withheld: tuple[Change, ...] = ()
    kept_for: tuple[KeptFor, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def applicable(self) -> bool:
        """Whether `changes` may be applied as they are: the plan is within the thresholds, forced,
        or its unsafe deletions were withheld."""
        return self.unsafe is None or self.forced or bool(self.withheld)

    def counts(self) -> dict[str, int]:
        out = {op.value: 0 for op in Op}
        for change in self.changes:
            out[change.op.value] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        text = (f"{self.device}: {c['create']} to create, {c['update']} to update, "
                f"{c['delete']} to delete, {c['reorder']} to reorder")
        if self.conflicts:
            text += f", {len(self.conflicts)} name conflicts with foreign objects"
        if self.unsafe and self.withheld:
            text += f" (UNSAFE: {self.unsafe}; {len(self.withheld)} deletions withheld)"
        elif self.unsafe:
            text += f" (UNSAFE: {self.unsafe})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "cluster": self.cluster,
                "changes": [c.to_json() for c in self.changes],
                "conflicts": [c.to_json() for c in self.conflicts],
                "existing": self.existing, "unsafe": self.unsafe,
                "withheld": [c.to_json() for c in self.withheld], "checksum": self.checksum(),
                "summary": self.summary()}

    def checksum(self) -> str:
        """SHA-256 of the device, cluster and changes; computed once per plan (plans are immutable:
        the REST idempotency key and the audit log ask for it on every sync)."""
        known: str | None = self.__dict__.get("_checksum")
        if known is None:
            known = checksum({"device": self.device, "cluster": self.cluster,
                              "changes": [c.to_json() for c in self.changes]})
            object.__setattr__(self, "_checksum", known)
        return known
