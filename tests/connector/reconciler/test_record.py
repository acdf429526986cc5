"""Recording one sync: what the store reads and writes depends on the sync (a read repairs every
ownership record; a sync against the known state records its plan's changes only), and drift is
found from the checksums of the plan's objects alone."""

from __future__ import annotations

from collections.abc import Sequence

from connector.adapter import ApplyResult, TransientDeviceError
from connector.model import DeviceState
from connector.planner import DeviceObject, plan
from connector.reconciler.device import DeviceOutcome, ErrorClass, sync_device
from connector.reconciler.record import plan_refs, record_outcome
from connector.store import FindingType, PlanResult, Store, observations_from_plan
from tests.connector.reconciler.test_device import SAFETY, FailingAdapter
from tests.connector.reconciler.test_device import state as group_state
from tests.connector.store import conftest as store_fixtures
from tests.connector.store.conftest import Db
from tests.connector.store.sqllog import statements, touching
from tests.connector.store.test_rules import RULES

# the store's fixtures: every test runs on SQLite and on PostgreSQL
db, postgres_databases, postgres_url = (store_fixtures.db, store_fixtures.postgres_databases,
                                        store_fixtures.postgres_url)

MARK = "fusion-connector:c"
KINDS = ("address", "policy")


def address(name: str, subnet: str, owner: str | None = MARK) -> DeviceObject:
    return DeviceObject("address", name, {"subnet": subnet}, owner, (f"Pod/ns/{name}",))


HELD = [address(f"a{i}", f"10.0.0.{i}/32") for i in range(30)]


def state(db: Db) -> DeviceState:
    return DeviceState("dev", db.cluster, rules=RULES)


def outcome(db: Db, desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], *,
            read: bool, device: str = "dev") -> DeviceOutcome:
    """A sync of `device` whose plan from `actual` to `desired` was fully applied."""
    the_plan = plan(device, db.cluster, desired, actual, owner_mark=MARK, kind_order=KINDS)
    changes = len(the_plan.changes)
    return DeviceOutcome(device, plan=the_plan, result=ApplyResult(device, writes=changes, applied=changes),
                         applied=not the_plan.empty, read=read, desired=list(desired))


def setup(db: Db, held: Sequence[DeviceObject] = HELD) -> None:
    """`dev` registered, its rules and `held` recorded as our objects."""
    with db.sessions.begin() as session:
        store = Store(session, db.cluster)
        store.devices.register("dev", "fortios", "https://fgt")
        record_outcome(store, state(db), outcome(db, held, [], read=True), apply=True)


Record = tuple[str, str, str, str | None, tuple[str, ...]]


def owned(db: Db) -> list[Record]:
    with db.sessions.begin() as session:
        return [(o.kind, o.name, o.checksum, o.owner, o.identities)
                for o in Store(session, db.cluster).objects.objects("dev")]


def replaced(db: Db, desired: Sequence[DeviceObject]) -> list[Record]:
    """The records a full replace with `desired` leaves (on a device of its own)."""
    with db.sessions.begin() as session:
        Store(session, db.cluster).objects.replace("reference", desired)
        return [("address", o.name, o.checksum, o.owner, o.identities)
                for o in Store(session, db.cluster).objects.objects("reference")]


def test_a_sync_against_the_known_state_reads_and_writes_only_its_plans_objects(db: Db) -> None:
    setup(db)
    desired = [*HELD[:5], address("a5", "10.0.5.5/32"), *HELD[6:], address("new", "10.0.9.9/32")][1:]
    synced = outcome(db, desired, HELD, read=False)
    assert synced.plan is not None and synced.plan.counts() == {"create": 1, "update": 1, "delete": 1,
                                                                 "reorder": 0}
    with db.sessions.begin() as session, statements(db.engine) as seen:
        replaced_all = record_outcome(Store(session, db.cluster), state(db), synced, apply=True,
                                      triggers=("Pod/ns/new",), rules_recorded=True)
    assert replaced_all is False
    objects = touching(seen, "device_objects")
    assert objects and all("device_objects.name IN" in s for s in touching(seen, "device_objects", "SELECT"))
    assert not touching(seen, "compiled_rules")
    assert owned(db) == replaced(db, desired)
    with db.sessions.begin() as session:
        store = Store(session, db.cluster)
        (entry,) = [e for e in store.audit.window(device="dev") if e.triggers]
        assert entry.triggers == ("Pod/ns/new",) and entry.counts["create"] == 1
        assert store.drift.findings(device="dev") == []  # every change is explained by the cluster
        status = store.devices.status("dev")
        assert status is not None and status.in_sync is True


