"""The deploy request joined from per-object fragments: the same JSON as the whole declaration, only
changed objects serialized again, nothing canonicalized after a skipped read, and changes arriving
during a declaration in flight coalesced into one more declaration."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings

from adapters.f5 import AS3Adapter, request
from adapters.f5.declaration import as3_request
from connector.controller.worker import DeviceWorker, Job
from connector.model import DeviceState
from connector.planner import SafetyThresholds
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.f5.conftest import Device
from tests.adapters.f5.scenarios import basic_state, with_pod
from tests.adapters.f5.test_render import adapter as offline_adapter
from tests.adapters.f5.unions import union_states
from tests.adapters.strategies import device_states

SAFETY = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=1)


def whole(a: AS3Adapter, state: DeviceState) -> tuple[bytes, dict[str, Any]]:
    objects = a.render(state)
    return a.request_body(objects), as3_request(a.declaration(objects))


@settings(max_examples=40, deadline=None)
@given(device_states(), union_states())
def test_joined_fragments_are_the_whole_declaration(first: DeviceState, second: DeviceState) -> None:
    a = offline_adapter()
    for state in (first, second, first, with_pod(first, sorted(first.groups)[0], "10.7.7.7")):
        body, expected = whole(a, state)
        assert json.loads(body) == expected


def test_route_domain_and_non_ascii_remarks_join_to_the_whole_declaration() -> None:
    a = offline_adapter(routeDomain="/Common/0")
    state = basic_state()
    dst = state.destinations["es/payments/dns"]
    renamed = replace(dst, namespace="zahlungsmittelü")
    state = replace(state, destinations={**state.destinations, dst.key: renamed})
    body, expected = whole(a, state)
    assert json.loads(body) == expected


def test_only_changed_objects_are_serialized_again(monkeypatch: pytest.MonkeyPatch) -> None:
    a = offline_adapter()
    a.request_body(a.render(basic_state()))
    dumped: list[Any] = []
    real = request._dumps

    def counting(value: Any) -> bytes:
        dumped.append(value)
        return real(value)

    monkeypatch.setattr(request, "_dumps", counting)
    a.request_body(a.render(with_pod(basic_state(), "ns/shop", "10.0.0.8")))
    bodies = [v for v in dumped if isinstance(v, dict) and "class" in v]
    assert [b["class"] for b in bodies] == ["Firewall_Address_List"]
    assert "10.0.0.8" in bodies[0]["addresses"]


def test_an_apply_after_a_skipped_read_neither_fetches_nor_compares(
        device: Device, adapter: AS3Adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    known = KnownState()
    assert sync_device(adapter, basic_state(), SAFETY, apply=True, known=known).ok

    def refuse(*_: Any) -> Any:
        raise AssertionError("the tenant was canonicalized")

    monkeypatch.setattr("adapters.f5.adapter.canonical_tenant", refuse)
    device.clear_log()
    outcome = sync_device(adapter, with_pod(basic_state(), "ns/shop", "10.0.0.8"), SAFETY, apply=True,
                          known=known, read=False)
    assert outcome.ok and outcome.applied
    assert [r["method"] for r in device.requests() if r["path"].endswith("/declare/fc_c1")] == ["POST"]
    held = device.tenant(adapter.tenant)
    assert held is not None and "10.0.0.8" in held["Shared"]["src_shop"]["addresses"]


def test_changes_during_a_declaration_in_flight_coalesce_into_one_more(
        device: Device, adapter: AS3Adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    in_flight, release = threading.Event(), threading.Event()
    declare = adapter.client.declare

    def held_declare(*args: Any, **kwargs: Any) -> Any:
        results = declare(*args, **kwargs)
        if not in_flight.is_set():
            in_flight.set()
            assert release.wait(30)
        return results

    monkeypatch.setattr(adapter.client, "declare", held_declare)
    known = KnownState()

    def run(job: Job) -> bool:
        return sync_device(adapter, job.state, SAFETY, apply=True, known=known, read=job.read).ok

    worker = DeviceWorker("bigip-dc1", run, debounce=0.0).start()
    try:
        worker.submit(basic_state(), ["first"], read=True)
        assert in_flight.wait(30)
        state = basic_state()
        for index in range(10):
            state = with_pod(state, "ns/shop", f"10.0.1.{index}")
            worker.submit(state, [f"pod-{index}"])
        release.set()
        assert worker.wait_idle(30)
    finally:
        release.set()
        worker.stop(30)
    assert len(device.declaration_posts()) == 2
    assert worker.syncs == 2
    held = device.tenant(adapter.tenant)
    assert held is not None
    assert {f"10.0.1.{i}" for i in range(10)} <= set(held["Shared"]["src_shop"]["addresses"])
