"""Helpers the repositories share: UTC time, chunked IN lists, portable upserts.

Race-freedom: repositories read what is stored, compute a difference, then write it. Another
writer (the controller and a `plan` on one store) may insert the same natural key in between, so
every insert of a row with a unique key goes through `upsert_rows` / `upsert_statement` or
`insert_missing_rows` (INSERT ... ON CONFLICT on both SQLite and PostgreSQL): the later writer
updates the row (or leaves it) instead of failing with a UNIQUE violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, select
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


OPEN_CHUNK = 1000


def still_open(session: Session, model: type[Base], ids: Iterable[int]) -> set[int]:
    """Which of the rows `ids` of `model` (an interval table: `id`, `valid_to` NULL while open)
    are still open, in `session`'s transaction. Per 1,000 ids one count through the primary key,
    and a read of the ids only when some are no longer open. The ids are written into the
    statement as integer literals: no bound parameter per id, so the cost is SQL, not Python."""
    wanted = sorted({int(row_id) for row_id in ids})
    if not wanted:
        return set()
    connection = session.connection()
    table = table_of(model).name
    found: set[int] = set()
    for chunk in chunks(wanted, OPEN_CHUNK):
        where = f"FROM {table} WHERE valid_to IS NULL AND id IN ({','.join(map(str, chunk))})"
        if connection.exec_driver_sql(f"SELECT count(*) {where}").scalar_one() == len(chunk):
            found.update(chunk)
        else:
            found.update(connection.exec_driver_sql(f"SELECT id {where}").scalars())
    return found


def _dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database dialect {dialect}")


def upsert_statement(session: Session, model: type[Base], columns: Iterable[str], *,
                     keys: Sequence[str], keep: Iterable[str] = (),
                     where: ColumnElement[bool] | None = None) -> postgresql.Insert | sqlite.Insert:
    """INSERT of `columns` that, when a row with the same unique `keys` exists (the unique index
    restricted to `where`, for a partial index), updates that row's other columns instead —
    except `keep` (e.g. `created_at`) and the primary key."""
    statement = _dialect_insert(session, table_of(model))
    fixed = {*keys, *keep, "id"}
    updates = {name: statement.excluded[name] for name in columns if name not in fixed}
    if not updates:
        return statement.on_conflict_do_nothing(index_elements=list(keys), index_where=where)
    return statement.on_conflict_do_update(index_elements=list(keys), index_where=where, set_=updates)


def upsert_rows(session: Session, model: type[Base], rows: Iterable[dict[str, Any]], *,
                keys: Sequence[str], keep: Iterable[str] = (),
                where: ColumnElement[bool] | None = None) -> None:
    """Insert `rows` (all with the same columns), updating instead any row that already holds
    the same unique `keys` (see `upsert_statement`); one executemany."""
    batch = list(rows)
    if batch:
        session.execute(upsert_statement(session, model, batch[0], keys=keys, keep=keep, where=where),
                        batch)


def insert_missing_rows(session: Session, model: type[Base], rows: Iterable[dict[str, Any]], *,
                        keys: Sequence[str]) -> None:
    """Insert `rows`, skipping those whose unique `keys` another writer inserted already."""
    batch = list(rows)
    if batch:
        statement = _dialect_insert(session, table_of(model))
        session.execute(statement.on_conflict_do_nothing(index_elements=list(keys)), batch)


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
    values = {"name": cluster, "created_at": at, "last_seen_at": at}
    session.execute(_dialect_insert(session, table_of(ClusterRow)).values(values)
                    .on_conflict_do_nothing(index_elements=["name"]))
    _ensured(session).add(cluster)


def _ensured(session: Session) -> set[str]:
    """The clusters known to exist in `session`'s current transaction (a new set for each)."""
    transaction = session.get_transaction()
    known: tuple[object, set[str]] | None = session.info.get(_ENSURED)
    if known is None or transaction is None or known[0] is not transaction:
        known = (transaction, set())
        session.info[_ENSURED] = known
    return known[1]
