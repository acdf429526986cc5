"""Helpers shared by the CLI commands: exit codes, configuration loading, output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from connector.config import Config, ConfigError, load_config

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_UNSAFE = 3

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """The `--config F` option every command that reads the configuration takes."""
    decorator = click.option("--config", "config_path", required=True, metavar="FILE",
                             type=click.Path(dir_okay=False), help="configuration file (YAML)")
    return decorator(func)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print `message` to stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def database_problem(exc: Exception) -> str:
    """A one-line description of a database error (the driver's message when there is one)."""
    return f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"


def load(path: str) -> Config:
    """The validated configuration at `path`; exits 2 with the problems when invalid."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_INVALID)
