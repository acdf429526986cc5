"""`fusion-connector report`: the reconciliation report for compliance (docs/report.md).

Reads the cluster and compiles it, reads every (or one) device without writing anything (a
plan-only pass, which also records the drift found now), then writes the report built from the
compile result and the store, with the configuration's transport-security warnings. Exit 0; 1
when a device could not be read (the report is still written and names the error); 2 for
invalid input.
"""

from __future__ import annotations

from datetime import timedelta

import click
from sqlalchemy.exc import SQLAlchemyError

from connector.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    config_option,
    database_problem,
    fail,
)
from connector.cli.fleet import write_fleet_report
from connector.cli.output import write_document
from connector.cli.passes import run_pass
from connector.config import Config, Secrets
from connector.kube import KubernetesConfigError, build_configuration, kubeconfig_skips_tls_verify
from connector.reports import DEFAULT_WINDOW, build_report, parse_window, render
from connector.security import TransportWarning, transport_warnings
from connector.store import Store, create_engine, session_factory
from connector.store.bulk import utcnow


def _window(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta:
    if value is None:
        return DEFAULT_WINDOW
    try:
        return parse_window(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _transport(config: Config) -> list[TransportWarning]:
    """The configuration's transport-security weakenings, the kubeconfig's included (the pass has
    built the same client configuration already, so building it again succeeds)."""
    try:
        configuration = build_configuration(config.kubernetes, Secrets())
    except KubernetesConfigError:
        return transport_warnings(config, False)
    return transport_warnings(config, kubeconfig_skips_tls_verify(configuration, config.kubernetes))


@click.command("report")
@config_option
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), required=True,
              help="json (documented fields), csv (one row per finding) or html (one page)")
@click.option("--output", required=True, metavar="PATH", help="file to write; - for standard output")
@click.option("--since", "window", default=None, callback=_window, metavar="DURATION",
              help="history and resolved findings of this last period, e.g. 7d, 36h [default: 7d]")
@click.option("--device", default=None, metavar="NAME", help="only this device")
@click.option("--quiet", is_flag=True, help="no progress display")
@click.option("--all-clusters", is_flag=True,
              help="the fleet report: every cluster of the shared store and its devices (json or csv; "
                   "reads the store only)")
def command(config_path: str, fmt: str, output: str, window: timedelta, device: str | None,
            quiet: bool, all_clusters: bool) -> None:
    """Write the reconciliation report: sync status and drift per device, effective egress,
    rules not programmed, applied changes."""
    if all_clusters:
        write_fleet_report(config_path, fmt, output, device)
    run = run_pass(config_path, device, apply=False, force=False, quiet=quiet, numbers=True)
    config, passed = run.config, run.report
    read_errors = {o.device: o.error for o in passed.outcomes if o.error is not None}
    until = utcnow()
    try:
        engine = create_engine(config.database)
        try:
            with session_factory(engine).begin() as session:
                report = build_report(passed.compiled, Store(session, config.cluster), view=run.view,
                                      since=until - window, until=until, device=device,
                                      read_errors=read_errors, configured=[d.name for d in config.devices],
                                      capacity={o.device: o.capacity for o in passed.outcomes
                                                if o.capacity is not None},
                                      transport=_transport(config),
                                      numbers={o.device: o.numbering for o in passed.outcomes
                                               if o.numbering is not None})
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"database: {database_problem(exc)}", EXIT_ERROR)
    body = render(report, fmt)
    write_document(body, output)
    if output != "-":
        summary = report.summary()
        click.echo(f"report written to {output}: {summary['devicesInSync']}/{summary['devices']} devices in "
                   f"sync, {summary['openFindings']} open and {summary['resolvedFindings']} resolved "
                   f"findings, {summary['rulesNotProgrammed']} rules not programmed, "
                   f"{summary['appliedPlans']} applied plans")
    for name in report.unreadable:
        click.echo(f"error: {name}: could not be read: {read_errors[name]}", err=True)
    raise SystemExit(EXIT_ERROR if report.unreadable else EXIT_OK)
