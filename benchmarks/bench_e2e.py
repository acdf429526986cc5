"""End-to-end benchmark of `fusion-connector run`: pod churn in a large cluster reaching devices.

    python benchmarks/bench_e2e.py [--pods 10000] [--namespaces 100] [--rate 20] [--duration 60]
                                   [--debounce 500ms]

Starts `python -m mocks kube|bigip|fortigate|rest` and `python -m connector run` as processes,
bulk-loads `--pods` pods into `--namespaces` managed namespaces (each with a Service over all its
pods, a ServiceEgressRule and a NamespaceEgressRule; one ClusterEgressRule over all), waits for the
first full sync of every device, then changes pods at `--rate` per second for `--duration` seconds
(alternately deleting a random pod and creating one) through the API server.

Reports, per device: p50 and p99 seconds from a change's first observation in the controller's
watch to the device holding it (the controller's `convergence_latency_seconds` histogram, one
sample per change batch, interpolated within buckets; on one host the API server → watch hop adds
milliseconds), device write calls per pod change (from the device mock's `/_mock/requests`), syncs
per device, full reads of each device during the churn (requests that fetch what the device
holds; event-driven syncs plan against the known state instead), and the controller's peak RSS
(VmHWM).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.connector.controller.harness import (  # noqa: E402
    CONNECTOR_NS,
    TENANT,
    Cluster,
    Connector,
    Mocks,
    external_service,
    namespace,
    pod,
    rule,
    service,
    write_config,
)

DEVICES = ("bigip", "fgt", "soc")
LOAD_BATCH = 5_000
HISTOGRAM = "fusion_connector_convergence_latency_seconds_bucket"
# The request that starts a full read of each device (FortiOS reads several tables: its first).
READS = {"bigip": "/mgmt/shared/appsvcs/declare", "fgt": "/api/v2/cmdb/firewall/address", "soc": "/state"}


def post(url: str, payload: object) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def buckets(metrics: str, device: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of the convergence histogram of `device`."""
    out = []
    for line in metrics.splitlines():
        if line.startswith(HISTOGRAM) and f'device="{device}"' in line:
            bound = re.search(r'le="([^"]+)"', line)
            assert bound is not None
            out.append((float(bound.group(1)), float(line.rsplit(" ", 1)[1])))
    return sorted(out)


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float | None:
    """The `q` quantile of the samples added between two histogram snapshots (linear within a bucket)."""
    old = dict(before)
    counts = [(bound, total - old.get(bound, 0.0)) for bound, total in after]
    if not counts or counts[-1][1] == 0:
        return None
    target = q * counts[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= target:
            if bound == float("inf"):
                return lower
            share = (target - below) / (cumulative - below) if cumulative > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_cluster(cluster: Cluster, kube_url: str, pods: int, namespaces: int) -> list[tuple[str, str]]:
    names = [f"ns-{i:03d}" for i in range(namespaces)]
    cluster.apply(external_service(CONNECTOR_NS, "tor-exits", ["198.18.0.0/15"]),
                  rule("ClusterEgressRule", "block-tor", tier="Admin", priority=100, action="Deny",
                       externalServices=["tor-exits"]))
    for ns in names:
        https = [{"protocol": "TCP", "port": "443"}]
        cluster.apply(namespace(ns, {"team": ns}), service(ns, "web", {"app": "web"}),
                      external_service(ns, "partner", ["198.51.100.0/24"], https),
                      external_service(ns, "db", ["10.20.0.0/16"], [{"protocol": "TCP", "port": "5432"}]),
                      rule("ServiceEgressRule", "web-partner", ns, service="web", priority=100,
                           action="Allow", externalServices=["partner"]),
                      rule("NamespaceEgressRule", "db", ns, priority=200, action="Allow",
                           externalServices=["db"]))
    keys = [(names[i % namespaces], f"web-{i}") for i in range(pods)]
    for start in range(0, pods, LOAD_BATCH):
        post(f"{kube_url}/_mock/load", {"items": [pod(ns, name, {"app": "web"})
                                                  for ns, name in keys[start:start + LOAD_BATCH]]})
    return keys


def wait_first_sync(connector: Connector, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        text = connector.metrics()
        if all(f'fusion_connector_last_successful_sync_timestamp_seconds{{device="{d}"}}' in text
               for d in DEVICES):
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"devices not synced within {timeout}s:\n{connector.output()[-3000:]}")


def settle(connector: Connector, quiet: float = 3.0, timeout: float = 300) -> None:
    """Wait until no device sync has run for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        count = connector.metric("fusion_connector_reconcile_duration_seconds_count")
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.5)


def churn(cluster: Cluster, keys: list[tuple[str, str]], namespaces: int, rate: float, duration: float,
          seed: int) -> int:
    rng = random.Random(seed)
    live = list(keys)
    interval = 1.0 / rate
    started = time.monotonic()
    changes = 0
    serial = 0
    while time.monotonic() - started < duration:
        due = started + changes * interval
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        if changes % 2 == 0:
            ns, name = live.pop(rng.randrange(len(live)))
            cluster.delete_pod(ns, name)
        else:
            serial += 1
            ns = f"ns-{rng.randrange(namespaces):03d}"
            name = f"churn-{serial}"
            cluster.apply(pod(ns, name, {"app": "web"}))
            live.append((ns, name))
        changes += 1
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="pod changes per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of churn")
    parser.add_argument("--debounce", default="500ms", help="reconcile.debounce of the connector")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-log", metavar="PATH", help="copy the connector's log (level info) here")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        mocks = Mocks(stack)
        cluster = Cluster(mocks.kube)
        stack.callback(cluster.close)
        cluster.install_crds()
        cluster.apply(namespace(CONNECTOR_NS, managed=False))
        started = time.monotonic()
        keys = build_cluster(cluster, mocks.kube, args.pods, args.namespaces)
        print(f"cluster: {args.pods} pods in {args.namespaces} namespaces loaded in "
              f"{time.monotonic() - started:.1f}s", flush=True)
        safety = {"maxDeletePercent": 30, "maxUpdatePercent": 100, "minExisting": 10}
        config = write_config(Path(tmp), mocks, debounce=args.debounce, interval="3600s", safety=safety)
        connector = Connector(config, log_level="info" if args.keep_log else "warning")
        stack.callback(connector.close)
        if args.keep_log:
            stack.callback(lambda: Path(args.keep_log).write_text(connector.output()))
        stack.callback(connector.stop)
        print(f"first full sync of every device: {wait_first_sync(connector, 900):.1f}s", flush=True)
        settle(connector)
        metrics = connector.metrics()
        before = {d: buckets(metrics, d) for d in DEVICES}
        marks = {d: max((r["seq"] for r in mocks.requests(d)), default=0) for d in DEVICES}
        syncs_before = {d: connector.metric("fusion_connector_reconcile_duration_seconds_count", device=d)
                        for d in DEVICES}
        seconds_before = {d: connector.metric("fusion_connector_reconcile_duration_seconds_sum", device=d)
                          for d in DEVICES}
        changes = churn(cluster, keys, args.namespaces, args.rate, args.duration, args.seed)
        settle(connector)
        metrics = connector.metrics()
        print(f"churn: {changes} pod changes at {args.rate}/s for {args.duration:.0f}s, "
              f"debounce {args.debounce}")
        print(f"{'device':8} {'p50 s':>7} {'p99 s':>7} {'writes/change':>14} {'syncs':>6} {'s/sync':>7} "
              f"{'reads':>6}")
        for device in DEVICES:
            after = buckets(metrics, device)
            p50, p99 = quantile(before[device], after, 0.5), quantile(before[device], after, 0.99)
            requests = [r for r in mocks.requests(device) if r["seq"] > marks[device]]
            writes = [r for r in requests if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
                      and not r["path"].startswith("/_mock") and "authn/login" not in r["path"]]
            reads = [r for r in requests if r["method"] == "GET" and r["path"].split("?")[0] in (
                READS[device], f"{READS[device]}/{TENANT}")]
            syncs = connector.metric("fusion_connector_reconcile_duration_seconds_count", device=device) \
                - syncs_before[device]
            seconds = connector.metric("fusion_connector_reconcile_duration_seconds_sum", device=device) \
                - seconds_before[device]
            print(f"{device:8} {p50 or float('nan'):7.2f} {p99 or float('nan'):7.2f} "
                  f"{len(writes) / changes:14.2f} {syncs:6.0f} {seconds / max(syncs, 1):7.2f} "
                  f"{len(reads):6d}")
        print(f"controller peak RSS: {peak_rss_mb(connector.process.pid):.0f} MiB")
        errors = connector.metric("fusion_connector_device_errors_total")
        refused = connector.metric("fusion_connector_unsafe_plans_total")
        print(f"device errors: {errors:.0f}, unsafe plans refused: {refused:.0f}")


if __name__ == "__main__":
    main()
