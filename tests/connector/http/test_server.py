"""The health and metrics server: status codes and bodies follow the probes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.cluster import Kind
from connector.controller.metrics import ControllerMetrics
from connector.http import HealthServer, parse_listen
from connector.sources import KindStats


class FakeProbes:
    def __init__(self) -> None:
        self.is_alive = True
        self.ready: dict[str, Any] = {"ready": False, "role": "standby"}
        self.metrics = ControllerMetrics()
        stats = {Kind.POD: KindStats(watch_restarts=4, relists=2, expired=1)}
        self.metrics.watch(lambda: stats, lambda: True)

    def alive(self) -> bool:
        return self.is_alive

    def readiness(self) -> dict[str, Any]:
        if self.ready.get("explode"):
            raise RuntimeError("probe bug")
        return self.ready

    def render_metrics(self) -> bytes:
        return self.metrics.render()


@pytest.fixture
def served() -> Iterator[tuple[FakeProbes, str]]:
    probes = FakeProbes()
    server = HealthServer(probes, "127.0.0.1", 0).start()
    yield probes, server.url
    server.stop()


def test_healthz_follows_liveness(served: tuple[FakeProbes, str]) -> None:
    probes, url = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    probes.is_alive = False
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 500 and response.json() == {"status": "wedged"}


def test_readyz_answers_503_until_ready_then_200_with_the_role(served: tuple[FakeProbes, str]) -> None:
    probes, url = served
    response = httpx.get(f"{url}/readyz")
    assert response.status_code == 503 and response.json()["role"] == "standby"
    probes.ready = {"ready": True, "role": "leader"}
    response = httpx.get(f"{url}/readyz")
    assert response.status_code == 200 and response.json() == {"ready": True, "role": "leader"}
    probes.ready = {"explode": True}
    assert httpx.get(f"{url}/readyz").status_code == 500


def test_metrics_exposition(served: tuple[FakeProbes, str]) -> None:
    probes, url = served
    probes.metrics.reconcile_duration.labels("fgt").observe(0.3)
    probes.metrics.plan_changes.labels("fgt", "address", "create").inc(2)
    probes.metrics.device_errors.labels("bigip", "transient").inc()
    probes.metrics.convergence.labels("soc").observe(0.7)
    probes.metrics.leader.set(1)
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in ('fusion_connector_reconcile_duration_seconds_count{device="fgt"} 1.0',
                 'fusion_connector_plan_changes_total{device="fgt",kind="address",op="create"} 2.0',
                 'fusion_connector_device_errors_total{class="transient",device="bigip"} 1.0',
                 'fusion_connector_convergence_latency_seconds_bucket{device="soc",le="0.7"} 1.0',
                 'fusion_connector_watch_restarts_total{kind="pods"} 4.0',
                 'fusion_connector_watch_expired_total{kind="pods"} 1.0',
                 "fusion_connector_cache_synced 1.0", "fusion_connector_leader 1.0"):
        assert line in text, line


def test_unknown_path_is_404(served: tuple[FakeProbes, str]) -> None:
    assert httpx.get(f"{served[1]}/nope").status_code == 404


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)
    for bad in ("8080", "host:", "host:99999"):
        with pytest.raises(ValueError):
            parse_listen(bad)
