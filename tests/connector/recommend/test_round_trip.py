"""recommend -> review round trip: the recommended manifests, applied offline to the same cluster
view and evaluated against the same observed flows, close no observed flow, open exactly the
Allow-able ones observed often enough, and allow nothing beyond the observed destinations and
ports (checked on the compiled rules and by first-match evaluation of neighbouring probes)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from connector.compiler import Compiler
from connector.evaluate import Probe, evaluate
from connector.model import CompiledRule, DeviceState, Protocol
from connector.recommend import Target, check, observe, recommend, to_yaml
from connector.review.manifests import read_change_set
from connector.review.review import run_review
from tests.connector.recommend.scenario import (
    CLUSTER,
    DEVICES,
    cluster_view,
    observed_records,
    settings,
    validator,
)

Key = tuple[str, str, int]  # (destination, protocol, port)

CASES = {
    # target -> (min count, the destination ports the new rule must open)
    "service": (Target("shop", "web"), 2, {("93.184.216.34", "TCP", 443), ("93.184.216.34", "TCP", 80),
                                           ("192.0.2.25", "TCP", 25), ("2001:db8::53", "UDP", 53)}),
    "namespace": (Target("shop"), 1, {("93.184.216.34", "TCP", 443), ("93.184.216.34", "TCP", 80),
                                      ("192.0.2.25", "TCP", 25), ("2001:db8::53", "UDP", 53),
                                      ("198.51.100.6", "TCP", 8443), ("198.51.100.77", "TCP", 5432)}),
}


def _write(tmp_path: Path, target: Target, min_count: int) -> tuple[Path, set[Key], set[str]]:
    """The recommendation written to a file; the (destination, protocol, port) it was derived
    from and the names of its rules."""
    recommendation = recommend(observe(observed_records(), target, min_count=min_count))
    assert recommendation.manifests and not check(recommendation.manifests, validator())
    path = tmp_path / "recommended.yaml"
    path.write_text(to_yaml(recommendation, CLUSTER))
    used = {(u.destination, u.protocol, u.port) for u in recommendation.observed.uses}
    return path, used, {m.name for m in recommendation.rules}


def _after(path: Path) -> dict[str, DeviceState]:
    view = cluster_view()
    read_change_set([path], validator=validator()).apply(view)
    return Compiler(settings()).full(view).devices


def _decide(state: DeviceState, source: str, destination: str, protocol: str,
            port: int) -> CompiledRule | None:
    return evaluate(state, Probe(source, destination, port, Protocol(protocol))).decision


def _allowed_by(state: DeviceState, rules: set[str]) -> set[Key]:
    """Every (address, protocol, port) the compiled rules named `rules` match."""
    out: set[Key] = set()
    for rule in state.rules:
        if rule.origin.name not in rules:
            continue
        assert rule.destination is not None and rule.ports is not None, "never open-ended"
        destination = state.destinations[rule.destination]
        assert not destination.fqdns
        for text in destination.networks:
            network = ipaddress.ip_network(text)
            assert network.num_addresses == 1, f"{text} is wider than one address"
            for r in state.port_sets[rule.ports].ranges:
                out.update((str(network.network_address), r.protocol.value, port)
                           for port in range(r.start, r.end + 1))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_applying_the_recommendation_closes_no_observed_flow_and_opens_the_allowable_ones(
        case: str, tmp_path: Path) -> None:
    target, min_count, opened = CASES[case]
    path, _, rules = _write(tmp_path, target, min_count)
    records = observed_records()
    change_set = read_change_set([path], validator=validator())
    review = run_review(cluster_view(), settings(), change_set, flows=records)
    assert not review.refused and not review.not_accepted and not review.invalid
    assert [e.outcome for e in review.entries] == ["created"] * len(review.entries)
    assert review.count("closes") == 0
    assert not [f for f in review.flows.changes if f.before.action == "Allow" and f.after.action != "Allow"]
    assert {(f.destination, f.port) for f in review.flows.changes} == {
        (dst, f"{port}/{protocol}") for dst, protocol, port in opened}
    for change in review.flows.changes:
        assert change.before.action == "Deny" and change.after.action == "Allow"
        assert change.after.rule == f"{target.rule_kind} shop/{next(iter(rules))}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_observed_flow_keeps_or_gains_allow_on_its_device(case: str, tmp_path: Path) -> None:
    target, min_count, opened = CASES[case]
    path, _, _ = _write(tmp_path, target, min_count)
    before = Compiler(settings()).full(cluster_view()).devices
    after = _after(path)
    for record in observed_records():
        line = record.line
        if line.dst_port is None:
            continue
        probe = Probe(line.src, line.dst, line.dst_port, Protocol(line.protocol))
        was = evaluate(before[line.device], probe).decision
        now = evaluate(after[line.device], probe).decision
        assert was is not None and now is not None
        assert was.action.value == line.action  # the records are what the devices decided
        key = (line.dst, line.protocol, line.dst_port)
        mine = target.holds(record.identity) and not record.ambiguous
        expected = "Allow" if line.action == "Allow" or (mine and key in opened) else "Deny"
        assert now.action.value == expected, (record, now.origin)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_new_rule_allows_exactly_the_observed_destinations_and_ports(case: str, tmp_path: Path) -> None:
    target, min_count, _ = CASES[case]
    path, used, rules = _write(tmp_path, target, min_count)
    after = _after(path)
    for device in DEVICES:
        assert _allowed_by(after[device], rules) == used


@pytest.mark.parametrize("case", sorted(CASES))
def test_neighbouring_destinations_and_ports_are_not_allowed_by_the_new_rule(case: str,
                                                                            tmp_path: Path) -> None:
    target, min_count, _ = CASES[case]
    path, used, rules = _write(tmp_path, target, min_count)
    after = _after(path)
    sources = {"10.0.2.1", "fd00::21", "10.0.2.2"} | ({"10.0.2.3"} if target.service is None else set())
    destinations = {d for d, _, _ in used}
    probes: set[Key] = set()
    for destination, protocol, port in used:
        ip = ipaddress.ip_address(destination)
        probes.update({(str(ip + 1), protocol, port), (str(ip - 1), protocol, port),
                       (destination, protocol, port + 1), (destination, protocol, port - 1),
                       (destination, "SCTP" if protocol != "SCTP" else "TCP", port)})
        probes.update((other, protocol, port) for other in destinations)  # another observed address
    probes -= used
    assert probes
    for device in DEVICES:
        for source in sources:
            for destination, protocol, port in probes:
                decision = _decide(after[device], source, destination, protocol, port)
                assert decision is None or decision.origin.name not in rules, (source, destination, port)
            for destination, protocol, port in used:  # and the observed ones are
                decision = _decide(after[device], source, destination, protocol, port)
                assert decision is not None and decision.action.value == "Allow"


def test_a_service_rule_does_not_allow_the_namespace_s_other_pods(tmp_path: Path) -> None:
    path, used, rules = _write(tmp_path, Target("shop", "web"), 1)
    after = _after(path)
    for device in DEVICES:
        for destination, protocol, port in used:
            decision = _decide(after[device], "10.0.2.3", destination, protocol, port)
            assert decision is not None and decision.origin.name not in rules
