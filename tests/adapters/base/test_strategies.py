"""The shared conformance strategies generate valid states and probes that exercise them."""

from __future__ import annotations

import ipaddress

from hypothesis import given, seed, settings

from connector.evaluate import Probe, decide
from connector.model import DeviceState
from tests.adapters.strategies import states_with_probes


@settings(max_examples=60, deadline=None)
@given(states_with_probes())
def test_states_are_valid(sample: tuple[DeviceState, list[Probe]]) -> None:
    state, probes = sample
    assert state.rules and probes
    for rule in state.rules:
        assert rule.source in state.groups
        assert rule.destination is None or rule.destination in state.destinations
        assert rule.ports is None or rule.ports in state.port_sets
    for group in state.groups.values():
        assert group.members
        assert all(ipaddress.ip_address(a) for a in group.addresses)
    for destination in state.destinations.values():
        assert destination.networks or destination.fqdns
        assert all(str(ipaddress.ip_network(n)) == n for n in destination.networks)
    for port_set in state.port_sets.values():
        assert port_set.ranges and list(port_set.ranges) == sorted(port_set.ranges)


def test_probes_decide_often() -> None:
    decided: list[bool] = []

    @seed(4)
    @settings(max_examples=40, deadline=None, database=None)
    @given(states_with_probes())
    def collect(sample: tuple[DeviceState, list[Probe]]) -> None:
        state, probes = sample
        decided.extend(decide(state, probe) is not None for probe in probes)

    collect()
    assert len(decided) > 100
    assert 0.2 < sum(decided) / len(decided) < 0.98
