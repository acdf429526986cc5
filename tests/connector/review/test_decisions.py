"""The decision diff against the full first-match walk: every (source address, destination,
port) whose decision differs between the two full device states is reported by a change whose
destination and port hold it, and every reported change has such a witness."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

import pytest

from connector.cluster import Kind, StaticView
from connector.compiler import Compiler, CompileSettings
from connector.evaluate import Probe, evaluate
from connector.model import Capabilities, DeviceState, Protocol
from connector.review.decisions import DecisionChange, Memo, Verdict, decision_changes
from connector.review.manifests import ChangeSet, Entry
from tests.connector.review.scenario import cluster_view

FC = "fusion-connector.io/v1alpha1"
SETTINGS = CompileSettings(cluster="t", devices=(("soc", Capabilities()),))
DESTINATIONS = ("198.51.100.1", "198.51.100.200", "203.0.113.254", "api.stripe.com", "10.9.9.9")
PORTS = ((443, Protocol.TCP), (8443, Protocol.TCP), (1, Protocol.TCP), (53, Protocol.UDP))


def _obj(kind: str, name: str, namespace: str = "", **spec: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": FC, "kind": kind, "metadata": meta, "spec": spec}


CHANGE_SETS: dict[str, tuple[list[dict[str, Any]], list[tuple[str, str, str]]]] = {
    "new service rule": ([_obj("ServiceEgressRule", "api-out", "payments", service="api", action="Allow",
                               priority=100, externalServices=["stripe"])], []),
    "widened external service": ([_obj("ExternalService", "bank", "payments", addresses=["198.51.100.0/24"],
                                       ports=[{"port": "443"}, {"port": "8443"}])], []),
    "deleted namespace rule": ([], [("NamespaceEgressRule", "shop", "legacy-any")]),
    "cluster deny before everything": ([
        _obj("ExternalService", "dns", "fusion-system", addresses=["10.9.9.9"], ports=[{"protocol": "UDP",
                                                                                        "port": "53"}]),
        _obj("ClusterEgressRule", "no-dns", action="Deny", priority=1, externalServices=["dns"])], []),
    "priority change": ([_obj("NamespaceEgressRule", "allow-bank", "payments", action="Deny", priority=200,
                              externalServices=["bank"])], []),
    "nothing changes": ([_obj("NamespaceEgressRule", "allow-bank", "payments", action="Allow", priority=200,
                              externalServices=["bank"])], []),
}


def _compile(objects: list[dict[str, Any]],
             deletes: list[tuple[str, str, str]]) -> tuple[DeviceState, DeviceState]:
    view = cluster_view()
    compiler = Compiler(SETTINGS)
    before = compiler.full(view).devices["soc"]
    change_set = ChangeSet(entries=[Entry("t", "apply", o["kind"], o["metadata"].get("namespace", ""),
                                          o["metadata"]["name"], o) for o in objects]
                           + [Entry("t", "delete", k, ns, n) for k, ns, n in deletes])
    after = compiler.apply(change_set.apply(view)).devices["soc"]
    return before, after


def _addresses(view: StaticView) -> dict[str, str]:
    return {pod["status"]["podIP"]: pod["metadata"]["namespace"] for pod in view.list(Kind.POD)}


def _holds(change: DecisionChange, destination: str, port: int, protocol: Protocol) -> bool:
    if change.destination != "*":
        whole, _, holes = change.destination.partition(" except ")
        if "/" in whole or whole[:1].isdigit():
            try:
                address = ipaddress.ip_address(destination)
            except ValueError:
                return False
            if address not in ipaddress.ip_network(whole) or any(
                    address in ipaddress.ip_network(h) for h in holes.split(", ") if h):
                return False
        elif change.destination != destination:
            return False
    if change.port == "*":
        return True
    ports, _, proto = change.port.partition("/")
    start, _, end = ports.partition("-")
    return proto == protocol.value and int(start) <= port <= int(end or start)


@pytest.mark.parametrize("name", list(CHANGE_SETS))
def test_the_diff_reports_exactly_the_decisions_the_full_walk_changes(name: str) -> None:
    before, after = _compile(*CHANGE_SETS[name])
    reported = decision_changes(before, after)
    witnessed: set[DecisionChange] = set()
    for address, namespace in _addresses(cluster_view()).items():
        for destination in DESTINATIONS:
            for port, protocol in PORTS:
                probe = Probe(address, destination, port, protocol)
                was = Verdict.of(evaluate(before, probe).decision)
                becomes = Verdict.of(evaluate(after, probe).decision)
                holding = [c for c in reported if c.namespace == namespace
                           and _holds(c, destination, port, protocol)
                           and (c.before, c.after) == (was, becomes)]
                if was != becomes:
                    assert holding, f"{name}: {address} → {destination}:{port}/{protocol} {was} → {becomes}"
                witnessed.update(holding)
    assert set(reported) <= witnessed
    if name == "nothing changes":
        assert reported == []
    else:
        assert reported


def test_the_same_state_has_no_change() -> None:
    before, _ = _compile([], [])
    assert decision_changes(before, before) == []


def _renamed(state: DeviceState, device: str) -> DeviceState:
    return DeviceState(device, state.cluster, dict(state.groups), dict(state.destinations),
                       dict(state.port_sets), state.rules)


@pytest.mark.parametrize("name", ["new service rule", "widened external service"])
def test_a_shared_memo_finds_for_each_device_what_it_finds_alone(name: str) -> None:
    before, after = _compile(*CHANGE_SETS[name])
    other_before, other_after = _compile(*CHANGE_SETS["cluster deny before everything"])
    memo = Memo()
    first = decision_changes(before, after, memo)
    twin = decision_changes(_renamed(before, "twin"), _renamed(after, "twin"), memo)
    other = decision_changes(_renamed(other_before, "other"), _renamed(other_after, "other"), memo)
    assert twin == [dataclasses.replace(c, device="twin") for c in first] and twin
    assert other == decision_changes(_renamed(other_before, "other"), _renamed(other_after, "other"))
    assert other != [dataclasses.replace(c, device="other") for c in first]
