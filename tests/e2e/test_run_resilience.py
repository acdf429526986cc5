"""End to end: high availability and restart safety of `fusion-connector run`.

- Two controllers on one store and one API server: only the Lease holder writes; killing it hands
  over to the standby.
- SIGKILL in the middle of an apply, then a restart: converged, and `plan` finds nothing to create
  or delete on any device (no orphan, no missing or duplicate object).
- Every managed namespace vanishes at once while the connector cannot watch (its relist finds them
  gone, no DELETE event seen): the safety thresholds withhold the deletions, an Event says so, no
  object is deleted, and no device keeps granting anything to the vanished namespaces' addresses.

The tests share the mock processes; each starts from empty devices and its own store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.cluster import Kind
from connector.store import Store, create_engine, session_factory
from tests.connector.controller.harness import (
    CLUSTER,
    CONNECTOR_NS,
    ENV,
    FAST_LEASE,
    TENANT,
    TOKEN,
    Cluster,
    Connector,
    Mocks,
    converged,
    eventually,
    external_service,
    judge,
    namespace,
    pod,
    pod_ipv4,
    rule,
    write_config,
)
from tests.e2e.conftest import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]




def syncs(connector: Connector) -> float:
    return connector.metric("fusion_connector_reconcile_duration_seconds_count")


def plan_json(config: Path) -> dict[str, Any]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "connector", "plan", "--config", str(config),
                             "--output", "json", "--quiet"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_plan_mode_writes_nothing_to_devices(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    connector = Connector(write_config(tmp, mocks), "--mode", "plan")
    try:
        eventually(lambda: connector.ready().get("ready") and connector.ready()["mode"] == "plan", 30)

        def synced(times: int) -> bool:
            count = "fusion_connector_reconcile_duration_seconds_count"
            return all(connector.metric(count, device=d) >= times for d in ("bigip", "fgt", "soc"))

        eventually(lambda: synced(1), 30)
        cluster.apply(pod("payments", "api-plan", {"app": "api"}))
        eventually(lambda: synced(2), 30)
        assert all(mocks.writes(device) == [] for device in ("bigip", "fgt", "soc"))

        def programmed() -> dict[str, Any]:
            status = cluster.custom_object(Kind.SERVICE_EGRESS_RULE, "payments", "allow-stripe").get("status")
            condition = {c["type"]: c for c in (status or {}).get("conditions") or []}.get("Programmed")
            assert condition is not None, status
            return condition

        condition = eventually(programmed, 30)
        assert (condition["status"], condition["reason"]) == ("False", "PlanMode")
        assert "not applied" in condition["message"]
    finally:
        assert connector.stop() == 0
        connector.close()
    cluster.delete_pod("payments", "api-plan")


def test_the_interval_reads_devices_back_and_repairs_drift(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    database = f"sqlite:///{tmp / 'store.db'}"
    connector = Connector(write_config(tmp, mocks, interval="2s", database=database))
    try:
        converged(cluster, mocks, timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.fusion-connector.v1+json"}
        rules = httpx.get(f"{mocks.soc}/state", headers=headers).json()["rules"]
        victim = rules[0]["name"]
        response = httpx.post(f"{mocks.soc}/_mock/delete", json={"kind": "rule", "name": victim})
        assert response.status_code == 200, response.text
        assert victim not in {r["name"] for r in response.json()["rules"]}

        def repaired() -> bool:
            state = httpx.get(f"{mocks.soc}/state", headers=headers).json()
            return victim in {r["name"] for r in state["rules"]}

        eventually(repaired, 30)
        converged(cluster, mocks)
        engine = create_engine(database)
        try:
            with session_factory(engine)() as session:
                entries = Store(session, CLUSTER).audit.window(device="soc")
        finally:
            engine.dispose()
        assert any("periodic" in entry.triggers and entry.counts["create"] == 1 for entry in entries)
    finally:
        connector.stop()
        connector.close()


def test_only_the_leader_writes_and_the_standby_takes_over(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    config = write_config(tmp, mocks)
    first = Connector(config, *FAST_LEASE)
    second: Connector | None = None
    try:
        eventually(lambda: first.ready().get("role") == "leader", 30)
        second = Connector(config, *FAST_LEASE)
        eventually(lambda: second is not None and second.ready().get("ready"), 30)
        assert second.ready()["role"] == "standby"
        converged(cluster, mocks, timeout=60)
        cluster.apply(pod("payments", "api-ha", {"app": "api"}))
        converged(cluster, mocks)
        assert syncs(first) > 0 and syncs(second) == 0
        # the new pod changed the ClusterEgressRule's source count: the leader writes its status
        eventually(lambda: first.metric("fusion_connector_status_writes_total") > 0, 30)
        assert second.metric("fusion_connector_status_writes_total") == 0
        assert second.metric("fusion_connector_leader") == 0
        lease = cluster.lease(f"fusion-connector-{CLUSTER}")
        assert lease is not None and lease["spec"]["holderIdentity"] == first.ready()["identity"]

        first.kill()
        standby = second
        eventually(lambda: standby.ready().get("role") == "leader", 30)
        cluster.delete_pod("payments", "api-ha")
        cluster.apply(pod("payments", "api-ha2", {"app": "api"}))
        converged(cluster, mocks)
        assert syncs(second) > 0
        lease = cluster.lease(f"fusion-connector-{CLUSTER}")
        assert lease is not None and lease["spec"]["holderIdentity"] == second.ready()["identity"]
        assert lease["spec"]["leaseTransitions"] >= 1
    finally:
        for connector in (first, second):
            if connector is not None:
                connector.stop()
                connector.close()


def test_sigkill_during_an_apply_then_restart_converges_without_orphans(
        world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    config = write_config(tmp, mocks)
    connector = Connector(config)
    try:
        converged(cluster, mocks, timeout=60)
        mark = len(mocks.writes("fgt"))
        mocks.fault("fgt", {"latencyMs": 400, "method": "POST"})
        cluster.apply(namespace("batch", {"env": "prod"}),
                      external_service("batch", "feeds", ["192.0.2.0/24", "198.51.100.200"],
                                       [{"protocol": "TCP", "port": "443"},
                                        {"protocol": "UDP", "port": "53"}]),
                      *[pod("batch", f"job-{i}", {"app": f"job{i % 3}"}) for i in range(6)],
                      rule("NamespaceEgressRule", "feeds", "batch", priority=10, action="Allow",
                           externalServices=["feeds"]))
        eventually(lambda: len(mocks.writes("fgt")) >= mark + 2, 60, interval=0.05)
        connector.kill()
        assert judge(cluster, mocks, devices=("fgt",)), "the apply was not interrupted"
    finally:
        connector.close()
    httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10).raise_for_status()
    restarted = Connector(config)
    try:
        converged(cluster, mocks, timeout=60)
        # the probes can agree before the restarted connector's first syncs end (the interrupted
        # apply may already have put the new namespace in its default action's union)
        def in_sync() -> bool:
            return {d.get("state") for d in restarted.ready().get("devices", {}).values()} == {"in-sync"}

        eventually(in_sync, 60, what="every device in sync after the restart")
        report = plan_json(config)
        for device in report["devices"]:
            changes = (device["plan"] or {}).get("changes") or []
            assert device["error"] is None and changes == [], device
        policies = httpx.get(f"{mocks.fgt}/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                             headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]
        names = [p["name"] for p in policies]
        assert len(names) == len(set(names))
    finally:
        assert restarted.stop() == 0
        restarted.close()


def device_snapshot(mocks: Mocks) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    tables = {table: httpx.get(f"{mocks.fgt}/api/v2/cmdb/{table}", params={"vdom": "root"},
                               headers=headers).json()["results"]
              for table in ("firewall/address", "firewall/addrgrp", "firewall/policy")}
    declaration = httpx.get(f"{mocks.bigip}/mgmt/shared/appsvcs/declare/{TENANT}",
                            auth=("admin", "admin")).json()
    declaration.pop("controls", None)  # archiveTimestamp: the time of the GET
    state = httpx.get(f"{mocks.soc}/state", headers={
        **headers, "Accept": "application/vnd.fusion-connector.v1+json"}).json()
    return {"fgt": tables, "bigip": declaration, "soc": state}


def test_every_managed_namespace_vanishing_unseen_has_its_deletions_withheld(
        world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    safety = {"maxDeletePercent": 30, "maxUpdatePercent": 100, "minExisting": 5}
    # a debounce long enough that the whole cascade of deletions reaches the devices as one plan
    connector = Connector(write_config(tmp, mocks, safety=safety, debounce="2s"))
    try:
        converged(cluster, mocks, timeout=60)
        eventually(lambda: connector.ready().get("ready"), 30)
        before = device_snapshot(mocks)
        managed = [o["metadata"]["name"] for o in cluster.raw_list(Kind.NAMESPACE)
                   if (o["metadata"].get("labels") or {}).get("fusion-connector.io/managed") == "true"]
        assert len(managed) >= 2
        gone = tuple(ip for o in cluster.raw_list(Kind.POD) if o["metadata"]["namespace"] in managed
                     and (ip := pod_ipv4(o)))
        assert gone
        # the connector sees none of it: its lists and watches fail while the namespaces go, and
        # the history is compacted, so its relist finds them gone without a DELETE event
        for prefix in ("/api/", "/apis/discovery.k8s.io/", "/apis/fusion-connector.io/"):
            mocks.fault("kube", {"status": 503, "method": "GET", "path": prefix})
        mocks.fault("kube", {"dropWatches": True})
        for name in managed:
            cluster.delete_namespace(name)
        httpx.post(f"{mocks.kube}/_mock/compact", timeout=10).raise_for_status()
        httpx.delete(f"{mocks.kube}/_mock/faults", timeout=10).raise_for_status()

        def refused() -> list[dict[str, Any]]:
            return [e for e in cluster.events(CONNECTOR_NS) if e["reason"] == "UnsafePlanRefused"]

        events = eventually(refused, 90)
        assert events[0]["type"] == "Warning"
        eventually(lambda: connector.metric("fusion_connector_unsafe_plans_total") >= 3, 60)
        after = device_snapshot(mocks)
        # nothing was deleted ...
        for table in before["fgt"]:
            assert {o["name"] for o in after["fgt"][table]} >= {o["name"] for o in before["fgt"][table]}
        assert set(after["bigip"][TENANT]["Shared"]) >= set(before["bigip"][TENANT]["Shared"])
        for collection in ("groups", "rules"):
            assert {o["name"] for o in after["soc"][collection]} >= {
                o["name"] for o in before["soc"][collection]}
        # ... and what stays grants the vanished namespaces' addresses nothing
        converged(cluster, mocks, timeout=60, extra_sources=gone)
    finally:
        connector.stop()
        connector.close()
