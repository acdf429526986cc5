"""Deleting 6 of 10 namespaces while their pod addresses go to new pods in `t9`, synced to an
in-process FortiGate mock the way the controller syncs (known state, no read back).

Deletions the API reported are not held back by the safety thresholds; deletions nobody saw (a
relist found the namespaces gone) are withheld, but the rest of the plan still goes out and no
withheld object keeps an address: 10.244.0.2 (t1's pod, now `t9/new-27`) never keeps reaching
t1's `secret-db`, and the 40 new `t9` pods are programmed in the same sync.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from connector.cluster import StaticView
from connector.compiler import CompileSettings, compile_cluster
from connector.config import Secrets
from connector.evaluate import Probe, decide
from connector.model import Action, DeviceState
from connector.planner import Op, SafetyThresholds
from connector.reconciler.device import DeviceOutcome, Refusal, sync_device
from connector.reconciler.known import KnownState
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from tests.adapters.fortios.conftest import FAST_RETRY, TOKEN
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.connector.compiler.builders import external_service, namespace, namespace_rule, pod

CLUSTER = "rt"
DEVICE = "fgt"
SAFETY = SafetyThresholds()  # the defaults: 30% deletes, 30% updates, from 10 owned objects
NAMESPACES = [f"t{i}" for i in range(10)]
DELETED = NAMESPACES[:6]
PODS = 12
REUSED = "10.244.0.2"  # t1's first pod, then t9/new-27


def pod_ip(ns: int, k: int) -> str:
    """Pods of different namespaces interleave (no contiguous runs: one address object each)."""
    return f"10.244.{k}.{ns + 1}"


def db_ip(ns: int) -> str:
    return f"10.96.{ns}.5"


def cluster_before() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i, name in enumerate(NAMESPACES):
        objects.append(namespace(name))
        objects.extend(pod(name, f"app-{k}", pod_ip(i, k)) for k in range(PODS))
        objects.append(external_service(name, "secret-db", [f"{db_ip(i)}/32"],
                                        [{"port": 5432, "protocol": "TCP"}]))
        objects.append(namespace_rule(name, "allow-db", "Allow", externalServices=["secret-db"]))
    return objects


def freed_addresses() -> list[str]:
    freed = [pod_ip(NAMESPACES.index(ns), k) for ns in DELETED for k in range(PODS)]
    freed.remove(REUSED)
    freed = freed[:39]
    freed.insert(27, REUSED)
    return freed


def cluster_after() -> list[dict[str, Any]]:
    """t0..t5 deleted; t9 gains 40 pods on the freed addresses, `new-27` on 10.244.0.2."""
    gone = set(DELETED)
    kept = [o for o in cluster_before()
            if o["metadata"].get("namespace", o["metadata"]["name"]) not in gone]
    return kept + [pod("t9", f"new-{j}", ip) for j, ip in enumerate(freed_addresses())]


def compiled(objects: list[dict[str, Any]]) -> DeviceState:
    settings = CompileSettings(cluster=CLUSTER, devices=((DEVICE, FortiOSAdapter.capabilities),))
    return compile_cluster(StaticView(objects), settings).devices[DEVICE]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FortigateMock, str]]:
    app = FortigateMock(token=TOKEN)
    http = HttpServer(app).start()
    yield app, http.url
    http.stop()


@pytest.fixture
def adapter(server: tuple[FortigateMock, str]) -> Iterator[FortiOSAdapter]:
    app, url = server
    app.reset()
    config = FortiOSDevice.model_validate({"name": DEVICE, "type": "fortios", "url": url,
                                           "auth": {"tokenEnv": "FGT_TOKEN"}, "srcintf": ["port2"],
                                           "dstintf": ["port1"]})
    made = FortiOSAdapter(config, CLUSTER, Secrets({"FGT_TOKEN": TOKEN}), retry=FAST_RETRY)
    yield made
    made.close()


def tables(adapter: FortiOSAdapter) -> dict[str, list[dict[str, Any]]]:
    return fetch_tables(adapter.config.url, TOKEN)


def group_hosts(held: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    """Every addrgrp of the device → the IPv4 hosts it resolves to (0.0.0.0 for `none`)."""
    addresses = {a["name"]: a for a in held["address"]}
    groups = {g["name"]: [m["name"] for m in g["member"]] for g in held["addrgrp"]}

    def hosts(name: str) -> set[str]:
        if name in groups:
            return set().union(*(hosts(member) for member in groups[name]))
        address = addresses[name]
        if address["type"] == "iprange":
            first, last = (int(ipaddress.IPv4Address(address[k])) for k in ("start-ip", "end-ip"))
            return {str(ipaddress.IPv4Address(v)) for v in range(first, last + 1)}
        host, mask = address["subnet"].split()
        network = ipaddress.IPv4Network(f"{host}/{mask}", strict=False)
        return {str(network.network_address)} if network.prefixlen == 32 else {str(network)}

    return {name: hosts(name) for name in groups}


def probes() -> list[Probe]:
    sources = [pod_ip(i, k) for i in range(10) for k in (0, 1, PODS - 1)] + [REUSED]
    return [Probe(src, db_ip(i), 5432) for src in sources for i in range(10)]


def assert_decides_like(adapter: FortiOSAdapter, state: DeviceState) -> None:
    evaluator = FortiGateEvaluator(tables(adapter))
    for probe in probes():
        rule = decide(state, probe)
        expected = None if rule is None else ("accept" if rule.action is Action.ALLOW else "deny")
        verdict = evaluator.decide(probe)
        assert verdict.action == expected, f"{probe}: {verdict.action} ({verdict.policy}), model {expected}"


def assert_no_address_left_behind(adapter: FortiOSAdapter, state: DeviceState) -> None:
    """Every group of the device holds exactly what the render puts in it; a group the render no
    longer has holds no address."""
    desired = {o.name: o for o in adapter.render(state) if o.kind == "addrgrp"}
    held = group_hosts(tables(adapter))
    wanted = group_hosts({"address": [*tables(adapter)["address"]],
                          "addrgrp": [{"name": n, "member": [{"name": m} for m in o.body["member"]]}
                                      for n, o in desired.items()]})
    for name, hosts in held.items():
        if name in desired:
            assert hosts == wanted[name], name
        elif name.startswith(f"fc_{CLUSTER}_"):
            assert hosts <= {"0.0.0.0"}, f"{name} left with {sorted(hosts)[:5]}"


def first_sync(adapter: FortiOSAdapter, known: KnownState) -> None:
    outcome = sync_device(adapter, compiled(cluster_before()), SAFETY, apply=True, known=known, read=True)
    assert outcome.ok and outcome.applied, outcome.error
    assert REUSED in group_hosts(tables(adapter))[next(
        o.name for o in adapter.render(compiled(cluster_before()))
        if o.kind == "addrgrp" and "t1" in o.name)]


def test_a_deletion_the_api_reported_is_applied_in_the_same_sync(adapter: FortiOSAdapter) -> None:
    known = KnownState()
    first_sync(adapter, known)
    after = compiled(cluster_after())
    outcome = sync_device(adapter, after, SAFETY, apply=True, known=known, read=False)
    assert outcome.ok and outcome.applied and not outcome.refused, outcome.refusal_message
    assert outcome.plan is not None and outcome.plan.counts()["delete"] > 0 and not outcome.plan.withheld
    assert_no_address_left_behind(adapter, after)
    assert_decides_like(adapter, after)
    assert not any(REUSED in hosts and "t1" in name for name, hosts in group_hosts(tables(adapter)).items())


def check_withheld(adapter: FortiOSAdapter, outcome: DeviceOutcome, after: DeviceState) -> None:
    assert outcome.refused and outcome.refusal is Refusal.UNSAFE and outcome.applied, outcome.error
    plan = outcome.plan
    assert plan is not None and plan.unsafe is not None and plan.withheld
    assert all(change.op is Op.DELETE for change in plan.withheld)
    assert not any(change.op is Op.DELETE for change in plan.changes)
    assert outcome.refusal_message is not None and "withheld" in outcome.refusal_message
    # the new t9 pods are programmed, the reused address reaches only what t9 may reach
    assert_decides_like(adapter, after)
    assert_no_address_left_behind(adapter, after)
    held = group_hosts(tables(adapter))
    # t9's groups, and the unions including t9's group (its default action's)
    unions = {f"fc_rt_src_{key.split('/', 1)[1]}" for key, g in after.groups.items() if "rt/t9" in g.includes}
    assert sorted(name for name, hosts in held.items() if REUSED in hosts) == sorted(
        o.name for o in adapter.render(after) if o.kind == "addrgrp" and ("t9" in o.name or o.name in unions))


def test_deletions_nobody_reported_are_withheld_and_the_rest_applied(adapter: FortiOSAdapter) -> None:
    known = KnownState()
    first_sync(adapter, known)
    after = compiled(cluster_after())
    # a relist after 410 Gone found the six namespaces gone: no DELETE event was seen
    outcome = sync_device(adapter, after, SAFETY, apply=True, known=known, read=False, vanished=6)
    check_withheld(adapter, outcome, after)
    # the device holds what the known state says: the next event-driven sync plans nothing
    again = sync_device(adapter, after, SAFETY, apply=True, known=known, read=False)
    assert again.plan is not None and not again.plan.changes and again.plan.withheld
    assert again.refused and not again.read


def test_a_one_shot_apply_withholds_the_deletions_and_applies_the_rest(adapter: FortiOSAdapter) -> None:
    assert sync_device(adapter, compiled(cluster_before()), SAFETY, apply=True).ok
    after = compiled(cluster_after())
    outcome = sync_device(adapter, after, SAFETY, apply=True)  # `apply`: no watch saw anything
    check_withheld(adapter, outcome, after)
    assert outcome.plan is not None
    forced = sync_device(adapter, after, SAFETY, apply=True, force=True)
    assert forced.ok and forced.plan is not None
    assert forced.plan.counts()["delete"] == len(outcome.plan.withheld)
    ours = {name for name in group_hosts(tables(adapter)) if name.startswith(f"fc_{CLUSTER}_")}
    assert ours == {o.name for o in adapter.render(after) if o.kind == "addrgrp"}
    assert_decides_like(adapter, after)
