"""Conformance: what the mock BIG-IP holds, read back through AS3 and decided with AFM semantics,
decides like the rule semantics (docs/resources.md, connector.evaluate) for fixed scenarios and
generated states."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from adapters.f5 import AS3Adapter
from connector.evaluate import Probe, decide
from connector.model import DeviceState
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.f5.conftest import Device, sync
from tests.adapters.f5.scenarios import basic_probes, basic_state, with_empty_group
from tests.adapters.strategies import states_with_probes


def assert_conforms(device: Device, adapter: AS3Adapter, state: DeviceState, probes: list[Probe]) -> None:
    body = device.tenant(adapter.tenant)
    if not any(state.group_addresses(r.source) for r in state.rules):
        assert body is None
        return
    assert body is not None
    declaration = Declaration(adapter.tenant, body)
    for probe in probes:
        expected = decide(state, probe)
        got = verdict(declaration.decide(probe))
        assert got == (expected.action.value if expected else None), (probe, expected, got)


def test_fixed_scenario_decides_like_the_model(device: Device, adapter: AS3Adapter) -> None:
    state = basic_state()
    sync(adapter, state)
    assert_conforms(device, adapter, state, basic_probes())


def test_decisions_cover_allow_deny_and_no_decision(device: Device, adapter: AS3Adapter) -> None:
    state = basic_state()
    sync(adapter, state)
    declaration = Declaration(adapter.tenant, device.tenant(adapter.tenant) or {})
    verdicts = {verdict(declaration.decide(p)) for p in basic_probes()}
    assert verdicts == {"Allow", "Deny", None}


def test_rule_with_empty_sources_is_left_off_not_widened(device: Device, adapter: AS3Adapter) -> None:
    state = with_empty_group(basic_state())
    sync(adapter, state)
    body = device.tenant(adapter.tenant)
    assert body is not None
    lists = [v for v in body["Shared"].values()
             if isinstance(v, dict) and v.get("class") == "Firewall_Address_List"]
    assert all(v.get("addresses") or v.get("fqdns") for v in lists)
    names = [r["name"] for r in Declaration(adapter.tenant, body).rules()]
    assert not any("batch" in n for n in names)
    assert_conforms(device, adapter, state, basic_probes())


def test_route_domain_attach_decides_like_the_model(device: Device) -> None:
    from connector.config import Secrets
    from tests.adapters.f5.conftest import CLUSTER, FAST, make_config

    config = make_config(device.url, routeDomain="/Common/0")
    with AS3Adapter(config, CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"}), retry=FAST,
                    poll_interval=0.005) as adapter:
        state = basic_state()
        sync(adapter, state)
        body = device.tenant(adapter.tenant)
        assert body is not None
        assert not any(v.get("class") == "Service_L4" for v in body["Shared"].values() if isinstance(v, dict))
        assert_conforms(device, adapter, state, basic_probes())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states_with_probes())
def test_generated_states_decide_like_the_model(device: Device, adapter: AS3Adapter,
                                                case: tuple[DeviceState, list[Probe]]) -> None:
    state, probes = case
    sync(adapter, state)
    assert_conforms(device, adapter, state, probes)
    _, again = sync(adapter, state)
    assert again.writes == 0


@pytest.mark.parametrize("count", [1, 3])
def test_successive_states_converge(device: Device, adapter: AS3Adapter, count: int) -> None:
    state = basic_state()
    for _ in range(count):
        sync(adapter, state)
    sync(adapter, with_empty_group(state))
    assert_conforms(device, adapter, with_empty_group(state), basic_probes())
