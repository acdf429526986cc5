"""A plan that would overfill a device table is refused as a whole: nothing is written, whatever
`apply` and `force` say, and the refusal names the table, the count and the limit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from connector.config import Secrets
from connector.planner import DeviceObject
from connector.planner.capacity import Table, TableUsage
from connector.reconciler.device import Refusal, sync_device
from connector.reconciler.known import KnownState
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from tests.adapters.fortios.conftest import FAST_RETRY, NO_SAFETY, TOKEN, Device
from tests.adapters.fortios.scenarios import payments_state
from tests.connector.reconciler.test_device import SAFETY, MemoryAdapter, owned, state


class LimitedAdapter(MemoryAdapter):
    """A device whose group table holds at most `limit` entries (ours and foreign)."""

    def __init__(self, held: list[DeviceObject], limit: int) -> None:
        super().__init__(held)
        self.limit = limit

    def table_usage(self, objects: Sequence[DeviceObject]) -> Sequence[TableUsage]:
        return (TableUsage(Table.GROUPS, sum(1 for o in objects if o.kind == "group"), self.limit),)


def test_a_plan_over_capacity_is_refused_and_nothing_is_written() -> None:
    adapter = LimitedAdapter([], limit=2)
    outcome = sync_device(adapter, state("a", "b", "c"), SAFETY, apply=True)
    assert not adapter.applied and not outcome.applied and not outcome.ok
    assert outcome.refused and outcome.refusal is Refusal.CAPACITY_EXCEEDED
    assert outcome.refusal_message == "CapacityExceeded: groups 3 > limit 2"
    assert outcome.capacity is not None and outcome.capacity.tables == (TableUsage(Table.GROUPS, 3, 2),)
    assert outcome.to_json()["refusal"] == "CapacityExceeded"


def test_force_does_not_override_capacity_and_plan_only_runs_report_it() -> None:
    adapter = LimitedAdapter([], limit=2)
    forced = sync_device(adapter, state("a", "b", "c"), SAFETY, apply=True, force=True)
    assert forced.refusal is Refusal.CAPACITY_EXCEEDED and not adapter.applied
    planned = sync_device(adapter, state("a", "b", "c"), SAFETY, apply=False)
    assert planned.refusal is Refusal.CAPACITY_EXCEEDED and planned.plan is not None
    assert planned.plan.counts()["create"] == 3


def test_at_the_limit_the_plan_is_applied() -> None:
    adapter = LimitedAdapter([], limit=3)
    outcome = sync_device(adapter, state("a", "b", "c"), SAFETY, apply=True)
    assert outcome.applied and outcome.ok and outcome.refusal is None
    assert outcome.capacity is not None and not outcome.capacity.exceeded


def test_foreign_objects_take_room_in_the_table() -> None:
    foreign = DeviceObject("group", "theirs", {"members": []}, "someone-else")
    adapter = LimitedAdapter([foreign], limit=2)
    outcome = sync_device(adapter, state("a", "b"), SAFETY, apply=True)
    assert outcome.refusal is Refusal.CAPACITY_EXCEEDED and not adapter.applied
    assert outcome.refusal_message == "CapacityExceeded: groups 3 > limit 2"


def test_a_plan_that_frees_room_counts_what_remains() -> None:
    adapter = LimitedAdapter([owned("a"), owned("b"), owned("c")], limit=2)
    outcome = sync_device(adapter, state("a"), SAFETY, apply=True, force=True)  # deletes 2 of 3
    assert outcome.applied and outcome.capacity is not None
    assert outcome.capacity.tables == (TableUsage(Table.GROUPS, 1, 2),)


def test_an_empty_plan_is_never_refused() -> None:
    """A device already holding what the rules require stays in sync, even over a (lowered) limit."""
    adapter = LimitedAdapter([owned("a"), owned("b"), owned("c")], limit=2)
    outcome = sync_device(adapter, state("a", "b", "c"), SAFETY, apply=True)
    assert outcome.plan is not None and outcome.plan.empty
    assert outcome.ok and not outcome.refused
    assert outcome.capacity is not None and outcome.capacity.exceeded


def test_a_refused_sync_leaves_the_device_unknown() -> None:
    adapter = LimitedAdapter([], limit=2)
    known = KnownState()
    known.remember([], known.take()[1])
    sync_device(adapter, state("a", "b", "c"), SAFETY, apply=True, known=known, read=False)
    assert not known.known


def test_an_unsafe_plan_within_capacity_is_refused_as_unsafe() -> None:
    adapter = LimitedAdapter([owned(k) for k in "abcd"], limit=10)
    unsafe = sync_device(adapter, state("a"), SAFETY, apply=True)  # deletes 3 of 4: unsafe
    assert unsafe.refusal is Refusal.UNSAFE and not adapter.applied
    assert unsafe.refusal_message is not None and unsafe.refusal_message.startswith("unsafe plan refused: ")


@pytest.fixture
def device() -> Iterator[Device]:
    app = FortigateMock(token=TOKEN)
    http = HttpServer(app).start()
    yield Device(app, http.url)
    http.stop()


def fortios(url: str, **capacity: Any) -> FortiOSAdapter:
    config = FortiOSDevice.model_validate({"name": "fgt", "type": "fortios", "url": url,
                                           "auth": {"tokenEnv": "FGT_TOKEN"}, "capacity": capacity})
    return FortiOSAdapter(config, "prod", Secrets({"FGT_TOKEN": TOKEN}), retry=FAST_RETRY)


def test_fortigate_capacity_refuses_before_any_request_writes(device: Device) -> None:
    desired_policies = sum(1 for o in fortios(device.url).render(payments_state()) if o.kind == "policy")
    adapter = fortios(device.url, policies=desired_policies - 1)
    mark = device.last_seq()
    outcome = sync_device(adapter, payments_state(), NO_SAFETY, apply=True, force=True)
    assert outcome.refusal is Refusal.CAPACITY_EXCEEDED
    assert outcome.refusal_message == (f"CapacityExceeded: policies {desired_policies} > limit "
                                       f"{desired_policies - 1}")
    requests = device.requests(mark)
    assert requests and all(r["method"] == "GET" for r in requests)  # read, never written
    assert device.table("firewall/policy") == [] and device.table("firewall/addrgrp") == []

    fits = fortios(device.url, policies=desired_policies)
    applied = sync_device(fits, payments_state(), NO_SAFETY, apply=True)
    assert applied.applied and applied.ok
    assert len(device.table("firewall/policy")) == desired_policies
