"""`fusion-connector demo`: the mock Kubernetes API server and the three mock devices on loopback,
the example loaded, applied, and what each firewall now holds printed with a short report; then,
with the controller running in process, a few flows through each firewall (a pod's address given
to a new pod in between) printed as the controller attributed them.
`--serve` keeps everything running, with the controller, until Ctrl-C or SIGTERM: for `plan`,
`apply`, `report`, `flows` and kubectl against the printed configuration and kubeconfig.

The mock servers are a separate distribution (the `demo` extra): without them the command prints
how to install them and exits 1.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import shutil
import signal
import time
from types import FrameType
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from connector.cli.common import EXIT_ERROR, EXIT_OK, fail
from connector.cli.passes import Progress, outcome_text

if TYPE_CHECKING:  # the demo's modules (and the mocks) load only when the command runs
    from connector.demo.environment import DemoEnvironment
    from connector.demo.flows import FlowsRun
    from connector.demo.live import LiveController
    from connector.demo.run import DemoRun

MOCKS_MISSING = ("the demo needs the mock servers, which are not installed:"
                 " run python3 -m pip install '.[demo]' in a checkout of fusion-connector")
EXIT_INTERRUPTED = 130  # the shell's conventions: 128 + the signal's number
EXIT_TERMINATED = 143


def _heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(text, bold=True))


def _quiet_logs_unless_asked() -> None:
    """Warnings only, unless `--log-level` was given: the demo's output is the point."""
    context = click.get_current_context().find_root()
    if context.get_parameter_source("log_level") in (None, ParameterSource.DEFAULT):
        logging.getLogger().setLevel(logging.WARNING)


def _print_run(environment: DemoEnvironment, run: DemoRun) -> None:
    from connector.demo.holdings import holdings_text
    from connector.demo.text import answers_text, conclusion, namespaces_text, rules_text, summary_text

    config = environment.config
    _heading("Cluster")
    click.echo(f"  loaded the example: {run.loaded}")
    for line in namespaces_text(run.applied.compiled):
        click.echo(line)

    _heading("Applied")
    for outcome in run.applied.outcomes:
        for line in outcome_text(outcome, verbose=False):
            click.echo(f"  {line}")
    for outcome in run.verified.outcomes:
        if outcome.plan is not None and outcome.plan.empty and outcome.error is None:
            click.echo(f"  {outcome.device}: planned again after the apply: in sync, nothing to do")
        else:
            for line in outcome_text(outcome, verbose=True):
                click.echo(f"  after the apply: {line}")

    _heading("Rules")
    for line in rules_text(run.applied.compiled):
        click.echo(line)

    for device in config.devices:
        _heading(f"What {device.name} ({device.type}) holds, read back from {device.url}")
        if device.name in run.read_errors:
            click.echo(f"  cannot read the device: {run.read_errors[device.name]}")
            continue
        for line in holdings_text(device.type, run.holdings.get(device.name, []),
                                  run.owner_marks.get(device.name, ""), run.numbers.get(device.name)):
            click.echo(line)

    _heading("Sample decisions per device (the first matching rule each device holds)")
    for line in answers_text(run.answers):
        click.echo(line)

    _heading("Report")
    for line in summary_text(run.summary):
        click.echo(line)
    click.echo("")
    click.echo(conclusion(run.summary))


def _print_flows(environment: DemoEnvironment, flows: FlowsRun | None) -> None:
    from connector.demo.text import flows_text

    _heading("Flows through each firewall, attributed by the controller (fusion-connector flows)")
    if flows is None:
        click.echo("  the controller is not running (--no-controller): no flow is received")
        return
    for line in flows_text(flows, environment.flow_senders):
        click.echo(line)


def _print_endpoints(environment: DemoEnvironment) -> None:
    click.echo(click.style("Mocks listening on loopback", bold=True))
    width = max(len(f"{e.name} ({e.type})") for e in environment.endpoints)
    for endpoint in environment.endpoints:
        label = f"{endpoint.name} ({endpoint.type})" if endpoint.name != endpoint.type else endpoint.name
        click.echo(f"  {label.ljust(width)}  {endpoint.url}")


