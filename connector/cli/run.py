"""`fusion-connector run`: the controller, until SIGTERM or SIGINT (then exit 0)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from sqlalchemy.exc import SQLAlchemyError

from connector.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    check_secrets,
    config_option,
    database_problem,
    fail,
    load,
)
from connector.cli.passes import kube_configuration
from connector.config import SecretError, Secrets
from connector.controller import Controller, ControllerOptions
from connector.http import HealthServer, parse_listen
from connector.kube import KubernetesConfigError
from connector.store import MigrationError


@click.command("run")
@config_option
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="address of /healthz, /readyz and /metrics (port 0: any free port)")
@click.option("--mode", type=click.Choice(["apply", "plan"]), default="apply", show_default=True,
              help="plan: watch, compile, plan and record drift, write nothing to devices")
@click.option("--lease-duration", type=click.IntRange(2, 300), default=15, show_default=True,
              help="seconds a leader's Lease lasts without renewal")
@click.option("--renew-interval", type=click.FloatRange(0.2, 100), default=5.0, show_default=True,
              help="seconds between Lease renewals")
@click.option("--shutdown-grace", type=click.FloatRange(0, 300), default=10.0, show_default=True,
              help="seconds in-flight device syncs get to finish at shutdown")
def command(config_path: str, listen: str, mode: str, lease_duration: int, renew_interval: float,
            shutdown_grace: float) -> None:
    """Watch the cluster and keep every device in sync (the controller)."""
    config = load(config_path)
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        fail(f"--listen: {exc}", EXIT_INVALID)
    if renew_interval >= lease_duration:
        fail("--renew-interval must be shorter than --lease-duration", EXIT_INVALID)
    options = ControllerOptions(mode="plan" if mode == "plan" else "apply", lease_seconds=lease_duration,
                                renew_seconds=renew_interval, retry_seconds=min(2.0, renew_interval),
                                shutdown_grace=shutdown_grace)
    secrets = Secrets()
    check_secrets(config, secrets)
    kube_configuration(config, secrets, warn=False)  # exits 2 when unusable; the controller warns
    controller = Controller(config, secrets, options)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = HealthServer(controller, host, port)
    except OSError as exc:
        fail(f"--listen {listen}: {exc}", EXIT_ERROR)
    try:
        controller.start()
    except (SecretError, KubernetesConfigError) as exc:
        fail(str(exc), EXIT_INVALID)
    except (MigrationError, SQLAlchemyError) as exc:
        fail(f"database: {database_problem(exc)}", EXIT_ERROR)
    except OSError as exc:  # the flows syslog port cannot be bound
        fail(str(exc), EXIT_ERROR)
    server.start()
    click.echo(f"fusion-connector {controller.identity} running ({mode} mode); "
               f"health and metrics on {server.url}", err=True)
    while not stop.wait(1.0):
        pass
    server.stop()
    controller.stop()
    raise SystemExit(EXIT_OK)
