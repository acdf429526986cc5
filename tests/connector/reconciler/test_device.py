"""One device's reconcile step: plan, refuse when unsafe or conflicting, apply, report errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from connector.adapter import (
    Adapter,
    ApplyResult,
    DeviceAuthError,
    DeviceError,
    PermanentDeviceError,
    TransientDeviceError,
)
from connector.model import DeviceState, Identity, SourceGroup
from connector.planner import DeviceObject, Plan, SafetyThresholds
from connector.reconciler.device import ErrorClass, sync_device

MARK = "fusion-connector:c1"


class MemoryAdapter(Adapter):
    """Objects are one per group name; `held` is what the device holds."""

    type_name = "memory"
    kind_order = ("group",)

    def __init__(self, held: list[DeviceObject], fail_read: Exception | None = None) -> None:
        super().__init__("dev", "c1")
        self.held = held
        self.fail_read = fail_read
        self.applied: list[Plan] = []
        self.write_count = 0

    def render(self, state: DeviceState) -> list[DeviceObject]:
        return [DeviceObject("group", key, {"members": list(g.addresses)}, MARK)
                for key, g in state.groups.items()]

    def read(self) -> list[DeviceObject]:
        if self.fail_read is not None:
            raise self.fail_read
        return list(self.held)

    @property
    def writes(self) -> int:
        return self.write_count

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        self.applied.append(plan)
        self.held = [o for o in self.held if o.owner != MARK] + list(desired)
        self.write_count += len(plan.changes)
        result.applied += len(plan.changes)


def state(*keys: str) -> DeviceState:
    groups = {k: SourceGroup(k, "c1", "ns", (("10.0.0.1", (Identity("Pod", "ns", "p"),)),)) for k in keys}
    return DeviceState("dev", "c1", groups=groups)


def owned(name: str) -> DeviceObject:
    return DeviceObject("group", name, {"members": ["10.0.0.1"]}, MARK)


SAFETY = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=3)


def test_plan_only_never_applies() -> None:
    adapter = MemoryAdapter([])
    outcome = sync_device(adapter, state("a"), SAFETY, apply=False)
    assert outcome.plan is not None and outcome.plan.counts()["create"] == 1
    assert not adapter.applied and outcome.ok and not outcome.applied


def test_apply_then_nothing_to_do() -> None:
    adapter = MemoryAdapter([])
    first = sync_device(adapter, state("a", "b"), SAFETY, apply=True)
    assert first.applied and first.result is not None and first.result.writes == 2
    second = sync_device(adapter, state("a", "b"), SAFETY, apply=True)
    assert second.plan is not None and second.plan.empty and not second.applied


def test_unsafe_plan_is_refused_unless_forced() -> None:
    adapter = MemoryAdapter([owned(n) for n in "abcd"])
    refused = sync_device(adapter, state("a"), SAFETY, apply=True)
    assert refused.refused and not adapter.applied and not refused.ok
    forced = sync_device(adapter, state("a"), SAFETY, apply=True, force=True)
    assert forced.applied and [o.name for o in adapter.held] == ["a"]


def test_a_name_held_by_a_foreign_object_blocks_every_write() -> None:
    foreign = DeviceObject("group", "b", {"members": ["192.0.2.1"]}, "someone-else")
    adapter = MemoryAdapter([foreign])
    outcome = sync_device(adapter, state("a", "b"), SAFETY, apply=True)
    assert outcome.error_class == "conflict" and "group 'b' (owner someone-else)" in (outcome.error or "")
    assert not adapter.applied and adapter.held == [foreign]


def test_withheld_write_when_no_longer_allowed() -> None:
    adapter = MemoryAdapter([])
    outcome = sync_device(adapter, state("a"), SAFETY, apply=True, may_write=lambda: False)
    assert outcome.extra.get("withheld") and not adapter.applied


@pytest.mark.parametrize(("error", "error_class"), [
    (TransientDeviceError("dev", "HTTP 503", status=503), "transient"),
    (PermanentDeviceError("dev", "bad", status=400, object_kind="group", object_name="a"), "permanent"),
])
def test_device_errors_become_outcomes(error: Exception, error_class: str) -> None:
    outcome = sync_device(MemoryAdapter([], fail_read=error), state("a"), SAFETY, apply=True)
    assert outcome.error_class == error_class and outcome.plan is None and "dev" in (outcome.error or "")


class FailingAdapter(MemoryAdapter):
    """Writes the first change, then fails with `error`."""

    def __init__(self, error: DeviceError) -> None:
        super().__init__([])
        self.error = error

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        self.write_count += 1
        result.applied += 1
        raise self.error


@pytest.mark.parametrize(("error", "error_class"), [
    (TransientDeviceError("dev", "timed out"), ErrorClass.TRANSIENT),
    (DeviceAuthError("dev", "HTTP 401", status=401), ErrorClass.AUTH),
    (PermanentDeviceError("dev", "bad", status=422, object_kind="group", object_name="b"),
     ErrorClass.PERMANENT),
])
def test_apply_errors_are_applied_outcomes_classed_by_exception(error: DeviceError,
                                                                error_class: ErrorClass) -> None:
    outcome = sync_device(FailingAdapter(error), state("a", "b"), SAFETY, apply=True)
    assert outcome.applied and not outcome.ok and outcome.error == str(error)
    assert outcome.error_class is error_class and outcome.to_json()["errorClass"] == error_class.value
    assert outcome.result is not None and outcome.result.error is error
    assert (outcome.result.applied, outcome.result.writes) == (1, 1)  # partial, and visible as such