def _print_serve_instructions(environment: DemoEnvironment, live: LiveController | None) -> None:
    from connector.demo.text import serve_commands

    _heading("Serving")
    if live is not None:
        click.echo("controller: running in this process, keeping the devices in sync as the cluster changes")
        click.echo(f"metrics: {live.url}/metrics")
        senders = ", ".join(f"{name} from {ip}" for name, (ip, _) in environment.flow_senders.items())
        listen = f"{environment.host}:{environment.syslog_port}"
        click.echo(f"flow logs: syslog on {listen} (UDP and TCP; {senders}), pushes on {live.url}/v1/flows;"
                   " POST /_mock/traffic to a mock device to make some")
    click.echo(f"config file: {environment.config_path}")
    click.echo(f"kubeconfig: {environment.kubeconfig_path}")
    click.echo(f"in another shell, set the demo's directory and credentials (random for this run;"
               f" also in {environment.env_path}):")
    for name, value in environment.exports().items():
        click.echo(f"  export {name}={value}")
    click.echo("then try:")
    metrics = f"{live.url}/metrics" if live is not None else None
    for line in serve_commands(metrics, kubectl=shutil.which("kubectl") is not None):
        click.echo(f"  {line}")
    if shutil.which("kubectl") is None:
        click.echo("  (install kubectl to look at the cluster and change it)")


def _require_mocks() -> None:
    """Exit 1 with the one-line hint when the mock servers (the `demo` extra) are not installed."""
    try:
        importlib.import_module("connector.demo.environment")
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "mocks":
            raise
        fail(MOCKS_MISSING, EXIT_ERROR)


class _Terminated(Exception):
    """SIGTERM arrived: unwind so that every server stops and the directory is removed."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@click.command("demo")
@click.option("--serve", is_flag=True, help="keep everything running and print how to use it, until Ctrl-C")
@click.option("--controller/--no-controller", default=True, show_default=True,
              help="run the controller in process: it receives the firewalls' logs (and with --serve keeps "
                   "the devices in sync)")
@click.option("--quiet", is_flag=True, help="no progress display")
def command(serve: bool, controller: bool, quiet: bool) -> None:
    """Start mock Kubernetes and firewalls on loopback, apply an example, and show the result."""
    _require_mocks()
    _quiet_logs_unless_asked()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        ok = _demo(serve, controller, Progress(quiet))
    except (_Terminated, KeyboardInterrupt) as exc:
        if not serve:
            click.echo("interrupted", err=True)
            raise SystemExit(EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED) from None
        click.echo("stopped")
        ok = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise SystemExit(EXIT_OK if ok else EXIT_ERROR)


def _demo(serve: bool, controller: bool, progress: Progress) -> bool:
    """Run the demo (and serve until interrupted when `serve`); whether every device converged."""
    from connector.demo.environment import DemoEnvironment, DemoError
    from connector.demo.flows import run_flows
    from connector.demo.live import LiveController
    from connector.demo.run import run_demo

    progress.step("starting the mocks")
    try:
        with contextlib.ExitStack() as stack:
            environment = stack.enter_context(DemoEnvironment())
            progress.done()
            _print_endpoints(environment)
            try:
                run = run_demo(environment, progress.step)
                live = flows = None
                if controller:
                    progress.step("starting the controller")
                    live = LiveController.start(environment)
                    stack.callback(live.stop)
                    environment.push_flows_to(live.url)
                    flows = run_flows(environment, progress.step)
            finally:
                progress.done()
            _print_run(environment, run)
            _print_flows(environment, flows)
            if not serve:
                click.echo("Keep it all running, with the controller, to explore with plan, report, flows"
                           " and kubectl: fusion-connector demo --serve")
                return run.ok and not (flows is not None and flows.problem)
            _print_serve_instructions(environment, live)
            click.echo("ready: press Ctrl-C to stop")
            while True:
                time.sleep(3600)
    except DemoError as exc:
        fail(str(exc), EXIT_ERROR)
