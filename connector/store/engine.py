"""Engines and sessions for the configured database URL.

SQLite (the default) runs in WAL mode with foreign keys enforced and a busy timeout, so the
controller, the CLI and reports can use one file at once. PostgreSQL is reached through psycopg 3
(`postgresql+psycopg://`; a plain `postgresql://` URL is read the same way) with pre-ping, so a
restarted server costs one failed check instead of an error. Passwords come from the environment
(libpq reads PGPASSWORD and ~/.pgpass), never from the configuration file.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str | URL) -> URL:
    """`url` as SQLAlchemy reads it, with PostgreSQL URLs pinned to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """`url` for messages and logs: any password is masked."""
    return normalize_url(url).render_as_string(hide_password=True)


def create_engine(url: str | URL, *, sqlite_exclusive: bool = False, **options: Any) -> Engine:
    """An engine for the store at `url` (sqlite:///PATH or postgresql+psycopg://USER@HOST/DB).

    `sqlite_exclusive`: on SQLite every transaction starts with BEGIN IMMEDIATE (DDL included), so
    it is atomic and writers queue up front; used for migrations. Ignored on PostgreSQL.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sa_create_engine(parsed, **options)
        event.listen(engine, "connect", _sqlite_on_connect)
        if sqlite_exclusive:
            event.listen(engine, "connect", _sqlite_driver_autocommit)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if backend == "postgresql":
        options.setdefault("pool_pre_ping", True)
        return _sa_create_engine(parsed, **options)
    raise ValueError(f"unsupported database {display_url(parsed)}: use sqlite or postgresql+psycopg")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if _journal_mode(cursor) != "memory":  # in-memory databases cannot use WAL
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _journal_mode(cursor: Any) -> str:
    cursor.execute("PRAGMA journal_mode")
    return str(cursor.fetchone()[0]).lower()


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode. Switching needs an exclusive lock, and SQLite answers
    "database is locked" at once (without the busy timeout) while another connection writes a
    fresh file: retry until the busy timeout, stopping as soon as any connection has switched."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while _journal_mode(cursor) != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver issues no BEGIN of its own: see below


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
