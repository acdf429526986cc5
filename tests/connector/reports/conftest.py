"""Fixtures shared by the report tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from connector.store import create_engine, migrate, session_factory


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A transaction on a migrated SQLite store of its own."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
