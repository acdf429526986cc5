"""A pod change synced against the known state is planned by difference, not against the tenant."""

from __future__ import annotations

import pytest

from adapters.base import Adapter
from adapters.f5 import AS3Adapter
from connector.config import SafetyConfig
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.f5.conftest import Device
from tests.adapters.f5.scenarios import basic_state, with_pod

SAFETY = SafetyConfig(maxDeletePercent=100, maxUpdatePercent=100, minExisting=1)


def test_a_pod_change_is_planned_by_difference(device: Device, adapter: AS3Adapter,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    known = KnownState()
    state = basic_state()
    assert sync_device(adapter, state, SAFETY, apply=True, known=known).ok

    def full_plan(*args: object, **kwargs: object) -> None:
        raise AssertionError("planned against the whole state")

    monkeypatch.setattr(Adapter, "plan", full_plan)
    outcome = sync_device(adapter, with_pod(state, "ns/shop", "10.0.0.9"), SAFETY, apply=True, known=known,
                          read=False)
    assert outcome.ok and outcome.plan is not None
    assert [(c.op.value, c.kind) for c in outcome.plan.changes] == [("update", "address_list")]
    held = device.tenant(adapter.tenant)
    assert held is not None and "10.0.0.9" in held["Shared"]["src_shop"]["addresses"]
