"""End-to-end benchmark of `fusion-connector run`: pod churn in a large cluster reaching devices.

    python benchmarks/bench_e2e.py [--pods 10000] [--namespaces 100] [--rules 200] [--rate 20]
                                   [--seconds 60] [--debounce 500ms] [--baseline-pods 1000]
                                   [--bigip-model none|realistic]

For each size (`--baseline-pods` first, then `--pods`; the same layout otherwise) it starts
`python -m mocks kube|bigip|fortigate|rest` and `python -m connector run` as processes, loads the
cluster of `benchmarks/e2e_layout.py` (namespaces, Services, ExternalServices, a mix of the three
rule kinds, pods), and measures:
- cold start: from starting the controller until each device holds the whole initial state;
- churn: `--rate` pod changes per second for `--seconds` seconds (alternately deleting a random
  pod and creating one in a random namespace), then waits until every device has converged on the
  final pods (criterion in `benchmarks/e2e_converge.py`, bounded by `--settle-timeout`, and
  reported); per device: p50 and p99 seconds from a change's first observation in the
  controller's watch to the device holding it (the controller's `convergence_latency_seconds`
  histogram, one sample per change batch, interpolated within buckets), device writes per pod
  change and full reads of the device (from the mock's request log, the benchmark's own reads
  left out), syncs and seconds per sync;
- device object counts per table next to the configured capacity;
- peak RSS (VmHWM) of the controller, the mocks, and this process.
Then the ratios p50(N)/p50(baseline) and p99(N)/p99(baseline) per device.

The BIG-IP mock runs with `--processing-model realistic` (declaration time growing with the
tenant, as on a real device) when it supports the flag and `--bigip-model` is not `none`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.e2e_converge import Converged, ConvergenceWatch  # noqa: E402
from benchmarks.e2e_devices import (  # noqa: E402
    AS3Reader,
    DeviceReader,
    FortiOSReader,
    RequestLog,
    RestReader,
    TableRow,
    is_write,
)
from benchmarks.e2e_layout import WORKLOADS, Layout, pod_manifest  # noqa: E402
from benchmarks.e2e_metrics import Estimate, Scrape, count, quantile  # noqa: E402
from connector.config import parse_duration  # noqa: E402
from connector.wiring import load_config  # noqa: E402
from tests.connector.controller.harness import (  # noqa: E402
    CLUSTER,
    CONNECTOR_NS,
    TENANT,
    TOKEN,
    Cluster,
    Connector,
)
from tests.e2e.conftest import start_mock  # noqa: E402

DEVICES = ("bigip", "fgt", "soc")
LABELS = {"bigip": "BIG-IP", "fgt": "FortiGate", "soc": "REST"}
LOAD_BATCH = 5_000
HISTOGRAM = "convergence_latency_seconds"
# The request that starts a full read of each device (FortiOS reads several tables: its first).
READS = {"bigip": ("/mgmt/shared/appsvcs/declare", f"/mgmt/shared/appsvcs/declare/{TENANT}"),
         "fgt": ("/api/v2/cmdb/firewall/address",), "soc": ("/state",)}
SAFETY = {"maxDeletePercent": 30, "maxUpdatePercent": 100, "minExisting": 10}


# ------------------------------------------------------------------------------------ results
@dataclass
class DeviceFigures:
    cold: Converged
    settled: Converged | None = None
    p50: Estimate | None = None
    p99: Estimate | None = None
    samples: float = 0.0
    writes: int = 0
    reads: int = 0
    syncs: float = 0.0
    sync_seconds: float = 0.0
    tables: list[TableRow] = field(default_factory=list)


@dataclass
class SizeResult:
    layout: Layout
    load_seconds: float = 0.0
    changes: int = 0
    churn_seconds: float = 0.0
    devices: dict[str, DeviceFigures] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    errors: float = 0.0
    refused: float = 0.0
    capacity_refusals: float = 0.0


# ------------------------------------------------------------------------------------ helpers
def post(url: str, payload: object) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def peak_rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bigip_supports_realistic() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "mocks", "bigip", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    return "--processing-model" in help_text and "realistic" in help_text


def fmt(value: float | Estimate | None, digits: int = 2) -> str:
    if isinstance(value, Estimate):
        return value.text(digits)
    return "-" if value is None else f"{value:.{digits}f}"


# ------------------------------------------------------------------------------------ environment
class Environment:
    """Mocks, the loaded cluster, the configuration and device readers of one size."""

    def __init__(self, stack: contextlib.ExitStack, directory: Path, layout: Layout, realistic: bool,
                 debounce: str) -> None:
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.urls: dict[str, str] = {}
        bigip_args = ("--processing-model", "realistic") if realistic else ()
        for name, kind, args in (("kube", "kube", ("--bookmark-interval", "1")),
                                 ("bigip", "bigip", bigip_args), ("fgt", "fortigate", ()),
                                 ("soc", "rest", ())):
            self.urls[name], self.processes[name] = stack.enter_context(start_mock(kind, *args))
        self.client = stack.enter_context(httpx.Client())
        self.cluster = Cluster(self.urls["kube"])
        stack.callback(self.cluster.close)
        self.layout = layout
        self.config_path = self._write_config(directory, debounce)
        self.config = load_config(self.config_path)
        self.readers: dict[str, DeviceReader] = {
            "bigip": AS3Reader(self.urls["bigip"], self.client, TENANT, "admin", "admin"),
            "fgt": FortiOSReader(self.urls["fgt"], self.client, TOKEN),
            "soc": RestReader(self.urls["soc"], self.client, TOKEN),
        }
        self.logs = {name: RequestLog(self.urls[name], self.client) for name in DEVICES}

    def _write_config(self, directory: Path, debounce: str) -> Path:
        config = {
            "cluster": CLUSTER,
            "database": f"sqlite:///{directory / 'store.db'}",
            "kubernetes": {"host": self.urls["kube"], "connectorNamespace": CONNECTOR_NS},
            "reconcile": {"interval": "3600s", "debounce": debounce},
            "safety": SAFETY,
            "devices": [
                {"name": "bigip", "type": "f5-as3", "url": self.urls["bigip"], "tenant": TENANT,
                 "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}, "timeout": "120s"},
                {"name": "fgt", "type": "fortios", "url": self.urls["fgt"], "auth": {"tokenEnv": "FGT_TOKEN"},
                 "srcintf": ["port2"], "dstintf": ["port1"], "timeout": "60s"},
                {"name": "soc", "type": "rest", "url": self.urls["soc"], "auth": {"tokenEnv": "SOC_TOKEN"},
                 "timeout": "60s"},
            ],
        }
        path = directory / "connector.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def load(self) -> dict[tuple[str, str], int]:
        """Create the cluster; the pods' addresses by (namespace, name)."""
        self.cluster.install_crds()
        self.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CONNECTOR_NS}})
        self.cluster.apply(*self.layout.namespace_manifests())
        self.cluster.apply(*self.layout.manifests())
        addresses: dict[tuple[str, str], int] = {}
        batch: list[dict[str, Any]] = []
        for ns, name, workload, ip in self.layout.pod_specs():
            addresses[(ns, name)] = _ip_int(ip)
            batch.append(pod_manifest(ns, name, workload, ip))
            if len(batch) == LOAD_BATCH:
                post(f"{self.urls['kube']}/_mock/load", {"items": batch})
                batch = []
        if batch:
            post(f"{self.urls['kube']}/_mock/load", {"items": batch})
        return addresses

    def pod_ip(self, ns: str, name: str) -> int:
        """The address the kubelet gave a pod created through the API (waits for it)."""
        deadline = time.monotonic() + 60
        while True:
            url = f"{self.urls['kube']}/api/v1/namespaces/{ns}/pods/{name}"
            body = self.client.get(url, timeout=30).json()
            ip = (body.get("status") or {}).get("podIP")
            if ip:
                return _ip_int(ip)
            if time.monotonic() > deadline:
                raise SystemExit(f"pod {ns}/{name} got no IP")
            time.sleep(0.1)


