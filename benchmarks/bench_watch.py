"""Watch-layer benchmark: list and cache N pods from the mock API server, then absorb watch events.

    python benchmarks/bench_watch.py [--pods 100000] [--namespaces 1000] [--events 20000]

Starts `python -m mocks kube` as a separate process, bulk-loads the pods through `/_mock/load`,
then, in this process, times a `ClusterWatcher` (pods only) from start to synced, measures how many
watch events per second the cache absorbs - live, while the mock modifies `--events` pods (timed
from the load request until the listeners have every change, so the mock's own pace counts), and
as a backlog replayed after a cut watch (timed from the reconnect) - and reports the peak RSS of
this process, which does the caching (the mock's memory is not counted).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kubernetes import client as k8s_client  # noqa: E402

from connector.cluster import Kind, ObjectChange  # noqa: E402
from connector.kube import KubeListWatch  # noqa: E402
from connector.sources import ClusterWatcher, WatchTimings  # noqa: E402

LOAD_BATCH = 10_000


def start_mock() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "mocks", "kube", "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    match = re.search(r"listening on (\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit("the kube mock did not start")
    return process, match.group(1)


def post(url: str, payload: object) -> object:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def pod(index: int, namespaces: int, generation: int = 0) -> dict[str, object]:
    namespace = f"ns-{index % namespaces:04d}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{index:06d}", "namespace": namespace,
                     "labels": {"app": f"app-{index % 50}", "generation": str(generation)},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}" * 40},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": f"app-{index % 50}-5d9f", "uid": "u", "controller": True}]},
        "spec": {"nodeName": f"node-{index % 100}",
                 "containers": [{"name": "app", "image": "registry.example/app:1.2.3",
                                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                 "env": [{"name": "MODE", "value": "production"}]}]},
        "status": {"phase": "Running", "podIP": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}",
                   "podIPs": [{"ip": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"}],
                   "hostIP": f"192.168.{index % 100 // 256}.{index % 100}"},
    }


def load(url: str, pods: int, namespaces: int, generation: int, start: int = 0) -> None:
    for first in range(start, start + pods, LOAD_BATCH):
        last = min(start + pods, first + LOAD_BATCH)
        post(f"{url}/_mock/load", {"items": [pod(i, namespaces, generation) for i in range(first, last)]})


class ModifiedCounter:
    """A listener counting MODIFIED notifications until an expected number arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._seen = 0
        self._target = 0

    def expect(self, count: int) -> None:
        with self._lock:
            self._seen = 0
            self._target = count
            self._done.clear()

    def __call__(self, changes: Sequence[ObjectChange]) -> None:
        with self._lock:
            self._seen += sum(1 for change in changes if change.type == "MODIFIED")
            if self._seen >= self._target:
                self._done.set()

    def wait(self, began: float) -> float:
        """Seconds from `began` until every expected change arrived."""
        if not self._done.wait(600):
            raise SystemExit(f"only {self._seen} of {self._target} events arrived within 600 s")
        return time.perf_counter() - began


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--namespaces", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=20_000, help="pods modified for the event-rate figure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    process, url = start_mock()
    try:
        began = time.perf_counter()
        load(url, args.pods, args.namespaces, generation=0)
        print(f"mock loaded with {args.pods:,} pods in {args.namespaces:,} namespaces "
              f"({time.perf_counter() - began:.1f} s)")
        baseline = rss_mib()

        configuration = k8s_client.Configuration()
        configuration.host = url
        api_client = k8s_client.ApiClient(configuration)
        counter = ModifiedCounter()
        watcher = ClusterWatcher(KubeListWatch(api_client), kinds=[Kind.POD],
                                 timings=WatchTimings(backoff_base=0.02, backoff_cap=0.1))
        began, cpu = time.perf_counter(), time.process_time()
        watcher.start()
        if not watcher.wait_synced(600):
            raise SystemExit("the watch cache did not sync within 600 s")
        list_seconds = time.perf_counter() - began
        cached = watcher.cache.count(Kind.POD)
        watcher.flush(600)
        watcher.add_listener(counter)
        print(f"list and cache {cached:,} pods: {list_seconds:.2f} s "
              f"({cached / list_seconds:,.0f} pods/s; CPU of the caching process "
              f"{time.process_time() - cpu:.2f} s, the rest is the mock serving pages)")

        target = min(args.events, args.pods)
        counter.expect(target)
        began = time.perf_counter()
        load(url, target, args.namespaces, generation=1)
        loaded = time.perf_counter() - began
        absorb_seconds = counter.wait(began)
        print(f"live watch events: {target:,} MODIFIED absorbed in {absorb_seconds:.2f} s "
              f"= {target / absorb_seconds:,.0f} events/s (the mock took {loaded:.2f} s to apply them)")

        # Backlog: cut the watch, let the changes pile up on the server, then time the catch-up.
        post(f"{url}/_mock/faults", {"status": 503, "path": "/api/v1/pods"})
        post(f"{url}/_mock/faults", {"dropWatches": True})
        load(url, target, args.namespaces, generation=2)
        counter.expect(target)
        began, cpu = time.perf_counter(), time.process_time()
        post(f"{url}/_mock/faults", {"clear": True})
        absorb_seconds = counter.wait(began)
        print(f"backlog watch events: {target:,} MODIFIED replayed after a cut, absorbed in "
              f"{absorb_seconds:.2f} s = {target / absorb_seconds:,.0f} events/s (CPU of the caching "
              f"process {time.process_time() - cpu:.2f} s)")
        stats = watcher.stats()[Kind.POD]
        watcher.stop()
        api_client.close()
        print(f"peak RSS of the caching process: {rss_mib():,.0f} MiB "
              f"(before listing: {baseline:,.0f} MiB)")
        print(f"reflector counters: lists={stats.lists} relists={stats.relists} "
              f"watch_restarts={stats.watch_restarts} events={stats.events}")
    finally:
        process.terminate()
        process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
