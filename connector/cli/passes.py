"""What `plan` and `apply` share: read the cluster once, run one pass, print the outcome."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from kubernetes import client as k8s_client
from sqlalchemy.exc import SQLAlchemyError

from connector.adapter import Adapter
from connector.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNSAFE,
    check_secrets,
    database_problem,
    fail,
    load,
    warn_transport,
)
from connector.cluster import StaticView
from connector.config import Config, DeviceConfig, SecretError, Secrets
from connector.kube import (
    KubernetesConfigError,
    build_configuration,
    describe_api_error,
    kubeconfig_skips_tls_verify,
)
from connector.planner import Change, Op, Plan
from connector.reconciler.device import DeviceOutcome, Refusal
from connector.reconciler.reconcile_pass import PassReport, reconcile_once
from connector.sources.listing import list_all
from connector.wiring import open_adapters, select_devices

log = logging.getLogger(__name__)

_SIGN = {Op.CREATE: "+", Op.UPDATE: "~", Op.DELETE: "-", Op.REORDER: "↕"}


class Progress:
    """Status lines on a terminal's stderr; silent when quiet or not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()

    def step(self, text: str) -> None:
        if self.enabled:
            click.echo(f"\r\033[K… {text}", err=True, nl=False)

    def done(self) -> None:
        if self.enabled:
            click.echo("\r\033[K", err=True, nl=False)


def kube_configuration(config: Config, secrets: Secrets, *, warn: bool = True) -> k8s_client.Configuration:
    """The Kubernetes client configuration; exits 2 when it cannot be built. With `warn`, prints
    the transport-security warnings of the configuration and the kubeconfig."""
    try:
        configuration = build_configuration(config.kubernetes, secrets)
    except KubernetesConfigError as exc:
        fail(f"kubernetes: {exc}", EXIT_INVALID)
    if warn:
        warn_transport(config, kubeconfig_skips_tls_verify(configuration, config.kubernetes))
    return configuration


@contextmanager
def _quiet_retries() -> Iterator[None]:
    """urllib3's retry warnings stay out of the output (unless logging at debug level): a
    failure is reported once, as one line."""
    logger = logging.getLogger("urllib3.connectionpool")
    level = logger.level
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def read_cluster(config: Config, secrets: Secrets,
                 configuration: k8s_client.Configuration | None = None) -> StaticView:
    """A one-shot snapshot of the cluster (through `configuration`, else one built and warned
    about by `kube_configuration`); exits 1 with one line when the API server cannot be read."""
    if configuration is None:
        configuration = kube_configuration(config, secrets)
    try:
        with _quiet_retries(), k8s_client.ApiClient(configuration) as api:
            return list_all(api)
    except Exception as exc:  # the client raises urllib3, ApiException and OS errors alike
        log.debug("reading the cluster failed", exc_info=True)
        fail(f"kubernetes: {describe_api_error(exc, configuration.host)}", EXIT_ERROR)


def chosen_devices(config: Config, device: str | None) -> list[DeviceConfig]:
    """The configured devices, or only `device`; exits 2 when no device has that name."""
    try:
        return select_devices(config, device)
    except KeyError:
        known = ", ".join(d.name for d in config.devices) or "none"
        fail(f"no device named {device!r} in the configuration (devices: {known})", EXIT_INVALID)


@contextmanager
def adapters_for(config: Config, devices: list[DeviceConfig],
                 secrets: Secrets) -> Iterator[dict[str, Adapter]]:
    try:
        adapters = open_adapters(config, devices, secrets)
    except SecretError as exc:
        fail(str(exc), EXIT_INVALID)
    try:
        yield adapters
    finally:
        for adapter in adapters.values():
            adapter.close()


@dataclass(frozen=True)
class PassRun:
    """A one-shot pass with what it was computed from."""

    config: Config
    view: StaticView
    report: PassReport


def run_pass(config_path: str, device: str | None, *, apply: bool, force: bool, quiet: bool,
             numbers: bool = False) -> PassRun:
    """Load the configuration, read the cluster once and run one pass over the devices (or only
    `device`; `numbers`: as `reconcile_once`); exits with the CLI's codes on invalid input and
    database errors."""
    config = load(config_path)
    secrets = Secrets()
    devices = chosen_devices(config, device)
    check_secrets(config, secrets, devices)
    configuration = kube_configuration(config, secrets)
    progress = Progress(quiet)
    progress.step("reading the cluster")
    view = read_cluster(config, secrets, configuration)
    with adapters_for(config, devices, secrets) as adapters:
        progress.step(("applying to " if apply else "planning ") + ", ".join(adapters))
        try:
            report = reconcile_once(config, view, adapters, apply=apply, force=force, numbers=numbers)
        except SQLAlchemyError as exc:
            fail(f"database: {database_problem(exc)}", EXIT_ERROR)
    progress.done()
    return PassRun(config, view, report)


