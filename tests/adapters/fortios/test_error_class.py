"""A FortiGate answering 503 to everything (a storm outlasting the retries) ends the sync as a
transient error, not a permanent one: the class survives the adapter's apply path (sequential and
with requests in flight) and its read, end to end through `sync_device`; a FortiOS error code
stays permanent."""

from __future__ import annotations

from typing import Any

import pytest

from connector.reconciler.device import ErrorClass, sync_device
from tests.adapters.fortios.conftest import NO_SAFETY, AdapterFactory, Device
from tests.adapters.fortios.scenarios import payments_state, spread_state

STORM = {"status": 503, "times": 100_000}


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("fault", [
    {**STORM, "method": "POST"},  # every create: the apply fails
    {**STORM, "method": "POST", "path": "/api/v2/cmdb/firewall/policy"},  # after the addresses and groups
    STORM,  # reads too: the sync fails before planning
])
def test_a_503_storm_is_a_transient_error(device: Device, make_adapter: AdapterFactory, fault: dict[str, Any],
                                          concurrency: int) -> None:
    adapter = make_adapter()
    adapter.concurrency = concurrency
    device.fault(fault)
    outcome = sync_device(adapter, spread_state(12, 2), NO_SAFETY, apply=True)
    assert outcome.error_class is ErrorClass.TRANSIENT, outcome.error
    assert outcome.error is not None and "503" in outcome.error
    assert outcome.to_json()["errorClass"] == "transient"
    if fault.get("method"):
        assert outcome.applied and outcome.result is not None and outcome.result.writes > 0


def test_a_fortios_error_code_is_a_permanent_error(device: Device, make_adapter: AdapterFactory) -> None:
    # srcintf names an interface the FortiGate does not have: FortiOS -3 on the policy create
    adapter = make_adapter(srcintf=["port99"])
    outcome = sync_device(adapter, payments_state(), NO_SAFETY, apply=True)
    assert outcome.error_class is ErrorClass.PERMANENT, outcome.error
    assert outcome.error is not None and "FortiOS error" in outcome.error
