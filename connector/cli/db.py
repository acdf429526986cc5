"""`fusion-connector db upgrade --config F`: bring the store's schema to this version's newest."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from connector.cli.common import EXIT_ERROR, config_option, database_problem, fail, load
from connector.store import MigrationError, display_url, head_revision, migrate


@click.group("db")
def command() -> None:
    """Manage the connector's database."""


@command.command("upgrade")
@config_option
def upgrade(config_path: str) -> None:
    """Run the database migrations (the other commands also migrate on start)."""
    config = load(config_path)
    where = display_url(config.database)
    try:
        revision = migrate(config.database)
    except MigrationError as exc:
        fail(str(exc), EXIT_ERROR)
    except SQLAlchemyError as exc:
        fail(f"database {where}: {database_problem(exc)}", EXIT_ERROR)
    suffix = " (head)" if revision == head_revision() else ""
    click.echo(f"database {where} is at revision {revision}{suffix}")
