"""Event-driven syncs against the known state plan what a full read + diff would plan."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base.memo import RenderMemo
from connector.adapter import Adapter, ApplyResult
from connector.model import DeviceState, Identity, SourceGroup
from connector.planner import DeviceObject, Plan, SafetyThresholds
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState

MARK = "fusion-connector:c1"
SAFETY = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=0)


def _group(group: SourceGroup) -> DeviceObject:
    return DeviceObject("group", group.key, {"members": list(group.addresses)}, MARK,
                        tuple(str(i) for _, ids in group.members for i in ids))


class MemoAdapter(Adapter):
    """Renders one object per group, reusing the object of an unchanged group (as real adapters
    do); `held` is what the device holds, foreign objects included."""

    type_name = "memory"
    kind_order = ("group",)

    def __init__(self, held: list[DeviceObject]) -> None:
        super().__init__("dev", "c1")
        self.held = held
        self.memo = RenderMemo()
        self.plans: list[Plan] = []
        self.full_plans = 0
        self.write_count = 0

    def plan(self, desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], *,
             safety: SafetyThresholds | None = None, force: bool = False) -> Plan:
        self.full_plans += 1
        return super().plan(desired, actual, safety=safety, force=force)

    def render(self, state: DeviceState) -> list[DeviceObject]:
        out = [self.memo.get(key, _group, state.groups[key]) for key in sorted(state.groups)]
        self.memo.done()
        return out

    def read(self) -> list[DeviceObject]:
        return [DeviceObject(o.kind, o.name, o.body, o.owner) for o in self.held]

    @property
    def writes(self) -> int:
        return self.write_count

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        self.plans.append(plan)
        self.held = [o for o in self.held if o.owner != MARK] + list(desired)
        self.write_count += len(plan.changes)
        result.applied += len(plan.changes)


GROUPS = ("a", "b", "c", "d")
ADDRESSES = ("10.0.0.1", "10.0.0.2", "10.0.0.3")


@st.composite
def states(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    keys = draw(st.lists(st.sampled_from(GROUPS), unique=True))
    return {k: tuple(sorted(draw(st.lists(st.sampled_from(ADDRESSES), unique=True, min_size=1))))
            for k in keys}


def _state(groups: dict[str, tuple[str, ...]], cache: dict[tuple[str, tuple[str, ...]], SourceGroup]
           ) -> DeviceState:
    """Equal groups are the very same objects across states, as the compiler keeps them."""
    made = {}
    for key, addresses in groups.items():
        group = cache.setdefault((key, addresses), SourceGroup(
            key, "c1", "ns", tuple((a, (Identity("Pod", "ns", a),)) for a in addresses)))
        made[key] = group
    return DeviceState("dev", "c1", groups=made)


@settings(max_examples=150, deadline=None)
@given(st.lists(states(), min_size=1, max_size=6))
def test_syncs_against_the_known_state_plan_like_a_read(sequence: list[dict[str, tuple[str, ...]]]) -> None:
    foreign = DeviceObject("group", "z", {"members": ["192.0.2.1"]}, "someone-else")
    adapter = MemoAdapter([foreign])
    known = KnownState()
    cache: dict[tuple[str, tuple[str, ...]], SourceGroup] = {}
    for position, groups in enumerate(sequence):
        desired_state = _state(groups, cache)
        fresh = MemoAdapter(list(adapter.held))
        expected = fresh.plan(fresh.render(desired_state), fresh.read(), safety=SAFETY)
        outcome = sync_device(adapter, desired_state, SAFETY, apply=True, known=known, read=position == 0)
        assert outcome.ok and outcome.read == (position == 0)
        assert outcome.plan is not None and outcome.plan.to_json() == expected.to_json()
        assert sorted(o.name for o in adapter.held if o.owner == MARK) == sorted(groups)
        assert known.known
    assert adapter.full_plans == 1  # the first sync read and planned in full; the others by difference