def _change_line(change: Change) -> str:
    who = f"  ({', '.join(change.identities)})" if change.identities else ""
    return f"  {_SIGN[change.op]} {change.kind} {change.name}{who}"


def _kept_by(plan: Plan) -> dict[tuple[str, str], str]:
    """Kept object -> the foreign object that references it, as far as the plan says."""
    return {(k.kind, k.name): k.referrer for k in plan.kept_for}


def _kept_lines(plan: Plan) -> list[str]:
    """One line per owned object no longer desired but kept for a foreign reference."""
    by = _kept_by(plan)
    return [f"  = {kind} {name}: kept, no longer desired but referenced by "
            f"{by.get((kind, name), 'a foreign object')}, which is not ours; delete or change that one first"
            for kind, name in plan.kept]


def _withheld_lines(plan: Plan) -> list[str]:
    """One line per deletion the safety check held back (the object is emptied instead)."""
    return [f"{_change_line(change)}  [withheld as unsafe: emptied, deleted with --force]"
            for change in plan.withheld]


def outcome_text(outcome: DeviceOutcome, verbose: bool = True) -> list[str]:
    """The lines of one device's section of `plan`/`apply` output; the first names the device."""
    lines = []
    if outcome.plan is None:
        return [f"{outcome.device}: ERROR {outcome.error}"]
    plan = outcome.plan
    if plan.empty:
        kept = f"; {len(plan.kept)} object(s) of ours kept for foreign references" if plan.kept else ""
        lines.append(f"{outcome.device}: in sync, nothing to do{kept}")
    else:
        lines.append(plan.summary())
        if verbose:
            lines.extend(_change_line(change) for change in plan.changes)
    if verbose:
        lines.extend(_withheld_lines(plan))
    lines.extend(_kept_lines(plan))
    for conflict in plan.conflicts:
        lines.append(f"  ! {conflict.kind} {conflict.name} exists on the device and is not ours "
                     f"(owner {conflict.owner or 'none'}): left alone")
    if outcome.refusal is Refusal.CAPACITY_EXCEEDED:
        lines.append(f"  refused: {outcome.refusal_message}; nothing was written (the device's capacity "
                     "bounds the whole plan; --force does not override it)")
    elif outcome.refused and plan.withheld:
        lines.append(f"  {outcome.refusal_message}. Re-run with --force to delete them too.")
    elif outcome.refused:
        lines.append(f"  refused: the plan is unsafe ({plan.unsafe}); nothing was written. "
                     "Re-run with --force to apply it anyway.")
    if outcome.applied:
        writes = outcome.result.writes if outcome.result is not None else 0
        lines.append(f"  applied in {outcome.apply_seconds:.2f}s with {writes} write call"
                     f"{'' if writes == 1 else 's'}")
    if outcome.error is not None:
        lines.append(f"  ERROR {outcome.error}")
    return lines


def namespace_warnings(report: PassReport) -> list[str]:
    """Every namespace warning of the compile (bad annotation values and the like), in
    namespace order; each line names its namespace."""
    return [line for name in sorted(report.compiled.namespaces)
            for line in report.compiled.namespaces[name].warnings]


def _device_json(outcome: DeviceOutcome) -> dict[str, Any]:
    data = outcome.to_json()
    if outcome.plan is not None:
        by = _kept_by(outcome.plan)
        data["kept"] = [{"kind": kind, "name": name, "referencedBy": by.get((kind, name))}
                        for kind, name in outcome.plan.kept]
    return data


def print_report(report: PassReport, output: str) -> None:
    """`plan`/`apply` output: a section per device (configuration order), then the namespace
    warnings and the rules not accepted; `json` gives the same as one document."""
    warnings = namespace_warnings(report)
    if output == "json":
        payload = {"devices": [_device_json(o) for o in report.outcomes],
                   "rules": [status.to_json() for status in report.compiled.rules.values()],
                   "namespaceWarnings": warnings,
                   "seconds": round(report.seconds, 3)}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for outcome in report.outcomes:
        for line in outcome_text(outcome):
            click.echo(line)
    for line in warnings:
        click.echo(f"warning: {line}")
    rejected = [s for s in report.compiled.rules.values() if not s.accepted]
    for status in rejected:
        click.echo(f"rule {status.ref}: not accepted: {status.reason}: {status.message}")


def exit_code(report: PassReport) -> int:
    if report.refused:
        return EXIT_UNSAFE
    if report.failed:
        return EXIT_ERROR
    return EXIT_OK
