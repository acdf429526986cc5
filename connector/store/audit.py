"""The audit log: every plan applied (or refused) on a device, with what triggered it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.planner.types import Plan
from connector.store.bulk import ensure_cluster, utcnow
from connector.store.models import AppliedPlanRow
from connector.store.records import AppliedPlanRecord, PlanResult


class AuditLog:
    """Applied plans of one cluster. Never commits: the caller owns the transaction."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def append(self, plan: Plan, result: PlanResult, duration_seconds: float, *,
               error: str | None = None, triggers: Sequence[str] = (), forced: bool = False,
               at: datetime | None = None) -> int:
        """Record `plan` and its outcome; `triggers` name the Kubernetes objects whose changes led
        to it ("Pod/payments/api-7f9c"). Returns the entry's id."""
        if plan.cluster != self.cluster:
            raise ValueError(f"plan of cluster {plan.cluster}, not {self.cluster}")
        at = at or utcnow()
        ensure_cluster(self.session, self.cluster, at)
        counts = plan.counts()
        row = AppliedPlanRow(
            cluster=self.cluster, device=plan.device, applied_at=at, plan_checksum=plan.checksum(),
            changes=[change.to_json() for change in plan.changes], creates=counts["create"],
            updates=counts["update"], deletes=counts["delete"], reorders=counts["reorder"],
            result=result.value, error=error, duration_seconds=duration_seconds,
            triggers=list(triggers), forced=forced)
        self.session.add(row)
        self.session.flush()
        return row.id

    def window(self, since: datetime | None = None, until: datetime | None = None, *,
               device: str | None = None, limit: int | None = None) -> list[AppliedPlanRecord]:
        """Entries with `since <= applied_at < until` (either bound optional), oldest first;
        with `limit`, the newest `limit` of them."""
        query = select(AppliedPlanRow).where(AppliedPlanRow.cluster == self.cluster)
        if device is not None:
            query = query.where(AppliedPlanRow.device == device)
        if since is not None:
            query = query.where(AppliedPlanRow.applied_at >= since)
        if until is not None:
            query = query.where(AppliedPlanRow.applied_at < until)
        if limit is not None:
            query = query.order_by(AppliedPlanRow.applied_at.desc(), AppliedPlanRow.id.desc()).limit(limit)
            rows = list(self.session.scalars(query))[::-1]
        else:
            rows = list(self.session.scalars(query.order_by(AppliedPlanRow.applied_at, AppliedPlanRow.id)))
        return [AppliedPlanRecord(
            id=row.id, device=row.device, applied_at=row.applied_at, plan_checksum=row.plan_checksum,
            changes=tuple(row.changes),
            counts={"create": row.creates, "update": row.updates, "delete": row.deletes,
                    "reorder": row.reorders},
            result=PlanResult(row.result), error=row.error, duration_seconds=row.duration_seconds,
            triggers=tuple(row.triggers), forced=row.forced) for row in rows]
