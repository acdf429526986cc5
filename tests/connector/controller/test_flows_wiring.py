"""Flow visibility in the controller: with `flows` configured, `start` opens the syslog receiver and
the pipeline, `POST /v1/flows` on the controller's listener takes pushes, records reach the store
and the metrics, and `stop` releases the port; without `flows`, the endpoint is 404."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client

from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.leader import micro_time
from connector.controller.options import ControllerOptions
from connector.http import HealthServer
from connector.store import create_engine, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.wiring import validate_config
from mocks.common.http import HttpServer
from mocks.kube import KubeApp

TOKEN = "wiring-token"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def kube_url() -> Iterator[str]:
    server = HttpServer(KubeApp(controllers=False)).start()
    httpx.post(f"{server.url}/api/v1/namespaces",
               json={"metadata": {"name": "fusion-system"}}).raise_for_status()
    yield server.url
    server.stop()


def started(kube_url: str, tmp_path: Path, flows: dict[str, Any] | None) -> tuple[Controller, HealthServer]:
    data: dict[str, Any] = {
        "cluster": "c1", "database": f"sqlite:///{tmp_path / 'store.db'}",
        "kubernetes": {"host": kube_url, "connectorNamespace": "fusion-system"},
        "devices": [{"name": "soc", "type": "rest", "url": "http://127.0.0.1:9"},
                    {"name": "fgt", "type": "fortios", "url": "https://127.0.0.1:9",
                     "auth": {"tokenEnv": "FGT"}}]}
    if flows is not None:
        data["flows"] = flows
    configuration = k8s_client.Configuration()
    configuration.host = kube_url
    controller = Controller(validate_config(data), Secrets({"FLOWS_TOKEN": TOKEN, "FGT": "x"}),
                            ControllerOptions(identity="wiring", shutdown_grace=2.0),
                            api_client=k8s_client.ApiClient(configuration)).start()
    server = HealthServer(controller, "127.0.0.1", 0).start()
    return controller, server


def stored(controller: Controller, expected: int) -> int:
    engine = create_engine(controller.config.database)
    try:
        deadline = time.monotonic() + 20
        while True:
            with session_factory(engine)() as session:
                found = len(FlowRecordRepository(session, "c1").query(FlowFilter()))
            if found >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_flows_are_received_pushed_stored_and_counted_and_stop_releases_the_port(
        kube_url: str, tmp_path: Path) -> None:
    controller, server = started(kube_url, tmp_path, {
        "syslog": {"listen": "127.0.0.1:0"}, "tokenEnv": "FLOWS_TOKEN",
        "senders": [{"device": "fgt", "addresses": ["127.0.0.1"], "format": "fortios"}]})
    try:
        assert controller.flows is not None and controller.flows.syslog_address is not None
        address = controller.flows.syslog_address
        record = {"time": NOW.isoformat(), "src": "10.1.2.3", "dst": "192.0.2.9", "dstPort": 443,
                  "protocol": "TCP", "action": "Deny", "rule": "r1"}
        response = httpx.post(f"{server.url}/v1/flows", json=[record],
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202 and response.json() == {"accepted": 1, "shed": 0}
        assert httpx.post(f"{server.url}/v1/flows", json=[record]).status_code == 401
        line = (f'<189>date={NOW:%Y-%m-%d} time={NOW:%H:%M:%S} tz="+0000" type="traffic" '
                f'srcip=10.1.2.4 srcport=1234 dstip=192.0.2.9 dstport=80 proto=6 action="accept" policyid=7')
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(line.encode(), address)
        assert stored(controller, 2) == 2
        assert controller.flows.pipeline.drain(10)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'fusion_connector_flow_lines_total{device="soc",result="unattributed"} 1.0' in metrics
        assert 'fusion_connector_flow_lines_total{device="fgt",result="unattributed"} 1.0' in metrics
    finally:
        server.stop()
        controller.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:  # the port is free again
        again.bind(address)


def test_without_flows_the_endpoint_is_404(kube_url: str, tmp_path: Path) -> None:
    controller, server = started(kube_url, tmp_path, None)
    try:
        assert controller.flows is None
        response = httpx.post(f"{server.url}/v1/flows", json=[], headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404
    finally:
        server.stop()
        controller.stop()


def test_a_standby_replica_receives_and_stores_records_too(kube_url: str, tmp_path: Path) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "fusion-connector-c1", "namespace": "fusion-system"},
             "spec": {"holderIdentity": "another-replica", "leaseDurationSeconds": 3600,
                      "acquireTime": micro_time(), "renewTime": micro_time()}}
    httpx.post(f"{kube_url}/apis/coordination.k8s.io/v1/namespaces/fusion-system/leases",
               json=lease).raise_for_status()
    controller, server = started(kube_url, tmp_path, {"tokenEnv": "FLOWS_TOKEN"})
    try:
        record = {"time": NOW.isoformat(), "src": "10.1.2.3", "dst": "192.0.2.9", "protocol": "UDP",
                  "action": "Allow"}
        response = httpx.post(f"{server.url}/v1/flows", json=[record],
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202
        assert stored(controller, 1) == 1
        assert not controller.leading  # the other replica holds the Lease for an hour
    finally:
        server.stop()
        controller.stop()
