"""Plain values the repositories take and return (besides `connector.model` and
`connector.planner.types`): immutable, detached from any session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class NamespaceRecord:
    """A namespace and the settings its label and annotations resolve to (docs/resources.md, "Namespaces").

    `devices` None means every device."""

    name: str
    managed: bool
    source_mode: str = "pod"
    default_action: str = "Deny"
    devices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GroupChanges:
    """What a group snapshot write changed."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    members_added: int = 0
    members_removed: int = 0


@dataclass(frozen=True)
class DeviceStatus:
    """A device's sync status. `in_sync` None: not known yet; `last_sync_at`: last successful sync."""

    name: str
    type: str
    url: str
    last_read_at: datetime | None
    last_write_at: datetime | None
    last_sync_at: datetime | None
    in_sync: bool | None
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class OwnedObject:
    """An object the connector created on a device: `checksum` is that of its body."""

    device: str
    kind: str
    name: str
    checksum: str
    owner: str | None
    identities: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ObjectChanges:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


class PlanResult(StrEnum):
    APPLIED = "applied"  # every change succeeded (or there was nothing to do)
    PARTIAL = "partial"  # some changes succeeded before an error
    FAILED = "failed"  # nothing was changed
    REFUSED = "refused"  # unsafe plan not applied


@dataclass(frozen=True)
class AppliedPlanRecord:
    """One entry of the audit log."""

    id: int
    device: str
    applied_at: datetime
    plan_checksum: str
    changes: tuple[Mapping[str, Any], ...]
    counts: Mapping[str, int]
    result: PlanResult
    error: str | None
    duration_seconds: float
    triggers: tuple[str, ...]
    forced: bool


class FindingType(StrEnum):
    MISSING = "missing"  # required by the cluster's rules, absent from the device
    UNEXPECTED = "unexpected"  # one of our objects the rules no longer require
    DIFFERENT = "different"  # present but not as required (content or order)


@dataclass(frozen=True)
class DriftObservation:
    """A difference seen when reading a device: object `kind`/`name`, what is wrong, details."""

    kind: str
    name: str
    finding: FindingType
    detail: Mapping[str, Any] = field(default_factory=dict)
    identities: tuple[str, ...] = ()

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.finding.value)


@dataclass(frozen=True)
class DriftFinding:
    """A stored finding; open while `resolved_at` is None."""

    id: int
    device: str
    kind: str
    name: str
    finding: FindingType
    detail: Mapping[str, Any]
    identities: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class DriftUpdate:
    """What one `observe` call did: findings opened, kept open, resolved."""

    opened: int = 0
    still_open: int = 0
    resolved: int = 0
