"""Syncs against what a device is known to hold: no read after a good sync, a read whenever asked
or after anything that may leave the device other than planned."""

from __future__ import annotations

from collections.abc import Sequence

from connector.adapter import ApplyResult, PermanentDeviceError, TransientDeviceError
from connector.planner import DeviceObject, Plan, SafetyThresholds
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState, held_after
from tests.connector.reconciler.test_device import MARK, MemoryAdapter, owned, state

SAFETY = SafetyThresholds(max_delete_percent=50, max_update_percent=100, min_existing=3)
FOREIGN = DeviceObject("group", "theirs", {"members": ["192.0.2.1"]}, "someone-else")


class CountingAdapter(MemoryAdapter):
    """Counts reads; records what it was told the device holds; can fail its next apply."""

    def __init__(self, held: list[DeviceObject]) -> None:
        super().__init__(held)
        self.reads = 0
        self.observed: list[list[DeviceObject]] = []
        self.fail_apply: Exception | None = None
        self.partial = False

    def read(self) -> list[DeviceObject]:
        self.reads += 1
        return super().read()

    def observe(self, objects: Sequence[DeviceObject]) -> None:
        self.observed.append(list(objects))

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        if self.fail_apply is not None:
            error, self.fail_apply = self.fail_apply, None
            raise error
        super()._apply(plan, desired, result)
        if self.partial:
            self.partial = False
            raise PermanentDeviceError("dev", "refused", object_kind="group", object_name="b")


def sync(adapter: CountingAdapter, known: KnownState, *keys: str, read: bool = False, apply: bool = True,
         **options: object) -> bool:
    """One sync; whether it read the device."""
    before = adapter.reads
    outcome = sync_device(adapter, state(*keys), SAFETY, apply=apply, known=known, read=read,
                          **options)  # type: ignore[arg-type]
    assert outcome.read == (adapter.reads > before)
    return adapter.reads > before


def test_a_sync_after_a_successful_apply_plans_against_the_known_state_without_reading() -> None:
    adapter, known = CountingAdapter([FOREIGN]), KnownState()
    assert sync(adapter, known, "a")  # nothing known yet: the first sync reads
    assert not sync(adapter, known, "a", "b")
    assert adapter.reads == 1 and [o.name for o in adapter.held] == ["theirs", "a", "b"]
    assert {o.name for o in adapter.observed[-1]} == {"a", "theirs"}
    outcome = sync_device(adapter, state("a", "b"), SAFETY, apply=True, known=known, read=False)
    assert not outcome.read and outcome.plan is not None and outcome.plan.empty and not outcome.applied


def test_a_sync_asked_to_read_reads_even_when_the_state_is_known() -> None:
    adapter, known = CountingAdapter([]), KnownState()
    sync(adapter, known, "a")
    assert sync(adapter, known, "a", read=True)
    assert known.known  # an empty plan after a read leaves the device known


def test_drift_made_by_hand_is_repaired_by_the_next_reading_sync() -> None:
    adapter, known = CountingAdapter([]), KnownState()
    sync(adapter, known, "a", "b")
    adapter.held = [o for o in adapter.held if o.name != "b"]  # deleted by hand at the firewall
    outcome = sync_device(adapter, state("a", "b"), SAFETY, apply=True, known=known, read=False)
    assert outcome.plan is not None and outcome.plan.empty  # an event-driven sync cannot see it
    outcome = sync_device(adapter, state("a", "b"), SAFETY, apply=True, known=known, read=True)
    assert outcome.read and outcome.plan is not None and outcome.plan.counts()["create"] == 1
    assert sorted(o.name for o in adapter.held) == ["a", "b"]


def test_an_error_forgets_the_known_state() -> None:
    adapter, known = CountingAdapter([]), KnownState()
    sync(adapter, known, "a")
    adapter.fail_apply = TransientDeviceError("dev", "HTTP 503", status=503)
    assert not sync(adapter, known, "a", "b")
    assert not known.known
    assert sync(adapter, known, "a", "b")
    assert not sync(adapter, known, "a")


def test_a_partial_apply_forgets_the_known_state() -> None:
    adapter, known = CountingAdapter([]), KnownState()
    sync(adapter, known, "a")
    adapter.partial = True
    sync(adapter, known, "a", "b")
    assert not known.known and sync(adapter, known, "a", "b")


def test_a_refused_or_withheld_or_unapplied_plan_forgets_the_known_state() -> None:
    adapter, known = CountingAdapter([owned(n) for n in "abcd"]), KnownState()
    assert sync(adapter, known, "a", "b", "c", "d")
    # deletes 3 of 4 that no reported change explains: refused (this family cannot empty objects)
    assert not sync(adapter, known, "a", vanished=1)
    assert not known.known and not adapter.applied
    assert sync(adapter, known, "a", "b", "c", "d")
    assert not sync(adapter, known, "a", "b", "c", "d", "e", may_write=lambda: False)
    assert not known.known
    assert sync(adapter, known, "a", "b", "c", "d")
    assert not sync(adapter, known, "a", "b", "c", "d", "e", apply=False)  # plan mode writes nothing
    assert not known.known


def test_an_unexpected_failure_forgets_the_known_state() -> None:
    adapter, known = CountingAdapter([]), KnownState()
    sync(adapter, known, "a")
    adapter.fail_apply = RuntimeError("bug")
    try:
        sync_device(adapter, state("a", "b"), SAFETY, apply=True, known=known, read=False)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the error should propagate")
    assert not known.known


def test_forgetting_during_a_sync_wins_over_what_the_sync_remembers() -> None:
    known = KnownState()
    objects, token = known.take()
    assert objects is None
    known.forget()  # a change of leadership while the sync ran
    known.remember([owned("a")], token)
    assert not known.known


def test_held_after_keeps_foreign_and_kept_objects_and_drops_identities() -> None:
    desired = [DeviceObject("group", "a", {"members": ["10.0.0.2"]}, MARK, ("Pod/ns/p",))]
    actual = [FOREIGN, owned("a"), owned("gone"), owned("kept")]
    held = held_after(desired, actual, MARK, kept={("group", "kept")})
    assert [(o.name, o.identities) for o in held] == [("a", ()), ("theirs", ()), ("kept", ())]
    assert held[0].body == {"members": ["10.0.0.2"]}
