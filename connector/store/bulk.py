"""Helpers the repositories share: UTC time, chunked IN lists, portable insert-or-ignore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.store.models import Base, ClusterRow

T = TypeVar("T")

_ENSURED = "fusion_connector_ensured_clusters"  # Session.info key: (transaction, clusters)
IN_CHUNK = 500  # well below SQLite's and PostgreSQL's bound-parameter limits


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def insert_rows(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> None:
    """Insert plain rows with one Core executemany (multi-row VALUES batches on both backends)."""
    batch = list(rows)
    if batch:
        session.execute(insert(table_of(model)), batch)


def ensure_cluster(session: Session, cluster: str, at: datetime | None = None) -> None:
    """Create the `clusters` row for `cluster` unless it exists (never blocks on concurrent writers;
    looks first, so that a PostgreSQL sequence is not consumed by every call). Looks once per
    cluster and transaction: the repositories of one transaction share the answer."""
    if cluster in _ensured(session):
        return
    if session.scalar(select(ClusterRow.id).where(ClusterRow.name == cluster)) is not None:
        _ensured(session).add(cluster)
        return
    at = at or utcnow()
    table = table_of(ClusterRow)
    values = {"name": cluster, "created_at": at, "last_seen_at": at}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(values).on_conflict_do_nothing(
            index_elements=["name"]))
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(values).on_conflict_do_nothing(
            index_elements=["name"]))
    else:
        raise ValueError(f"unsupported database dialect {dialect}")
    _ensured(session).add(cluster)


def _ensured(session: Session) -> set[str]:
    """The clusters known to exist in `session`'s current transaction (a new set for each)."""
    transaction = session.get_transaction()
    known: tuple[object, set[str]] | None = session.info.get(_ENSURED)
    if known is None or transaction is None or known[0] is not transaction:
        known = (transaction, set())
        session.info[_ENSURED] = known
    return known[1]
