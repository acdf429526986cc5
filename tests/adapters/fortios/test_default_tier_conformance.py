"""Conformance of the grouped default actions (docs/architecture.md, "The default tier"): a FortiGate
holding them decides like the per-namespace form, with shared node and egress addresses, mixed and
None default actions and devices annotations."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from connector.evaluate import Probe
from connector.model import DeviceState
from tests.adapters.default_tier_cases import grouped_cases
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.test_conformance import check_conformance


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=grouped_cases())
def test_grouped_defaults_on_the_device_decide_like_the_per_namespace_form(
    device: Device, make_adapter: AdapterFactory, case: tuple[DeviceState, DeviceState, list[Probe]]
) -> None:
    state, reference, probes = case
    adapter = make_adapter(cluster=state.cluster)
    _, result = sync(adapter, state)
    assert result.ok, result.error
    check_conformance(device, reference, probes)
