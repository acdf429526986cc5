"""Compile benchmark: full compile and incremental recompiles at cluster scale.

Synthesizes (at --scale 1.0) 1,000 namespaces, 10,000 Services with EndpointSlices, 100,000 pods
and 2,000 rules (20 ClusterEgressRules, 1,000 NamespaceEgressRules, 980 ServiceEgressRules) in a
StaticView, then prints: full compile seconds, the time of one incremental recompile after a pod
change (a pod restarted on a random node with a new IP, together with its EndpointSlice update)
as median and p99 over 1,000 changes, rarer structural changes, a namespace's default-action
change (its time, and the objects it changes per device family: a union member moved), and peak RSS.

    python benchmarks/bench_compile.py [--scale 1.0] [--pods-per-service 10] [--changes 1000] [--gc-freeze]
                                       [--source-mode node]

`--scale 0.1 --pods-per-service 100` keeps 100,000 pods in 100 namespaces of 1,000 pods: the cost
of one pod change must not grow with the size of its namespace.
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import resource
import statistics
import time
from typing import Any

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileSettings
from connector.model import Capabilities

FC = "fusion-connector.io/v1alpha1"
CNS = "fusion-system"
RULE_KINDS = ("ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule")


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def synthesize(
    scale: float, rng: random.Random, pods_per_service: int = 10
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Objects of the synthetic cluster, and the pods of every EndpointSlice (slice name -> pods)."""
    namespaces = max(1, int(1000 * scale))
    per = pods_per_service
    objects: list[dict[str, Any]] = [{"kind": "Namespace", "metadata": {"name": CNS, "labels": {}}}]
    for e in range(50):
        objects.append(
            {
                "kind": "ExternalService",
                "metadata": {"name": f"ext-{e}", "namespace": CNS},
                "spec": {
                    "addresses": [f"203.0.{e}.0/24", f"svc{e}.example.com"],
                    "ports": [{"port": "443"}, {"protocol": "UDP", "port": "8000-8100"}],
                },
            }
        )
    for n in range(20):
        spec: dict[str, Any] = {
            "action": "Deny" if n % 2 else "Allow",
            "priority": 100 + n,
            "tier": "Admin" if n < 10 else "Baseline",
            "externalServices": [f"ext-{n}", f"ext-{n + 20}"],
        }
        if n % 3:
            spec["namespaceSelector"] = {"matchLabels": {"env": ["prod", "dev", "test"][n % 3]}}
        objects.append(
            {"kind": "ClusterEgressRule", "metadata": {"name": f"cluster-{n}", "generation": 1}, "spec": spec}
        )
    slices: dict[str, list[str]] = {}
    pod_number = 0
    service_rules = int(980 * scale)
    for i in range(namespaces):
        ns = f"team-{i:04d}"
        objects.append(
            {
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "labels": {"fusion-connector.io/managed": "true", "env": ["prod", "dev", "test"][i % 3]},
                    "annotations": {
                        "fusion-connector.io/egress-allow": "api.github.com:443/TCP, 10.200.0.0/16:5432"
                    },
                },
            }
        )
        for e in range(2):
            objects.append(
                {
                    "kind": "ExternalService",
                    "metadata": {"name": f"dep-{e}", "namespace": ns},
                    "spec": {
                        "addresses": [f"198.51.{i % 250}.{e}", f"db{e}.{ns}.example.net"],
                        "ports": [{"port": str(5432 + e)}],
                    },
                }
            )
        objects.append(
            {
                "kind": "NamespaceEgressRule",
                "metadata": {"name": "deps", "namespace": ns, "generation": 1},
                "spec": {
                    "action": "Allow",
                    "priority": 300,
                    "externalServices": ["dep-0", "dep-1"],
                    **({"podSelector": {"matchLabels": {"tier": "backend"}}} if i % 2 else {}),
                },
            }
        )
        for s in range(10):
            svc = f"svc-{s}"
            objects.append({"kind": "Service", "metadata": {"name": svc, "namespace": ns}})
            pods = []
            for p in range(per):
                name = f"{svc}-pod-{p}"
                objects.append(
                    {
                        "kind": "Pod",
                        "metadata": {
                            "name": name,
                            "namespace": ns,
                            "labels": {"app": svc, "tier": "backend" if s < 5 else "web"},
                        },
                        "spec": {"nodeName": f"node-{pod_number % 200}"},
                        "status": {"phase": "Running", "podIPs": [{"ip": _ip(pod_number)}]},
                    }
                )
                pods.append(name)
                pod_number += 1
            slice_name = f"{svc}-slice"
            slices[f"{ns}/{slice_name}"] = pods
            objects.append(_slice(ns, svc, slice_name, [_ip(pod_number - per + p) for p in range(per)]))
        if i < service_rules:
            objects.append(
                {
                    "kind": "ServiceEgressRule",
                    "metadata": {"name": "svc-0-out", "namespace": ns, "generation": 1},
                    "spec": {
                        "action": "Allow",
                        "service": "svc-0",
                        "priority": 200,
                        "externalServices": [f"dep-{rng.randrange(2)}"],
                    },
                }
            )
    for node in range(200):
        objects.append(
            {
                "kind": "Node",
                "metadata": {"name": f"node-{node}"},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": f"192.168.{node // 250}.{node % 250}"}]
                },
            }
        )
    return objects, slices


