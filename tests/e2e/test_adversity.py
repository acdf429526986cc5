"""End to end, under adversity: real processes (kube, BIG-IP, FortiGate and REST mocks, the
connector), judged by what the mocks hold.

- Namespaces whose default-rule keys share the first six hex digits of their hash (`t880` and
  `t3919`; FortiOS policy names once kept only six) both get their default action on the device,
  under unique policy names (default actions are grouped now; names are also covered by
  tests/adapters/test_unique_names.py).
- Six of ten namespaces deleted while their pods' addresses go to new pods of another namespace:
  whatever the safety thresholds withhold, no reused address keeps the access of its former
  owner, and the new pods are programmed.
- A FortiGate whose every call fails: the rule created meanwhile is not `Programmed` (reason
  `DeviceError`), `/readyz` lists the device as degraded, errors are counted as transient, and
  everything converges once the device answers again.
- A leader stopped (SIGSTOP) past its Lease while a standby takes over never writes again after
  SIGCONT: leadership is checked before each device write.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.cluster import Kind
from connector.evaluate import Probe
from tests.connector.controller.harness import (
    FAST_LEASE,
    TOKEN,
    Cluster,
    Connector,
    Mocks,
    converged,
    device_deciders,
    environment,
    eventually,
    external_service,
    namespace,
    pod,
    pod_ipv4,
    rule,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COLLIDING = ("t880", "t3919")  # sha256("e2e/t880/default")[:6] == sha256("e2e/t3919/default")[:6]
DOOMED = tuple(f"t{i}" for i in range(1, 7))
SURVIVORS = ("t7", "t8", "t9")
SECRET_DB = ("10.20.1.5", 5432)
SAFETY = {"maxDeletePercent": 30, "maxUpdatePercent": 100, "minExisting": 5}


@pytest.fixture
def world() -> Iterator[tuple[Mocks, Cluster, Path]]:
    with environment() as (mocks, cluster), tempfile.TemporaryDirectory() as tmp:
        yield mocks, cluster, Path(tmp)


def tenant(ns: str, pods: int = 4) -> list[dict[str, Any]]:
    return [namespace(ns, {"team": ns}), *[pod(ns, f"app-{i}", {"app": "app"}) for i in range(pods)]]


def secret_db(ns: str) -> list[dict[str, Any]]:
    return [external_service(ns, "secret-db", [f"{SECRET_DB[0]}/32"],
                             [{"protocol": "TCP", "port": str(SECRET_DB[1])}]),
            rule("NamespaceEgressRule", "allow-secret-db", ns, priority=100, action="Allow",
                 externalServices=["secret-db"])]


def running_pod(ns: str, name: str, ip: str) -> dict[str, Any]:
    """A pod created Running with the given address (the kube mock keeps a status given at create)."""
    obj = pod(ns, name, {"app": "app"})
    obj["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.0.0.1",
                     "conditions": [{"type": "Ready", "status": "True"}]}
    return obj


def addresses(cluster: Cluster, ns: str) -> list[str]:
    found = []
    for obj in cluster.raw_list(Kind.POD):
        if obj["metadata"]["namespace"] == ns:
            ip = pod_ipv4(obj)
            if ip:
                found.append(ip)
    return sorted(found)


def fortigate_policies(mocks: Mocks) -> list[dict[str, Any]]:
    response = httpx.get(f"{mocks.fgt}/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    response.raise_for_status()
    policies: list[dict[str, Any]] = response.json()["results"]
    return policies


def condition(cluster: Cluster, kind: Kind, ns: str, name: str, type: str) -> dict[str, Any]:
    obj = cluster.custom_object(kind, ns, name)
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == type:
            return dict(entry)
    return {}


def test_collisions_withheld_deletions_and_a_failing_device(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    for ns in (*COLLIDING, *DOOMED, *SURVIVORS):
        cluster.apply(*tenant(ns))
    cluster.apply(*secret_db("t1"))
    connector = Connector(write_config(tmp, mocks, safety=SAFETY, debounce="1s"))
    try:
        converged(cluster, mocks, timeout=90)

        # 1. both namespaces get their default action; policy names are unique
        names = [p["name"] for p in fortigate_policies(mocks)]
        assert len(names) == len(set(names))
        for ns in COLLIDING:
            decide = device_deciders(mocks, ("fgt",))["fgt"]
            assert decide(Probe(addresses(cluster, ns)[0], "203.0.113.77", 443)) == "Deny", ns

        # 2. six namespaces go; their addresses come back as new pods of t9
        freed = [ip for ns in DOOMED for ip in addresses(cluster, ns)]
        t1_addresses = addresses(cluster, "t1")
        allowed = device_deciders(mocks)
        for device, decide in allowed.items():
            assert decide(Probe(t1_addresses[0], *SECRET_DB)) == "Allow", device
        for ns in DOOMED:
            cluster.delete_namespace(ns)
        eventually(lambda: not any(addresses(cluster, ns) for ns in DOOMED), 30, what="namespaces gone")
        cluster.apply(*[running_pod("t9", f"new-{i}", ip) for i, ip in enumerate(freed)])
        converged(cluster, mocks, timeout=90)
        for device, decide in device_deciders(mocks).items():
            for ip in t1_addresses:
                assert decide(Probe(ip, *SECRET_DB)) != "Allow", (device, ip)

        # 3. every FortiGate call fails; a rule created meanwhile is not Programmed
        errors_before = connector.metric("fusion_connector_device_errors_total", device="fgt")
        mocks.fault("fgt", {"status": 500, "path": "/api/v2/cmdb"})
        cluster.apply(*secret_db("t8"))

        def refused_on_fgt() -> dict[str, Any]:
            programmed = condition(cluster, Kind.NAMESPACE_EGRESS_RULE, "t8", "allow-secret-db", "Programmed")
            state = (programmed.get("status"), programmed.get("reason"))
            assert state == ("False", "DeviceError"), programmed
            return programmed

        eventually(refused_on_fgt, 60)
        readiness = eventually(lambda: (r := connector.ready()) and "fgt" in r.get("degraded", []) and r, 30)
        assert readiness["devices"]["fgt"]["reason"] == "DeviceError"
        assert connector.metric("fusion_connector_device_errors_total", device="fgt") > errors_before
        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10).raise_for_status()
        converged(cluster, mocks, timeout=90)
        eventually(lambda: condition(cluster, Kind.NAMESPACE_EGRESS_RULE, "t8", "allow-secret-db",
                                     "Programmed").get("status") == "True", 60)
        eventually(lambda: not connector.ready().get("degraded"), 30)
    finally:
        connector.stop()
        connector.close()


def test_a_leader_stopped_past_its_lease_never_writes_again(world: tuple[Mocks, Cluster, Path]) -> None:
    mocks, cluster, tmp = world
    cluster.apply(*tenant("t1"))
    config = write_config(tmp, mocks)
    first = Connector(config, *FAST_LEASE)
    second: Connector | None = None
    try:
        eventually(lambda: first.ready().get("role") == "leader", 30)
        converged(cluster, mocks, timeout=60)
        second = Connector(config, *FAST_LEASE)
        eventually(lambda: second is not None and second.ready().get("ready"), 30)

        # the leader is in the middle of a slow apply when it is stopped
        mocks.fault("fgt", {"latencyMs": 300, "method": "POST"})
        cluster.apply(*[pod("t1", f"burst-{i}", {"app": "app"}) for i in range(12)])
        mark = len(mocks.writes("fgt"))
        eventually(lambda: len(mocks.writes("fgt")) > mark, 30, interval=0.05, what="the leader writes")
        first.signal(signal.SIGSTOP)
        standby = second
        eventually(lambda: standby.ready().get("role") == "leader", 30, what="the standby takes over")
        httpx.delete(f"{mocks.fgt}/_mock/faults", timeout=10).raise_for_status()
        converged(cluster, mocks, timeout=60)

        # only the deposed leader runs now: whatever reaches the devices comes from it
        second.signal(signal.SIGSTOP)
        marks = {device: len(mocks.writes(device)) for device in mocks.devices}
        first.signal(signal.SIGCONT)
        time.sleep(2.5)  # well inside the Lease the stopped standby still holds
        for device, count in marks.items():
            late = mocks.writes(device)[count:]
            assert not late, f"{device}: the deposed leader wrote {late[:3]}\n{first.output()[-6000:]}"
        second.signal(signal.SIGCONT)
        cluster.apply(pod("t1", "after", {"app": "app"}))
        converged(cluster, mocks, timeout=60)
    finally:
        for connector in (first, second):
            if connector is not None:
                connector.signal(signal.SIGCONT)
                connector.stop()
                connector.close()
