"""Schema migrations, run in code from the installed `migrations` package (no alembic.ini).

Every command calls `migrate(url)` on start; `fusion-connector db upgrade` calls it alone. A
migration runs in one transaction on both backends (all or nothing), and concurrent migrations
are serialized: on PostgreSQL (several connectors sharing the database) by an advisory lock, on
SQLite (several commands sharing the file) by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

import migrations
from connector.store.engine import create_engine, display_url

log = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 0x66635F6D69677261  # "fc_migra": one key for every connector sharing a database


class MigrationError(RuntimeError):
    """The database cannot be brought to the schema this version of the connector needs."""


def migrations_directory() -> Path:
    """The directory of the installed `migrations` package (a regular or namespace package)."""
    return Path(next(iter(migrations.__path__)))


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for the installed `migrations` package, optionally bound to
    `connection` (which env.py then uses instead of opening its own)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_directory()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of the connector knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError("the migrations package holds no revision")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database at `connection` is at (None when never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(engine: Engine, revision: str) -> str:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        before = current_revision(connection)
        try:
            command.upgrade(alembic_config(connection), revision)
        except CommandError as exc:
            raise MigrationError(
                f"cannot upgrade database {display_url(engine.url)} from revision {before}: {exc}"
                " (is it used by a newer version of fusion-connector?)") from exc
        reached = current_revision(connection)
    if reached != before:
        log.info("database migrated", extra={"database": display_url(engine.url),
                                             "from_revision": before, "to_revision": reached})
    if reached is None:
        raise MigrationError(f"database {display_url(engine.url)} has no revision after upgrade")
    return reached


def migrate(url: str | URL, revision: str = "head") -> str:
    """Bring the database at `url` to the newest schema (or `revision`); returns the revision reached."""
    engine = create_engine(url, sqlite_exclusive=True)
    try:
        return _upgrade(engine, revision)
    finally:
        engine.dispose()
