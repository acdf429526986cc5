"""`fusion-connector explain`: which rule decides traffic from a source to a destination, per device.

Works from the cluster and the compiled state only; devices are not contacted.
"""

from __future__ import annotations

import json

import click

from connector.cli.common import EXIT_INVALID, config_option, fail, load
from connector.cli.passes import read_cluster
from connector.compiler import compile_cluster
from connector.config import Secrets
from connector.explain import ExplainInputError, explain
from connector.wiring import compile_settings


@click.command("explain")
@config_option
@click.option("--from", "source", required=True, metavar="NS/POD|NS/svc/NAME|IP",
              help="the traffic's source: a pod, a Service or an address")
@click.option("--to", "destination", required=True, metavar="HOST[:PORT[/PROTO]]",
              help="the destination: an IP or a name, optionally a port and TCP, UDP or SCTP")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(config_path: str, source: str, destination: str, output: str) -> None:
    """Show which rule decides, on each device, and the rules considered before it."""
    config = load(config_path)
    view = read_cluster(config, Secrets())
    result = compile_cluster(view, compile_settings(config))
    try:
        explanation = explain(view, result, source, destination)
    except ExplainInputError as exc:
        fail(str(exc), EXIT_INVALID)
    if output == "json":
        click.echo(json.dumps(explanation.to_json(), indent=2, sort_keys=True))
    else:
        for line in explanation.lines():
            click.echo(line)
