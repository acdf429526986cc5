"""Adapter benchmark: plan and apply a 10,000-pod desired state on each mock device.

Synthesizes a cluster of `--pods` pods (100 per namespace: 10 Services of 10 pods), 20
ClusterEgressRules (Admin and Baseline), a NamespaceEgressRule per namespace and a ServiceEgressRule
for every other namespace; compiles it once per step with the real compiler and syncs the three
devices (F5 AS3, FortiOS, generic REST) served in-process by their mocks, through the real adapters.
For each device and each step it prints the plan time (render + read the device + diff), the apply
time, the plan size and the write calls the mock logged:

- cold: an empty device receives the whole state;
- one pod: a pod is added to a Service (a new IP in its EndpointSlice);
- no change: the same state again (must plan nothing and write nothing).

With `--fortios-sizes 10000,100000` it prints FortiOS figures instead, per size: a cold apply to an
empty FortiGate mock with one request in flight and with `--concurrency` (writes, seconds, objects
per table), then one pod added: the incremental render plus the plan against what the device is
known to hold (as an event-driven sync does), and the ratio of that time between the sizes; and
the memory the FortiOS renderer keeps for the state (tracemalloc, the rendered objects included).

With `--fortios-churn PODS` it prints FortiOS writes per pod change under churn in the layout of
`bench_e2e.py` (`benchmarks/e2e_layout.py`: `--namespaces`, `--rules`): after a cold apply,
`--changes` changes alternately delete a random pod and create one with the next free address in
a random namespace, one sync each (render, plan against the known state, apply to the mock).

    python benchmarks/bench_adapters.py [--pods 10000] [--bigip-processing-ms 20]
    python benchmarks/bench_adapters.py --fortios-sizes 10000,100000 [--concurrency 16]
    python benchmarks/bench_adapters.py --fortios-churn 100000 [--namespaces 100] [--rules 2000]
    python benchmarks/bench_adapters.py --rest-sizes 100,1000,10000

With `--rest-sizes` it prints the REST adapter's cost of one pod added to a namespace of each size
(render, plan against the known state, wire form; `benchmarks/rest_one_pod.py`).
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from adapters.families import create_adapter
from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from connector.adapter import Adapter
from connector.cluster import ObjectChange, StaticView
from connector.compiler import Compiler, compile_cluster
from connector.config import Config, Secrets
from connector.model import DeviceState
from connector.reconciler.known import held_after
from connector.wiring import compile_settings, validate_config
from mocks.bigip import BigIpApp
from mocks.common.app import MockApp
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from mocks.rest import RestMock

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.e2e_layout import SERVICES, WORKLOADS, Layout, pod_manifest  # noqa: E402
from benchmarks.rest_one_pod import rest_main  # noqa: E402

CLUSTER = "bench"
CONNECTOR_NAMESPACE = "fusion-system"
TOKEN = "bench-token"
SECRETS = Secrets({"BIGIP_PASSWORD": "admin", "FGT_TOKEN": TOKEN, "SOC_TOKEN": TOKEN})
PODS_PER_SERVICE = 10
SERVICES_PER_NAMESPACE = 10
WRITE_PREFIXES = {"bigip-dc1": "/mgmt/shared/appsvcs/declare", "fgt-edge": "/api/v2/cmdb/", "soc": "/changes"}


def ip(n: int) -> str:
    return f"10.{64 + ((n >> 16) & 63)}.{(n >> 8) & 255}.{n & 255}"


def synthesize(pods: int) -> list[dict[str, Any]]:
    """The cluster's raw objects (pods carry their IPs; EndpointSlices list the Services' pods)."""
    per_namespace = PODS_PER_SERVICE * SERVICES_PER_NAMESPACE
    namespaces = max(1, -(-pods // per_namespace))
    objects: list[dict[str, Any]] = [{"kind": "Namespace", "metadata": {"name": CONNECTOR_NAMESPACE}}]
    for e in range(20):
        objects.append({"kind": "ExternalService",
                        "metadata": {"name": f"ext-{e}", "namespace": CONNECTOR_NAMESPACE},
                        "spec": {"addresses": [f"203.0.{e}.0/24", f"svc{e}.example.com"],
                                 "ports": [{"port": "443"}, {"protocol": "UDP", "port": "8000-8100"}]}})
        spec: dict[str, Any] = {"action": "Deny" if e % 2 else "Allow", "priority": 100 + e,
                                "tier": "Admin" if e < 10 else "Baseline", "externalServices": [f"ext-{e}"]}
        if e % 3:
            spec["namespaceSelector"] = {"matchLabels": {"env": ("prod", "dev", "test")[e % 3]}}
        objects.append({"kind": "ClusterEgressRule", "metadata": {"name": f"cluster-{e}", "generation": 1},
                        "spec": spec})
    number = 0
    for i in range(namespaces):
        ns = f"team-{i:04d}"
        labels = {"fusion-connector.io/managed": "true", "env": ("prod", "dev", "test")[i % 3]}
        allow = {"fusion-connector.io/egress-allow": "api.github.com:443/TCP, 10.200.0.0/16:5432"}
        objects.append({"kind": "Namespace",
                        "metadata": {"name": ns, "labels": labels, "annotations": allow}})
        objects.append({"kind": "ExternalService", "metadata": {"name": "deps", "namespace": ns},
                        "spec": {"addresses": [f"198.51.{i % 250}.{i // 250}", f"db.{ns}.example.net"],
                                 "ports": [{"port": "5432"}]}})
        objects.append({"kind": "NamespaceEgressRule",
                        "metadata": {"name": "deps", "namespace": ns, "generation": 1},
                        "spec": {"action": "Allow", "priority": 300, "externalServices": ["deps"]}})
        if i % 2 == 0:
            objects.append({"kind": "ServiceEgressRule",
                            "metadata": {"name": "svc-0-out", "namespace": ns, "generation": 1},
                            "spec": {"action": "Allow", "service": "svc-0", "priority": 200,
                                     "externalServices": ["deps"]}})
        for s in range(SERVICES_PER_NAMESPACE):
            service = f"svc-{s}"
            objects.append({"kind": "Service", "metadata": {"name": service, "namespace": ns}})
            addresses = []
            for p in range(PODS_PER_SERVICE):
                if number >= pods:
                    break
                objects.append(pod(ns, f"{service}-pod-{p}", service, ip(number)))
                addresses.append(ip(number))
                number += 1
            objects.append(endpoint_slice(ns, service, addresses))
    return objects


def pod(ns: str, name: str, service: str, address: str) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": service}},
            "status": {"phase": "Running", "podIPs": [{"ip": address}]}}


def endpoint_slice(ns: str, service: str, addresses: list[str]) -> dict[str, Any]:
    return {"kind": "EndpointSlice",
            "metadata": {"name": f"{service}-slice", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses]}


def add_pod_to_service(view: StaticView, pods: int) -> list[ObjectChange]:
    """One new pod (a new IP) in the first Service of the first namespace; the changes made."""
    ns, service = "team-0000", "svc-0"
    address = ip(pods + 1)
    changes = [view.put(pod(ns, f"{service}-pod-new", service, address))]
    current = view.get(StaticView.kind_of({"kind": "EndpointSlice"}), ns, f"{service}-slice")
    assert current is not None
    addresses = [a for e in current["endpoints"] for a in e["addresses"]]
    changes.append(view.put(endpoint_slice(ns, service, [*addresses, address])))
    return changes


@dataclass
class Device:
    name: str
    app: MockApp
    server: HttpServer

    def writes(self, since: int) -> int:
        prefix = WRITE_PREFIXES[self.name]
        return sum(1 for e in self.app.requests(since)
                   if e["method"] not in ("GET", "HEAD") and e["path"].startswith(prefix))

    def last_seq(self) -> int:
        entries = self.app.requests()
        return int(entries[-1]["seq"]) if entries else 0


@contextmanager
def devices(processing_ms: int) -> Iterator[dict[str, Device]]:
    apps: dict[str, MockApp] = {"bigip-dc1": BigIpApp(processing_ms=processing_ms),
                                "fgt-edge": FortigateMock(token=TOKEN), "soc": RestMock(token=TOKEN)}
    with ExitStack() as stack:
        out = {}
        for name, app in apps.items():
            server = HttpServer(app).start()
            stack.callback(server.stop)
            out[name] = Device(name, app, server)
        yield out


def configuration(found: dict[str, Device]) -> Config:
    return validate_config({
        "cluster": CLUSTER, "kubernetes": {"connectorNamespace": CONNECTOR_NAMESPACE},
        "devices": [
            {"name": "bigip-dc1", "type": "f5-as3", "url": found["bigip-dc1"].server.url,
             "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}},
            {"name": "fgt-edge", "type": "fortios", "url": found["fgt-edge"].server.url,
             "auth": {"tokenEnv": "FGT_TOKEN"}},
            {"name": "soc", "type": "rest", "url": found["soc"].server.url,
             "auth": {"tokenEnv": "SOC_TOKEN"}},
        ]})


@dataclass
class Step:
    plan_seconds: float
    apply_seconds: float
    changes: int
    objects: int
    writes: int


def sync(adapter: Adapter, device: Device, state: DeviceState) -> Step:
    mark = device.last_seq()
    started = time.perf_counter()
    desired = adapter.render(state)
    plan = adapter.plan(desired, adapter.read(), force=True)
    planned = time.perf_counter()
    if not plan.empty:
        result = adapter.apply(plan, desired)
        if not result.ok:
            raise SystemExit(f"{adapter.name}: apply failed: {result.error}")
    applied = time.perf_counter()
    return Step(planned - started, applied - planned, len(plan.changes), len(desired), device.writes(mark))


def fortios_cold(state: DeviceState, concurrency: int, latency_ms: int) -> tuple[float, int, dict[str, int]]:
    """Seconds and writes of a cold apply to an empty FortiGate mock answering each request after
    `latency_ms`, and the objects per table."""
    app = FortigateMock(token=TOKEN)
    server = HttpServer(app).start()
    if latency_ms:
        httpx.post(f"{server.url}/_mock/faults", json={"latencyMs": latency_ms}).raise_for_status()
    config = FortiOSDevice.model_validate({"name": "fgt-edge", "type": "fortios", "url": server.url,
                                           "auth": {"tokenEnv": "FGT_TOKEN"}})
    adapter = FortiOSAdapter(config, CLUSTER, SECRETS, concurrency=concurrency)
    try:
        desired = adapter.render(state)
        plan = adapter.plan(desired, adapter.read(), force=True)
        started = time.perf_counter()
        result = adapter.apply(plan, desired)
        seconds = time.perf_counter() - started
        if not result.ok:
            raise SystemExit(f"fortios: apply failed: {result.error}")
        counts: dict[str, int] = {}
        for obj in desired:
            counts[obj.kind] = counts.get(obj.kind, 0) + 1
        return seconds, result.writes, counts
    finally:
        adapter.close()
        server.stop()


def fortios_one_pod(view: StaticView, settings: Any, pods: int) -> tuple[float, float, int]:
    """Render and plan seconds of one pod added (compiled incrementally, as the controller does),
    against the known state (no read), and the changes planned."""
    config = FortiOSDevice.model_validate({"name": "fgt-edge", "type": "fortios", "url": "http://127.0.0.1:9",
                                           "auth": {"tokenEnv": "FGT_TOKEN"}})
    adapter = FortiOSAdapter(config, CLUSTER, SECRETS)
    compiler = Compiler(settings)
    state = compiler.full(view).devices["fgt-edge"]
    desired = adapter.render(state)
    held = held_after(desired, [], adapter.owner_mark)
    adapter.observe(held)
    adapter.render(state)  # the sync after the cold apply: pieces now known
    state = compiler.apply(add_pod_to_service(view, pods)).devices["fgt-edge"]
    adapter.observe(held)
    started = time.perf_counter()
    desired = adapter.render(state)
    rendered = time.perf_counter()
    plan = adapter.plan(desired, held, force=True)
    planned = time.perf_counter()
    adapter.close()
    return rendered - started, planned - rendered, len(plan.changes)


def fortios_main(sizes: list[int], concurrency: int, latency_ms: int) -> int:
    one_pod: dict[int, float] = {}
    for pods in sizes:
        view = StaticView(synthesize(pods))
        with devices(0) as found:
            settings = compile_settings(configuration(found))
        state = compile_cluster(view, settings).devices["fgt-edge"]
        for workers in (1, concurrency):
            seconds, writes, counts = fortios_cold(state, workers, latency_ms)
            print(f"{pods} pods  cold apply, {workers:>2} in flight, {latency_ms} ms per request: "
                  f"{writes} writes in {seconds:.1f}s "
                  f"({writes / seconds:.0f} writes/s)")
        print(f"{pods} pods  objects: " + ", ".join(f"{kind} {count}" for kind, count in counts.items()))
        kept, count = fortios_memory(state)
        print(f"{pods} pods  renderer memory: {kept:.1f} MiB for {count} objects")
        render_s, plan_s, changes = fortios_one_pod(view, settings, pods)
        one_pod[pods] = render_s + plan_s
        print(f"{pods} pods  one pod added: render {render_s * 1000:.1f} ms + plan {plan_s * 1000:.1f} ms "
              f"= {one_pod[pods] * 1000:.1f} ms, {changes} changes")
    if len(sizes) > 1:
        low, high = min(sizes), max(sizes)
        print(f"one-pod render+plan, {high} vs {low} pods: {one_pod[high] / one_pod[low]:.1f}x "
              f"for {high / low:.0f}x the pods")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


def fortios_memory(state: DeviceState) -> tuple[float, int]:
    """MiB the FortiOS renderer keeps after rendering `state` from scratch (its parts, names and
    the rendered objects, which the controller keeps as the known state anyway; tracemalloc), and
    the objects rendered."""
    config = FortiOSDevice.model_validate({"name": "fgt-edge", "type": "fortios", "url": "http://127.0.0.1:9",
                                           "auth": {"tokenEnv": "FGT_TOKEN"}})
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    adapter = FortiOSAdapter(config, CLUSTER, SECRETS)
    count = len(adapter.render(state))
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    adapter.close()
    return kept / 2**20, count


PodSpec = tuple[str, str, str, str]  # namespace, name, workload, address


def churn_cluster(layout: Layout) -> tuple[StaticView, dict[tuple[str, str], list[str]], list[PodSpec]]:
    """The e2e layout as a view (EndpointSlices made from the pods), the ready addresses of each
    Service, and the pods (namespace, name, workload, address)."""
    view = StaticView([*layout.namespace_manifests(), *layout.manifests()])
    served: dict[tuple[str, str], list[str]] = {}
    pods = list(layout.pod_specs())
    for ns, name, workload, address in pods:
        view.put(pod_manifest(ns, name, workload, address))
        if workload in SERVICES:
            served.setdefault((ns, workload), []).append(address)
    for ns in layout.namespace_names():
        for app in SERVICES:
            view.put(endpoint_slice(ns, app, served.setdefault((ns, app), [])))
    return view, served, pods


class PodChurn:
    """The end-to-end benchmark's churn on a view: step `number` deletes a random pod when it is
    even, else creates one in a random namespace (a fresh address), keeping the EndpointSlice of
    the pod's Service in step; returns the view's changes."""

    def __init__(self, layout: Layout, view: StaticView, served: dict[tuple[str, str], list[str]],
                 alive: list[PodSpec], rng: random.Random) -> None:
        self.layout, self.view, self.served, self.alive, self.rng = layout, view, served, alive, rng
        self.next_ip = int(ipaddress.IPv4Address(alive[-1][3])) + 1

    def step(self, number: int) -> list[ObjectChange]:
        made: list[ObjectChange] = []
        if number % 2 == 0:
            ns, name, workload, address = self.alive.pop(self.rng.randrange(len(self.alive)))
            gone = self.view.delete(StaticView.kind_of({"kind": "Pod"}), ns, name)
            made += [gone] if gone is not None else []
        else:
            ns = self.rng.choice(self.layout.namespace_names())
            workload = self.rng.choices([w for w, _ in WORKLOADS], [share for _, share in WORKLOADS])[0]
            name, address = f"{workload}-churn-{number}", str(ipaddress.IPv4Address(self.next_ip))
            self.next_ip += 1
            self.alive.append((ns, name, workload, address))
            made.append(self.view.put(pod_manifest(ns, name, workload, address)))
        if workload in SERVICES:
            addresses = self.served[(ns, workload)]
            if number % 2 == 0:
                addresses.remove(address)
            else:
                addresses.append(address)
            made.append(self.view.put(endpoint_slice(ns, workload, addresses)))
        return made


def fortios_churn(pods: int, namespaces: int, rules: int, changes: int, seed: int = 7) -> int:
    """Writes per pod change on FortiOS under churn (see the module docstring)."""
    layout = Layout(pods, namespaces, rules)
    view, served, alive = churn_cluster(layout)
    app = FortigateMock(token=TOKEN)
    server = HttpServer(app).start()
    namespace = {"connectorNamespace": layout.connector_namespace}
    config = validate_config({"cluster": CLUSTER, "kubernetes": namespace,
                              "devices": [{"name": "fgt-edge", "type": "fortios", "url": server.url,
                                           "auth": {"tokenEnv": "FGT_TOKEN"}}]})
    adapter = FortiOSAdapter(FortiOSDevice.model_validate(config.devices[0].model_dump(by_alias=True)),
                             CLUSTER, SECRETS, concurrency=8)
    compiler = Compiler(compile_settings(config))
    rng = random.Random(seed)
    try:
        state = compiler.full(view).devices["fgt-edge"]
        desired = adapter.render(state)
        held = adapter.read()
        cold = adapter.apply(adapter.plan(desired, held, force=True), desired)
        if not cold.ok:
            raise SystemExit(f"fortios: cold apply failed: {cold.error}")
        held = held_after(desired, adapter.read(), adapter.owner_mark)
        print(f"{layout.describe()}\nfortios cold: {len(desired)} objects, {cold.writes} writes")
        churn = PodChurn(layout, view, served, alive, rng)
        writes = planned = 0
        render_s = plan_s = 0.0
        per_change: list[int] = []
        for number in range(changes):
            state = compiler.apply(churn.step(number)).devices["fgt-edge"]
            adapter.observe(held)
            started = time.perf_counter()
            desired = adapter.render(state)
            rendered = time.perf_counter()
            plan = adapter.plan(desired, held, force=True)
            render_s, plan_s = render_s + rendered - started, plan_s + time.perf_counter() - rendered
            planned += len(plan.changes)
            if not plan.empty:
                result = adapter.apply(plan, desired)
                if not result.ok:
                    raise SystemExit(f"fortios: apply failed: {result.error}")
                writes += result.writes
                per_change.append(result.writes)
            else:
                per_change.append(0)
            held = held_after(desired, held, adapter.owner_mark)
        per_change.sort()
        print(f"fortios churn, {changes} pod changes, one sync each: {writes / changes:.2f} writes per "
              f"change (median {per_change[len(per_change) // 2]}, max {per_change[-1]}), "
              f"{planned / changes:.2f} plan changes per change; per change: incremental render "
              f"{render_s / changes * 1000:.1f} ms, full plan {plan_s / changes * 1000:.1f} ms")
        if adapter.plan(adapter.render(state), adapter.read(), force=True).changes:
            raise SystemExit("fortios: the device differs from the last render after the churn")
    finally:
        adapter.close()
        server.stop()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--bigip-processing-ms", type=int, default=20,
                        help="time the AS3 mock takes per declaration (default 20)")
    parser.add_argument("--fortios-sizes", help="comma-separated pod counts: FortiOS figures only")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="FortiOS requests in flight for the concurrent cold apply (default 16)")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="FortiGate mock answer time per request for the cold applies (default 0)")
    parser.add_argument("--fortios-churn", type=int, metavar="PODS",
                        help="FortiOS writes per pod change under churn at this many pods")
    parser.add_argument("--namespaces", type=int, default=100, help="churn layout namespaces (default 100)")
    parser.add_argument("--rules", type=int, default=2000, help="churn layout rules (default 2000)")
    parser.add_argument("--changes", type=int, default=200, help="churn pod changes (default 200)")
    parser.add_argument("--rest-sizes", help="comma-separated pods in one namespace: REST one-pod figures")
    args = parser.parse_args()
    if args.rest_sizes:
        return rest_main([int(size) for size in args.rest_sizes.split(",")])
    if args.fortios_churn:
        return fortios_churn(args.fortios_churn, args.namespaces, args.rules, args.changes)
    if args.fortios_sizes:
        return fortios_main([int(size) for size in args.fortios_sizes.split(",")], args.concurrency,
                            args.latency_ms)

    view = StaticView(synthesize(args.pods))
    with devices(args.bigip_processing_ms) as found:
        config = configuration(found)
        settings = compile_settings(config)
        started = time.perf_counter()
        compiled = compile_cluster(view, settings)
        print(f"{args.pods} pods, compile {time.perf_counter() - started:.2f}s: "
              + ", ".join(f"{n}: {len(s.groups)} groups, {len(s.rules)} rules"
                          for n, s in compiled.devices.items()))
        adapters = {d.name: create_adapter(d, CLUSTER, SECRETS) for d in config.devices}
        try:
            rows: list[tuple[str, str, Step]] = []
            for name, adapter in adapters.items():
                rows.append(("cold", name, sync(adapter, found[name], compiled.devices[name])))
            add_pod_to_service(view, args.pods)
            compiled = compile_cluster(view, settings)
            for name, adapter in adapters.items():
                rows.append(("one pod", name, sync(adapter, found[name], compiled.devices[name])))
            for name, adapter in adapters.items():
                rows.append(("no change", name, sync(adapter, found[name], compiled.devices[name])))
        finally:
            for adapter in adapters.values():
                adapter.close()
    print(f"{'step':<10} {'device':<10} {'objects':>8} {'changes':>8} {'plan s':>8} {'apply s':>8} "
          f"{'writes':>7}")
    for step, name, row in rows:
        print(f"{step:<10} {name:<10} {row.objects:>8} {row.changes:>8} {row.plan_seconds:>8.2f} "
              f"{row.apply_seconds:>8.2f} {row.writes:>7}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
