"""End to end: `fusion-connector run` against the four mocks as processes, the cluster changed
through the `kubernetes` client, every device judged by its conformance evaluator against the
rule-semantics oracle (docs/resources.md, "How a rule decides"). The tests of this module share
one cluster and one connector and run in order, each changing the cluster and waiting for every
device to decide like the oracle again.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.cluster import Kind
from connector.store import Store, create_engine, session_factory
from tests.connector.controller.harness import (
    CLUSTER,
    Cluster,
    Connector,
    Mocks,
    baseline,
    converged,
    environment,
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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


class World:
    def __init__(self, mocks: Mocks, cluster: Cluster, connector: Connector, database: str) -> None:
        self.mocks = mocks
        self.cluster = cluster
        self.connector = connector
        self.database = database

    def audit(self) -> list[Any]:
        engine = create_engine(self.database)
        try:
            with session_factory(engine)() as session:
                return Store(session, CLUSTER).audit.window()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with environment() as (mocks, cluster), tempfile.TemporaryDirectory() as tmp:
        cluster.apply(*baseline())
        database = f"sqlite:///{Path(tmp) / 'store.db'}"
        config = write_config(Path(tmp), mocks, database=database)
        with stops_cleanly(Connector(config)) as connector:
            yield World(mocks, cluster, connector, database)


def test_initial_convergence_status_and_readiness(world: World) -> None:
    converged(world.cluster, world.mocks, timeout=60)
    ready = eventually(lambda: world.connector.ready().get("ready") and world.connector.ready(), 30)
    assert ready["role"] == "leader" and ready["synced"] and ready["store"]
    assert world.connector.get("/healthz").status_code == 200

    def programmed() -> dict[str, Any]:
        obj = world.cluster.custom_object(Kind.SERVICE_EGRESS_RULE, "payments", "allow-stripe")
        status = obj.get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        assert conditions.get("Programmed", {}).get("status") == "True", status
        return status

    status = eventually(programmed, 30)
    assert status["conditions"][0]["type"] == "Accepted" and status["conditions"][0]["status"] == "True"
    assert status["sources"] == 3
    assert {d["name"] for d in status["devices"]} == {"bigip", "fgt", "soc"}
    assert all(d["programmed"] and d["lastSyncTime"] for d in status["devices"])
    assert status["observedGeneration"] == 1
    metrics = world.connector.metrics()
    for name in ("fusion_connector_reconcile_duration_seconds_bucket", "fusion_connector_leader 1.0",
                 "fusion_connector_owned_objects{device=\"fgt\"}", "fusion_connector_watch_restarts_total",
                 "fusion_connector_last_successful_sync_timestamp_seconds{device=\"soc\"}"):
        assert name in metrics, name


def test_status_is_not_rewritten_in_a_loop(world: World) -> None:
    before = world.connector.metric("fusion_connector_status_writes_total")
    obj = world.cluster.custom_object(Kind.NAMESPACE_EGRESS_RULE, "payments", "allow-db")
    version = obj["metadata"]["resourceVersion"]
    # a pod change recompiles, syncs and re-evaluates statuses; none of this rule's content changes
    world.cluster.apply(pod("shop", "web-9", {"app": "web"}))
    converged(world.cluster, world.mocks)
    eventually(lambda: world.connector.metric("fusion_connector_convergence_latency_seconds_count") > 0, 10)
    after = world.cluster.custom_object(Kind.NAMESPACE_EGRESS_RULE, "payments", "allow-db")
    assert after["metadata"]["resourceVersion"] == version
    # only the ClusterEgressRule's source count changed (the new pod is in a namespace it selects)
    assert world.connector.metric("fusion_connector_status_writes_total") - before <= 1


def test_scaling_pods_up_and_down(world: World) -> None:
    world.cluster.apply(*[pod("payments", f"api-{i}", {"app": "api"}) for i in range(4, 7)])
    converged(world.cluster, world.mocks)
    before = {o["metadata"]["name"]: pod_ipv4(o) for o in world.cluster.raw_list(Kind.POD)
              if o["metadata"]["namespace"] == "payments"}
    gone = {name: before[name] for name in ("api-1", "api-4", "worker-1")}
    for name in gone:
        world.cluster.delete_pod("payments", name)
    live = {pod_ipv4(o) for o in world.cluster.raw_list(Kind.POD)}
    deleted = tuple(ip for ip in gone.values() if ip and ip not in live)
    converged(world.cluster, world.mocks, extra_sources=deleted)
    triggers = {t for entry in world.audit() for t in entry.triggers}
    assert "Pod/payments/api-4" in triggers and "Pod/payments/worker-1" in triggers


def test_priority_and_action_change(world: World) -> None:
    world.cluster.apply(rule("ServiceEgressRule", "allow-stripe", "payments", service="api", priority=300,
                             action="Deny", externalServices=["stripe"]),
                        rule("NamespaceEgressRule", "allow-db", "payments", priority=50, action="Allow",
                             externalServices=["stripe", "db"]))
    converged(world.cluster, world.mocks)

    def observed() -> bool:
        obj = world.cluster.custom_object(Kind.SERVICE_EGRESS_RULE, "payments", "allow-stripe")
        status = obj.get("status") or {}
        return bool(status.get("observedGeneration") == obj["metadata"]["generation"] == 2
                    and all(c["status"] == "True" for c in status["conditions"]))

    eventually(observed, 30)


def test_external_service_addresses_added_and_removed(world: World) -> None:
    world.cluster.apply(external_service("payments", "db", ["10.20.0.0/16", "203.0.113.0/24"],
                                         [{"protocol": "TCP", "port": "5432"}]))
    converged(world.cluster, world.mocks)
    world.cluster.apply(external_service("payments", "db", ["10.21.0.0/16"],
                                         [{"protocol": "TCP", "port": "5432"}]))
    converged(world.cluster, world.mocks)


def test_rule_not_accepted_gets_status_and_event(world: World) -> None:
    world.cluster.apply(rule("NamespaceEgressRule", "broken", "shop", priority=10, action="Allow",
                             externalServices=["missing"]))

    def rejected() -> dict[str, Any]:
        status = world.cluster.custom_object(Kind.NAMESPACE_EGRESS_RULE, "shop", "broken").get("status") or {}
        accepted = {c["type"]: c for c in status.get("conditions") or []}.get("Accepted") or {}
        assert accepted.get("status") == "False", status
        return accepted

    assert eventually(rejected, 30)["reason"] == "ExternalServiceNotFound"

    def event() -> bool:
        return any(e["involvedObject"]["name"] == "broken" and e["reason"] == "ExternalServiceNotFound"
                   and e["type"] == "Warning" for e in world.cluster.events("shop"))

    eventually(event, 30)
    converged(world.cluster, world.mocks)


def test_widened_source_is_reported_in_status_and_event(world: World) -> None:
    annotations = {"fusion-connector.io/source-mode": "egress-ip",
                   "fusion-connector.io/egress-ips": "192.0.2.10"}
    world.cluster.apply(namespace("snat", {"env": "dev"}, annotations),
                        service("snat", "api", {"app": "api"}), pod("snat", "api-1", {"app": "api"}),
                        external_service("snat", "partner", ["198.51.100.0/24"]),
                        rule("ServiceEgressRule", "partner", "snat", service="api", action="Allow",
                             externalServices=["partner"]))
    try:
        def widened() -> dict[str, Any]:
            obj = world.cluster.custom_object(Kind.SERVICE_EGRESS_RULE, "snat", "partner")
            status = obj.get("status") or {}
            accepted = {c["type"]: c for c in status.get("conditions") or []}.get("Accepted") or {}
            assert accepted.get("reason") == "SourceWidened", status
            return accepted

        assert eventually(widened, 30)["status"] == "True"

        def event() -> bool:
            return any(e["involvedObject"]["name"] == "partner" and e["reason"] == "SourceWidened"
                       and e["type"] == "Normal" for e in world.cluster.events("snat"))

        eventually(event, 30)
    finally:
        # the judge probes from pod addresses; this namespace's traffic leaves from its egress IP
        world.cluster.delete_namespace("snat")
        eventually(lambda: not any(o["metadata"]["name"] == "snat"
                                   for o in world.cluster.raw_list(Kind.NAMESPACE)), 30)


def test_namespace_deleted(world: World) -> None:
    ips = tuple(filter(None, (pod_ipv4(o) for o in world.cluster.raw_list(Kind.POD)
                              if o["metadata"]["namespace"] == "shop")))
    assert ips
    world.cluster.delete_namespace("shop")
    eventually(lambda: not any(o["metadata"]["name"] == "shop"
                               for o in world.cluster.raw_list(Kind.NAMESPACE)), 30)
    converged(world.cluster, world.mocks, extra_sources=ips)
    entries = world.audit()
    assert entries and all(entry.result.value == "applied" for entry in entries)
    assert any(t.startswith(("Namespace/shop", "Pod/shop/")) for e in entries for t in e.triggers)


def test_a_pod_change_is_synced_against_the_known_state_without_reading_the_devices(world: World) -> None:
    converged(world.cluster, world.mocks)
    mark = len(world.connector.output())
    world.cluster.apply(pod("payments", "api-known", {"app": "api"}))
    converged(world.cluster, world.mocks)

    def synced_blind() -> bool:
        log = world.connector.output()[mark:]
        for device in ("bigip", "fgt", "soc"):
            assert re.search(rf"{device}: sync in [0-9.]+s \(known state", log), device
        return True

    eventually(synced_blind, 30)


def test_sigterm_exits_zero_and_releases_the_lease(world: World) -> None:
    with contextlib.suppress(Exception):
        world.connector.signal(15)
    assert world.connector.process.wait(30) == 0
    lease = world.cluster.lease(f"fusion-connector-{CLUSTER}")
    assert lease is not None and not lease["spec"].get("holderIdentity")
