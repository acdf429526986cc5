"""Flow visibility end to end in one process: a real SyslogReceiver, the pipeline, the Attributor
and a SQLite store. FortiOS lines sent over UDP and TCP become attributed records, counted in the
metrics; REST pushes go the same way; denials become EgressDenied Events; expired rows are pruned."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from connector.config import Config, Secrets
from connector.controller.events import ObjectRef
from connector.flows.record import FlowIdentity, FlowRecord, FlowRule
from connector.flows.service import FlowService
from connector.store import AddressTimeline, DeviceRuleMap, create_engine, migrate, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.wiring import load_config_text
from tests.connector.flows.fakes import sample

NOW = datetime.now(UTC).replace(microsecond=0)
POD = FlowIdentity("c1", "shop", "api-1", "uid-api-1", ("api",), "node-a")
ALLOW_BANK = FlowRule("NamespaceEgressRule", "shop", "allow-bank", "Namespace")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")
TOKEN = "push-token"


def fortios(src: str, dst: str, port: int, action: str, policy: int, name: str | None = None) -> bytes:
    stamp = NOW.strftime("date=%Y-%m-%d time=%H:%M:%S")
    named = f' policyname="{name}"' if name else ""
    return (f'<189>{stamp} devname="fgt-edge" eventtime={int(NOW.timestamp())} tz="+0000" '
            f'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
            f'srcip={src} srcport=40000 srcintf="port2" dstip={dst} dstport={port} dstintf="port1" '
            f'proto=6 action="{action}" policyid={policy}{named} service="tcp/{port}"').encode()


def configuration(tmp_path: Path) -> Config:
    return load_config_text(f"""
cluster: c1
database: sqlite:///{tmp_path / 'store.db'}
devices:
- {{name: fgt-edge, type: fortios, url: 'https://127.0.0.1:9443', auth: {{tokenEnv: FGT_TOKEN}}}}
- {{name: soc, type: rest, url: 'http://127.0.0.1:9090'}}
flows:
  syslog: {{listen: '127.0.0.1:0'}}
  senders:
  - {{device: fgt-edge, addresses: [127.0.0.1], format: fortios}}
  retention: 1d
  clockSkew: 2s
  tokenEnv: FLOWS_TOKEN
""")


class Service:
    def __init__(self, service: FlowService, registry: CollectorRegistry,
                 events: list[tuple[ObjectRef, str]]) -> None:
        self.service = service
        self.registry = registry
        self.events = events

    def records(self, expected: int, timeout: float = 20.0) -> list[FlowRecord]:
        """The stored records once there are `expected` of them (newest first)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.service.sessions() as session:
                found = FlowRecordRepository(session, "c1").query(FlowFilter())
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Service]:
    config = configuration(tmp_path)
    assert config.database
    migrate(config.database)
    engine = create_engine(config.database)
    with session_factory(engine).begin() as session:
        AddressTimeline(session, "c1").open("10.244.1.7", POD, NOW - timedelta(hours=1))
        DeviceRuleMap(session, "c1").record(
            "fgt-edge", {"fc.c1.shop.allow-bank": ALLOW_BANK, "1001": ALLOW_BANK,
                         "fc.c1.shop.default": DEFAULT}, NOW - timedelta(hours=1))
        DeviceRuleMap(session, "c1").record("soc", {"r-bank": ALLOW_BANK}, NOW - timedelta(hours=1))
    registry = CollectorRegistry()
    events: list[tuple[ObjectRef, str]] = []
    service = FlowService(config, engine, registry, Secrets({"FLOWS_TOKEN": TOKEN}),
                          tell=lambda involved, type, reason, message: events.append((involved, message)))
    service.start()
    try:
        yield Service(service, registry, events)
    finally:
        service.stop()
        engine.dispose()


