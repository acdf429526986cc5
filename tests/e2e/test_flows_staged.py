"""End to end: an Audit-mode rule on BIG-IP, with real processes. The kube and BIG-IP mocks and
`fusion-connector run` run as processes; the connector stages the Audit rule in the AS3 tenant's
staged policy (`policyFirewallStaged`), and the BIG-IP mock, deciding a flow by its enforced policy,
also logs the staged policy's match as its own AFM line (`acl_policy_type="Staged"`) over TCP to
the connector's syslog receiver.

The enforced decision is the enforced rule's (the Audit rule denies, nothing is denied); the staged
lines reach the connector and are counted `result="staged"` without becoming flow records; and
the Audit rule's counts (`fusion_connector_audit_flows_total`, behind its `status.audit`) hold the
flows it would have decided, differently (counted from the enforced flows, so each flow once)."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.f5.names import APPLICATION
from connector.cluster import Kind
from connector.flows.record import rfc3339
from connector.store import create_engine, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.store.rule_map import DeviceRuleMap
from tests.connector.controller.harness import (
    CLUSTER,
    CONNECTOR_NS,
    TENANT,
    Cluster,
    Connector,
    Mocks,
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
from tests.e2e.conftest import start_mock
from tests.e2e.test_flows_e2e import free_port, now

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BIGIP_SOURCE = "127.0.0.3"
STRIPE = "198.51.100.10"
FLOWS = 3
ENFORCED = {"kind": "ServiceEgressRule", "namespace": "payments", "name": "allow-stripe"}
AUDIT = "audit-deny-stripe"


class BigIpMocks(Mocks):
    """The kube mock and the BIG-IP mock sending its logs over TCP to the receiver's port."""

    def __init__(self, stack: contextlib.ExitStack, syslog_port: int) -> None:
        self.kube, self.kube_process = stack.enter_context(start_mock("kube", "--bookmark-interval", "1"))
        self.bigip, _ = stack.enter_context(start_mock(
            "bigip", "--processing-ms", "5", "--syslog", f"tcp://127.0.0.1:{syslog_port}?source={BIGIP_SOURCE}"))
        self.fgt = self.soc = "http://127.0.0.1:9"  # not started: the configuration lists only bigip

    @property
    def devices(self) -> dict[str, str]:
        return {"bigip": self.bigip}


@dataclass
class World:
    mocks: BigIpMocks
    cluster: Cluster
    connector: Connector
    config: Path

    def flows(self) -> list[dict[str, Any]]:
        """The BIG-IP's records in the connector's store, as `fusion-connector flows --output json`
        prints them (the command itself: test_flows_e2e.py)."""
        engine = create_engine(yaml.safe_load(self.config.read_text())["database"])
        try:
            with session_factory(engine)() as session:
                found = FlowRecordRepository(session, CLUSTER).query(FlowFilter(device="bigip"))
                return [record.to_json() for record in found]
        finally:
            engine.dispose()

    def lines(self, result: str) -> float:
        return self.connector.metric("fusion_connector_flow_lines_total", device="bigip", result=result)

    def audited(self, result: str) -> float:
        """The Audit rule's count in `fusion_connector_audit_flows_total`, counted with the tally its
        `status.audit` is written from (that write: tests/connector/controller/test_audit_wiring.py)."""
        rule_label = f"ServiceEgressRule/payments/{AUDIT}"
        return self.connector.metric("fusion_connector_audit_flows_total", rule=rule_label, result=result)

    def tenant(self) -> dict[str, Any]:
        tenants: dict[str, Any] = httpx.get(f"{self.mocks.bigip}/_mock/tenants", timeout=10).json()
        return dict(tenants.get(TENANT) or {})


