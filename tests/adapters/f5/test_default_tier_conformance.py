"""Conformance of the grouped default actions (docs/architecture.md, "The default tier"): a BIG-IP
holding them decides like the per-namespace form, with shared node and egress addresses, mixed and
None default actions and devices annotations."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from adapters.f5 import AS3Adapter
from connector.evaluate import Probe
from connector.model import DeviceState
from tests.adapters.default_tier_cases import grouped_cases
from tests.adapters.f5.conftest import Device, sync
from tests.adapters.f5.test_conformance import assert_conforms


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=grouped_cases())
def test_grouped_defaults_on_the_device_decide_like_the_per_namespace_form(
    device: Device, adapter: AS3Adapter, case: tuple[DeviceState, DeviceState, list[Probe]]
) -> None:
    state, reference, probes = case
    sync(adapter, state)
    if not any(state.group_addresses(r.source) for r in state.rules):
        assert device.tenant(adapter.tenant) is None
        return
    assert_conforms(device, adapter, reference, probes)
