"""Flow attribution benchmark: the address timeline's lookup, the Attributor, and flow record
aggregation, at the scale of a large cluster's history.

    python benchmarks/bench_timeline.py [--url URL ...] [--postgres]
                                        [--addresses 20000] [--reuses 5] [--batch 5000] [--runs 10]

For each database (`--url`, repeatable, else a temporary SQLite file; `--postgres` adds
postgresql+psycopg://postgres@127.0.0.1:5432/test) it
migrates, fills the timeline with `--addresses` addresses each held by `--reuses` pods in turn
(addresses x reuses intervals), records a device-rule map of 200 rules, then prints:
- the seconds to write the timeline, one reconciliation (every address changing holder) per turn;
- one `AddressTimeline.at` lookup (median over 1,000 random addresses and moments);
- `Attributor.attribute` of `--batch` lines from random addresses (median and p99 over `--runs`);
- `FlowRecordRepository.add` of `--batch` identical lines (one row) and of `--batch` distinct ones,
  and the row count after 10 batches of identical lines (aggregation keeps it at one).
Use an empty database: the benchmark's cluster is deleted from it afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402

from connector.flows.attribute import Attributor  # noqa: E402
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule  # noqa: E402
from connector.flows.timeline_feed import reconcile  # noqa: E402
from connector.store import (  # noqa: E402
    AddressTimeline,
    DeviceRuleMap,
    FlowRecordRepository,
    create_engine,
    migrate,
    session_factory,
)
from connector.store.models import ClusterRow, FlowRecordRow  # noqa: E402

CLUSTER = "bench-timeline"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
HELD = 600  # seconds each pod holds its address
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def address(i: int) -> str:
    return f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"


def line(rng: random.Random, addresses: int, reuses: int, rule: str = "fc-rule-7") -> FlowLine:
    moment = T0 + timedelta(seconds=rng.uniform(0, HELD * reuses))
    return FlowLine(time=moment, device="fw1", action="Allow", src=address(rng.randrange(addresses)),
                    dst="203.0.113.10", protocol="TCP", src_port=rng.randrange(1024, 65535),
                    dst_port=443, device_rule=rule)


def run(url: str, addresses: int, reuses: int, batch: int, runs: int) -> None:
    migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(1)
    try:
        started = time.perf_counter()
        with sessions.begin() as session:
            timeline = AddressTimeline(session, CLUSTER)
            for turn in range(reuses):  # each turn, every address changes holder (a re-list)
                reconcile(timeline, {address(i): FlowIdentity(
                    cluster=CLUSTER, namespace=f"ns{i % 50}", pod=f"p{i}-{turn}", pod_uid=f"u{i}-{turn}",
                    services=("web",), node="node1") for i in range(addresses)},
                    T0 + timedelta(seconds=turn * HELD))
            rules = {f"fc-rule-{k}": FlowRule("ServiceEgressRule", "ns1", f"rule-{k}", "Namespace")
                     for k in range(200)}
            DeviceRuleMap(session, CLUSTER).record("fw1", rules, T0)
        elapsed = time.perf_counter() - started
        intervals = addresses * reuses
        print(f"  timeline written: {intervals} intervals in {elapsed:.1f}s ({intervals / elapsed:,.0f}/s)")

        with sessions() as session:
            timeline = AddressTimeline(session, CLUSTER)
            samples = []
            for _ in range(1000):
                flow = line(rng, addresses, reuses)
                started = time.perf_counter()
                timeline.at(flow.src, flow.time, 2.0)
                samples.append(time.perf_counter() - started)
        print(f"  one lookup: median {statistics.median(samples) * 1e3:.2f} ms")

        attributor = Attributor(sessions, CLUSTER, clock_skew_seconds=2.0)
        samples = []
        for _ in range(runs):
            lines = [line(rng, addresses, reuses) for _ in range(batch)]
            started = time.perf_counter()
            records = attributor.attribute(lines)
            samples.append(time.perf_counter() - started)
        attributed = sum(1 for record in records if record.identity is not None)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        rate = batch / statistics.median(samples)
        print(f"  attribute {batch} lines: median {statistics.median(samples):.3f}s, p99 {p99:.3f}s "
              f"({rate:,.0f} lines/s; {attributed} of the last batch attributed)")

        identical = [FlowRecord(line=FlowLine(time=T0, device="fw1", action="Deny", src=address(1),
                                              dst="203.0.113.10", protocol="TCP", src_port=40000 + k,
                                              dst_port=443), identity=None, rule=None)
                     for k in range(batch)]
        distinct = [FlowRecord(line=line(rng, addresses, reuses), identity=None, rule=None)
                    for _ in range(batch)]
        for name, records_ in (("identical", identical), ("distinct", distinct)):
            started = time.perf_counter()
            with sessions.begin() as session:
                FlowRecordRepository(session, CLUSTER).add(records_)
            print(f"  add {batch} {name} records: {time.perf_counter() - started:.3f}s")
        for _ in range(9):
            with sessions.begin() as session:
                FlowRecordRepository(session, CLUSTER).add(identical)
        with sessions() as session:
            rows = session.scalar(select(func.count()).select_from(FlowRecordRow).where(
                FlowRecordRow.cluster == CLUSTER, FlowRecordRow.action == "Deny"))
        print(f"  rows after 10 batches of {batch} identical lines: {rows}")
    finally:
        with sessions.begin() as session:
            session.execute(delete(ClusterRow).where(ClusterRow.name == CLUSTER))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--addresses", type=int, default=20000)
    parser.add_argument("--reuses", type=int, default=5)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        urls = list(args.url) or [f"sqlite:///{Path(directory) / 'bench.db'}"]
        urls += [POSTGRES] if args.postgres else []
        for url in urls:
            print(url.split("@")[-1])
            run(url, args.addresses, args.reuses, args.batch, args.runs)


if __name__ == "__main__":
    main()
