"""One demo pass in process: the example converges on all three mock devices, the sample
questions get the decisions the rule semantics imply (docs/resources.md), and the store summary agrees."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from connector.demo.environment import BIGIP, FORTIGATE, REST, DemoEnvironment, bypass_proxies
from connector.demo.run import DemoRun, run_demo


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[DemoEnvironment, DemoRun]]:
    with DemoEnvironment() as environment:
        yield environment, run_demo(environment)


def test_every_device_converges_and_plans_clean_afterwards(demo: tuple[DemoEnvironment, DemoRun]) -> None:
    _, run = demo
    assert run.ok
    assert [o.device for o in run.applied.outcomes] == [BIGIP, FORTIGATE, REST]
    assert all(o.applied and o.error is None for o in run.applied.outcomes)
    assert all(o.plan is not None and o.plan.empty for o in run.verified.outcomes)


def test_devices_hold_the_example(demo: tuple[DemoEnvironment, DemoRun]) -> None:
    _, run = demo
    names = {device: {o.name for o in objects} for device, objects in run.holdings.items()}
    assert {"src_payments_svc_checkout", "dst_payments_stripe", "egress_policy"} <= names[BIGIP]
    payments = _source_addresses(run, "payments", version=4)  # FortiOS holds IPv4 only
    assert len(payments) >= 3 and _fortios_addresses(run) >= payments
    assert "lan-to-internet" in names[FORTIGATE]  # the firewall team's policy, left alone
    policies = [o for o in run.holdings[FORTIGATE] if o.kind == "policy"]
    assert policies[-1].name == "lan-to-internet" and policies[-1].owner is None
    # payments is limited to bigip-dc1 and fgt-edge by its devices annotation; analytics skips bigip-dc1
    assert not any("payments" in name for name in names[REST])
    assert any("analytics" in name for name in names[REST])
    assert not any("analytics" in name for name in names[BIGIP])
    assert not any("kube-system" in name for objects in names.values() for name in objects)


def _source_addresses(run: DemoRun, namespace: str, version: int) -> set[ipaddress.IPv4Address]:
    """The namespace's source addresses as compiled (whatever the devices name their groups)."""
    state = run.applied.compiled.devices[FORTIGATE]
    groups = [g for g in state.groups.values() if g.namespace == namespace and g.purpose == "namespace"]
    return {ip for group in groups for ip in map(ipaddress.ip_address, group.addresses)  # type: ignore[misc]
            if ip.version == version}


def _fortios_addresses(run: DemoRun) -> set[ipaddress.IPv4Address]:
    """Every host address the FortiGate's own address objects hold (ranges and subnets)."""
    held: set[ipaddress.IPv4Address] = set()
    for item in run.holdings[FORTIGATE]:
        if item.kind != "address" or item.owner is None:
            continue
        if item.body.get("type") == "iprange":
            start, end = (ipaddress.IPv4Address(item.body[k]) for k in ("start-ip", "end-ip"))
            held.update(ipaddress.IPv4Address(n) for n in range(int(start), int(end) + 1))
        elif item.body.get("type") == "ipmask":
            network = ipaddress.IPv4Network(item.body["subnet"].replace(" ", "/"), strict=False)
            if network.num_addresses <= 256:
                held.update(network)
    return held


def _decisions(run: DemoRun, index: int) -> dict[str, str]:
    explanation = run.answers[index].explanation
    assert explanation is not None, run.answers[index].problem
    return {d.device: f"{d.action} {d.decision.origin}" if d.decision else "None"
            for d in explanation.devices}


def test_sample_decisions(demo: tuple[DemoEnvironment, DemoRun]) -> None:
    _, run = demo
    allow_stripe = "Allow ServiceEgressRule payments/checkout-to-stripe"
    assert _decisions(run, 0) == {BIGIP: allow_stripe, FORTIGATE: allow_stripe, REST: "None"}
    threat = "Deny ClusterEgressRule deny-threat-list"
    assert _decisions(run, 1) == {BIGIP: threat, FORTIGATE: threat, REST: "None"}
    batch = "Deny NamespaceEgressRule payments/batch-deny-rest"
    assert _decisions(run, 2) == {BIGIP: batch, FORTIGATE: batch, REST: "None"}
    assert set(_decisions(run, 3).values()) == {"Allow ClusterEgressRule allow-dns-ntp"}
    store = "Allow NamespaceEgressRule analytics/allow-object-store"
    assert _decisions(run, 4) == {BIGIP: "None", FORTIGATE: store, REST: store}
    assert set(_decisions(run, 5).values()) == {"None"}


def test_rules_not_accepted_and_summary(demo: tuple[DemoEnvironment, DemoRun]) -> None:
    _, run = demo
    rejected = {str(s.ref): s.reason.value for s in run.applied.compiled.rules.values() if not s.accepted}
    assert rejected == {"ServiceEgressRule analytics/spark-to-warehouse": "ExternalServiceNotFound"}
    by_device = {s.device: s for s in run.summary}
    for name, outcome in ((o.device, o) for o in run.applied.outcomes):
        summary = by_device[name]
        assert summary.in_sync is True and summary.plans == 1 and summary.open_drift == 0
        assert outcome.plan is not None
        assert summary.applied == {"create": len(outcome.plan.changes)}
        assert summary.owned == len([o for o in run.holdings[name] if o.owner == run.owner_marks[name]])


def test_stop_removes_the_directory_and_the_servers() -> None:
    environment = DemoEnvironment().start()
    directory, urls = environment.directory, [e.url for e in environment.endpoints]
    assert environment.config_path.is_file() and environment.env_path.stat().st_mode & 0o077 == 0
    environment.stop()
    assert not directory.exists()
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)


def test_loopback_bypasses_a_configured_proxy_only() -> None:
    assert bypass_proxies("127.0.0.1", environ := {}) == "" and environ == {}
    environ = {"https_proxy": "http://proxy:3128", "no_proxy": "corp.example"}
    assert bypass_proxies("127.0.0.1", environ) == "corp.example,127.0.0.1,localhost"
    assert environ["NO_PROXY"] == environ["no_proxy"] == "corp.example,127.0.0.1,localhost"
    assert bypass_proxies("127.0.0.1", environ) == "corp.example,127.0.0.1,localhost"


def test_the_fortigate_table_shows_the_devices_policy_ids(demo: tuple[DemoEnvironment, DemoRun]) -> None:
    """The demo's policy table gives each policy of ours the FortiGate's own `policyid` (as its
    API lists it) beside its place in evaluation order."""
    from connector.demo.holdings import holdings_text

    environment, run = demo
    token = environment.environment["FGT_TOKEN"]
    url = f"{environment.url_of(FORTIGATE)}/api/v2/cmdb/firewall/policy"
    answer = httpx.get(url, params={"vdom": "root"}, headers={"Authorization": f"Bearer {token}"})
    listed = answer.json()["results"]
    ids = {p["name"]: str(p["policyid"]) for p in listed if "fusion-connector" in p.get("comments", "")}
    assert ids and run.numbers[FORTIGATE] and {n: run.numbers[FORTIGATE][n] for n in ids} == ids
    numbers = run.numbers[FORTIGATE]
    lines = holdings_text("fortios", run.holdings[FORTIGATE], run.owner_marks[FORTIGATE], numbers)
    assert any("place" in line and "policy ID" in line for line in lines)
    for place, policy in enumerate(listed, 1):
        if policy["name"] in ids:
            row = [str(place), ids[policy["name"]], policy["name"]]
            assert any(line.split()[:3] == row for line in lines), row
