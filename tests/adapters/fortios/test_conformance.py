"""Conformance: what the FortiGate mock holds after an apply decides like the model (docs/resources.md).

The device's decision comes from `policy_evaluator` over tables read back through the FortiOS
API (IPv4 and IPv6 objects); the expected one from `connector.evaluate.decide`, for both address
families. A probe from an address of one family to an address of the other is no traffic (a packet
has one IP version): the device must decide nothing of ours for it, whatever the model says.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings

from adapters.fortios.client import CMDB, TABLES
from connector.evaluate import Probe, decide
from connector.model import Action, DeviceState
from tests.adapters.fortios.conftest import TOKEN, AdapterFactory, Device, sync
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.fortios.scenarios import nested_probes, nested_states, payments_probes, payments_state
from tests.adapters.strategies import states_with_probes

COLLECTIONS = {f"{CMDB}/{table}" for table in TABLES.values()}


def cross_family(probe: Probe) -> bool:
    """A probe from an address of one IP version to an address of the other."""
    try:
        destination = ipaddress.ip_address(probe.destination)
    except ValueError:
        return False  # a name: traffic of the source's family
    return destination.version != ipaddress.ip_address(probe.source).version


def expected_action(state: DeviceState, probe: Probe) -> str | None:
    rule = decide(state, probe)
    if rule is None:
        return None
    return "accept" if rule.action is Action.ALLOW else "deny"


def check_conformance(device: Device, state: DeviceState, probes: list[Probe]) -> int:
    """Assert the device decides every probe like the model; returns how many were compared (cross-
    family probes are checked to match nothing and not counted)."""
    evaluator = FortiGateEvaluator(fetch_tables(device.url, TOKEN))
    compared = 0
    for probe in probes:
        verdict = evaluator.decide(probe)
        if cross_family(probe):
            assert verdict.action is None, f"{probe}: cross-family traffic matched policy {verdict.policy}"
            continue
        expected = expected_action(state, probe)
        assert verdict.action == expected, (
            f"{probe}: device says {verdict.action} ({verdict.policy}), model says {expected}")
        compared += 1
    return compared


def test_fixed_scenario_decides_like_the_model(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    state = payments_state()
    _, result = sync(adapter, state)
    assert result.ok, result.error
    assert check_conformance(device, state, payments_probes()) == len(payments_probes())


def test_reordered_rules_are_moved_and_still_conform(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    sync(adapter, payments_state())
    state = payments_state(reverse=True)
    plan, result = sync(adapter, state)
    assert result.ok, result.error
    assert any(change.op.value == "reorder" for change in plan.changes)
    assert result.details["moves"] >= 1
    check_conformance(device, state, payments_probes())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=states_with_probes())
def test_generated_states_conform_and_converge(device: Device, make_adapter: AdapterFactory,
                                               case: tuple[DeviceState, list[Probe]]) -> None:
    # the mock is shared across examples: each apply converges from the previous example's state
    state, probes = case
    adapter = make_adapter(cluster=state.cluster)
    mark = device.last_seq()
    _, result = sync(adapter, state)
    assert result.ok, result.error
    check_conformance(device, state, probes)
    again, result = sync(adapter, state)
    assert again.empty, again.summary()
    assert result.writes == 0
    deletes = [e["path"] for e in device.requests(mark) if e["method"] == "DELETE"]
    assert not [path for path in deletes if path.rstrip("/") in COLLECTIONS]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=nested_states())
def test_nested_source_groups_conform_and_converge(device: Device, make_adapter: AdapterFactory,
                                                   state: DeviceState) -> None:
    # groups that contain, equal and overlap one another; each example converges from the previous
    # one's nesting on the shared mock (groups re-nested, held groups deleted, limits crossed)
    adapter = make_adapter()
    _, result = sync(adapter, state)
    assert result.ok, result.error
    assert check_conformance(device, state, nested_probes()) == len(nested_probes())
    again, result = sync(adapter, state)
    assert again.empty and result.writes == 0, again.summary()
