"""End to end: flow visibility with real processes. The kube, BIG-IP, FortiGate and REST mocks and
`fusion-connector run` run as processes; the FortiGate mock sends its traffic logs over UDP and the
BIG-IP mock over TCP to the connector's syslog receiver (each from its own loopback address, as
listed under `flows.senders`), the REST mock pushes records to `POST /v1/flows`.

A pod's address is given to a new pod (the old one deleted, a new one created holding the same
IP); flows through every device before and after the reuse — and a late log of a flow from before
the reuse, sent after it — must come out of `fusion-connector flows --output json` attributed to
the pod that held the address at the flow's time, with the deciding rule. Malformed lines and
lines from an unlisted sender are counted in the metrics and dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.orm import Session

from connector.cluster import Kind
from connector.flows.record import rfc3339
from connector.store import create_engine, session_factory
from connector.store.rule_map import DeviceRuleMap
from connector.store.timeline import AddressTimeline
from tests.connector.controller.harness import (
    CLUSTER,
    CONNECTOR_NS,
    ENV,
    Cluster,
    Connector,
    Mocks,
    converged,
    eventually,
    external_service,
    namespace,
    pod,
    pod_ipv4,
    rule,
    service,
    stops_cleanly,
    write_config,
)
from tests.e2e.conftest import REPO_ROOT, start_mock

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FGT_SOURCE, BIGIP_SOURCE, STRANGER = "127.0.0.2", "127.0.0.3", "127.0.0.9"
FLOWS_TOKEN = "flows-e2e-token"
SKEW = 1.0
STRIPE, LATE_STRIPE, THREAT = "198.51.100.10", "198.51.100.11", "203.0.113.5"
ALLOWED, DENIED = ("accept", "accept-decisively", "allow"), ("deny", "drop", "reject")
ALLOW_STRIPE = {"kind": "ServiceEgressRule", "namespace": "payments", "name": "allow-stripe"}
BLOCK_THREATS = {"kind": "ClusterEgressRule", "namespace": None, "name": "block-threats"}


def free_port() -> int:
    """A loopback port free for both UDP and TCP."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


class FlowMocks(Mocks):
    """The four mocks, the firewalls sending their logs to the receiver's port and the REST
    receiver pushing to the connector's listener."""

    def __init__(self, stack: contextlib.ExitStack, syslog_port: int, listen_port: int) -> None:
        self.kube, self.kube_process = stack.enter_context(start_mock("kube", "--bookmark-interval", "1"))
        self.bigip, _ = stack.enter_context(start_mock(
            "bigip", "--processing-ms", "5", "--syslog", f"tcp://127.0.0.1:{syslog_port}?source={BIGIP_SOURCE}"))
        self.fgt, _ = stack.enter_context(start_mock(
            "fortigate", "--syslog", f"udp://127.0.0.1:{syslog_port}?source={FGT_SOURCE}"))
        self.soc, _ = stack.enter_context(start_mock(
            "rest", "--flows", f"http://127.0.0.1:{listen_port}/v1/flows?device=soc",
            "--flows-token", FLOWS_TOKEN))


