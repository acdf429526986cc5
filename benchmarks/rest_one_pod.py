"""REST figures of `bench_adapters.py --rest-sizes`: the adapter's cost of one pod change in a
namespace of N pods, as an event-driven sync pays it.

Per size: one managed namespace of N pods behind one Service (an EndpointSlice of every pod), a
NamespaceEgressRule and a ServiceEgressRule, and a ClusterEgressRule selecting the namespace (its
union group includes the namespace's group). After a cold sync to the REST mock (served
in-process, all protocol features), `changes` times a pod is added (its IP in the Service's
EndpointSlice) and compiled incrementally (not timed); then the adapter's render, the plan against
the known state (`plan_known`) and the `POST /changes` body (`wire_change`) are timed. Prints the
median of each per size and the ratio of their sum between the largest and smallest size.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from adapters.rest.objects import wire_change
from connector.cluster import ObjectChange, StaticView
from connector.compiler import Compiler, CompileSettings
from connector.config import Secrets
from connector.planner import SafetyThresholds
from mocks.common.http import HttpServer
from mocks.rest import RestMock

CLUSTER = "bench"
TOKEN = "bench-token"
FC = "fusion-connector.io/v1alpha1"
PERMISSIVE = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=1)


def _ip(n: int) -> str:
    return f"10.{64 + ((n >> 16) & 63)}.{(n >> 8) & 255}.{n & 255}"


def _pod(n: int) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": f"web-{n}", "namespace": "big", "labels": {"app": "web"}},
            "status": {"phase": "Running", "podIPs": [{"ip": _ip(n)}]}}


def _slice(count: int) -> dict[str, Any]:
    return {"kind": "EndpointSlice",
            "metadata": {"name": "web-slice", "namespace": "big",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"addresses": [_ip(n)], "conditions": {"ready": True}} for n in range(count)]}


def _cluster(pods: int) -> list[dict[str, Any]]:
    rule = {"action": "Allow", "priority": 300, "externalServices": ["deps"]}
    return [
        {"kind": "Namespace", "metadata": {"name": "fusion-system"}},
        {"kind": "Namespace", "metadata": {"name": "big", "labels": {"fusion-connector.io/managed": "true",
                                                                     "env": "prod"}}},
        {"kind": "ExternalService", "metadata": {"name": "deps", "namespace": "big"},
         "spec": {"addresses": ["198.51.100.0/24"], "ports": [{"port": "443"}]}},
        {"kind": "ExternalService", "metadata": {"name": "bad", "namespace": "fusion-system"},
         "spec": {"addresses": ["203.0.113.0/24"]}},
        {"kind": "NamespaceEgressRule", "metadata": {"name": "deps", "namespace": "big", "generation": 1},
         "spec": rule},
        {"kind": "ServiceEgressRule", "metadata": {"name": "web", "namespace": "big", "generation": 1},
         "spec": {**rule, "service": "web", "priority": 200}},
        {"kind": "ClusterEgressRule", "metadata": {"name": "no-bad", "generation": 1},
         "spec": {"action": "Deny", "tier": "Admin", "priority": 100, "externalServices": ["bad"],
                  "namespaceSelector": {"matchLabels": {"env": "prod"}}}},
        {"kind": "Service", "metadata": {"name": "web", "namespace": "big"}},
        _slice(pods),
        *(_pod(n) for n in range(pods)),
    ]


def _add_pod(view: StaticView, n: int) -> list[ObjectChange]:
    return [view.put(_pod(n)), view.put(_slice(n + 1))]


def one_size(pods: int, changes: int) -> tuple[float, float, float]:
    """Median seconds of render, plan against the known state and wire form per pod added."""
    view = StaticView(_cluster(pods))
    compiler = Compiler(CompileSettings(cluster=CLUSTER, devices=(("soc", RestAdapter.capabilities),)))
    state = compiler.full(view).devices["soc"]
    with HttpServer(RestMock(token=TOKEN)) as server:
        config = RestDevice.model_validate({"name": "soc", "type": "rest", "url": server.url,
                                            "auth": {"tokenEnv": "SOC_TOKEN"}})
        adapter = RestAdapter(config, CLUSTER, Secrets({"SOC_TOKEN": TOKEN}))
        try:
            previous = adapter.render(state)
            cold = adapter.plan(previous, adapter.read(), safety=PERMISSIVE)
            assert adapter.apply(cold, previous).ok
            members = adapter.feature("memberChanges")
            render_s, plan_s, wire_s = [], [], []
            for n in range(pods, pods + changes):
                state = compiler.apply(_add_pod(view, n)).devices["soc"]
                started = time.perf_counter()
                desired = adapter.render(state)
                rendered = time.perf_counter()
                plan = adapter.plan_known(previous, desired, foreign=(), referenced=(),
                                          existing=len(previous), safety=PERMISSIVE)
                planned = time.perf_counter()
                assert plan is not None and len(plan.changes) == 2, plan
                [wire_change(change, members) for change in plan.changes]
                wired = time.perf_counter()
                render_s.append(rendered - started)
                plan_s.append(planned - rendered)
                wire_s.append(wired - planned)
                previous = desired
        finally:
            adapter.close()
    return statistics.median(render_s), statistics.median(plan_s), statistics.median(wire_s)


def rest_main(sizes: list[int], changes: int = 50) -> int:
    total: dict[int, float] = {}
    for pods in sizes:
        render_s, plan_s, wire_s = one_size(pods, changes)
        total[pods] = render_s + plan_s + wire_s
        print(f"{pods} pods in one namespace, one pod added (median of {changes}): render "
              f"{render_s * 1000:.3f} ms + plan {plan_s * 1000:.3f} ms + wire {wire_s * 1000:.3f} ms "
              f"= {total[pods] * 1000:.3f} ms")
    if len(sizes) > 1:
        low, high = min(sizes), max(sizes)
        print(f"REST one-pod render+plan+wire, {high} vs {low} pods: {total[high] / total[low]:.1f}x "
              f"for {high / low:.0f}x the pods")
    return 0
