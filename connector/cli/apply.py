"""`fusion-connector apply`: one reconcile pass — plan and apply; an unsafe plan exits 3 unless forced."""

from __future__ import annotations

import click

from connector.cli.common import config_option
from connector.cli.passes import exit_code, print_report, run_pass


@click.command("apply")
@config_option
@click.option("--device", default=None, metavar="NAME", help="only this device")
@click.option("--force", is_flag=True, help="apply a plan that exceeds the safety thresholds")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quiet", is_flag=True, help="no progress display")
def command(config_path: str, device: str | None, force: bool, output: str, quiet: bool) -> None:
    """Plan and apply the cluster's rules to each device (exit 3 when a plan is unsafe)."""
    report = run_pass(config_path, device, apply=True, force=force, quiet=quiet).report
    print_report(report, output)
    raise SystemExit(exit_code(report))
