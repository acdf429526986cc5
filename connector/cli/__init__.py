"""The `fusion-connector` command line (docs/cli.md). Only this package prints.

Each command lives in its own module exposing `command`; `COMMANDS` maps each name to its module,
imported only when that command runs (or `--help` lists them all), so a process starts with the
imports of its one command. The global
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
from connector.logs import setup_logging

log = logging.getLogger(__name__)

COMMANDS: dict[str, str] = {
    "db": "connector.cli.db",
    "import-ces": "connector.cli.import_ces",
    "plan": "connector.cli.plan",
    "apply": "connector.cli.apply",
    "explain": "connector.cli.explain",
    "run": "connector.cli.run",
    "demo": "connector.cli.demo",
    "report": "connector.cli.report",
    "flows": "connector.cli.flows",
    "snapshot": "connector.cli.snapshot",
    "review": "connector.cli.review",
    "recommend": "connector.cli.recommend",
}

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
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(importlib.import_module(COMMANDS[cmd_name]).command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: one line for people, the traceback for --log-level debug
            from connector.cli.common import EXIT_ERROR  # loaded with every command already

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
