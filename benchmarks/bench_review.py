"""Review benchmark: `review --snapshot` of a 1,000-namespace cluster.

Synthesizes the cluster of bench_compile.py (at --scale 1.0: 1,000 namespaces, 10,000 Services,
100,000 pods, 2,000 rules), writes it as a snapshot file, writes a change set (a new
ServiceEgressRule, a widened ExternalService, a deleted NamespaceEgressRule, an invalid
manifest; with --cluster-wide also a ClusterEgressRule change that reaches every selected
namespace) and prints the seconds (wall and CPU) of each phase of a review (read the snapshot,
full compile, apply the change set and recompile, decision diff, the capacity figures: render the
state before in full, the state after reusing what did not change, count the tables; render the
review) and of the whole `fusion-connector review` command run as a process.

    python benchmarks/bench_review.py [--scale 1.0] [--cluster-wide]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compile import synthesize

from connector.cluster import StaticView
from connector.compiler import Compiler
from connector.review.decisions import Memo, decision_changes
from connector.review.manifests import read_change_set
from connector.review.render import to_json, to_markdown, to_text
from connector.review.review import run_review
from connector.review.snapshot import dump_snapshot, read_snapshot, write_snapshot
from connector.wiring import compile_settings, load_config, offline_adapters

FC = "fusion-connector.io/v1alpha1"
T = TypeVar("T")

CONFIG = """\
cluster: bench
database: sqlite:///{directory}/absent.db
kubernetes: {{host: "http://127.0.0.1:9"}}
devices:
- name: bigip-dc1
  type: f5-as3
  url: https://127.0.0.1:9
  auth: {{username: admin, passwordEnv: BIGIP_PASSWORD}}
  attach: {{virtualServer: {{address: 0.0.0.0}}}}
- {{name: fgt-edge, type: fortios, url: "https://127.0.0.1:9", auth: {{tokenEnv: FGT_TOKEN}}, vdom: root,
   srcintf: [port2], dstintf: [port1]}}
- {{name: soc, type: rest, url: "http://127.0.0.1:9", auth: {{tokenEnv: SOC_TOKEN}}}}
"""


def change_set(directory: Path, cluster_wide: bool) -> tuple[Path, Path]:
    """The manifests of the change set, and the file naming the deleted rule."""
    pr = directory / "pr"
    pr.mkdir()
    documents: list[dict[str, Any]] = [
        {"apiVersion": FC, "kind": "ServiceEgressRule",
         "metadata": {"name": "svc-3-out", "namespace": "team-0001"},
         "spec": {"action": "Allow", "service": "svc-3", "priority": 150, "externalServices": ["dep-1"]}},
        {"apiVersion": FC, "kind": "ExternalService",
         "metadata": {"name": "dep-0", "namespace": "team-0002"},
         "spec": {"addresses": ["198.51.2.0/24", "db0.team-0002.example.net"],
                  "ports": [{"port": "5432"}, {"port": "6432"}]}},
        {"apiVersion": FC, "kind": "NamespaceEgressRule",
         "metadata": {"name": "broken", "namespace": "team-0004"},
         "spec": {"action": "Permit", "priority": 5000}},
    ]
    if cluster_wide:
        documents.append({"apiVersion": FC, "kind": "ClusterEgressRule", "metadata": {"name": "cluster-3"},
                          "spec": {"action": "Deny", "priority": 50, "tier": "Admin",
                                   "externalServices": ["ext-3", "ext-23"]}})
    (pr / "changes.yaml").write_text(yaml.safe_dump_all(documents))
    gone = directory / "gone.yaml"
    gone.write_text(yaml.safe_dump({"apiVersion": FC, "kind": "NamespaceEgressRule",
                                    "metadata": {"name": "deps", "namespace": "team-0003"}}))
    return pr, gone


def timed(figures: list[tuple[str, float, float]], label: str, func: Callable[[], T]) -> T:
    """`func()`, adding its wall-clock and CPU seconds to `figures`."""
    started, cpu = time.perf_counter(), time.process_time()
    value = func()
    figures.append((label, time.perf_counter() - started, time.process_time() - cpu))
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000 namespaces and 100,000 pods")
    parser.add_argument("--cluster-wide", action="store_true",
                        help="also change a ClusterEgressRule selecting a third of the namespaces")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    objects, _ = synthesize(args.scale, random.Random(args.seed))
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "config.yaml").write_text(CONFIG.format(directory=directory))
        config = load_config(directory / "config.yaml")
        snapshot = directory / "snapshot.json"
        started = time.perf_counter()
        write_snapshot(snapshot, dump_snapshot(StaticView(objects), config.cluster))
        print(f"objects: {len(objects):,}; snapshot written in {time.perf_counter() - started:.2f} s, "
              f"{snapshot.stat().st_size / 2**20:.1f} MiB")
        pr, gone = change_set(directory, args.cluster_wide)

        figures: list[tuple[str, float, float]] = []
        gc.disable()  # as the review command does
        view, _ = timed(figures, "read the snapshot", lambda: read_snapshot(snapshot))
        settings = compile_settings(config)
        compiler = Compiler(settings)
        before = timed(figures, "full compile", lambda: compiler.full(view))
        changes = timed(figures, "read and validate the change set", lambda: read_change_set([pr], [gone]))
        after = timed(figures, "apply it and recompile (incremental)",
                      lambda: compiler.apply(changes.apply(view)))
        memo = Memo()
        found = timed(figures, "decision diff (all devices)", lambda: [
            c for d in settings.device_names
            for c in decision_changes(before.devices[d], after.devices[d], memo)])
        adapters = offline_adapters(config)
        devices = settings.device_names
        old = timed(figures, "capacity: render before (full, all devices)", lambda: {
            d: adapters[d].render(before.devices[d]) for d in devices})
        new = timed(figures, "capacity: render after (what changed, all devices)", lambda: {
            d: adapters[d].render(after.devices[d]) for d in devices})
        timed(figures, "capacity: count the tables before and after", lambda: [
            adapters[d].capacity(objects[d]) for objects in (old, new) for d in devices])
        gc.enable()
        for label, seconds, cpu in figures:
            print(f"  {label}: {seconds:.2f} s (CPU {cpu:.2f} s)")
        print(f"  sum: {sum(f[1] for f in figures):.2f} s (CPU {sum(f[2] for f in figures):.2f} s); "
              f"decision changes found: {len(found):,} (per device, before merging)")

        review = run_review(read_snapshot(snapshot)[0], settings, read_change_set([pr], [gone]),
                            adapters=offline_adapters(config))
        for label, render in (("text", to_text), ("markdown", to_markdown), ("json", to_json)):
            started = time.perf_counter()
            size = len(render(review))
            print(f"  render {label}: {time.perf_counter() - started:.3f} s, {size:,} characters")
        print(f"review: {len(review.changes):,} changes in {len(review.namespaces):,} namespaces, "
              f"{len(review.refused)} refused")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MiB")

        command = [sys.executable, "-m", "connector", "review", "--config", str(directory / "config.yaml"),
                   "--snapshot", str(snapshot), "--manifests", str(pr), "--delete", str(gone),
                   "--output", "markdown"]
        started = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage.ru_utime + usage.ru_stime) - (children.ru_utime + children.ru_stime)
        print(f"`fusion-connector review --snapshot ... --output markdown` as a process: "
              f"{time.perf_counter() - started:.2f} s (CPU {cpu:.2f} s), exit {finished.returncode}, "
              f"{len(finished.stdout.splitlines())} lines of output")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
