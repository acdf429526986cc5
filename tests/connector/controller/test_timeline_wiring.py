"""Flow attribution's inputs in the running controller: with `flows` configured, the leader records
who holds each pod address from the watch, closes an interval when the pod goes, and a restart
(re-list) adds no duplicate interval; each sync records the device's rule references, so that a
flow the device decided is attributed its pod and rule. Without `flows`, nothing is recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client
from sqlalchemy import func, select

from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.options import ControllerOptions
from connector.flows.attribute import Attributor
from connector.flows.record import FlowIdentity, FlowLine, FlowRule
from connector.store import AddressTimeline, create_engine, session_factory
from connector.store.models import AddressIntervalRow
from connector.wiring import validate_config
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from mocks.rest import RestMock


@pytest.fixture
def kube_url() -> Iterator[str]:
    server = HttpServer(KubeApp(controllers=False)).start()
    for name in ("fusion-system", "shop"):
        httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": name}}).raise_for_status()
    yield server.url
    server.stop()


def add_pod(kube_url: str, name: str, ip: str) -> str:
    response = httpx.post(f"{kube_url}/api/v1/namespaces/shop/pods", json={
        "metadata": {"name": name},
        "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    response.raise_for_status()
    return str(response.json()["metadata"]["uid"])


def start(kube_url: str, database: str, flows: dict[str, Any] | None) -> Controller:
    data: dict[str, Any] = {"cluster": "c1", "database": database,
                            "kubernetes": {"host": kube_url, "connectorNamespace": "fusion-system"},
                            "devices": [{"name": "soc", "type": "rest", "url": "http://127.0.0.1:9"}]}
    if flows is not None:
        data["flows"] = flows
    configuration = k8s_client.Configuration()
    configuration.host = kube_url
    return Controller(validate_config(data), Secrets({}),
                      ControllerOptions(identity="timeline", shutdown_grace=2.0),
                      api_client=k8s_client.ApiClient(configuration)).start()


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Store:
    def __init__(self, database: str) -> None:
        self.engine = create_engine(database)
        self.sessions = session_factory(self.engine)

    def holders(self) -> dict[str, FlowIdentity]:
        with self.sessions() as session:
            return AddressTimeline(session, "c1").holders()

    def intervals(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(AddressIntervalRow)) or 0)


def test_the_leader_records_pod_addresses_and_a_restart_adds_no_interval(kube_url: str,
                                                                         tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    uid = add_pod(kube_url, "web-1", "10.1.0.5")
    controller = start(kube_url, database, {})
    store = Store(database)
    try:
        assert eventually(lambda: "10.1.0.5" in store.holders())
        assert store.holders()["10.1.0.5"] == FlowIdentity(cluster="c1", namespace="shop", pod="web-1",
                                                           pod_uid=uid, node="node1", source_mode="pod")
        add_pod(kube_url, "web-2", "10.1.0.6")
        assert eventually(lambda: "10.1.0.6" in store.holders())
        httpx.delete(f"{kube_url}/api/v1/namespaces/shop/pods/web-1",
                     params={"gracePeriodSeconds": "0"}).raise_for_status()
        assert eventually(lambda: "10.1.0.5" not in store.holders())
        closed_at = datetime.now(UTC)
        with store.sessions() as session:
            assert AddressTimeline(session, "c1").at("10.1.0.5", closed_at, 0).identity is None
    finally:
        controller.stop()
    intervals = store.intervals()
    assert intervals == 2
    restarted = start(kube_url, database, {})
    try:
        feed = restarted.loop.timeline
        assert feed is not None
        assert eventually(lambda: feed.writer.reconciliations >= 1)  # the new leader's re-list
        assert store.holders().keys() == {"10.1.0.6"}
        assert store.intervals() == intervals
    finally:
        restarted.stop()
        store.engine.dispose()


def test_without_flows_no_timeline_is_kept(kube_url: str, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    add_pod(kube_url, "web-1", "10.1.0.5")
    controller = start(kube_url, database, None)
    store = Store(database)
    try:
        assert controller.wait_compiled(20)
        assert controller.loop.timeline is None
        assert store.intervals() == 0
    finally:
        controller.stop()
        store.engine.dispose()


def test_a_sync_records_the_device_rules_and_a_flow_is_attributed_to_them(kube_url: str,
                                                                          tmp_path: Path) -> None:
    """End to end through the sync path: the receiver mock decides a flow from the pod by the
    namespace's default action and names the device rule; the stored map and the timeline
    attribute it to the pod and to `DefaultAction shop/default`."""
    httpx.patch(f"{kube_url}/api/v1/namespaces/shop",
                headers={"Content-Type": "application/merge-patch+json"},
                json={"metadata": {"labels": {"fusion-connector.io/managed": "true"},
                                   "annotations": {"fusion-connector.io/default-action": "Deny"}}}
                ).raise_for_status()
    uid = add_pod(kube_url, "web-1", "10.1.0.5")
    database = f"sqlite:///{tmp_path / 'store.db'}"
    receiver = HttpServer(RestMock(token="rest-token")).start()
    data: dict[str, Any] = {
        "cluster": "c1", "database": database, "flows": {},
        "kubernetes": {"host": kube_url, "connectorNamespace": "fusion-system"},
        "devices": [{"name": "soc", "type": "rest", "url": receiver.url, "auth": {"tokenEnv": "REST"}}]}
    configuration = k8s_client.Configuration()
    configuration.host = kube_url
    controller = Controller(validate_config(data), Secrets({"REST": "rest-token"}),
                            ControllerOptions(identity="rules", shutdown_grace=2.0),
                            api_client=k8s_client.ApiClient(configuration)).start()
    store = Store(database)
    try:
        def decided() -> dict[str, Any]:
            answer: dict[str, Any] = httpx.post(f"{receiver.url}/_mock/traffic", json={
                "src": "10.1.0.5", "srcPort": 40000, "dst": "198.51.100.7", "dstPort": 443,
                "protocol": "TCP"}).json()
            return answer

        assert eventually(lambda: decided().get("rule") is not None)
        rule = decided()["rule"]
        line = FlowLine(time=datetime.now(UTC), device="soc", action="Deny", src="10.1.0.5",
                        dst="198.51.100.7", protocol="TCP", src_port=40000, dst_port=443, device_rule=rule)
        attributor = Attributor(store.sessions, "c1", clock_skew_seconds=2)
        assert eventually(lambda: attributor.attribute([line])[0].rule is not None)
        [record] = attributor.attribute([line])
        assert record.rule == FlowRule("DefaultAction", "shop", "default", "Default")
        assert record.identity is not None and record.identity.pod_uid == uid
    finally:
        controller.stop()
        receiver.stop()
        store.engine.dispose()