@dataclass
class World:
    mocks: FlowMocks
    cluster: Cluster
    connector: Connector
    config: Path
    syslog_port: int

    def flows(self, *args: str) -> list[dict[str, Any]]:
        """`fusion-connector flows --output json` as a process."""
        env = {**os.environ, **ENV, "PYTHONPATH": str(REPO_ROOT)}
        done = subprocess.run([sys.executable, "-m", "connector", "flows", "--config", str(self.config),
                               "--output", "json", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        records: list[dict[str, Any]] = json.loads(done.stdout)
        return records

    def traffic(self, device: str, src: str, dst: str, at: datetime, *, port: int = 443,
                count: int = 1) -> str:
        """POST /_mock/traffic on `device`; the device's action."""
        body = {"src": src, "srcPort": 40000 + count, "dst": dst, "dstPort": port, "protocol": "TCP",
                "count": count, "time": rfc3339(at)}
        answer = httpx.post(f"{self.mocks.devices[device]}/_mock/traffic", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["action"])


def objects() -> list[dict[str, Any]]:
    return [
        external_service(CONNECTOR_NS, "threats", ["203.0.113.0/24"]),
        rule("ClusterEgressRule", "block-threats", tier="Admin", priority=100, action="Deny",
             externalServices=["threats"], logging=True),
        namespace("payments", {"env": "prod"}),
        external_service("payments", "stripe", ["198.51.100.0/24"],
                         [{"name": "https", "protocol": "TCP", "port": "443"}]),
        service("payments", "api", {"app": "api"}),
        pod("payments", "api-1", {"app": "api"}),
        pod("payments", "api-2", {"app": "api"}),
        rule("ServiceEgressRule", "allow-stripe", "payments", service="api", priority=100, action="Allow",
             externalServices=["stripe"], logging=True),
    ]


def flows_config(directory: Path, mocks: FlowMocks, syslog_port: int) -> Path:
    path = write_config(directory, mocks)
    document = yaml.safe_load(path.read_text())
    document["flows"] = {
        "syslog": {"listen": f"127.0.0.1:{syslog_port}"},
        "senders": [{"device": "fgt", "addresses": [FGT_SOURCE], "format": "fortios"},
                    {"device": "bigip", "addresses": [BIGIP_SOURCE], "format": "bigip-afm"}],
        "clockSkew": f"{SKEW:g}s",
        "tokenEnv": "FLOWS_TOKEN",
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    syslog_port, listen_port = free_port(), free_port()
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as patch, \
            tempfile.TemporaryDirectory() as tmp:
        patch.setenv("FLOWS_TOKEN", FLOWS_TOKEN)
        mocks = FlowMocks(stack, syslog_port, listen_port)
        cluster = Cluster(mocks.kube)
        stack.callback(cluster.close)
        cluster.install_crds()
        cluster.apply(namespace(CONNECTOR_NS, managed=False))
        cluster.apply(*objects())
        config = flows_config(Path(tmp), mocks, syslog_port)
        with stops_cleanly(Connector(config, "--listen", f"127.0.0.1:{listen_port}")) as connector:
            converged(cluster, mocks, timeout=60)
            yield World(mocks, cluster, connector, config, syslog_port)


def now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def store(world: World) -> Iterator[Session]:
    """A session on the connector's store (read only)."""
    engine = create_engine(yaml.safe_load(world.config.read_text())["database"])
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def owner(world: World, address: str) -> str | None:
    """The pod the connector's address timeline gives `address` now."""
    with store(world) as session:
        found = AddressTimeline(session, CLUSTER).at(address, now(), 0.0).identity
        return found.pod if found is not None else None


def rules_recorded(world: World) -> bool:
    """Whether the connector has recorded every device's rules in the device-rule map."""
    with store(world) as session:
        return set(DeviceRuleMap(session, CLUSTER).devices()) >= {"bigip", "fgt", "soc"}


def running_pod(name: str, address: str) -> dict[str, Any]:
    """A pod created already running with `address` (the kube mock keeps a given status)."""
    body = pod("payments", name, {"app": "api"})
    body["status"] = {"phase": "Running", "podIP": address, "podIPs": [{"ip": address}],
                      "conditions": [{"type": "Ready", "status": "True"}]}
    return body


def send_from(source: str, port: int, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(payload, ("127.0.0.1", port))


def test_flows_are_attributed_to_the_pod_holding_the_address_at_their_time(world: World) -> None:
    pods = {p["metadata"]["name"]: p for p in world.cluster.raw_list(Kind.POD)}
    address = pod_ipv4(pods["api-1"])
    assert address is not None
    # api-1's interval starts at its start, before the connector's: no wait for the timeline. The
    # device-rule map is recorded after the first sync (which comes after the timeline's first write),
    # from then on: wait for it, and send from the next whole second (the BIG-IP logs whole seconds)
    eventually(lambda: rules_recorded(world), 30, what="every device's rules recorded")
    time.sleep(1.05 - now().microsecond / 1e6)

    before = now()
    for device in ("fgt", "bigip", "soc"):
        assert world.traffic(device, address, STRIPE, before, count=2) in ALLOWED
        assert world.traffic(device, address, THREAT, before) in DENIED
    time.sleep(SKEW + 0.5)  # the reuse happens well after the skew around `before`

    world.cluster.delete_pod("payments", "api-1")
    eventually(lambda: "api-1" not in {p["metadata"]["name"] for p in world.cluster.raw_list(Kind.POD)}, 30)
    created = httpx.post(f"{world.mocks.kube}/api/v1/namespaces/payments/pods",
                         json=running_pod("api-9", address), timeout=10)
    assert created.status_code == 201, created.text
    eventually(lambda: owner(world, address) == "api-9", 30, what="the timeline gives the address to api-9")
    converged(world.cluster, world.mocks)
    time.sleep(SKEW + 1.5)  # beyond the skew even for a device logging whole seconds (BIG-IP)

    after = now()
    for device in ("fgt", "bigip", "soc"):
        assert world.traffic(device, address, STRIPE, after) in ALLOWED
    # a late log: a flow from before the reuse, logged only now
    assert world.traffic("fgt", address, LATE_STRIPE, before) == "accept"

    expected = 3 * 2 + 3 + 1
    def arrived() -> list[dict[str, Any]] | None:
        found = world.flows("--since", "10m")
        return found if len(found) >= expected else None

    records = eventually(arrived, 60, what=f"{expected} flow records")
    mine = [r for r in records if r["src"] == address]
    assert len(mine) == expected, json.dumps(records, indent=1)[:4000]
    for record in mine:
        at = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        early = at < before + timedelta(seconds=SKEW)
        identity = record["identity"]
        assert identity is not None and not record["ambiguous"], record
        assert identity["pod"] == ("api-1" if early else "api-9"), record
        assert identity["namespace"] == "payments" and identity["services"] == ["api"], record
        rule_seen = {k: record["rule"][k] for k in ("kind", "namespace", "name")} if record["rule"] else None
        if record["dst"] == THREAT:
            assert (record["action"], rule_seen) == ("Deny", BLOCK_THREATS), record
        else:
            assert (record["action"], rule_seen) == ("Allow", ALLOW_STRIPE), record
    by_device = {(r["device"], r["dst"], r["identity"]["pod"]) for r in mine}
    for device in ("fgt", "bigip", "soc"):
        assert {(device, STRIPE, "api-1"), (device, THREAT, "api-1"), (device, STRIPE, "api-9")} <= by_device
    assert ("fgt", LATE_STRIPE, "api-1") in by_device
    assert sum(r["count"] for r in mine if r["dst"] == STRIPE and r["identity"]["pod"] == "api-1") == 6

    old = world.flows("--since", "10m", "--pod", "api-1")
    assert {r["identity"]["pod"] for r in old} == {"api-1"} and len(old) == 7
    denied = world.flows("--since", "10m", "--rule", "ClusterEgressRule/block-threats", "--action", "Deny")
    assert {r["device"] for r in denied} == {"fgt", "bigip", "soc"}


def test_malformed_and_foreign_lines_are_counted_and_dropped(world: World) -> None:
    def lines(device: str, result: str) -> float:
        return world.connector.metric("fusion_connector_flow_lines_total", device=device, result=result)

    malformed, rejected = lines("fgt", "malformed"), lines("unknown", "rejected")
    send_from(FGT_SOURCE, world.syslog_port, b"<189>this is not a FortiOS traffic log")
    foreign = (b'<189>date=2026-12-06 time=16:20:00 logid="0000000013" type="traffic" subtype="forward" '
               b'srcip=10.244.0.250 srcport=40000 dstip=192.0.2.99 dstport=443 proto=6 action="accept" '
               b'policyid=1')
    send_from(STRANGER, world.syslog_port, foreign)
    with socket.create_connection(("127.0.0.1", world.syslog_port), source_address=(STRANGER, 0)) as tcp:
        tcp.sendall(b"%d %s" % (len(foreign), foreign))
    eventually(lambda: lines("fgt", "malformed") >= malformed + 1, 30, what="the malformed line counted")
    eventually(lambda: lines("unknown", "rejected") >= rejected + 2, 30, what="the foreign lines counted")
    answer = httpx.post(f"{world.connector.url}/v1/flows?device=soc", json=[{"src": "not-an-ip"}],
                        headers={"Authorization": f"Bearer {FLOWS_TOKEN}"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["index"] == 0
    unauthorized = httpx.post(f"{world.connector.url}/v1/flows?device=soc", json=[],
                              headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert unauthorized.status_code == 401
    assert all(r["dst"] != "192.0.2.99" for r in world.flows("--since", "1h"))
    assert lines("fgt", "attributed") >= 4 and lines("bigip", "attributed") >= 3
