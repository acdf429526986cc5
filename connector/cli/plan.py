"""`fusion-connector plan`: print the changes `apply` would make; changes nothing on any device."""

from __future__ import annotations

import click

from connector.cli.common import EXIT_ERROR, EXIT_OK, config_option
from connector.cli.passes import print_report, run_pass


@click.command("plan")
@config_option
@click.option("--device", default=None, metavar="NAME", help="only this device")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quiet", is_flag=True, help="no progress display")
def command(config_path: str, device: str | None, output: str, quiet: bool) -> None:
    """Read the cluster and each device and print the changes that `apply` would make."""
    report = run_pass(config_path, device, apply=False, force=False, quiet=quiet).report
    print_report(report, output)
    raise SystemExit(EXIT_ERROR if report.failed else EXIT_OK)