def _ip_int(ip: str) -> int:
    a, b, c, d = (int(part) for part in ip.split("."))
    return a << 24 | b << 16 | c << 8 | d


class Controller:
    """The connector process: scrapes and readiness that tolerate a busy controller."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._last = Scrape("")

    def scrape(self) -> Scrape:
        with contextlib.suppress(httpx.HTTPError):
            self._last = Scrape(httpx.get(self.connector.url + "/metrics", timeout=30).text)
        return self._last

    def ready(self) -> bool:
        try:
            return bool(httpx.get(self.connector.url + "/readyz", timeout=30).json().get("ready"))
        except (httpx.HTTPError, ValueError):
            return False


# ------------------------------------------------------------------------------------ churn
def churn(env: Environment, live: dict[tuple[str, str], int | None], rate: float, seconds: float,
          seed: int) -> int:
    """Alternately delete a random pod and create one, `rate` per second; returns the changes made.
    `live` is updated (created pods map to None until their address is read)."""
    rng = random.Random(seed)
    keys = list(live)
    names = env.layout.namespace_names()
    workloads = [w for w, _ in WORKLOADS]
    weights = [share for _, share in WORKLOADS]
    interval = 1.0 / rate
    started = time.monotonic()
    changes = serial = 0
    while time.monotonic() - started < seconds:
        due = started + changes * interval
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        if changes % 2 == 0 and keys:
            index = rng.randrange(len(keys))
            keys[index], keys[-1] = keys[-1], keys[index]
            ns, name = keys.pop()
            env.cluster.delete_pod(ns, name)
            del live[(ns, name)]
        else:
            serial += 1
            ns, name = rng.choice(names), f"churn-{serial}"
            env.cluster.apply(pod_manifest(ns, name, rng.choices(workloads, weights)[0]))
            keys.append((ns, name))
            live[(ns, name)] = None
        changes += 1
    return changes


# ------------------------------------------------------------------------------------ one size
def run_size(layout: Layout, args: argparse.Namespace, realistic: bool) -> SizeResult:
    result = SizeResult(layout)
    quiet = max(2.0, 3 * parse_duration(args.debounce))
    print(f"\n== {layout.describe()}", flush=True)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        env = Environment(stack, Path(tmp), layout, realistic, args.debounce)
        started = time.monotonic()
        live: dict[tuple[str, str], int | None] = dict(env.load())
        result.load_seconds = time.monotonic() - started
        print(f"   cluster loaded in {result.load_seconds:.1f}s; starting the controller", flush=True)

        start = time.monotonic()
        connector = Connector(env.config_path, log_level="info" if args.keep_log else "warning")
        stack.callback(connector.close)
        if args.keep_log:
            stack.callback(lambda: Path(f"{args.keep_log}.{layout.pods}").write_text(connector.output()))
        stack.callback(connector.stop)
        controller = Controller(connector)
        watch = ConvergenceWatch(env.readers, env.logs, controller.scrape, controller.ready)
        expected = {ip for ip in live.values() if ip is not None}
        cold = watch.wait(expected, start, args.start_timeout, quiet)
        for name in DEVICES:
            result.devices[name] = DeviceFigures(cold=cold[name])
        print("   cold start: " + ", ".join(f"{n} {cold[n].text()}" for n in DEVICES), flush=True)

        scrape = controller.scrape()
        before = {d: scrape.buckets(HISTOGRAM, d) for d in DEVICES}
        syncs = {d: scrape.value("reconcile_duration_seconds_count", device=d) for d in DEVICES}
        seconds = {d: scrape.value("reconcile_duration_seconds_sum", device=d) for d in DEVICES}
        for log in env.logs.values():
            log.fetch()
        marks = {d: env.logs[d].seq for d in DEVICES}
        own_reads = {d: env.readers[d].own_reads for d in DEVICES}

        churn_start = time.monotonic()
        result.changes = churn(env, live, args.rate, args.seconds, args.seed)
        churn_end = time.monotonic()
        result.churn_seconds = churn_end - churn_start
        for (ns, name), ip in live.items():
            if ip is None:
                live[(ns, name)] = env.pod_ip(ns, name)
        print(f"   churn: {result.changes} pod changes in {result.churn_seconds:.0f}s; waiting for every "
              f"device to converge (timeout {args.settle_timeout:.0f}s)", flush=True)
        expected = {ip for ip in live.values() if ip is not None}
        settled = watch.wait(expected, churn_end, args.settle_timeout, quiet)

        scrape = controller.scrape()
        for name in DEVICES:
            figures = result.devices[name]
            figures.settled = settled[name]
            after = scrape.buckets(HISTOGRAM, name)
            figures.p50 = quantile(before[name], after, 0.5)
            figures.p99 = quantile(before[name], after, 0.99)
            figures.samples = count(before[name], after)
            env.logs[name].fetch()
            entries = env.logs[name].since(marks[name])
            figures.writes = sum(1 for e in entries if is_write(e))
            full_reads = sum(1 for e in entries if e["method"] == "GET" and e["path"] in READS[name])
            figures.reads = full_reads - (env.readers[name].own_reads - own_reads[name])
            figures.syncs = scrape.value("reconcile_duration_seconds_count", device=name) - syncs[name]
            figures.sync_seconds = scrape.value("reconcile_duration_seconds_sum", device=name) - seconds[name]
            device = env.config.device(name)
            figures.tables = env.readers[name].tables(device.capacity)
        result.errors = scrape.value("device_errors_total")
        result.refused = scrape.value("unsafe_plans_total")
        result.capacity_refusals = scrape.value("capacity_refusals_total")
        result.rss_mib["controller"] = peak_rss_mib(connector.process.pid)
        for name, process in env.processes.items():
            result.rss_mib[f"mock {name}"] = peak_rss_mib(process.pid)
    print_size(result, args)
    return result


# ------------------------------------------------------------------------------------ output
def print_size(result: SizeResult, args: argparse.Namespace) -> None:
    layout = result.layout
    print(f"\n-- {layout.pods:,} pods: churn {result.changes} pod changes at {args.rate:g}/s for "
          f"{args.seconds:g}s, debounce {args.debounce}")
    print(f"   {'device':10} {'cold s':>8} {'p50 s':>7} {'p99 s':>7} {'samples':>8} {'writes':>7} "
          f"{'w/change':>9} {'syncs':>6} {'s/sync':>7} {'p50/sync':>9} {'reads':>6} {'settled s':>10}")
    for name in DEVICES:
        f = result.devices[name]
        settled = f.settled.seconds if f.settled is not None else None
        print(f"   {LABELS[name]:10} {fmt(f.cold.seconds, 1):>8} {fmt(f.p50):>7} {fmt(f.p99):>7} "
              f"{f.samples:8.0f} {f.writes:7d} {f.writes / max(result.changes, 1):9.3f} {f.syncs:6.0f} "
              f"{f.sync_seconds / max(f.syncs, 1):7.2f} {in_syncs(f):>9} {f.reads:6d} {fmt(settled, 1):>10}")
    for name in DEVICES:
        f = result.devices[name]
        for what, outcome in (("cold start", f.cold), ("after churn", f.settled)):
            if outcome is not None and outcome.seconds is None:
                print(f"   !! {LABELS[name]} {what}: {outcome.text()}")
    print("   device objects (ours / whole table) vs limit:")
    for name in DEVICES:
        for row in result.devices[name].tables:
            total = f" / {row.total}" if row.total is not None else ""
            limit = f"{row.limit:,}" if row.limit is not None else "-"
            share = f" ({100 * row.ours / row.limit:.0f}%)" if row.limit else ""
            print(f"     {LABELS[name]:10} {row.table:32} {row.ours:>9,}{total:9} limit {limit:>9}{share:6} "
                  f"[{row.limit_source}]")
    rss = ", ".join(f"{name} {value:.0f}" for name, value in result.rss_mib.items())
    print(f"   peak RSS MiB: {rss}")
    print(f"   device errors {result.errors:.0f}, unsafe plans refused {result.refused:.0f}, plans refused "
          f"for capacity {result.capacity_refusals:.0f}", flush=True)


def in_syncs(figures: DeviceFigures) -> str:
    """p50 latency in units of the device's mean sync time: a device that takes one sync at a time
    under steady churn cannot do better than about 1.5 (a change waits, on average, for half of
    the sync in flight, then its own)."""
    per_sync = figures.sync_seconds / figures.syncs if figures.syncs else 0.0
    if figures.p50 is None or not per_sync:
        return "-"
    return f"{'>' if figures.p50.above else ''}{figures.p50.seconds / per_sync:.2f}"


def print_ratios(baseline: SizeResult, main: SizeResult) -> None:
    n, b = main.layout.pods, baseline.layout.pods
    print(f"\n== ratios {n:,} pods / {b:,} pods (change seen -> device holds it)")
    print(f"   {'device':10} {'p50 ' + str(b):>10} {'p50 ' + str(n):>10} {'ratio':>6}   "
          f"{'p99 ' + str(b):>10} {'p99 ' + str(n):>10} {'ratio':>6}")

    def ratio(x: Estimate | None, y: Estimate | None) -> str:
        if x is None or y is None or not x.seconds or x.above:
            return "-"
        return f"{'>' if y.above else ''}{y.seconds / x.seconds:.2f}"

    for name in DEVICES:
        fb, fn = baseline.devices[name], main.devices[name]
        print(f"   {LABELS[name]:10} {fmt(fb.p50):>10} {fmt(fn.p50):>10} {ratio(fb.p50, fn.p50):>6}   "
              f"{fmt(fb.p99):>10} {fmt(fn.p99):>10} {ratio(fb.p99, fn.p99):>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--rules", type=int, help="rules in all (default: 2 per namespace)")
    parser.add_argument("--rate", type=float, default=20.0, help="pod changes per second")
    parser.add_argument("--seconds", "--duration", dest="seconds", type=float, default=60.0,
                        help="seconds of churn")
    parser.add_argument("--debounce", default="500ms", help="reconcile.debounce of the connector")
    parser.add_argument("--baseline-pods", type=int, default=1000,
                        help="also run this many pods first and print ratios (0: no baseline)")
    parser.add_argument("--bigip-model", choices=("none", "realistic"),
                        help="AS3 processing model of the BIG-IP mock (default: realistic when supported)")
    parser.add_argument("--start-timeout", type=float, default=1800.0,
                        help="seconds to wait for the first convergence of every device")
    parser.add_argument("--settle-timeout", type=float, default=1800.0,
                        help="seconds to wait for every device to converge after the churn")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-log", metavar="PATH",
                        help="keep the connector's log (level info) as PATH.<pods>")
    args = parser.parse_args()
    rules = args.rules or 2 * args.namespaces

    supported = bigip_supports_realistic()
    if args.bigip_model == "realistic" and not supported:
        raise SystemExit("the BIG-IP mock has no --processing-model realistic")
    realistic = supported and args.bigip_model != "none"
    print(f"BIG-IP mock processing model: {'realistic' if realistic else 'none (fixed per declaration)'}"
          f"{'' if supported else ' (the mock has no realistic model)'}")

    sizes = [args.pods]
    if args.baseline_pods and args.baseline_pods != args.pods:
        sizes.insert(0, args.baseline_pods)
    results = [run_size(Layout(pods, args.namespaces, rules), args, realistic) for pods in sizes]
    if len(results) == 2:
        print_ratios(results[0], results[1])
    bench = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbenchmark process peak RSS: {bench:.0f} MiB (over every size)")


if __name__ == "__main__":
    main()