def _slice(ns: str, svc: str, name: str, addresses: list[str]) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
    }


def _structural_changes(view: StaticView, compiler: Compiler) -> dict[str, list[float]]:
    """Timings of rarer changes that reshape rule lists: a new namespace with 100 pods (one batch),
    and a ClusterEgressRule priority change."""
    out: dict[str, list[float]] = {
        "incremental new namespace with 100 pods": [],
        "incremental ClusterEgressRule change": [],
    }
    for n in range(5):
        ns = f"new-{n}"
        batch = [
            view.put(
                {
                    "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "labels": {"fusion-connector.io/managed": "true", "env": "prod"},
                    },
                }
            )
        ]
        for p in range(100):
            batch.append(
                view.put(
                    {
                        "kind": "Pod",
                        "metadata": {"name": f"p{p}", "namespace": ns, "labels": {}},
                        "spec": {"nodeName": "node-1"},
                        "status": {"phase": "Running", "podIPs": [{"ip": _ip((1 << 21) + n * 256 + p)}]},
                    }
                )
            )
        started = time.perf_counter()
        compiler.apply(batch)
        out["incremental new namespace with 100 pods"].append(time.perf_counter() - started)
    for n in range(5):
        rule = copy.deepcopy(view.get(StaticView.kind_of({"kind": "ClusterEgressRule"}), "", "cluster-3"))
        assert rule is not None
        rule["spec"]["priority"] = 50 + n
        batch = [view.put(rule)]
        started = time.perf_counter()
        compiler.apply(batch)
        out["incremental ClusterEgressRule change"].append(time.perf_counter() - started)
    return out


def render_all(result: Any) -> dict[str, list[Any]]:
    """The objects each device family renders for its bench device."""
    from adapters.f5.config import Attach, VirtualServerAttach
    from adapters.f5.render import RenderSettings, render_objects
    from adapters.fortios.render import PolicySettings
    from adapters.fortios.renderer import render_state
    from adapters.rest.objects import render as rest_render

    mark = "fusion-connector:bench"
    return {
        "FortiOS": render_state(result.devices["fgt-edge"], mark=mark,
                                settings=PolicySettings(("any",), ("any",))),
        "AS3": render_objects(result.devices["bigip-dc1"],
                              RenderSettings("fc_bench", mark, Attach(virtualServer=VirtualServerAttach()))),
        "REST": rest_render(result.devices["soc"], "bench", mark, group_references=True),
    }


def object_changes(before: list[Any], after: list[Any]) -> tuple[int, int, int, list[str]]:
    """(created, updated, deleted, names of the updated) between two renders of one device."""
    old = {(o.kind, o.name): o.body for o in before}
    new = {(o.kind, o.name): o.body for o in after}
    updated = sorted(f"{k[0]} {k[1]}" for k in old.keys() & new.keys() if old[k] != new[k])
    return len(new.keys() - old.keys()), len(updated), len(old.keys() - new.keys()), updated


def _set_default_action(view: StaticView, ns: str, action: str) -> Any:
    namespace = copy.deepcopy(view.get(StaticView.kind_of({"kind": "Namespace"}), "", ns))
    assert namespace is not None
    namespace["metadata"].setdefault("annotations", {})["fusion-connector.io/default-action"] = action
    return view.put(namespace)


def default_action_change(view: StaticView, compiler: Compiler, before: Any) -> list[str]:
    """Lines: the objects per device family that a namespace's default-action change (Deny to Allow)
    changes, for the first three namespaces with Allow, and the time of such a change
    (Deny to Allow and back, 5 times each)."""
    lines = []
    renders = [render_all(before)]
    for ns in ("team-0001", "team-0002", "team-0003"):
        renders.append(render_all(compiler.apply([_set_default_action(view, ns, "Allow")])))
    for index, label in ((1, "the first namespace with Allow"), (2, "a second one"), (3, "a third one")):
        lines.append(f"namespace default-action change Deny -> Allow, {label}: objects changed")
        for family in renders[0]:
            created, updated, deleted, names = object_changes(renders[index - 1][family],
                                                              renders[index][family])
            lines.append(f"  {family}: {created} created, {updated} updated ({', '.join(names)}),"
                         f" {deleted} deleted")
    seconds = []
    for n in range(10):
        change = _set_default_action(view, "team-0004", "Allow" if n % 2 == 0 else "Deny")
        started = time.perf_counter()
        compiler.apply([change])
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds) * 1000
    lines.append(f"incremental namespace default-action change: median {median:.1f} ms over {len(seconds)}")
    return lines


