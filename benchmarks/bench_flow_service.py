"""Flow service benchmark: lines through the whole path of the controller's flow visibility.

    python benchmarks/bench_flow_service.py [--lines 50000] [--addresses 1000] [--batch 1000]

A FlowService on a temporary SQLite store (a timeline of `--addresses` pod addresses, a device-rule
map of 20 rules) receives FortiOS traffic lines over TCP on loopback (RFC 6587 octet counting),
paced so that the receiver's and the pipeline's queues never fill (nothing is shed), then the same
number of records pushed to `POST /v1/flows` on the controller's HTTP listener in arrays of
`--batch`. Prints, for each way in: lines/s from the first byte sent to the last record
stored (parse, attribute, store, count), and the stage figures of one batch path measured apart
(attribute, store, metrics). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from connector.config import Secrets
from connector.flows.record import FlowIdentity, FlowLine, FlowRule
from connector.flows.service import FlowService
from connector.http import HealthServer
from connector.reports.serve import HttpAnswer
from connector.store import AddressTimeline, DeviceRuleMap, create_engine, migrate, session_factory
from connector.wiring import load_config_text

TOKEN = "bench-token"


def address(i: int) -> str:
    return f"10.{244 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


class Probes:
    def __init__(self, service: FlowService) -> None:
        self.service = service

    def alive(self) -> bool:
        return True

    def readiness(self) -> dict[str, Any]:
        return {"ready": True}

    def render_metrics(self) -> bytes:
        return b""

    def flows_answer(self, query: str, authorization: str | None, content_type: str | None,
                     content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer:
        return self.service.answer(query, authorization, content_type, content_length, read)


def wait(service: FlowService, target: int, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while service.pipeline.processed < target and time.monotonic() < deadline:
        time.sleep(0.02)
    if service.pipeline.processed < target:
        print(f"  gave up waiting after {limit:.0f} s: {service.pipeline.processed} of {target} processed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--addresses", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    config = load_config_text(f"""
cluster: bench
database: sqlite:///{tmp / 'store.db'}
devices:
- {{name: fgt, type: fortios, url: 'https://127.0.0.1:9', auth: {{tokenEnv: FGT}}}}
- {{name: soc, type: rest, url: 'http://127.0.0.1:9'}}
flows:
  syslog: {{listen: '127.0.0.1:0'}}
  senders: [{{device: fgt, addresses: [127.0.0.1], format: fortios}}]
  tokenEnv: FLOWS_TOKEN
""")
    migrate(config.database)
    engine = create_engine(config.database)
    now = datetime.now(UTC).replace(microsecond=0)
    rules = {str(100 + i): FlowRule("NamespaceEgressRule", f"ns{i}", f"rule{i}", "Namespace")
             for i in range(20)}
    with session_factory(engine).begin() as session:
        timeline = AddressTimeline(session, "bench")
        for i in range(args.addresses):
            owner = FlowIdentity("bench", f"ns{i % 20}", f"pod-{i}", f"uid-{i}", (f"svc{i % 50}",))
            timeline.open(address(i), owner, now - timedelta(hours=1))
        DeviceRuleMap(session, "bench").record("fgt", rules, now - timedelta(hours=1))
        DeviceRuleMap(session, "bench").record("soc", rules, now - timedelta(hours=1))
    service = FlowService(config, engine, CollectorRegistry(), Secrets({"FLOWS_TOKEN": TOKEN}),
                          tell=lambda *event: None).start()
    server = HealthServer(Probes(service), "127.0.0.1", 0).start()
    try:
        n = args.lines
        frames = []
        for k in range(n):
            line = (f'<189>date={now:%Y-%m-%d} time={now:%H:%M:%S} tz="+0000" type="traffic" '
                    f'srcip={address(k % args.addresses)} srcport={1024 + k % 60000} '
                    f'dstip=203.0.113.{k % 200} dstport=443 proto=6 action="accept" '
                    f'policyid={100 + k % 20}').encode()
            frames.append(b"%d %s" % (len(line), line))
        assert service.syslog_address is not None
        start = time.perf_counter()
        with socket.create_connection(service.syslog_address) as conn:
            for j in range(0, n, 2000):  # paced: the queues (20,000 lines each) never fill, none shed
                while j - service.pipeline.processed > 10_000:  # sent, not yet stored
                    time.sleep(0.002)
                conn.sendall(b"".join(frames[j:j + 2000]))
        wait(service, n)
        took = time.perf_counter() - start
        shed = sum(sample.value for metric in service.metrics.shed.collect() for sample in metric.samples
                   if sample.name.endswith("_total"))
        print(f"syslog over TCP: {service.pipeline.processed} of {n} lines attributed and stored in "
              f"{took:.2f}s: {service.pipeline.processed / took:,.0f} lines/s ({shed:.0f} shed)")
        stamp = now.isoformat()
        bodies = [json.dumps([{"time": stamp, "src": address(k % args.addresses), "srcPort": 1024 + k % 60000,
                               "dst": f"203.0.113.{k % 200}", "dstPort": 443, "protocol": "TCP",
                               "action": "Allow", "rule": str(100 + k % 20)}
                              for k in range(j, min(n, j + args.batch))]).encode()
                  for j in range(0, n, args.batch)]
        before = service.pipeline.processed
        start = time.perf_counter()
        with httpx.Client() as client:
            for index, body in enumerate(bodies):
                while before + index * args.batch - service.pipeline.processed > 10_000:  # paced alike
                    time.sleep(0.002)
                answer = client.post(f"{server.url}/v1/flows?device=soc", content=body, headers={
                    "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
                answer.raise_for_status()
        accepted_in = time.perf_counter() - start
        wait(service, before + n)
        took = time.perf_counter() - start
        print(f"POST /v1/flows in arrays of {args.batch}: {n} records accepted in {accepted_in:.2f}s "
              f"({n / accepted_in:,.0f}/s), attributed and stored in {took:.2f}s ({n / took:,.0f}/s)")
        lines = [FlowLine(time=now, device="fgt", action="Allow", src=address(k % args.addresses),
                          dst=f"203.0.113.{k % 200}", protocol="TCP", src_port=1024 + k, dst_port=443,
                          device_rule=str(100 + k % 20)) for k in range(5000)]
        start = time.perf_counter()
        records = service.attributor.attribute(lines)
        print(f"stage attribute: {len(lines) / (time.perf_counter() - start):,.0f} lines/s (batch of 5,000)")
        start = time.perf_counter()
        service._store(records)
        print(f"stage store: {len(records) / (time.perf_counter() - start):,.0f} records/s (one transaction)")
        start = time.perf_counter()
        service.metrics.records(records)
        print(f"stage metrics: {len(records) / (time.perf_counter() - start):,.0f} records/s")
    finally:
        server.stop()
        service.stop()
        engine.dispose()


if __name__ == "__main__":
    main()
