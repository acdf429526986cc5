"""The schema comes from the Alembic migrations alone, and matches the ORM models exactly."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from connector.flows.record import FlowIdentity
from connector.store import (
    AddressTimeline,
    MigrationError,
    create_engine,
    head_revision,
    migrate,
    session_factory,
)
from connector.store.models import Base, ClusterRow
from connector.store.schema import alembic_config, current_revision, migrations_directory

TABLES = {
    "clusters",
    "namespaces",
    "address_groups",
    "address_members",
    "compiled_rules",
    "devices",
    "device_objects",
    "applied_plans",
    "drift_findings",
    "address_intervals",
    "device_rule_refs",
    "flow_records",
    "alembic_version",
}


def differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_run_from_the_package_without_an_ini_file() -> None:
    directory = migrations_directory()
    assert (directory / "env.py").is_file() and (directory / "script.py.mako").is_file()
    assert not (directory / "alembic.ini").exists()
    assert alembic_config().get_main_option("script_location") == str(directory)
    assert head_revision() == "0002"


def test_upgrade_creates_the_schema_and_models_match_it(empty_url: str) -> None:
    assert differences(empty_url)  # an empty database differs from the models
    assert migrate(empty_url) == head_revision()
    assert migrate(empty_url) == head_revision()  # idempotent
    engine = create_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
    assert differences(empty_url) == []


def test_downgrade_and_upgrade_again(empty_url: str) -> None:
    migrate(empty_url)
    engine = create_engine(empty_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
            assert current_revision(connection) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert migrate(empty_url) == head_revision()
    assert differences(empty_url) == []


def test_a_database_from_a_newer_version_is_refused_clearly(empty_url: str) -> None:
    migrate(empty_url)
    engine = create_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(MigrationError, match="newer version"):
        migrate(empty_url)


def test_concurrent_migrations_are_serialized(empty_url: str) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [head_revision()] * 3
    assert differences(empty_url) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() >= 1000
    finally:
        engine.dispose()


def test_timestamps_are_timezone_aware_utc(empty_url: str) -> None:
    migrate(empty_url)
    engine = create_engine(empty_url)
    sessions = session_factory(engine)
    paris = timezone(timedelta(hours=2))
    try:
        with sessions.begin() as session:
            session.add(
                ClusterRow(
                    name="tz",
                    created_at=datetime(2026, 5, 1, 12, 0, tzinfo=paris),
                    last_seen_at=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
                )
            )
        with sessions.begin() as session:
            row = session.scalars(select(ClusterRow).where(ClusterRow.name == "tz")).one()
            assert row.created_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
            assert row.created_at.tzinfo == UTC and row.last_seen_at.tzinfo == UTC
        with pytest.raises(StatementError, match="timezone-aware"), sessions.begin() as session:
            session.add(
                ClusterRow(name="naive", created_at=datetime(2026, 5, 1), last_seen_at=datetime(2026, 5, 1))
            )
            session.flush()
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg() -> None:
    from connector.store import display_url, normalize_url

    assert normalize_url("postgresql://fc@db/fc").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://fc@db/fc").drivername == "postgresql+psycopg"
    assert display_url("postgresql://fc:secret@db/fc") == "postgresql+psycopg://fc:***@db/fc"
    with pytest.raises(ValueError, match="unsupported database"):
        create_engine("mysql://db/fc")


def test_connecting_while_another_connection_writes_a_fresh_file_waits_for_wal(tmp_path: Path) -> None:
    # Switching to WAL needs an exclusive lock, which SQLite refuses at once (no busy timeout)
    # while another connection writes a file still in rollback-journal mode.
    path = tmp_path / "fc.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE busy (x)")
    commit = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    commit.start()
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
        commit.join()
        writer.close()


def test_upgrade_from_0001_keeps_the_data_and_adds_the_flow_tables(empty_url: str) -> None:
    assert migrate(empty_url, "0001") == "0001"
    engine = create_engine(empty_url)
    sessions = session_factory(engine)
    moment = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO clusters (name, created_at, last_seen_at) "
                                    "VALUES ('kept', :at, :at)"), {"at": moment})
        assert migrate(empty_url) == head_revision()
        with sessions.begin() as session:
            assert session.scalars(select(ClusterRow.name).where(ClusterRow.name == "kept")).one()
            timeline = AddressTimeline(session, "kept")
            timeline.open("10.0.0.1", FlowIdentity(cluster="kept", namespace="shop", pod="a"), moment)
            assert timeline.at("10.0.0.1", moment, 0).identity is not None
        assert differences(empty_url) == []
    finally:
        engine.dispose()
