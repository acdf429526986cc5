"""Concurrent apply: changes run level by level (addresses, addrgrps children first, services,
policies), policy creates in order so placement moves nothing, the same device content whatever
the concurrency, and the first error stops every later level."""

from __future__ import annotations

import pytest

from adapters.fortios.adapter import apply_levels
from connector.adapter import PermanentDeviceError, TransientDeviceError, UnsafePlan
from connector.evaluate import Probe
from connector.model import DeviceState, Protocol
from connector.planner import SafetyThresholds
from connector.planner.types import Change, Op
from tests.adapters.fortios.conftest import NO_SAFETY, AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import spread_state
from tests.adapters.fortios.test_apply import writes
from tests.adapters.fortios.test_conformance import check_conformance
from tests.adapters.fortios.test_render import v4_hosts


def grp(op: Op, name: str, *members: str) -> Change:
    body = {"member": list(members), "comment": "m"}
    return Change(op, "addrgrp", name, before=body if op is not Op.CREATE else None,
                  after=body if op is not Op.DELETE else None)


def test_levels_follow_dependencies() -> None:
    changes = [Change(Op.CREATE, "address", "a1"), Change(Op.UPDATE, "address", "a2"),
               grp(Op.CREATE, "g-parent", "g-child", "a1"), grp(Op.CREATE, "g-child", "a1"),
               grp(Op.UPDATE, "g-other", "a2"), Change(Op.CREATE, "service", "s"),
               Change(Op.CREATE, "policy", "p1"), Change(Op.UPDATE, "policy", "p0"),
               Change(Op.CREATE, "policy", "p2"), Change(Op.REORDER, "policy", "policy"),
               Change(Op.DELETE, "policy", "p9"), grp(Op.DELETE, "d-child", "a9"),
               grp(Op.DELETE, "d-parent", "d-child"), Change(Op.DELETE, "address", "a9")]
    levels = [([c.name for c in level.changes], level.parallel) for level in apply_levels(changes)]
    assert levels == [(["a1", "a2"], True), (["g-child", "g-other"], True), (["g-parent"], True),
                      (["s"], True), (["p0"], True), (["p1", "p2"], False), (["p9"], True),
                      (["d-parent"], True), (["d-child"], True), (["a9"], True)]


def spread_probes(state_pods: int) -> list[Probe]:
    return [Probe(f"10.244.0.{i}", "8.8.8.8", 53, Protocol.UDP) for i in range(0, min(state_pods, 250), 7)]


@pytest.mark.parametrize("concurrency", [1, 16])
def test_cold_apply_gives_the_same_device_whatever_the_concurrency(
        device: Device, make_adapter: AdapterFactory, concurrency: int) -> None:
    state = spread_state(400, 20, block=700)  # 61 groups (one split), 61 ordered policies
    adapter = make_adapter()
    adapter.concurrency = concurrency
    plan, result = sync(adapter, state)
    assert result.ok, result.error
    assert result.applied == len(plan.changes) - sum(c.op is Op.REORDER for c in plan.changes)
    assert result.details["moves"] == 0  # created in order: nothing to move
    names = [p["name"] for p in device.table("firewall/policy")]
    assert names == [o.name for o in adapter.render(state) if o.kind == "policy"]
    check_conformance(device, state, spread_probes(400))
    assert sync(adapter, state)[0].empty
    assert v4_hosts(state.groups["ns/blk"])  # the split group is present and resolves (conformance)


def test_first_error_stops_later_levels(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    adapter.concurrency = 8
    device.fault({"status": 400, "method": "POST", "path": "/api/v2/cmdb/firewall/address", "times": 1})
    mark = device.last_seq()
    _, result = sync(adapter, spread_state(60, 3))
    assert isinstance(result.error, PermanentDeviceError) and "HTTP 400" in str(result.error)
    made = writes(device, mark)
    assert {entry["path"].rsplit("/", 1)[-1] for entry in made} == {"address"}  # nothing else attempted
    created = sum(1 for a in device.table("firewall/address") if a["comment"].startswith("fusion-connector:"))
    total = sum(1 for o in adapter.render(spread_state(60, 3)) if o.kind == "address")
    assert created < len(made) < total  # later addresses were not started after the error
    assert (result.applied, result.writes) == (created, len(made))  # the partial apply is visible
    plan, result = sync(adapter, spread_state(60, 3))  # the next sync reads what was made and finishes
    assert result.ok and sum(c.kind == "address" for c in plan.changes) == total - created
    assert sync(adapter, spread_state(60, 3))[0].empty


def test_an_exhausted_retry_is_a_transient_error(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    device.fault({"status": 503, "method": "POST", "path": "/api/v2/cmdb/firewall/address", "times": 1000})
    try:
        _, result = sync(adapter, spread_state(6, 1))
    finally:
        device.fault({"clear": True})
    assert isinstance(result.error, TransientDeviceError) and result.error.status == 503
    assert result.applied == 0 and result.writes > 0


def test_an_unsafe_plan_is_refused_before_any_write(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    state = spread_state(30, 3)
    assert sync(adapter, state)[1].ok
    strict = SafetyThresholds(max_delete_percent=10, max_update_percent=10, min_existing=1)
    desired = adapter.render(DeviceState("fgt", "prod"))
    unsafe = adapter.plan(desired, adapter.read(), safety=strict)
    assert unsafe.unsafe is not None
    mark = device.last_seq()
    with pytest.raises(UnsafePlan, match="unsafe plan refused"):
        adapter.apply(unsafe, desired)
    assert writes(device, mark) == []
    forced = adapter.plan(desired, adapter.read(), safety=strict, force=True)
    assert adapter.apply(forced, desired).ok
    assert adapter.plan(desired, adapter.read(), safety=NO_SAFETY).empty