def device_fit(result: Any) -> list[str]:
    """Lines: per device family, the rendered objects per table against the default capacity."""
    from adapters.f5.capacity import table_usage as as3_usage
    from adapters.f5.config import AS3Capacity, Attach, VirtualServerAttach
    from adapters.f5.render import RenderSettings, render_objects
    from adapters.f5.request import RequestWriter
    from adapters.fortios.capacity import table_usage as fortios_usage
    from adapters.fortios.config import FortiOSCapacity
    from adapters.fortios.render import PolicySettings
    from adapters.fortios.renderer import render_state
    from adapters.rest.capacity import table_usage as rest_usage
    from adapters.rest.config import RestCapacity
    from adapters.rest.objects import render as rest_render

    mark = "fusion-connector:bench"
    fortios = render_state(result.devices["fgt-edge"], mark=mark, settings=PolicySettings(("any",), ("any",)))
    as3 = render_objects(result.devices["bigip-dc1"],
                         RenderSettings("fc_bench", mark, Attach(virtualServer=VirtualServerAttach())))
    rest = rest_render(result.devices["soc"], "bench", mark, group_references=True)
    writer = RequestWriter()
    lines = []
    for family, usage in (
        ("FortiOS", fortios_usage(fortios, FortiOSCapacity())),
        ("AS3", as3_usage(as3, AS3Capacity(), lambda objs: writer.request("fc_bench", objs, "3.36.0"))),
        ("REST", rest_usage(rest, RestCapacity())),
    ):
        cells = [
            f"{u.table.value} {u.count:,}{f'/{u.limit:,}' if u.limit else ''}{' OVER' if u.over else ''}"
            for u in usage
        ]
        lines.append(f"{family} tables (count/default limit): " + ", ".join(cells))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000 namespaces and 100,000 pods")
    parser.add_argument(
        "--pods-per-service",
        type=int,
        default=10,
        help="pods behind each of the 10 Services of a namespace (100 = 1,000 pods per namespace)",
    )
    parser.add_argument("--changes", type=int, default=1000, help="incremental pod changes to time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--source-mode", choices=("pod", "node"), default="pod", help="every namespace's source mode"
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the full compile, as a long-running controller would after its first sync",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    objects, slices = synthesize(args.scale, rng, args.pods_per_service)
    view = StaticView(objects)
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    settings = CompileSettings(
        cluster="bench",
        devices=(
            ("bigip-dc1", Capabilities()),
            ("fgt-edge", Capabilities()),
            ("soc", Capabilities(fqdn=False)),
        ),
        connector_namespace=CNS,
        default_source_mode=args.source_mode,
    )
    compiler = Compiler(settings)
    started = time.perf_counter()
    result = compiler.full(view)
    full_seconds = time.perf_counter() - started
    if args.gc_freeze:
        gc.freeze()
    rules = {d: len(s.rules) for d, s in result.devices.items()}
    groups = {d: len(s.groups) for d, s in result.devices.items()}

    slice_keys = sorted(slices)
    next_ip = 1 << 20
    timings = []
    for _ in range(args.changes):
        key = rng.choice(slice_keys)
        ns, slice_name = key.split("/")
        position = rng.randrange(args.pods_per_service)
        pod_name = slices[key][position]
        pod = copy.deepcopy(view.get(StaticView.kind_of({"kind": "Pod"}), ns, pod_name))
        assert pod is not None
        pod["status"]["podIPs"] = [{"ip": _ip(next_ip)}]
        pod["spec"]["nodeName"] = f"node-{rng.randrange(200)}"
        next_ip += 1
        old_slice = view.get(StaticView.kind_of({"kind": "EndpointSlice"}), ns, slice_name)
        assert old_slice is not None
        addresses = [e["addresses"][0] for e in old_slice["endpoints"]]
        addresses[position] = pod["status"]["podIPs"][0]["ip"]
        service = old_slice["metadata"]["labels"]["kubernetes.io/service-name"]
        batch = [view.put(pod), view.put(_slice(ns, service, slice_name, addresses))]
        started = time.perf_counter()
        compiler.apply(batch)
        timings.append(time.perf_counter() - started)
    structural = _structural_changes(view, compiler)
    default_lines = default_action_change(view, compiler, compiler.result)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"objects: {counts.get('Namespace', 0)} namespaces, {counts.get('Service', 0)} services, "
        f"{counts.get('Pod', 0)} pods, {counts.get('EndpointSlice', 0)} endpointslices, "
        f"{sum(counts.get(k, 0) for k in RULE_KINDS)} rules"
    )
    print(f"compiled rules per device: {rules}; source groups per device: {groups}")
    print(f"full compile ({args.source_mode} source mode): {full_seconds:.2f} s")
    for line in device_fit(result):
        print(line)
    print(
        f"incremental pod change ({len(timings)} changes):"
        f" median {statistics.median(timings) * 1000:.2f} ms, "
        f"p99 {p99 * 1000:.2f} ms, max {timings[-1] * 1000:.1f} ms"
        f" ({'after gc.freeze()' if args.gc_freeze else 'default garbage collection'})"
    )
    for label, seconds in structural.items():
        print(f"{label}: median {statistics.median(seconds) * 1000:.1f} ms over {len(seconds)}")
    for line in default_lines:
        print(line)
    print(f"peak RSS: {peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