def objects() -> list[dict[str, Any]]:
    return [
        namespace("payments", {"env": "prod"}),
        external_service("payments", "stripe", ["198.51.100.0/24"],
                         [{"name": "https", "protocol": "TCP", "port": "443"}]),
        service("payments", "api", {"app": "api"}),
        pod("payments", "api-1", {"app": "api"}),
        rule("ServiceEgressRule", "allow-stripe", "payments", service="api", priority=100, action="Allow",
             externalServices=["stripe"], logging=True),
        rule("ServiceEgressRule", AUDIT, "payments", service="api", priority=50, action="Deny",
             externalServices=["stripe"], mode="Audit"),
    ]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    syslog_port = free_port()
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        mocks = BigIpMocks(stack, syslog_port)
        cluster = Cluster(mocks.kube)
        stack.callback(cluster.close)
        cluster.install_crds()
        cluster.apply(namespace(CONNECTOR_NS, managed=False))
        cluster.apply(*objects())
        path = write_config(Path(tmp), mocks, devices=("bigip",))
        document = yaml.safe_load(path.read_text())
        sender = {"device": "bigip", "addresses": [BIGIP_SOURCE], "format": "bigip-afm"}
        document["flows"] = {"syslog": {"listen": f"127.0.0.1:{syslog_port}"}, "senders": [sender]}
        path.write_text(yaml.safe_dump(document))
        with stops_cleanly(Connector(path)) as connector:
            yield World(mocks, cluster, connector, path)


def staged_and_recorded(world: World) -> bool:
    """Whether the mock holds the Audit rule staged and the connector has recorded its rules."""
    shared = world.tenant().get(APPLICATION) or {}
    if not any(isinstance(item, dict) and "policyFirewallStaged" in item for item in shared.values()):
        return False
    engine = create_engine(yaml.safe_load(world.config.read_text())["database"])
    try:
        with session_factory(engine)() as session:
            return "bigip" in DeviceRuleMap(session, CLUSTER).devices()
    finally:
        engine.dispose()


def staged_rule_remark(world: World, name: str) -> str:
    """The remark of the staged AFM rule `name` (it names the Kubernetes rule it stands for)."""
    for item in (world.tenant().get(APPLICATION) or {}).values():
        if isinstance(item, dict) and item.get("class") == "Firewall_Rule_List":
            for afm_rule in item.get("rules") or []:
                if afm_rule.get("name") == name:
                    return str(afm_rule.get("remark", ""))
    raise AssertionError(f"no AFM rule {name} in the tenant")


def test_an_audit_rule_is_logged_staged_counted_and_decides_nothing(world: World) -> None:
    pods = {p["metadata"]["name"]: p for p in world.cluster.raw_list(Kind.POD)}
    address = pod_ipv4(pods["api-1"])
    assert address is not None
    eventually(lambda: staged_and_recorded(world), 60, what="the Audit rule staged and the rules recorded")
    # the device-rule map holds from when it was recorded, and the BIG-IP logs whole seconds: send
    # from the next whole second, so that the logged time is not before the rules were recorded
    time.sleep(1.05 - now().microsecond / 1e6)
    staged_before, attributed_before = world.lines("staged"), world.lines("attributed")

    body = {"src": address, "srcPort": 40001, "dst": STRIPE, "dstPort": 443, "protocol": "TCP",
            "count": FLOWS, "time": rfc3339(now())}
    answer = httpx.post(f"{world.mocks.bigip}/_mock/traffic", json=body, timeout=10).json()
    assert answer["action"] == "accept-decisively", "the enforced rule decides; the Audit rule is staged"
    assert answer["staged"] is not None and answer["staged"]["action"] == "reject", answer
    assert answer["staged"]["policy"].endswith("/audit_policy") and answer["staged"]["rule"] != answer["rule"]
    assert f"ServiceEgressRule payments/{AUDIT}" in staged_rule_remark(world, answer["staged"]["rule"])
    assert answer["logged"] == 2 * FLOWS, "per flow: the enforced line and the staged line"

    eventually(lambda: world.lines("staged") >= staged_before + FLOWS, 30, what="the staged lines counted")
    eventually(lambda: world.lines("attributed") >= attributed_before + FLOWS, 30,
               what="the enforced lines attributed")
    eventually(lambda: world.audited("matched") == FLOWS, 30, what=f"{AUDIT} counting {FLOWS} flows")
    assert world.audited("wouldChange") == FLOWS, "it would have denied what the device allowed"
    assert world.connector.metric("fusion_connector_audit_flows_total") == 2 * FLOWS, "no other rule counted"
    assert world.lines("staged") == staged_before + FLOWS and world.lines("malformed") == 0

    mine = [r for r in world.flows() if r["src"] == address]
    assert sum(r["count"] for r in mine) == FLOWS, "staged lines are no flow records"
    for record in mine:
        assert record["action"] == "Allow" and record["identity"]["pod"] == "api-1", record
        assert {k: record["rule"][k] for k in ("kind", "namespace", "name")} == ENFORCED, record
