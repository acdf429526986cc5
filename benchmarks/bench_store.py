"""Store benchmark: write, diff and read the source-group snapshot of a large cluster.

    python benchmarks/bench_store.py [--url sqlite:///PATH | postgresql+psycopg://USER@HOST/DB]
                                     [--namespaces 1000] [--pods-per-namespace 100]

Migrates the database, then prints seconds for: the first snapshot write (every group and member
inserted), a rewrite where one pod changed (the checksum diff plus a couple of member rows), a
rewrite where nothing changed, and reading every group back. Without --url it uses a temporary
SQLite file. Use an empty database: the benchmark's cluster is deleted from it afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete  # noqa: E402

from connector.model import Identity, SourceGroup  # noqa: E402
from connector.store import SnapshotRepository, create_engine, migrate, session_factory  # noqa: E402
from connector.store.models import ClusterRow  # noqa: E402

CLUSTER = "bench-store"


def snapshot(namespaces: int, pods: int) -> list[SourceGroup]:
    groups = []
    for n in range(namespaces):
        members = tuple((f"10.{n // 256}.{n % 256}.{i % 250 + 1}" if i < 250 else f"fd00::{n:x}:{i:x}",
                         (Identity("Pod", f"ns-{n}", f"pod-{i}"),)) for i in range(pods))
        groups.append(SourceGroup(key=f"ns/ns-{n}", cluster=CLUSTER, namespace=f"ns-{n}", members=members))
    return groups


def timed(label: str, func: object) -> object:
    start = time.perf_counter()
    result = func()  # type: ignore[operator]
    print(f"{label:<38} {time.perf_counter() - start:8.2f} s   {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods-per-namespace", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        timed("migrate", lambda: migrate(url))
        engine = create_engine(url)
        sessions = session_factory(engine)
        groups = snapshot(args.namespaces, args.pods_per_namespace)
        total = sum(len(g.members) for g in groups)
        print(f"{len(groups)} groups, {total} members, {url.split('://')[0]}")

        def write() -> object:
            with sessions.begin() as session:
                return SnapshotRepository(session, CLUSTER).replace_groups(groups)

        def read() -> object:
            with sessions.begin() as session:
                found = SnapshotRepository(session, CLUSTER).groups()
            return f"{sum(len(g.members) for g in found.values())} members"

        try:
            timed("first write (all inserted)", write)
            first = groups[len(groups) // 2]
            changed = (*first.members[1:], ("10.255.255.1", (Identity("Pod", first.namespace, "new"),)))
            groups[len(groups) // 2] = SourceGroup(key=first.key, cluster=CLUSTER, namespace=first.namespace,
                                                   members=changed)
            timed("rewrite, one pod replaced", write)
            timed("rewrite, nothing changed", write)
            timed("read every group", read)
        finally:
            with sessions.begin() as session:
                session.execute(delete(ClusterRow).where(ClusterRow.name == CLUSTER))
            engine.dispose()


if __name__ == "__main__":
    main()