def test_an_empty_plan_against_the_known_state_writes_no_ownership_record(db: Db) -> None:
    setup(db)
    with db.sessions.begin() as session, statements(db.engine) as seen:
        record_outcome(Store(session, db.cluster), state(db), outcome(db, HELD, HELD, read=False),
                       apply=True, rules_recorded=True)
    assert not touching(seen, "device_objects")
    assert not touching(seen, "applied_plans", "INSERT")


def test_drift_behind_our_back_is_found_from_the_plans_checksums(db: Db) -> None:
    setup(db)
    tampered = address("a3", "192.0.2.1/32")  # edited on the device
    actual = [o for o in HELD if o.name not in ("a3", "a4")] + [tampered]  # a4 deleted on the device
    desired = [*HELD, address("new", "10.0.9.9/32")]  # the cluster added one
    synced = outcome(db, desired, actual, read=True)
    assert synced.plan is not None
    with db.sessions.begin() as session:
        store = Store(session, db.cluster)
        every = observations_from_plan(synced.plan, store.objects.checksums("dev"))
        some = observations_from_plan(synced.plan, store.objects.checksums("dev", plan_refs(synced.plan)))
        assert some == every
    with db.sessions.begin() as session:
        assert record_outcome(Store(session, db.cluster), state(db), synced, apply=True) is True
    with db.sessions.begin() as session:
        findings = Store(session, db.cluster).drift.findings(device="dev")
    assert sorted((f.name, f.finding) for f in findings) == [
        ("a3", FindingType.DIFFERENT), ("a4", FindingType.MISSING)]
    assert all(not f.open for f in findings)  # repaired by the same sync
    assert owned(db) == replaced(db, desired)


def test_a_read_or_a_repair_replaces_every_record(db: Db) -> None:
    setup(db, HELD[:10])  # the records missed changes: the device holds HELD
    desired = [*HELD, address("new", "10.0.9.9/32")]
    with db.sessions.begin() as session:
        store = Store(session, db.cluster)
        assert record_outcome(store, state(db), outcome(db, desired, HELD, read=False), apply=True,
                              repair=True) is True
    assert owned(db) == replaced(db, desired)
    more = [*desired, address("more", "10.0.9.10/32")]
    with db.sessions.begin() as session:
        record_outcome(Store(session, db.cluster), state(db), outcome(db, more, desired, read=False),
                       apply=True)
    assert owned(db) == replaced(db, more)


def test_unchanged_rules_are_compared_unless_the_caller_knows_them_recorded(db: Db) -> None:
    setup(db)
    with db.sessions.begin() as session, statements(db.engine) as seen:
        record_outcome(Store(session, db.cluster), state(db), outcome(db, HELD, HELD, read=False),
                       apply=True)
    assert touching(seen, "compiled_rules", "SELECT") and not touching(
        seen, "compiled_rules", "INSERT", "UPDATE", "DELETE")
    changed = DeviceState("dev", db.cluster, rules=RULES[:2])
    with db.sessions.begin() as session:
        record_outcome(Store(session, db.cluster), changed, outcome(db, HELD, HELD, read=False), apply=True)
    with db.sessions.begin() as session:
        assert Store(session, db.cluster).rules.rules("dev") == RULES[:2]


def test_an_apply_that_failed_half_way_is_audited_as_partial(db: Db) -> None:
    adapter = FailingAdapter(TransientDeviceError("dev", "timed out"))
    adapter.cluster = db.cluster
    synced = sync_device(adapter, DeviceState("dev", db.cluster, groups=group_state("a", "b").groups),
                         SAFETY, apply=True)
    assert synced.applied and synced.error_class is ErrorClass.TRANSIENT
    with db.sessions.begin() as session:
        store = Store(session, db.cluster)
        store.devices.register("dev", "memory", "https://dev")
        record_outcome(store, state(db), synced, apply=True)
        entries = store.audit.window(device="dev")
    assert [(e.result, e.error) for e in entries] == [(PlanResult.PARTIAL, "dev: timed out")]
