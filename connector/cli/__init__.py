"""The `fusion-connector` command line (docs/cli.md). Only this package prints.

Each command lives in its own module exposing `command`; `COMMANDS` lists them. The global
options `--log-level` and `--log-json` are accepted before or after the command's name. An
unexpected error in any command prints one `error:` line (the traceback is logged at debug
level) and exits 1.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from connector import __version__
from connector.cli.common import EXIT_ERROR
from connector.logs import setup_logging

log = logging.getLogger(__name__)

COMMANDS: list[str] = [
    "connector.cli.db",
    "connector.cli.import_ces",
    "connector.cli.plan",
    "connector.cli.apply",
    "connector.cli.explain",
    "connector.cli.run",
    "connector.cli.demo",
    "connector.cli.report",
    "connector.cli.flows",
    "connector.cli.snapshot",
    "connector.cli.review",
    "connector.cli.recommend",
]

_VALUED = ("--log-level",)  # global options taking a value
_FLAGS = ("--log-json",)


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with the global options moved in front, wherever they were given (before `--`)."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg in _FLAGS or arg.startswith(tuple(f"{name}=" for name in _VALUED)):
            front.append(arg)
        elif arg in _VALUED and index + 1 < len(args):
            front.extend(args[index:index + 2])
            index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


class _Main(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: one line for people, the traceback for --log-level debug
            log.debug("unexpected error", exc_info=True)
            click.echo(f"error: unexpected error: {type(exc).__name__}: {exc} "
                       "(--log-level debug shows the traceback)", err=True)
            raise SystemExit(EXIT_ERROR) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fusion-connector")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]),
              help="log verbosity (before or after the command)")
@click.option("--log-json", is_flag=True, help="log JSON lines instead of plain text")
def main(log_level: str, log_json: bool) -> None:
    """Sync Kubernetes identity and egress rules to perimeter firewalls."""
    setup_logging(log_level, log_json)


for _module in COMMANDS:
    main.add_command(importlib.import_module(_module).command)
