"""`fusion-connector review`: what a change of rule manifests (a pull request) would do, offline
(docs/review.md).

Reads the cluster once (or a `snapshot` file), never a device. Exit 0 when no manifest is refused,
2 when a manifest is invalid or refused (or a rule of the change set would not be accepted), 2 for
invalid input, 1 when the cluster cannot be read.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.cli.common import EXIT_INVALID, EXIT_OK, config_option, database_problem, fail, load
from connector.cli.passes import read_cluster
from connector.cluster import StaticView
from connector.config import Config, Secrets
from connector.flows.record import FlowRecord
from connector.review.manifests import read_change_set
from connector.review.render import to_json, to_markdown, to_text
from connector.review.review import run_review
from connector.review.snapshot import SnapshotError, read_snapshot
from connector.store import create_engine
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.store.models import FlowRecordRow
from connector.wiring import compile_settings, offline_adapters

log = logging.getLogger(__name__)

_WINDOW = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_VARIADIC = ("--manifests", "--delete")


def parse_window(text: str) -> timedelta:
    """`7d`, `24h`, `30m`, `90s`, `2w`; ValueError otherwise."""
    match = _WINDOW.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"--window {text!r}: expected a positive duration such as 7d, 24h or 30m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def spread_variadic(args: list[str], names: tuple[str, ...] = _VARIADIC) -> list[str]:
    """`--manifests a b --delete c` as `--manifests a --manifests b --delete c`: the paths after a
    variadic option, up to the next option, each become one of its values."""
    out: list[str] = []
    current: str | None = None
    given = 0
    for arg in args:
        if arg in names:
            current, given = arg, 0
            out.append(arg)
        elif arg.startswith("-"):
            current = arg.partition("=")[0] if arg.partition("=")[0] in names and "=" in arg else None
            given = 1
            out.append(arg)
        elif current is not None and given:
            out.extend((current, arg))
        else:
            out.append(arg)
            given += 1
    return out


class _ReviewCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_variadic(args))


def observed_flows(config: Config, window: timedelta) -> tuple[list[FlowRecord] | None, str]:
    """The flow records of the last `window` from the store, or None and why there are none.
    Reads only: nothing is created or migrated (a CI job usually has no store at all)."""
    url = make_url(config.database)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).is_file()):
        return None, f"no store database at {url.database or 'memory'}"
    options: dict[str, Any] = (
        {"connect_args": {"connect_timeout": 5}} if url.get_backend_name() == "postgresql" else {})
    try:
        engine = create_engine(config.database, **options)
        try:
            if not inspect(engine).has_table(FlowRecordRow.__tablename__):
                return None, "the store holds no flow records table"
            with Session(engine) as session:
                since = datetime.now(UTC) - window
                records = FlowRecordRepository(session, config.cluster).query(FlowFilter(since=since))
        finally:
            engine.dispose()
    except (SQLAlchemyError, ValueError) as exc:  # the store is optional here: the section says why
        log.debug("reading flow records failed", exc_info=True)
        return None, f"the store could not be read: {database_problem(exc)}"
    return records, ""


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off while a one-shot review builds its large, long-lived object
    graphs (a third of the run time at 100,000 pods goes to collections that free nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _view(config: Config, snapshot: str | None) -> tuple[StaticView, str, list[str]]:
    if snapshot is None:
        return read_cluster(config, Secrets()), "the live cluster", []
    try:
        view, header = read_snapshot(snapshot)
    except SnapshotError as exc:
        fail(str(exc), EXIT_INVALID)
    warnings = []
    if header.get("cluster") != config.cluster:
        warnings.append(f"the snapshot is of cluster {header.get('cluster')!r}, the configuration names "
                        f"{config.cluster!r}")
    return view, f"snapshot {snapshot} taken {header.get('takenAt')}", warnings


@click.command("review", cls=_ReviewCommand)
@config_option
@click.option("--snapshot", "snapshot", default=None, metavar="FILE", type=click.Path(dir_okay=False),
              help="compile this snapshot (from `snapshot`) instead of reading the cluster")
@click.option("--manifests", "manifests", multiple=True, required=True, metavar="PATH...",
              help="manifest files or directories added or changed (several paths may follow)")
@click.option("--delete", "deletes", multiple=True, metavar="PATH...",
              help="manifest files or directories naming objects removed (several paths may follow)")
@click.option("--output", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--window", default="7d", show_default=True, metavar="DURATION",
              help="observed flows of this last period (when the store holds flow records)")
def command(config_path: str, snapshot: str | None, manifests: tuple[str, ...], deletes: tuple[str, ...],
            output: str, window: str) -> None:
    """Show what the manifests would change: decisions per namespace and Service, refused
    manifests, device capacity, observed flows."""
    config = load(config_path)
    try:
        period = parse_window(window)
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID)
    missing = [p for p in (*manifests, *deletes) if not Path(p).exists()]
    if missing:
        fail(f"no such file or directory: {', '.join(missing)}", EXIT_INVALID)
    with _no_cycle_collection():
        view, basis, warnings = _view(config, snapshot)
        change_set = read_change_set(manifests, deletes)
        records, note = observed_flows(config, period)
        adapters = offline_adapters(config)
        try:
            review = run_review(view, compile_settings(config), change_set, adapters=adapters, flows=records,
                                window=window, flows_note=note, basis=basis, warnings=warnings)
        finally:
            for adapter in adapters.values():
                adapter.close()
    render = {"text": to_text, "markdown": to_markdown, "json": to_json}[output]
    click.echo(render(review), nl=False)
    raise SystemExit(EXIT_INVALID if review.invalid else EXIT_OK)

