"""Helpers for the tests that a sync against the known state is planned by difference, and the
driver of the property tests that event-driven syncs equal full ones on every adapter family.

`replay(family, events)` compiles `initial_cluster()` and each of `events` with the real compiler
(incrementally, as the controller does) and, after every event, syncs two mock devices served in
process: the *live* one by an adapter kept across syncs, against the `KnownState` without reading
(`sync_device(..., known=..., read=False)`, planned by difference unless an object of an ordered
kind changes), the *shadow* one by a fresh
adapter that reads, renders and diffs everything. It asserts that both plans are the same, that
both devices hold the same, and that what the live device holds decides like the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any

import httpx
import pytest

from connector.adapter import Adapter
from connector.cluster import StaticView
from connector.compiler import Compiler, CompileSettings
from connector.evaluate import Probe, decide
from connector.model import Capabilities, CompiledRule, DeviceState
from connector.planner import Plan, SafetyThresholds
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from mocks.common.http import App, DropConnection, Request, parse_request_target
from tests.adapters.strategies import ClusterEvent, event_probes, initial_cluster

PERMISSIVE = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=1)


def forbid_full_planning(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, planning against the whole device state fails the test."""

    def full_plan(*args: object, **kwargs: object) -> None:
        raise AssertionError("planned against the whole state")

    monkeypatch.setattr(Adapter, "plan", full_plan)


class InProcess(httpx.BaseTransport):
    """An httpx transport handing every request straight to a mock app's `dispatch` (no socket,
    no thread)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw, path, query = parse_request_target(request.url.raw_path.decode("ascii"))
        headers = Message()
        for name, value in request.headers.multi_items():
            headers[name] = value
        try:
            answer = self.app.dispatch(Request(request.method, raw, path, query, headers, request.read(),
                                               "127.0.0.1"))
        except DropConnection as exc:
            raise httpx.RemoteProtocolError("connection dropped", request=request) from exc
        body = answer.body if answer.stream is None else b"".join(answer.stream)
        return httpx.Response(answer.status, headers=answer.headers, content=body, request=request)


Verdict = tuple[Any, ...] | None


@dataclass(frozen=True)
class Family:
    """What `replay` needs of one adapter family: the device compiled for and its capabilities, a
    new mock device, a fresh adapter for a device, what a device holds (comparable, free of
    revision counters), the verdict of that content for a probe and the verdict the model's
    deciding rule stands for."""

    device: str
    capabilities: Capabilities
    new_device: Callable[[], App]
    open: Callable[[App], Adapter]
    holds: Callable[[App], Any]
    verdict: Callable[[Any, Probe], Verdict]
    expected: Callable[[DeviceState, CompiledRule | None], Verdict]


def _full_sync(family: Family, app: App, state: DeviceState) -> Plan:
    """A fresh adapter reads `app`, renders `state`, diffs everything and applies: the plan."""
    adapter = family.open(app)
    try:
        actual = adapter.read()
        desired = adapter.render(state)
        plan = adapter.plan(desired, actual, safety=PERMISSIVE)
        if not plan.empty:
            result = adapter.apply(plan, desired)
            assert result.error is None, result.error
        return plan
    finally:
        adapter.close()


def replay(family: Family, events: list[ClusterEvent]) -> None:
    """See the module docstring."""
    view = StaticView(initial_cluster())
    compiler = Compiler(CompileSettings(cluster="c1", devices=((family.device, family.capabilities),)))
    state = compiler.full(view).devices[family.device]
    live_app, shadow_app = family.new_device(), family.new_device()
    live = family.open(live_app)
    known = KnownState()
    probes = event_probes()
    try:
        first = sync_device(live, state, PERMISSIVE, apply=True, known=known)
        assert first.ok, first.error
        _full_sync(family, shadow_app, state)
        before = None
        for step, event in enumerate(events):
            kind = StaticView.kind_of(event.obj)
            meta = event.obj["metadata"]
            change = (view.delete(kind, meta.get("namespace") or "", meta["name"]) if event.deleted
                      else view.put(event.obj))
            state = compiler.apply([change] if change is not None else []).devices[family.device]
            expected = _full_sync(family, shadow_app, state)
            planned_in_full = 0

            def counted(*args: Any, **kwargs: Any) -> Plan:
                nonlocal planned_in_full
                planned_in_full += 1
                return type(live).plan(live, *args, **kwargs)

            live.plan = counted  # type: ignore[method-assign]
            outcome = sync_device(live, state, PERMISSIVE, apply=True, known=known, read=False)
            del live.plan
            where = f"after event {step}: {event!r}"
            assert outcome.ok, f"{where}: {outcome.error}"
            assert not outcome.read, f"{where}: the device was read"
            assert outcome.plan is not None
            # by difference, unless an object of an ordered kind changes (`plan_delta`'s contract)
            assert not planned_in_full or any(c.kind in live.ordered_kinds for c in expected.changes), \
                f"{where}: planned against the whole state"
            assert outcome.plan.to_json() == expected.to_json(), where
            held = family.holds(live_app)
            assert held == family.holds(shadow_app), where
            if state is before:
                continue
            before = state
            for probe in probes:
                want = family.expected(state, decide(state, probe))
                assert family.verdict(held, probe) == want, f"{where}: {probe}"
    finally:
        live.close()
