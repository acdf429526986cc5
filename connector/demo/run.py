"""The demo's one pass: load the example into the mock cluster, apply it to every mock device,
plan again to prove the devices converged, read back what each device holds, answer the sample
questions, and summarise the store.

Contract: `run_demo(environment)` returns a `DemoRun`; it raises `DemoError` when the example
cannot be loaded. Device failures do not raise: they are in the pass reports, as for `apply`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.adapter import Adapter
from connector.cluster import ClusterView
from connector.demo.environment import DemoEnvironment, DemoError
from connector.demo.scenario import ExplainQuery, describe, probes, scenario_objects
from connector.demo.summary import DeviceTally, summarise
from connector.explain import ExplainInputError, Explanation, explain
from connector.manifests import ManifestError
from connector.model import DeviceState
from connector.planner import DeviceObject
from connector.reconciler.reconcile_pass import PassReport, reconcile_once
from connector.wiring import open_adapters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A sample question and its explanation, or why it could not be explained."""

    probe: ExplainQuery
    explanation: Explanation | None
    problem: str = ""


@dataclass
class DemoRun:
    loaded: str
    applied: PassReport
    verified: PassReport
    holdings: dict[str, list[DeviceObject]] = field(default_factory=dict)
    numbers: dict[str, dict[str, str]] = field(default_factory=dict)  # device -> object name -> its number
    owner_marks: dict[str, str] = field(default_factory=dict)
    read_errors: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    summary: list[DeviceTally] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.applied.failed or self.applied.refused or self.verified.failed or self.read_errors)


def run_demo(environment: DemoEnvironment, progress: Callable[[str], None] = lambda _: None) -> DemoRun:
    config = environment.config
    objects = scenario_objects()
    progress("loading the example into the mock cluster")
    try:
        view = environment.load(objects)
    except ManifestError as exc:
        raise DemoError(f"loading the example: {exc}") from exc
    except DemoError:
        raise
    except Exception as exc:  # the Kubernetes client raises urllib3, ApiException and OS errors alike
        raise DemoError(f"loading the example: {type(exc).__name__}: {exc}") from exc
    adapters = open_adapters(config, config.devices, environment.secrets)
    try:
        progress("applying to " + ", ".join(adapters))
        applied = reconcile_once(config, view, adapters, apply=True)
        progress("planning again against every device")
        verified = reconcile_once(config, view, adapters, apply=False)
        run = DemoRun(describe(objects), applied, verified)
        progress("reading back what each device holds")
        for name, adapter in adapters.items():
            run.owner_marks[name] = adapter.owner_mark
            try:
                run.holdings[name] = adapter.read()
                state = verified.compiled.devices.get(name)
                if state is not None:
                    run.numbers[name] = object_numbers(adapter, state, run.holdings[name])
            except Exception as exc:  # a device fault is shown, not raised
                run.read_errors[name] = f"{type(exc).__name__}: {exc}"
                log.error("%s: reading the device back failed: %s", name, run.read_errors[name])
    finally:
        for adapter in adapters.values():
            adapter.close()
    run.answers = [_answer(view, applied, probe) for probe in probes()]
    run.summary = summarise(config)
    return run


def object_numbers(adapter: Adapter, state: DeviceState, held: list[DeviceObject]) -> dict[str, str]:
    """Each device object of ours standing for a rule of `state` (its name) -> the device's own
    number of that rule, as `held` (just read) gives it (`Adapter.rule_numbers`)."""
    found = adapter.rule_numbers(state, held)
    if found is None:
        return {}
    return {name: ", ".join(found.numbers[key]) for name, key in adapter.rule_references(state).items()
            if key in found.numbers}


def _answer(view: ClusterView, report: PassReport, probe: ExplainQuery) -> Answer:
    try:
        return Answer(probe, explain(view, report.compiled, probe.source, probe.destination))
    except ExplainInputError as exc:
        return Answer(probe, None, str(exc))
