"""Helpers shared by the CLI commands: exit codes, configuration loading, output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from connector.config import Config, ConfigError, DeviceConfig, Secrets, secret_variables
from connector.security import transport_warnings
from connector.wiring import load_config

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


def check_secrets(config: Config, secrets: Secrets, devices: list[DeviceConfig] | None = None) -> None:
    """Exit 2 naming every secret variable the configuration needs (for `devices`, default all)
    that the environment does not set: checked before anything is read."""
    missing = secrets.missing(secret_variables(config, devices))
    if missing:
        names = "\n  ".join(f"{name} (named by {purpose})" for name, purpose in missing)
        fail(f"environment variables not set:\n  {names}", EXIT_INVALID)


def warn_transport(config: Config, kube_insecure: bool) -> None:
    """Print a `warning:` line on stderr for each weakening of transport security."""
    for warning in transport_warnings(config, kube_insecure):
        click.echo(f"warning: {warning.message} [{warning.reason}]", err=True)
