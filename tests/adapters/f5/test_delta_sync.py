"""A pod change synced against the known state is planned by difference, not against the tenant."""

from __future__ import annotations

import pytest

from adapters.f5 import AS3Adapter
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.delta import PERMISSIVE, forbid_full_planning
from tests.adapters.f5.conftest import Device
from tests.adapters.f5.scenarios import basic_state, with_pod


def test_a_pod_change_is_planned_by_difference(device: Device, adapter: AS3Adapter,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    known = KnownState()
    state = basic_state()
    assert sync_device(adapter, state, PERMISSIVE, apply=True, known=known).ok
    forbid_full_planning(monkeypatch)
    changed = with_pod(state, "ns/shop", "10.0.0.9")
    outcome = sync_device(adapter, changed, PERMISSIVE, apply=True, known=known, read=False)
    assert outcome.ok and outcome.plan is not None
    assert [(c.op.value, c.kind) for c in outcome.plan.changes] == [("update", "address_list")]
    held = device.tenant(adapter.tenant)
    assert held is not None and "10.0.0.9" in held["Shared"]["src_shop"]["addresses"]
