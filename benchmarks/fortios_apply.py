"""FortiOS apply benchmark: the cost of an event-driven sync's writes against a full FortiGate.

Loads the FortiGate mock (in-process, served over real HTTP) with the state the FortiOS adapter
renders for the `bench_e2e.py` layout (`benchmarks/e2e_layout.py`: `--pods`, `--namespaces`,
`--rules`; loaded straight into the mock's tables, not through the API), reads it once through
the adapter, then runs `--syncs` syncs of `--batch` pod changes each (alternately a random pod
deleted and one created with the next free address, as `bench_adapters.py --fortios-churn` does):
render, plan against the known state, and the adapter's apply (`--concurrency` requests in flight).
Prints per sync the writes and seconds of the apply (and of the observe + render and the plan
before it), the median / p99 time of one write request (client side, over HTTP) and of the mock
serving it, per request kind. Ends by checking the device equals the last render.

    python benchmarks/fortios_apply.py [--pods 100000] [--rules 2000] [--batch 37] [--syncs 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.fortios import FortiOSAdapter  # noqa: E402
from adapters.fortios.adapter import apply_levels  # noqa: E402
from adapters.fortios.client import TABLES  # noqa: E402
from adapters.fortios.config import FortiOSDevice  # noqa: E402
from adapters.fortios.wire import to_wire  # noqa: E402
from benchmarks.bench_adapters import CLUSTER, SECRETS, TOKEN, PodChurn, churn_cluster  # noqa: E402
from benchmarks.e2e_layout import Layout  # noqa: E402
from connector.cluster import ObjectChange  # noqa: E402
from connector.compiler import Compiler  # noqa: E402
from connector.reconciler.known import held_after  # noqa: E402
from connector.wiring import compile_settings, validate_config  # noqa: E402
from mocks.common.http import HttpServer, Request, Response  # noqa: E402
from mocks.fortigate import FortigateMock  # noqa: E402


class TimedTransport(httpx.BaseTransport):
    """An HTTP transport that records the seconds of every request, writes and reads apart."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.writes: list[float] = []
        self.reads: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        with self._lock:
            (self.writes if request.method != "GET" else self.reads).append(time.perf_counter() - started)
        return response

    def close(self) -> None:
        self.inner.close()


class TimedMock(FortigateMock):
    """The FortiGate mock, recording the seconds it spends serving each write request."""

    def __init__(self, token: str) -> None:
        super().__init__(token=token)
        self.served: list[float] = []
        self.by_kind: dict[str, list[float]] = {}

    def dispatch(self, request: Request) -> Response:
        started = time.perf_counter()
        response = super().dispatch(request)
        if request.method != "GET":
            seconds = time.perf_counter() - started
            self.served.append(seconds)
            table = request.path.split("/")[5:7]
            kind = f"{request.method} {table[0]}{' member' if '/member' in request.path else ''}"
            self.by_kind.setdefault(kind, []).append(seconds)
        return response


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def spread(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.2f} ms (p99 {percentile(seconds, 0.99) * 1000:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=37, help="pod changes per sync (default 37)")
    parser.add_argument("--syncs", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    layout = Layout(args.pods, args.namespaces, args.rules)
    view, served, alive = churn_cluster(layout)
    app = TimedMock(TOKEN)
    server = HttpServer(app).start()
    kubernetes = {"connectorNamespace": layout.connector_namespace}
    config = validate_config({"cluster": CLUSTER, "kubernetes": kubernetes,
                              "devices": [{"name": "fgt-edge", "type": "fortios", "url": server.url,
                                           "auth": {"tokenEnv": "FGT_TOKEN"}}]})
    transport = TimedTransport()
    adapter = FortiOSAdapter(FortiOSDevice.model_validate(config.devices[0].model_dump(by_alias=True)),
                             CLUSTER, SECRETS, transport=transport, concurrency=args.concurrency)
    compiler = Compiler(compile_settings(config))
    rng = random.Random(args.seed)
    try:
        state = compiler.full(view).devices["fgt-edge"]
        desired = adapter.render(state)
        vdom = app.vdoms["root"]
        loaded = time.perf_counter()
        for level in apply_levels(adapter.plan(desired, [], force=True).changes):
            for change in level.changes:
                if change.after is not None:
                    vdom.create(TABLES[change.kind], to_wire(change.kind, change.name, change.after))
        held = held_after(desired, adapter.read(), adapter.owner_mark)
        counts = {kind: sum(1 for o in desired if o.kind == kind) for kind in adapter.kind_order}
        print(f"{layout.describe()}\nloaded {len(desired)} objects "
              f"({', '.join(f'{k} {n}' for k, n in counts.items() if n)}) in "
              f"{time.perf_counter() - loaded:.1f} s; setup {time.perf_counter() - started:.1f} s")
        churn = PodChurn(layout, view, served, alive, rng)
        per_sync: list[tuple[int, float]] = []
        transport.writes.clear()
        transport.reads.clear()
        app.served.clear()
        app.by_kind.clear()
        number = 0
        render_s = plan_s = 0.0
        for _ in range(args.syncs):
            made: list[ObjectChange] = []
            for _ in range(args.batch):
                made += churn.step(number)
                number += 1
            state = compiler.apply(made).devices["fgt-edge"]
            rendering = time.perf_counter()
            adapter.observe(held)
            desired = adapter.render(state)
            planning = time.perf_counter()
            plan = adapter.plan(desired, held, force=True)
            applying = time.perf_counter()
            render_s += planning - rendering
            plan_s += applying - planning
            result = adapter.apply(plan, desired)
            seconds = time.perf_counter() - applying
            if not result.ok:
                raise SystemExit(f"fortios: apply failed: {result.error}")
            per_sync.append((result.writes, seconds))
            held = held_after(desired, held, adapter.owner_mark)
        writes = transport.writes
        total_writes = sum(w for w, _ in per_sync)
        total_s = sum(s for _, s in per_sync)
        print(f"{args.syncs} syncs of {args.batch} pod changes, concurrency {args.concurrency}: "
              f"{total_writes / args.syncs:.0f} writes per sync, apply {total_s / args.syncs:.3f} s per sync "
              f"(median {statistics.median(s for _, s in per_sync):.3f} s), "
              f"{total_s / max(total_writes, 1) * 150:.3f} s per 150 writes")
        print(f"write request: median {statistics.median(writes) * 1000:.2f} ms, "
              f"p99 {percentile(writes, 0.99) * 1000:.2f} ms, max {max(writes) * 1000:.2f} ms "
              f"({len(writes)} requests); served by the mock: {spread(app.served)}")
        print(f"before the apply, per sync: observe + render {render_s / args.syncs * 1000:.1f} ms, "
              f"plan {plan_s / args.syncs * 1000:.1f} ms")
        print(f"reads during the applies (policy placement): {len(transport.reads)}, "
              f"{sum(transport.reads) / args.syncs * 1000:.1f} ms per sync")
        print("served by the mock, per request kind: " + ", ".join(
            f"{kind} {len(times)} x {spread(times)}" for kind, times in sorted(app.by_kind.items())))
        if adapter.plan(adapter.render(state), adapter.read(), force=True).changes:
            raise SystemExit("fortios: the device differs from the last render")
    finally:
        adapter.close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
