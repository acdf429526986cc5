"""Drift findings: differences between what a device must hold and what it holds.

Each read of a device yields its complete set of observations; `observe` keeps a finding open
(moving `last_seen`) while it is observed and resolves it the first time it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connector.model import checksum
from connector.planner.types import Change, Op, Plan
from connector.store.bulk import chunks, ensure_cluster, upsert_rows, utcnow
from connector.store.models import DriftFindingRow
from connector.store.records import DriftFinding, DriftObservation, DriftUpdate, FindingType

_OPEN_KEY = ("cluster", "device", "kind", "name", "finding")  # unique while resolved_at IS NULL
_FINDING_OF_OP = {Op.CREATE: FindingType.MISSING, Op.DELETE: FindingType.UNEXPECTED,
                  Op.UPDATE: FindingType.DIFFERENT, Op.REORDER: FindingType.DIFFERENT}


def observations_from_plan(plan: Plan, pushed: Mapping[tuple[str, str], str] | None = None
                           ) -> list[DriftObservation]:
    """The drift a plan reveals: objects to create are missing, our objects to delete are
    unexpected, objects to update (or a kind to reorder) are different.

    With `pushed` (checksum of each object's body as the connector last wrote it, by (kind, name)),
    only the differences the cluster does not explain are kept — the device changed behind our
    back: an object we wrote is gone, differs from what we wrote, or carries our mark without our
    having written it. Differences that merely carry a cluster change to the device are left out.
    """
    out = []
    for change in plan.changes:
        if pushed is not None and not _unexplained(change, pushed):
            continue
        detail: dict[str, Any] = {}
        if change.before is not None:
            detail["device"] = dict(change.before)
        if change.after is not None:
            detail["required"] = dict(change.after)
        out.append(DriftObservation(kind=change.kind, name=change.name, finding=_FINDING_OF_OP[change.op],
                                    detail=detail, identities=change.identities))
    return out


def _unexplained(change: Change, pushed: Mapping[tuple[str, str], str]) -> bool:
    ref = (change.kind, change.name)
    if change.op == Op.CREATE:
        return ref in pushed
    if change.op == Op.DELETE:
        return ref not in pushed
    if change.op == Op.UPDATE:
        return change.before is None or pushed.get(ref) != checksum(dict(change.before))
    return False


class DriftRepository:
    """Drift findings of one cluster. Never commits: the caller owns the transaction."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def observe(self, device: str, observations: Iterable[DriftObservation],
                at: datetime | None = None) -> DriftUpdate:
        """Record the complete set of differences seen on `device` now: new ones open, ones still
        seen stay open with `last_seen = at` (details refreshed), open ones not seen are resolved."""
        at = at or utcnow()
        ensure_cluster(self.session, self.cluster, at)
        seen = {obs.ref: obs for obs in observations}
        open_rows = {(kind, name, finding): finding_id
                     for finding_id, kind, name, finding in self.session.execute(
                         select(DriftFindingRow.id, DriftFindingRow.kind, DriftFindingRow.name,
                                DriftFindingRow.finding)
                         .where(DriftFindingRow.cluster == self.cluster, DriftFindingRow.device == device,
                                DriftFindingRow.resolved_at.is_(None)))}
        # Every finding seen is upserted on the open-finding index: one still open keeps its
        # `first_seen`, and one another writer opened (or resolved) meanwhile is never doubled.
        writes = [{"cluster": self.cluster, "device": device, "kind": obs.kind, "name": obs.name,
                   "finding": obs.finding.value, "detail": dict(obs.detail),
                   "identities": list(obs.identities), "first_seen": at, "last_seen": at,
                   "resolved_at": None} for obs in seen.values()]
        opened = sum(1 for ref in seen if ref not in open_rows)
        resolved = [finding_id for ref, finding_id in open_rows.items() if ref not in seen]
        for ids in chunks(resolved):
            self.session.execute(update(DriftFindingRow).where(DriftFindingRow.id.in_(ids))
                                 .values(resolved_at=at).execution_options(synchronize_session=False))
        upsert_rows(self.session, DriftFindingRow, writes, keys=_OPEN_KEY,
                    keep=("first_seen", "resolved_at"), where=DriftFindingRow.resolved_at.is_(None))
        self.session.flush()
        return DriftUpdate(opened=opened, still_open=len(seen) - opened, resolved=len(resolved))

    def open_findings(self, device: str | None = None) -> list[DriftFinding]:
        """Findings not resolved yet, by device, kind and name."""
        query = select(DriftFindingRow).where(DriftFindingRow.cluster == self.cluster,
                                              DriftFindingRow.resolved_at.is_(None))
        if device is not None:
            query = query.where(DriftFindingRow.device == device)
        return self._records(query)

    def findings(self, since: datetime | None = None, until: datetime | None = None, *,
                 device: str | None = None) -> list[DriftFinding]:
        """Findings open at some moment of [since, until): first seen before `until` and not
        resolved before `since` (either bound optional)."""
        query = select(DriftFindingRow).where(DriftFindingRow.cluster == self.cluster)
        if device is not None:
            query = query.where(DriftFindingRow.device == device)
        if until is not None:
            query = query.where(DriftFindingRow.first_seen < until)
        if since is not None:
            query = query.where(or_(DriftFindingRow.resolved_at.is_(None),
                                    DriftFindingRow.resolved_at >= since))
        return self._records(query)

    def _records(self, query: Any) -> list[DriftFinding]:
        rows = self.session.scalars(query.order_by(DriftFindingRow.device, DriftFindingRow.kind,
                                                   DriftFindingRow.name, DriftFindingRow.first_seen))
        return [DriftFinding(id=row.id, device=row.device, kind=row.kind, name=row.name,
                             finding=FindingType(row.finding), detail=dict(row.detail),
                             identities=tuple(row.identities), first_seen=row.first_seen,
                             last_seen=row.last_seen, resolved_at=row.resolved_at) for row in rows]
