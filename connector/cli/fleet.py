"""`fusion-connector report --all-clusters`: the fleet report from the shared store
(connector.reports.fleet; docs/multi-cluster.md). Exit 0; 1 when the store cannot be read; 2 for
invalid input."""

from __future__ import annotations

from typing import NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from connector.cli.common import EXIT_ERROR, EXIT_INVALID, EXIT_OK, database_problem, fail, load
from connector.cli.output import write_document
from connector.reports.fleet import build_fleet_report, render_fleet
from connector.store import create_engine, session_factory


def write_fleet_report(config_path: str, fmt: str, output: str, device: str | None) -> NoReturn:
    """Write the fleet report of the store named by the configuration's `database`."""
    if device is not None:
        fail("--all-clusters reports every device; leave out --device", EXIT_INVALID)
    if fmt == "html":
        fail("--all-clusters writes json or csv", EXIT_INVALID)
    config = load(config_path)
    try:
        engine = create_engine(config.database)
        try:
            with session_factory(engine).begin() as session:
                report = build_fleet_report(session)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"database: {database_problem(exc)}", EXIT_ERROR)
    body = render_fleet(report, fmt)
    write_document(body, output)
    if output != "-":
        devices = sum(len(c.devices) for c in report.clusters)
        in_sync = sum(1 for c in report.clusters for d in c.devices if d.in_sync)
        click.echo(f"fleet report written to {output}: {len(report.clusters)} clusters, "
                   f"{in_sync}/{devices} devices in sync")
    raise SystemExit(EXIT_OK)
