"""End to end, with the connector and the mocks as processes: leadership and device health told
truthfully.

- A leader stopped (SIGSTOP) past its Lease while a standby takes the Lease sends no further
  device write once resumed (SIGCONT): every write is fenced by the leadership it still holds,
  judged by its own monotonic clock.
- A `connectorNamespace` that does not exist is not a silent standby: /readyz answers 503 with
  the reason, the log names the namespace and the setting; creating the namespace heals it.
- A device whose syncs keep failing: its rules' `Programmed` is False with `DeviceError`, /readyz
  stays 200 but lists it as degraded, `device_errors_total` counts and an Event says so; it all
  clears once the device answers again.
- A bad namespace annotation value is one Warning Event on the Namespace (in `default`, as the API
  server requires for a cluster-scoped object) and one log line, however often the cluster
  compiles.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from connector.cluster import Kind
from tests.connector.controller.harness import (
    CLUSTER,
    CONNECTOR_NS,
    FAST_LEASE,
    Cluster,
    Connector,
    Mocks,
    converged,
    eventually,
    external_service,
    namespace,
    pod,
    rule,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{CONNECTOR_NS}/leases/fusion-connector-{CLUSTER}"



def set_lease_holder(mocks: Mocks, holder: str, duration: int = 3600) -> None:
    """Write the Lease as another candidate would (holder "" releases it)."""
    lease = httpx.get(mocks.kube + LEASE, timeout=10).json()
    lease["spec"].update(holderIdentity=holder, leaseDurationSeconds=duration,
                         renewTime=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    httpx.put(mocks.kube + LEASE, json=lease, timeout=10).raise_for_status()


def last_seq(mocks: Mocks, device: str) -> int:
    entries = mocks.requests(device)
    return int(entries[-1]["seq"]) if entries else 0


def settled(mocks: Mocks, device: str) -> int:
    """The device's last request number once no request has completed for a second (requests
    sent before the sender stopped are still being answered until then)."""
    seen = -1
    while True:
        now = last_seq(mocks, device)
        if now == seen:
            return now
        seen = now
        time.sleep(1.0)


def drop_namespace(cluster: Cluster, name: str) -> None:
    """Delete namespace `name` when the test got as far as creating it."""
    if any(o["metadata"]["name"] == name for o in cluster.raw_list(Kind.NAMESPACE)):
        cluster.delete_namespace(name)


def programmed(cluster: Cluster, kind: Kind, ns: str, name: str) -> dict[str, Any]:
    status = cluster.custom_object(kind, ns, name).get("status") or {}
    conditions: dict[str, dict[str, Any]] = {c["type"]: c for c in status.get("conditions") or []}
    condition = conditions.get("Programmed")
    assert condition is not None, status
    return condition


def test_a_leader_stopped_past_its_lease_sends_no_write_after_it_resumes(
        world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    config = write_config(tmp, mocks, devices=("fgt",))
    leader = Connector(config, *FAST_LEASE)
    try:
        eventually(lambda: leader.ready().get("role") == "leader", 30)
        converged(cluster, mocks, devices=("fgt",), timeout=60)
        mark = len(mocks.writes("fgt"))
        mocks.fault("fgt", {"latencyMs": 1000, "method": "POST"})  # a long apply, write by write
        cluster.apply(namespace("fence", {"env": "prod"}),
                      external_service("fence", "feeds", ["192.0.2.0/24", "198.51.100.200"],
                                       [{"protocol": "TCP", "port": "443"},
                                        {"protocol": "UDP", "port": "53"}]),
                      *[pod("fence", f"job-{i}", {"app": f"job{i % 3}"}) for i in range(8)],
                      rule("NamespaceEgressRule", "feeds", "fence", priority=10, action="Allow",
                           externalServices=["feeds"]))
        eventually(lambda: len(mocks.writes("fgt")) >= mark + 2, 60, interval=0.05)
        leader.signal(signal.SIGSTOP)
        time.sleep(5)  # past the 4 s Lease: a standby may take over now
        set_lease_holder(mocks, "standby-that-took-over")
        since = settled(mocks, "fgt")  # writes sent before the stop are all answered
        leader.signal(signal.SIGCONT)

        # the resumed process tries its next write, and the fence refuses it
        eventually(lambda: leader.metric("fusion_connector_fenced_writes_total", device="fgt") >= 1, 30)
        eventually(lambda: leader.ready().get("role") == "standby", 30)
        late = [w for w in mocks.writes("fgt") if w["seq"] > since]
        assert late == [], f"a deposed leader wrote: {late}"
        assert leader.metric("fusion_connector_device_errors_total", device="fgt") == 0
        assert "sync cut short, this process no longer leads" in leader.output()

        # once the Lease is free again it leads, reads the device back and converges
        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10).raise_for_status()
        set_lease_holder(mocks, "", duration=1)
        eventually(lambda: leader.ready().get("role") == "leader", 30)
        converged(cluster, mocks, devices=("fgt",), timeout=60)
    finally:
        leader.signal(signal.SIGCONT)
        leader.stop()
        leader.close()
        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10)
        drop_namespace(cluster, "fence")


def test_a_missing_connector_namespace_is_reported_not_ready(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    path = write_config(tmp, mocks)
    config = yaml.safe_load(path.read_text())
    config["kubernetes"]["connectorNamespace"] = "fusion-sytem"
    path.write_text(yaml.safe_dump(config))
    connector = Connector(path)
    try:
        def unready() -> dict[str, Any]:
            response = connector.get("/readyz")
            body: dict[str, Any] = response.json()
            assert body.get("compiled") and body.get("leaderElection"), body  # unready only for it
            assert response.status_code == 503, body
            return body

        body = eventually(unready, 30)
        assert body["role"] == "standby" and body["synced"] and body["store"]
        assert "fusion-sytem" in body["leaderElection"]
        assert any("kubernetes.connectorNamespace" in reason for reason in body["reasons"])
        log = connector.output()
        assert "ERROR" in log and "namespace 'fusion-sytem' not found" in log
        assert all(mocks.writes(device) == [] for device in ("bigip", "fgt", "soc"))

        cluster.apply(namespace("fusion-sytem", managed=False))
        eventually(lambda: connector.ready().get("ready") and connector.ready()["role"] == "leader", 30)
    finally:
        connector.stop()
        connector.close()
        drop_namespace(cluster, "fusion-sytem")


def test_a_device_whose_syncs_keep_failing_is_visible_everywhere(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    connector = Connector(write_config(tmp, mocks))
    try:
        converged(cluster, mocks, timeout=60)
        assert programmed(cluster, Kind.NAMESPACE_EGRESS_RULE, "payments", "allow-db")["status"] == "True"
        mocks.fault("fgt", {"status": 503})  # down until cleared
        cluster.apply(pod("payments", "api-failing", {"app": "api"}))

        def failing() -> dict[str, Any]:
            condition = programmed(cluster, Kind.NAMESPACE_EGRESS_RULE, "payments", "allow-db")
            assert (condition["status"], condition["reason"]) == ("False", "DeviceError"), condition
            return condition

        condition = eventually(failing, 90)
        assert "fgt" in condition["message"] and "503" in condition["message"]
        response = connector.get("/readyz")
        body = response.json()
        assert response.status_code == 200 and body["ready"]  # liveness of the pod is not at stake
        assert body["degraded"] == ["fgt"]
        fgt = body["devices"]["fgt"]
        assert (fgt["state"], fgt["reason"]) == ("failing", "DeviceError")
        assert body["devices"]["soc"]["state"] == "in-sync"
        assert connector.metric("fusion_connector_device_errors_total", device="fgt") >= 1
        assert connector.metric("fusion_connector_device_problem", device="fgt", reason="DeviceError") == 1
        events = [e for e in cluster.events(CONNECTOR_NS) if e["reason"] == "DeviceError"]
        assert events and events[0]["type"] == "Warning" and "device fgt" in events[0]["message"]
        rule_events = [e for e in cluster.events("payments")
                       if e["reason"] == "DeviceError" and e["involvedObject"]["name"] == "allow-db"]
        assert len(rule_events) == 1, rule_events

        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10).raise_for_status()

        def recovered() -> bool:
            condition = programmed(cluster, Kind.NAMESPACE_EGRESS_RULE, "payments", "allow-db")
            assert condition["status"] == "True", condition
            assert connector.ready()["degraded"] == []
            return True

        eventually(recovered, 120)
        assert connector.metric("fusion_connector_device_problem", device="fgt", reason="DeviceError") == 0
    finally:
        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10)
        connector.stop()
        connector.close()
        cluster.delete_pod("payments", "api-failing")


def test_a_bad_namespace_annotation_is_one_warning_event_and_one_log_line(
        world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    connector = Connector(write_config(tmp, mocks, interval="2s"))  # full compiles every 2 s
    try:
        eventually(lambda: connector.ready().get("role") == "leader", 30)
        cluster.apply(namespace("typo", {"env": "dev"}, {"fusion-connector.io/default-action": "maybe"}),
                      pod("typo", "web-1", {"app": "web"}))

        def warned() -> list[dict[str, Any]]:
            return [e for e in cluster.events("default") if e["involvedObject"].get("kind") == "Namespace"
                    and e["involvedObject"]["name"] == "typo"]

        [event] = eventually(warned, 30)
        assert event["type"] == "Warning" and event["reason"] == "InvalidAnnotation"
        assert "fusion-connector.io/default-action" in event["message"] and '"maybe"' in event["message"]
        assert "namespace" not in event["involvedObject"]
        periodic = connector.metric("fusion_connector_reconcile_duration_seconds_count", device="soc")
        eventually(lambda: connector.metric("fusion_connector_reconcile_duration_seconds_count",
                                            device="soc") >= periodic + 2, 30)  # compiled again twice
        [again] = warned()
        assert again["count"] == 1
        assert connector.output().count('fusion-connector.io/default-action: "maybe"') == 1
    finally:
        connector.stop()
        connector.close()
        drop_namespace(cluster, "typo")
