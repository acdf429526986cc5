"""The `fusion-connector` command line (DESIGN section 6). Only this package prints.

Each command lives in its own module exposing `command`; `COMMANDS` lists them.
"""

from __future__ import annotations

import importlib

import click

from connector import __version__
from connector.logs import setup_logging

COMMANDS: list[str] = [
    "connector.cli.db",
    "connector.cli.import_ces",
    "connector.cli.plan",
    "connector.cli.apply",
    "connector.cli.explain",
    "connector.cli.run",
    "connector.cli.demo",
    "connector.cli.report",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fusion-connector")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="log verbosity")
@click.option("--log-json", is_flag=True, help="log JSON lines instead of plain text")
def main(log_level: str, log_json: bool) -> None:
    """Sync Kubernetes identity and egress rules to perimeter firewalls."""
    setup_logging(log_level, log_json)


for _module in COMMANDS:
    main.add_command(importlib.import_module(_module).command)
