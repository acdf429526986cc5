"""The clusters sharing the store (docs/install.md): a fleet-wide report starts here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.store.bulk import ensure_cluster, utcnow
from connector.store.models import ClusterRow


@dataclass(frozen=True)
class ClusterRecord:
    name: str
    created_at: datetime
    last_seen_at: datetime


def record_cluster_seen(session: Session, cluster: str, at: datetime | None = None) -> None:
    """Create `cluster` if needed and set its `last_seen_at` (once per reconcile pass). Never commits."""
    at = at or utcnow()
    ensure_cluster(session, cluster, at)
    session.execute(update(ClusterRow).where(ClusterRow.name == cluster).values(last_seen_at=at)
                    .execution_options(synchronize_session=False))


def clusters(session: Session) -> list[ClusterRecord]:
    """Every cluster with data in the store, by name."""
    return [ClusterRecord(row.name, row.created_at, row.last_seen_at)
            for row in session.scalars(select(ClusterRow).order_by(ClusterRow.name))]
