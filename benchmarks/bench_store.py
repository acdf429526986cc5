"""Store benchmark: the source-group snapshot of a large cluster, and recording device syncs.

    python benchmarks/bench_store.py [--url URL ...] [--postgres]
                                     [--namespaces 1000] [--pods-per-namespace 100]
                                     [--objects 100000] [--runs 50] [--full-runs 7] [--skip-snapshot]

For each database (`--url sqlite:///PATH` or `postgresql+psycopg://USER@HOST/DB`, repeatable;
`--postgres` adds postgresql+psycopg://postgres@127.0.0.1:5432/test; without either, a temporary
SQLite file) it migrates, then prints:
- snapshot: seconds for the first write (every group and member inserted), a rewrite where one
  pod changed, a rewrite where nothing changed, and reading every group back;
- recording: one device owning `--objects` objects (address objects and the address groups that
  list them, 100 per group) and 200 compiled rules. Per run, one pod is added: an applied plan of
  2 changes (the pod's address created, its group updated). Seconds per recording transaction,
  median and p99 over the runs, for: the sync against the known state (ownership records of the
  plan's objects only, drift from their checksums, rules known recorded); the sync that read the
  device (every ownership record replaced, rules compared); the same with every owned checksum
  read for the drift check, as every sync was recorded before. Then the ratios, and what
  `Recorder.submit` costs the device worker.
Use an empty database: the benchmark's cluster is deleted from it afterwards.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from connector.adapter import ApplyResult  # noqa: E402
from connector.model import (  # noqa: E402
    Action,
    CompiledRule,
    DeviceState,
    Identity,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)
from connector.planner import Change, DeviceObject, Op, Plan  # noqa: E402
from connector.reconciler.device import DeviceOutcome  # noqa: E402
from connector.reconciler.record import record_outcome  # noqa: E402
from connector.reconciler.recorder import Recorder  # noqa: E402
from connector.store import SnapshotRepository, Store, create_engine, migrate, session_factory  # noqa: E402
from connector.store.models import ClusterRow  # noqa: E402

CLUSTER = "bench-store"
DEVICE = "fgt"
MARK = f"fusion-connector:{CLUSTER}"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PER_GROUP = 100  # objects per namespace: its address group and 99 addresses


# ---------------------------------------------------------------------- snapshot
def snapshot(namespaces: int, pods: int) -> list[SourceGroup]:
    groups = []
    for n in range(namespaces):
        members = tuple((f"10.{n // 256}.{n % 256}.{i % 250 + 1}" if i < 250 else f"fd00::{n:x}:{i:x}",
                         (Identity("Pod", f"ns-{n}", f"pod-{i}"),)) for i in range(pods))
        groups.append(SourceGroup(key=f"ns/ns-{n}", cluster=CLUSTER, namespace=f"ns-{n}", members=members))
    return groups


def timed(label: str, func: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = func()
    print(f"{label:<38} {time.perf_counter() - start:8.2f} s   {result}")
    return result


def bench_snapshot(sessions: sessionmaker[Session], namespaces: int, pods: int) -> None:
    groups = snapshot(namespaces, pods)
    print(f"snapshot: {len(groups)} groups, {sum(len(g.members) for g in groups)} members")

    def write() -> object:
        with sessions.begin() as session:
            return SnapshotRepository(session, CLUSTER).replace_groups(groups)

    def read() -> object:
        with sessions.begin() as session:
            found = SnapshotRepository(session, CLUSTER).groups()
        return f"{sum(len(g.members) for g in found.values())} members"

    timed("first write (all inserted)", write)
    first = groups[len(groups) // 2]
    changed = (*first.members[1:], ("10.255.255.1", (Identity("Pod", first.namespace, "new"),)))
    groups[len(groups) // 2] = SourceGroup(key=first.key, cluster=CLUSTER, namespace=first.namespace,
                                           members=changed)
    timed("rewrite, one pod replaced", write)
    timed("rewrite, nothing changed", write)
    timed("read every group", read)


# ---------------------------------------------------------------------- recording
def address(ns: int, pod: int) -> DeviceObject:
    return DeviceObject("address", f"fc_ns-{ns}_pod-{pod}",
                        {"subnet": f"10.{ns // 256}.{ns % 256}.{pod % 250 + 1} 255.255.255.255",
                         "type": "ipmask", "comment": f"Pod ns-{ns}/pod-{pod}"},
                        MARK, (f"Pod/ns-{ns}/pod-{pod}",))


def group(ns: int, members: list[str]) -> DeviceObject:
    return DeviceObject("addrgrp", f"fc_ns-{ns}", {"member": [{"name": m} for m in members],
                                                   "comment": f"Namespace ns-{ns}"},
                        MARK, (f"Namespace/ns-{ns}",))


def rules(count: int) -> tuple[CompiledRule, ...]:
    return tuple(CompiledRule(key=f"ns/ns-{i}/allow",
                              origin=RuleOrigin(RuleKind.NAMESPACE, f"ns-{i}", "allow", Tier.NAMESPACE, 500),
                              source=f"ns/ns-{i}", destination="dst/stripe", ports="ports/https",
                              action=Action.ALLOW, logging=False) for i in range(count))


class Device:
    """The objects the device holds of ours, and the next pod change."""

    def __init__(self, objects: int) -> None:
        self.namespaces = max(1, objects // PER_GROUP)
        self.members = {ns: [address(ns, p).name for p in range(PER_GROUP - 1)]
                        for ns in range(self.namespaces)}
        self.objects: list[DeviceObject] = []
        self.group_at: dict[int, int] = {}
        for ns in range(self.namespaces):
            self.objects.extend(address(ns, p) for p in range(PER_GROUP - 1))
            self.group_at[ns] = len(self.objects)
            self.objects.append(group(ns, self.members[ns]))
        self.added = 0

    def add_pod(self) -> Plan:
        """Add one pod to a namespace: the plan of that change (the objects now desired follow)."""
        ns = self.added * 7919 % self.namespaces
        created = address(ns, PER_GROUP + self.added)
        self.added += 1
        before = self.objects[self.group_at[ns]]
        self.members[ns].append(created.name)
        after = group(ns, self.members[ns])
        self.objects[self.group_at[ns]] = after
        self.objects.append(created)
        return Plan(DEVICE, CLUSTER, changes=(
            Change(Op.CREATE, created.kind, created.name, None, dict(created.body), created.identities),
            Change(Op.UPDATE, after.kind, after.name, dict(before.body), dict(after.body), after.identities)))


def synced(plan: Plan, desired: list[DeviceObject], *, read: bool) -> DeviceOutcome:
    return DeviceOutcome(DEVICE, plan=plan, result=ApplyResult(DEVICE, writes=2, applied=2), applied=True,
                         read=read, desired=desired)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def line(label: str, seconds: list[float]) -> float:
    median = statistics.median(seconds)
    print(f"  {label:<56} median {median * 1000:9.1f} ms   p99 {percentile(seconds, 0.99) * 1000:9.1f} ms"
          f"   ({len(seconds)} runs)")
    return median


def bench_recording(sessions: sessionmaker[Session], objects: int, runs: int, full_runs: int) -> None:
    device = Device(objects)
    state = DeviceState(DEVICE, CLUSTER, rules=rules(200))
    with sessions.begin() as session:
        store = Store(session, CLUSTER)
        store.devices.register(DEVICE, "fortios", "https://fgt.example")
    loaded = time.perf_counter()
    with sessions.begin() as session:
        first = synced(Plan(DEVICE, CLUSTER), device.objects, read=True)
        record_outcome(Store(session, CLUSTER), state, first, apply=True)
    print(f"recording: {len(device.objects)} owned objects on one device ({device.namespaces} address "
          f"groups), 200 rules; first record {time.perf_counter() - loaded:.2f} s")

    def one(read: bool, every_checksum: bool = False) -> float:
        plan = device.add_pod()
        outcome = synced(plan, list(device.objects), read=read)
        started = time.perf_counter()
        with sessions.begin() as session:
            store = Store(session, CLUSTER)
            if every_checksum:
                store.objects.checksums(DEVICE)
            record_outcome(store, state, outcome, apply=True, triggers=("Pod/ns/new",),
                           rules_recorded=not read)
        return time.perf_counter() - started

    print("one pod change (an applied plan of 2 changes), seconds per recording transaction:")
    incremental = line("known state: the plan's records only", [one(read=False) for _ in range(runs)])
    full = line("read sync: every record replaced, rules compared",
                [one(read=True) for _ in range(full_runs)])
    before = line("every sync before: the same, drift over every checksum",
                  [one(read=True, every_checksum=True) for _ in range(full_runs)])
    print(f"  ratio full replace / known state   {full / incremental:8.0f}x")
    print(f"  ratio as before / known state      {before / incremental:8.0f}x")

    recorder = Recorder(sessions, CLUSTER).start()
    submits = []
    try:
        for _ in range(runs):
            plan = device.add_pod()
            outcome = synced(plan, device.objects, read=False)
            started = time.perf_counter()
            recorder.submit(DEVICE, state, outcome, apply=True, triggers=("Pod/ns/new",))
            submits.append(time.perf_counter() - started)
            recorder.flush(60)
    finally:
        recorder.stop(60)
    print(f"  Recorder.submit on the device worker: median {statistics.median(submits) * 1e6:.0f} us, "
          f"p99 {percentile(submits, 0.99) * 1e6:.0f} us ({recorder.stats.recorded} recorded, "
          f"{recorder.stats.failed} failed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("--postgres", action="store_true", help=f"also run on {POSTGRES}")
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods-per-namespace", type=int, default=100)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--full-runs", type=int, default=7)
    parser.add_argument("--skip-snapshot", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = list(args.url) + ([POSTGRES] if args.postgres else [])
        for url in urls or [f"sqlite:///{Path(tmp) / 'bench.db'}"]:
            print(f"== {url.split('://')[0]}")
            timed("migrate", lambda url=url: migrate(url))  # type: ignore[misc]
            engine = create_engine(url)
            sessions = session_factory(engine)
            try:
                if not args.skip_snapshot:
                    bench_snapshot(sessions, args.namespaces, args.pods_per_namespace)
                bench_recording(sessions, args.objects, args.runs, args.full_runs)
            finally:
                with sessions.begin() as session:
                    session.execute(delete(ClusterRow).where(ClusterRow.name == CLUSTER))
                engine.dispose()


if __name__ == "__main__":
    main()
