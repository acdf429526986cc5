"""`fusion-connector flows`: the attributed flow records of the store (docs/flows.md), newest
first, filtered by time, namespace, pod, Service, deciding rule, action and device.

Reads only the store (migrated first, as every command does); contacts neither the cluster nor a
device. Exit 0 (also when no record matches), 1 when the store cannot be read, 2 for invalid
input (configuration, a bad `--since`/`--until`/`--rule`, an unknown `--device`).
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from connector.cli.common import EXIT_INVALID, config_option, fail, load
from connector.cli.flow_store import read_flow_records
from connector.flows.output import csv_text, json_text, parse_moment, parse_rule, table_lines
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowFilter


def _moment(param: str, value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{param}'") from None


def _rule(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, str, str] | None:
    if value is None:
        return None
    try:
        return parse_rule(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("flows")
@config_option
@click.option("--since", default="1h", show_default=True, metavar="DURATION|TIME",
              help="records from this long ago (1h, 7d) or from this RFC 3339 time")
@click.option("--until", default=None, metavar="DURATION|TIME",
              help="records until this long ago or this RFC 3339 time [default: now]")
@click.option("--namespace", default=None, metavar="NS", help="only flows from this namespace")
@click.option("--pod", default=None, metavar="NAME", help="only flows from this pod")
@click.option("--service", default=None, metavar="NAME", help="only flows from this Service's pods")
@click.option("--rule", default=None, callback=_rule, metavar="KIND/NS/NAME",
              help="only flows this rule decided (KIND/NAME for a ClusterEgressRule)")
@click.option("--action", default=None, type=click.Choice(["Allow", "Deny"], case_sensitive=False),
              help="only allowed or denied flows")
@click.option("--device", default=None, metavar="D", help="only flows this device reported")
@click.option("--output", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "csv"]),
              help="table for people; json: one array of records; csv with a header row")
@click.option("--limit", default=None, type=click.IntRange(min=1), metavar="N",
              help="at most N records (the newest)")
def command(config_path: str, since: str, until: str | None, namespace: str | None, pod: str | None,
            service: str | None, rule: tuple[str, str, str] | None, action: str | None,
            device: str | None, fmt: str, limit: int | None) -> None:
    """Print the attributed flow records: who (pod, Service) sent each flow the firewalls
    logged, and which rule decided it. Newest first."""
    now = utcnow()
    start = _moment("--since", since, now)
    end = _moment("--until", until, now)
    if start is not None and end is not None and start >= end:
        fail(f"--since ({since}) must be before --until ({until})", EXIT_INVALID)
    config = load(config_path)
    known = {d.name for d in config.devices}
    if device is not None and device not in known:
        names = ", ".join(sorted(known)) or "none"
        fail(f"no device named {device!r} in the configuration (devices: {names})", EXIT_INVALID)
    where = FlowFilter(since=start, until=end, namespace=namespace, pod=pod, service=service, rule=rule,
                       action=action.capitalize() if action else None, device=device, limit=limit)
    records = read_flow_records(config, where)
    if fmt == "json":
        sys.stdout.write(json_text(records))
    elif fmt == "csv":
        sys.stdout.write(csv_text(records))
    elif records:
        for line in table_lines(records):
            click.echo(line)
    else:
        click.echo("no flow record matches", err=True)
