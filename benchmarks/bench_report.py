"""Report benchmark: build and render the reconciliation report of a cluster with `--services`
Services (50 per namespace, each with one pod and four ServiceEgressRules to the namespace's four
ExternalServices) on three devices, and print the build seconds, the JSON and HTML sizes, and
the part of the JSON the decision matrix's cells (`decisions`) take.

    python benchmarks/bench_report.py [--services 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import build_report, render
from connector.store import Store, create_engine, migrate, session_factory
from tests.connector.compiler.builders import (
    endpoint_slice,
    external_service,
    namespace,
    pod,
    service,
    service_rule,
    settings,
)

PER_NAMESPACE = 50


def cluster(services: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for n in range(max(1, services // PER_NAMESPACE)):
        ns = f"ns{n}"
        objects.append(namespace(ns))
        for d in range(4):
            addresses = [f"10.{100 + d}.{n % 250}.0/24", f"api{d}.example.com"]
            objects.append(external_service(ns, f"es{d}", addresses, [{"port": str(443 + d)}]))
        for s in range(PER_NAMESPACE):
            i = n * PER_NAMESPACE + s
            ip = f"172.{16 + i // 60000}.{(i // 250) % 240}.{i % 250 + 1}"
            objects += [pod(ns, f"p{s}", ip, labels={"app": f"s{s}"}), service(ns, f"s{s}"),
                        endpoint_slice(ns, f"s{s}", [ip])]
            objects += [service_rule(ns, f"r{s}-{d}", "Allow" if d % 2 else "Deny", f"s{s}",
                                     externalServices=[f"es{d}"]) for d in range(4)]
    return objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    view = StaticView(cluster(args.services))
    compiled = compile_cluster(view, settings(("fw1", "fw2", "fw3")))
    url = f"sqlite:///{tempfile.mkdtemp()}/store.db"
    migrate(url)
    engine = create_engine(url)
    try:
        with session_factory(engine).begin() as session:
            started = time.perf_counter()
            report = build_report(compiled, Store(session, "bench"), view=view,
                                  until=datetime(2026, 11, 20, tzinfo=UTC))
            built = time.perf_counter() - started
            started = time.perf_counter()
            body = render(report, "json")
            html = render(report, "html")
            rendered = time.perf_counter() - started
    finally:
        engine.dispose()
    data = json.loads(body)
    for source in data["egress"]:
        for device in source["devices"]:
            device.pop("decisions")
    without = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False)) + 1
    print(f"services: {args.services} on 3 devices")
    print(f"build_report: {built:.2f} s; render json+html: {rendered:.2f} s")
    print(f"json: {len(body) / 1e6:.2f} MB (decision cells {(len(body) - without) / 1e6:.2f} MB); "
          f"html: {len(html) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
