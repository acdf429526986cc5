"""`fusion-connector db upgrade --config F`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from connector.cli import main
from connector.store import create_engine, head_revision
from tests.connector.store.postgres import empty_postgres_url, postgres_databases

__all__ = ["empty_postgres_url", "postgres_databases"]


def write_config(tmp_path: Path, database: str, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"cluster: test\ndatabase: {database}\n{extra}")
    return path


def upgrade(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])
    return result.exit_code, result.output


def test_upgrade_migrates_sqlite_and_prints_the_revision(tmp_path: Path) -> None:
    database = tmp_path / "fc.db"
    code, output = upgrade(write_config(tmp_path, f"sqlite:///{database}"))
    assert code == 0, output
    assert f"revision {head_revision()} (head)" in output
    engine = create_engine(f"sqlite:///{database}")
    try:
        assert "drift_findings" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    code, output = upgrade(write_config(tmp_path, f"sqlite:///{database}"))  # again: nothing to do
    assert code == 0 and f"revision {head_revision()}" in output


@pytest.mark.postgres
def test_upgrade_migrates_postgresql(tmp_path: Path, empty_postgres_url: str) -> None:
    code, output = upgrade(write_config(tmp_path, empty_postgres_url))
    assert code == 0, output
    assert f"revision {head_revision()} (head)" in output


def test_invalid_configuration_exits_2_naming_the_path(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'fc.db'}",
        "devices:\n- {name: soc, type: rest, url: http://h, auth: {tokenEnv: not-a-name}}\n",
    )
    code, output = upgrade(config)
    assert code == 2
    assert "devices[0].auth.tokenEnv" in output and str(config) in output
    assert not (tmp_path / "fc.db").exists()


def test_missing_configuration_exits_2(tmp_path: Path) -> None:
    code, output = upgrade(tmp_path / "absent.yaml")
    assert code == 2 and "absent.yaml" in output


def test_unreachable_database_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'no-such-dir' / 'fc.db'}")
    code, output = upgrade(config)
    assert code == 1 and "error:" in output and "no-such-dir" in output


def test_help_lists_the_command() -> None:
    result = CliRunner().invoke(main, ["db", "--help"])
    assert result.exit_code == 0 and "upgrade" in result.output