def send_udp(address: tuple[str, int], *lines: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for item in lines:
            sock.sendto(item, address)


def test_fortios_lines_over_udp_become_attributed_records_with_metrics(running: Service) -> None:
    address = running.service.syslog_address
    assert address is not None and address[1] > 0
    send_udp(address,
             fortios("10.244.1.7", "203.0.113.10", 443, "accept", 1001, "fc.c1.shop.allow-bank"),
             fortios("10.244.1.7", "203.0.113.66", 25, "deny", 1002, "fc.c1.shop.default"),
             fortios("198.51.100.9", "203.0.113.10", 443, "accept", 7),
             b"<189>this is not a traffic log")
    records = running.records(3)
    assert len(records) == 3
    by_dst = {(r.line.dst, r.line.src): r for r in records}
    allowed = by_dst[("203.0.113.10", "10.244.1.7")]
    assert allowed.identity is not None and allowed.identity.pod == "api-1"
    assert allowed.rule == ALLOW_BANK and allowed.line.device == "fgt-edge"
    denied = by_dst[("203.0.113.66", "10.244.1.7")]
    assert denied.line.action == "Deny" and denied.rule == DEFAULT
    stranger = by_dst[("203.0.113.10", "198.51.100.9")]
    assert stranger.identity is None and stranger.rule is None
    assert running.service.pipeline.drain(10)
    r = running.registry
    assert sample(r, "fusion_connector_flow_lines_total", device="fgt-edge", result="attributed") == 2
    assert sample(r, "fusion_connector_flow_lines_total", device="fgt-edge", result="unattributed") == 1
    deadline = time.monotonic() + 10  # the receiver counts malformed lines on its own thread
    while sample(r, "fusion_connector_flow_lines_total", device="fgt-edge", result="malformed") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sample(r, "fusion_connector_flows_total", device="fgt-edge", namespace="shop", service="api",
                  rule="NamespaceEgressRule/shop/allow-bank", action="Allow") == 1
    assert sample(r, "fusion_connector_flows_total", device="fgt-edge", namespace="", service="",
                  rule="", action="Allow") == 1
    assert running.service.denied.flush() == 1
    (involved, message), = running.events
    assert involved == ObjectRef("Namespace", "v1", "", "shop")
    assert message.startswith("1 flow to 203.0.113.66:25/TCP denied by the namespace's default action")


def test_lines_over_tcp_are_received_as_well(running: Service) -> None:
    address = running.service.syslog_address
    assert address is not None
    with socket.create_connection(address, timeout=10) as conn:
        for item in (fortios("10.244.1.7", "203.0.113.11", 443, "close", 1001),
                     fortios("10.244.1.7", "203.0.113.12", 443, "close", 1001)):
            conn.sendall(b"%d %s" % (len(item), item))  # RFC 6587 octet counting
    records = running.records(2)
    assert sorted(r.line.dst for r in records) == ["203.0.113.11", "203.0.113.12"]
    assert all(r.rule == ALLOW_BANK for r in records)  # by policy id when there is no name


def test_rest_pushes_are_attributed_and_stored_for_the_rest_device(running: Service) -> None:
    body = (b'[{"time": "%s", "src": "10.244.1.7", "srcPort": 5000, "dst": "192.0.2.44", "dstPort": 8443,'
            b' "protocol": "TCP", "action": "Allow", "rule": "r-bank"}]') % NOW.isoformat().encode()
    answer = running.service.answer("", f"Bearer {TOKEN}", "application/json", len(body),
                                    lambda n: body[:n])
    assert answer.status == 202
    (record,) = running.records(1)
    assert record.line.device == "soc" and record.rule == ALLOW_BANK
    assert record.identity is not None and record.identity.namespace == "shop"


def test_rows_older_than_the_retention_are_pruned(running: Service) -> None:
    old = NOW - timedelta(days=3)
    with running.service.sessions.begin() as session:
        AddressTimeline(session, "c1").open("10.244.9.9", POD, old - timedelta(hours=1))
        AddressTimeline(session, "c1").close("10.244.9.9", old, pod_uid=POD.pod_uid)
    body = (b'[{"time": "%s", "src": "10.244.1.7", "dst": "192.0.2.44", "protocol": "UDP",'
            b' "action": "Deny"}]') % old.isoformat().encode()
    running.service.answer("", f"Bearer {TOKEN}", None, len(body), lambda n: body[:n])
    assert len(running.records(1)) == 1
    running.service._prune(NOW - timedelta(days=1))
    assert running.records(0, timeout=0) == []
    with running.service.sessions() as session:
        assert AddressTimeline(session, "c1").at("10.244.9.9", old - timedelta(minutes=1), 0).identity is None
        assert AddressTimeline(session, "c1").at("10.244.1.7", NOW, 0).identity == POD


def test_a_taken_syslog_port_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        config = configuration(tmp_path)
        assert config.flows is not None and config.flows.syslog is not None
        flows = config.flows.model_copy(update={"syslog": config.flows.syslog.model_copy(
            update={"listen": f"127.0.0.1:{port}"})})
        config = config.model_copy(update={"flows": flows})
        migrate(config.database)
        engine = create_engine(config.database)
        service = FlowService(config, engine, CollectorRegistry(), Secrets({"FLOWS_TOKEN": TOKEN}),
                              tell=lambda *event: None)
        try:
            with pytest.raises(OSError, match=f"flows.syslog.listen 127.0.0.1:{port}"):
                service.start()
        finally:
            engine.dispose()


def test_a_standby_prunes_records_but_leaves_the_timeline_to_the_leader(running: Service) -> None:
    old = NOW - timedelta(days=3)
    service = running.service
    with service.sessions.begin() as session:
        AddressTimeline(session, "c1").open("10.244.9.9", POD, old - timedelta(hours=1))
        AddressTimeline(session, "c1").close("10.244.9.9", old, pod_uid=POD.pod_uid)
    body = (b'[{"time": "%s", "src": "10.244.9.9", "dst": "192.0.2.44", "protocol": "UDP",'
            b' "action": "Deny"}]') % (old - timedelta(minutes=1)).isoformat().encode()
    service.answer("", f"Bearer {TOKEN}", None, len(body), lambda n: body[:n])
    assert len(running.records(1)) == 1
    service.leading = lambda: False
    service._prune(NOW - timedelta(days=1))
    assert running.records(0, timeout=0) == []
    with service.sessions() as session:
        assert AddressTimeline(session, "c1").at("10.244.9.9", old - timedelta(minutes=1), 0).identity == POD
