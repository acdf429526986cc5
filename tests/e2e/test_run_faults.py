"""End to end under faults: devices answering 503, dropping connections or answering slowly, and
the API server cutting watches, forgetting history (410 Gone) and failing with 5xx bursts. The
healthy devices keep converging while one is down, the faulty one catches up afterwards, and no
delete is ever missed: a deleted pod's address never stays allowed on any device.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.connector.controller.harness import (
    Cluster,
    Connector,
    Mocks,
    baseline,
    converged,
    environment,
    eventually,
    pod,
    pod_ipv4,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 5.0


class World:
    def __init__(self, mocks: Mocks, cluster: Cluster, connector: Connector) -> None:
        self.mocks = mocks
        self.cluster = cluster
        self.connector = connector
        self.serial = 0

    def ips(self, ns: str) -> dict[str, str]:
        """Pod name → IPv4 of `ns`, read from the namespaced path (faults on `/api/v1/pods` are
        meant for the connector's list and watch)."""
        items = self.cluster.get_json(f"/api/v1/namespaces/{ns}/pods")[1]["items"]
        return {o["metadata"]["name"]: ip for o in items if (ip := pod_ipv4(o))}

    def churn(self, ns: str = "payments") -> tuple[str, ...]:
        """Delete two pods of `ns` and add two; returns the deleted pods' addresses no pod holds now."""
        before = self.ips(ns)
        victims = sorted(name for name in before if name.startswith("api-"))[:2]
        for name in victims:
            self.cluster.delete_pod(ns, name)
        self.serial += 1
        self.cluster.apply(*[pod(ns, f"api-{self.serial}-{i}", {"app": "api"}) for i in range(2)])
        return self.gone([before[name] for name in victims], ns)

    def gone(self, ips: list[str], ns: str) -> tuple[str, ...]:
        live = set(self.ips(ns).values())
        return tuple(ip for ip in ips if ip not in live)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with environment() as (mocks, cluster), tempfile.TemporaryDirectory() as tmp:
        cluster.apply(*baseline(), *[pod("payments", f"api-0-{i}", {"app": "api"}) for i in range(4)])
        connector = Connector(write_config(Path(tmp), mocks))
        try:
            yield World(mocks, cluster, connector)
        finally:
            connector.stop()
            connector.close()


def test_healthy_devices_converge_while_one_is_down_and_it_catches_up(world: World) -> None:
    converged(world.cluster, world.mocks, timeout=60)
    world.mocks.fault("fgt", {"status": 503})  # down until cleared
    deleted = world.churn()
    converged(world.cluster, world.mocks, devices=("bigip", "soc"), extra_sources=deleted)
    httpx.delete(f"{world.mocks.fgt}/_mock/faults", timeout=10).raise_for_status()
    converged(world.cluster, world.mocks, extra_sources=deleted, timeout=90)


def test_timed_outage_dropped_connections_and_latency(world: World) -> None:
    world.mocks.fault("fgt", {"status": 503, "seconds": OUTAGE_SECONDS})
    world.mocks.fault("soc", {"dropConnections": 2})
    world.mocks.fault("bigip", {"latencyMs": 300, "seconds": OUTAGE_SECONDS})
    deleted = world.churn()
    converged(world.cluster, world.mocks, extra_sources=deleted, timeout=90)


def test_watch_cut_then_changes(world: World) -> None:
    restarts = world.connector.metric("fusion_connector_watch_restarts_total")
    world.mocks.fault("kube", {"dropWatches": True})
    deleted = world.churn()
    converged(world.cluster, world.mocks, extra_sources=deleted)
    eventually(lambda: world.connector.metric("fusion_connector_watch_restarts_total") > restarts, 20)


def test_forced_410_relists_without_missing_deletes(world: World) -> None:
    expired = world.connector.metric("fusion_connector_watch_expired_total")
    # keep the pod watch down (list and watch of pods fail) while pods change, forget the
    # history, then let the watch resume: its resourceVersion is gone (410), it must relist
    world.mocks.fault("kube", {"status": 503, "method": "GET", "path": "/api/v1/pods"})
    world.mocks.fault("kube", {"dropWatches": True})
    deleted = world.churn()
    httpx.post(f"{world.mocks.kube}/_mock/compact", timeout=10).raise_for_status()
    httpx.delete(f"{world.mocks.kube}/_mock/faults", timeout=10).raise_for_status()
    converged(world.cluster, world.mocks, extra_sources=deleted, timeout=60)
    eventually(lambda: world.connector.metric("fusion_connector_watch_expired_total") > expired, 30)


def test_api_server_5xx_burst(world: World) -> None:
    world.mocks.fault("kube", {"status": 500, "times": 40, "method": "GET"})
    world.mocks.fault("kube", {"dropWatches": True})
    deleted = world.churn()
    converged(world.cluster, world.mocks, extra_sources=deleted, timeout=60)
    assert world.connector.get("/healthz").status_code == 200
