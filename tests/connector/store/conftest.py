"""Store fixtures: every repository test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.store import create_engine, migrate, session_factory
from tests.connector.store.postgres import empty_postgres_url, postgres_databases, postgres_url

__all__ = ["empty_postgres_url", "postgres_databases", "postgres_url"]

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class Db:
    """A migrated database and a cluster name no other test uses."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    cluster: str


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    try:
        yield Db(
            url=url, engine=engine, sessions=session_factory(engine), cluster=f"c-{uuid.uuid4().hex[:10]}"
        )
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL never migrated, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("empty_postgres_url"))
