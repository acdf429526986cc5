"""Audit-count benchmark: how fast observed flows are judged against audit rules.

Synthesizes `--namespaces` managed namespaces of `--pods-per-namespace` pods, an enforced
NamespaceEgressRule per namespace and an Audit ServiceEgressRule in every `--audit-every`-th
namespace plus one Audit ClusterEgressRule; compiles it once with the real compiler, then counts
`--records` attributed flow records (sources drawn from every namespace's pods, destinations from
the ExternalServices and elsewhere) with `connector.flows.audit.count_audit`. Prints the compile
time, the time to index the device state once, the steady counting rate, and the time to bring
the index up to date after one pod joins an audited Service (what the first batch after a pod
change pays: O(groups + changed members), not O(pods)).

    python benchmarks/bench_audit.py [--namespaces 1000] [--pods-per-namespace 100] [--records 100000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from typing import Any

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileSettings
from connector.flows.audit import SourceIndexes, count_audit
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord
from connector.model import Capabilities

FC = "fusion-connector.io/v1alpha1"


def cluster(namespaces: int, pods: int, audit_every: int) -> tuple[list[dict[str, Any]], list[str]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fusion-system"}},
        {"apiVersion": FC, "kind": "ExternalService",
         "metadata": {"name": "bad", "namespace": "fusion-system"},
         "spec": {"addresses": ["203.0.113.0/24"]}},
        {"apiVersion": FC, "kind": "ClusterEgressRule", "metadata": {"name": "audit-bad"},
         "spec": {"action": "Deny", "externalServices": ["bad"], "mode": "Audit"}},
    ]
    addresses = []
    for n in range(namespaces):
        ns = f"ns{n}"
        objects.append({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "labels": {"fusion-connector.io/managed": "true"}}})
        objects.append({"apiVersion": FC, "kind": "ExternalService",
                        "metadata": {"name": "api", "namespace": ns},
                        "spec": {"addresses": ["198.51.100.0/24"], "ports": [{"port": "443"}]}})
        objects.append({"apiVersion": FC, "kind": "NamespaceEgressRule",
                        "metadata": {"name": "api", "namespace": ns},
                        "spec": {"action": "Allow", "priority": 300, "externalServices": ["api"]}})
        ips = [f"10.{n // 250}.{n % 250}.{p + 1}" for p in range(pods)]
        addresses.extend(ips)
        for p, ip in enumerate(ips):
            objects.append({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": f"p{p}", "namespace": ns, "labels": {"app": "web"}},
                            "spec": {"nodeName": "node1"},
                            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
        if n % audit_every == 0:
            objects.append({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": "web", "namespace": ns},
                            "spec": {"selector": {"app": "web"}}})
            objects.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": "web-1", "namespace": ns,
                                         "labels": {"kubernetes.io/service-name": "web"}},
                            "addressType": "IPv4",
                            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]})
            objects.append({"apiVersion": FC, "kind": "ServiceEgressRule",
                            "metadata": {"name": "audit-deny", "namespace": ns},
                            "spec": {"action": "Deny", "service": "web", "priority": 100,
                                     "externalServices": ["api"], "mode": "Audit"}})
    return objects, addresses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods-per-namespace", type=int, default=100)
    parser.add_argument("--audit-every", type=int, default=10)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    objects, addresses = cluster(args.namespaces, args.pods_per_namespace, args.audit_every)
    settings = CompileSettings(cluster="c1", devices=(("fw1", Capabilities()),))
    view = StaticView(objects)
    compiler = Compiler(settings)
    started = time.perf_counter()
    state = compiler.full(view).devices["fw1"]
    compiled = time.perf_counter() - started
    rng = random.Random(1)
    when = datetime(2026, 12, 6, tzinfo=UTC)
    records = []
    for _ in range(args.records):
        dst = rng.choice(["198.51.100.7", "203.0.113.9", "192.0.2.1"])
        line = FlowLine(time=when, device="fw1", action=rng.choice(["Allow", "Deny"]),
                        src=rng.choice(addresses), dst=dst, protocol="TCP", src_port=40000, dst_port=443)
        records.append(FlowRecord(line=line, identity=FlowIdentity("c1", "ns"), rule=None))
    indexes = SourceIndexes()
    started = time.perf_counter()
    indexes.of(state)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    counts = count_audit(records, {"fw1": state}, indexes)
    counted = time.perf_counter() - started
    print(f"{args.namespaces} namespaces, {len(addresses)} pods, {len(state.rules)} enforced and "
          f"{len(state.staged.rules)} audit compiled rules")
    print(f"compile: {compiled:.2f} s; index the device state once: {indexed * 1000:.0f} ms")
    print(f"count {len(records)} records: {counted:.2f} s ({len(records) / counted:,.0f} records/s), "
          f"{len(counts)} audit rules counted, {sum(c.matched for c in counts.values())} matches")
    ip = "10.250.0.1"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "new", "namespace": "ns0", "labels": {"app": "web"}},
           "spec": {"nodeName": "node1"}, "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}
    endpoints = [{"addresses": [a], "conditions": {"ready": True}}
                 for a in [*addresses[:args.pods_per_namespace], ip]]
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
              "metadata": {"name": "web-1", "namespace": "ns0",
                           "labels": {"kubernetes.io/service-name": "web"}},
              "endpoints": endpoints}
    changed = compiler.apply([view.put(pod), view.put(slice_)]).devices["fw1"]
    started = time.perf_counter()
    _, staged = indexes.of(changed)
    updated = time.perf_counter() - started
    assert staged.holding(ip)
    print(f"index update after one pod joined an audited Service: {updated * 1000:.1f} ms")


if __name__ == "__main__":
    main()
