"""PostgreSQL fixtures: the server at 127.0.0.1:5432 (or $FC_POSTGRES_URL), one uniquely named
database per test session (plus fresh ones for migration tests), dropped afterwards.

An unreachable server fails the tests loudly; only FC_SKIP_POSTGRES=1 turns them into skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from connector.store import migrate

ADMIN_URL = os.environ.get("FC_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin_dsn() -> str:
    url = make_url(ADMIN_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _url_for(database: str) -> str:
    return make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates uniquely named databases and drops them all at the end of the session."""

    def __init__(self) -> None:
        self.prefix = f"fc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        with psycopg.connect(_admin_dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _url_for(name)

    def drop_all(self) -> None:
        with psycopg.connect(_admin_dsn(), autocommit=True) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    if os.environ.get("FC_SKIP_POSTGRES") == "1":
        pytest.skip("FC_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        with psycopg.connect(_admin_dsn(), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {make_url(ADMIN_URL).render_as_string(hide_password=True)} is "
            f"unreachable ({exc}); start it, or set FC_SKIP_POSTGRES=1 to skip these tests",
            pytrace=False,
        )
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """A migrated database shared by the session (tests keep apart by using their own cluster)."""
    url = postgres_databases.create()
    migrate(url)
    return url


@pytest.fixture
def empty_postgres_url(postgres_databases: PostgresDatabases) -> str:
    """A new, never migrated database."""
    return postgres_databases.create()
