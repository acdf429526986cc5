"""The base `Adapter.apply` around `_apply`: empty plans, the unsafe-plan guard, write counting and
the one error channel (`ApplyResult.error`)."""

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
    UnsafePlan,
)
from connector.model import DeviceState
from connector.planner import SafetyThresholds
from connector.planner.types import Change, DeviceObject, Op, Plan


class ScriptedAdapter(Adapter):
    """Applies changes one write each; `fail_at` (a change index) raises `failure` there."""

    type_name = "scripted"
    kind_order = ("group",)

    def __init__(self, fail_at: int | None = None, failure: Exception | None = None) -> None:
        super().__init__("dev", "c1")
        self.fail_at = fail_at
        self.failure = failure
        self.calls = 0
        self.count = 0

    @property
    def writes(self) -> int:
        return self.count

    def render(self, state: DeviceState) -> list[DeviceObject]:
        return []

    def read(self) -> list[DeviceObject]:
        return []

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        self.calls += 1
        for index, _ in enumerate(plan.changes):
            self.count += 1
            if index == self.fail_at and self.failure is not None:
                raise self.failure
            result.applied += 1


def make_plan(changes: int, *, unsafe: str | None = None, forced: bool = False) -> Plan:
    return Plan("dev", "c1", tuple(Change(Op.CREATE, "group", f"g{i}", None, {}) for i in range(changes)),
                unsafe=unsafe, forced=forced)


def test_an_empty_plan_does_nothing() -> None:
    adapter = ScriptedAdapter()
    result = adapter.apply(make_plan(0, unsafe="would delete everything"), [])
    assert result == ApplyResult("dev") and result.ok and adapter.calls == 0


def test_a_full_apply_counts_changes_and_writes() -> None:
    adapter = ScriptedAdapter()
    adapter.count = 7  # writes made before this apply are not counted in it
    result = adapter.apply(make_plan(3), [])
    assert result.ok and result.error is None and (result.applied, result.writes) == (3, 3)


def test_an_unsafe_plan_is_refused_before_any_write_unless_forced() -> None:
    adapter = ScriptedAdapter()
    with pytest.raises(UnsafePlan) as raised:
        adapter.apply(make_plan(2, unsafe="would delete 4 of 5 owned objects"), [])
    assert isinstance(raised.value, PermanentDeviceError) and adapter.calls == 0 and adapter.count == 0
    assert raised.value.reason == "would delete 4 of 5 owned objects"
    assert str(raised.value) == "dev: unsafe plan refused: would delete 4 of 5 owned objects"
    assert adapter.apply(make_plan(2, unsafe="would delete 4 of 5 owned objects", forced=True), []).ok


@pytest.mark.parametrize("error", [
    TransientDeviceError("dev", "timed out"),
    PermanentDeviceError("dev", "HTTP 422", status=422, object_kind="group", object_name="g1"),
    DeviceAuthError("dev", "HTTP 401"),
])
def test_a_device_error_is_kept_with_what_was_applied_before_it(error: DeviceError) -> None:
    result = ScriptedAdapter(fail_at=1, failure=error).apply(make_plan(3), [])
    assert result.error is error and not result.ok  # the very exception: its class says what it was
    assert (result.applied, result.writes) == (1, 2)


def test_any_other_exception_is_a_bug_and_propagates() -> None:
    with pytest.raises(RuntimeError, match="bug"):
        ScriptedAdapter(fail_at=0, failure=RuntimeError("bug")).apply(make_plan(1), [])


def test_an_adapter_without_apply_or_write_counter_cannot_be_made() -> None:
    class Incomplete(Adapter):
        type_name = "incomplete"
        kind_order = ("group",)

        def render(self, state: DeviceState) -> list[DeviceObject]:
            return []

        def read(self) -> list[DeviceObject]:
            return []

    with pytest.raises(TypeError, match="_apply") as raised:
        Incomplete("dev", "c1")  # type: ignore[abstract]
    assert "writes" in str(raised.value)


# --- withheld deletions -----------------------------------------------------------------------------
class EmptyingAdapter(ScriptedAdapter):
    """Groups hold `members` and name included `groups`; an emptied group holds `none`."""

    kind_order = ("group", "rule")
    emptied_fields = {"group": {"members": ["none"], "groups": None}}

    def references(self, obj: DeviceObject) -> list[tuple[str, str]]:
        return [("group", name) for name in obj.body.get("groups", ())]


def deletes(*names: str, **bodies: dict[str, object]) -> Plan:
    default = {"members": ["10.0.0.1"]}
    changes = tuple(Change(Op.DELETE, "group", n, bodies.get(n, default), None) for n in names)
    return Plan("dev", "c1", changes, existing=len(names) + 1, unsafe="would delete most")


STRICT = SafetyThresholds(max_delete_percent=10, max_update_percent=100, min_existing=0)


def test_a_plan_whose_unsafe_deletions_were_withheld_is_applied() -> None:
    adapter = EmptyingAdapter()
    split = adapter.withhold(deletes("a", "b"), (), STRICT)
    assert split.unsafe and split.withheld and split.applicable
    assert [(c.op, c.after) for c in split.changes] == [(Op.UPDATE, {"members": ["none"]})] * 2
    assert adapter.apply(split, []).ok and adapter.count == 2


def test_emptied_replaces_and_removes_fields_of_the_kinds_listed_only() -> None:
    adapter = EmptyingAdapter()
    body = {"members": ["10.0.0.1"], "groups": ["x"], "description": "d"}
    assert adapter.emptied("group", body) == {"members": ["none"], "description": "d"}
    assert adapter.emptied("rule", body) is body


def test_a_family_that_cannot_empty_objects_keeps_an_unsafe_plan_whole() -> None:
    plan = ScriptedAdapter().withhold(deletes("a", "b"), (), STRICT)
    assert plan.unsafe and not plan.withheld and not plan.applicable
    with pytest.raises(UnsafePlan):
        ScriptedAdapter().apply(plan, [])


def test_references_decide_what_else_is_withheld() -> None:
    bodies = {"a": {"members": ["10.0.0.1"], "groups": ["b"]}}
    # `a` is withheld; once emptied it names no group, so the confirmed deletion of `b` goes out
    plan = EmptyingAdapter().withhold(deletes("a", "b", **bodies), {("group", "b")}, STRICT)
    assert [c.name for c in plan.withheld] == ["a"] and ("group", "b") in {(c.kind, c.name)
                                                                          for c in plan.changes}

    class Blind(EmptyingAdapter):
        references = Adapter.references  # type: ignore[assignment]

    # a family that does not say what its objects reference withholds every deletion
    blind = Blind().withhold(deletes("a", "b", **bodies), {("group", "b")}, STRICT)
    assert [c.name for c in blind.withheld] == ["a", "b"] and all(c.op is Op.UPDATE for c in blind.changes)
