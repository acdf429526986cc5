"""A pod change synced against the known state is planned by difference, not against the VDOM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.base import Adapter
from connector.config import SafetyConfig
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.fortios.conftest import AdapterFactory, Device
from tests.adapters.fortios.scenarios import edge_state

SAFETY = SafetyConfig(maxDeletePercent=100, maxUpdatePercent=100, minExisting=1)


def test_a_pod_change_is_planned_by_difference(device: Device, make_adapter: AdapterFactory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = make_adapter()
    known = KnownState()
    state = edge_state()
    assert sync_device(adapter, state, SAFETY, apply=True, known=known).ok
    joined = edge_state(extra=["10.1.0.99"])
    # the compiler keeps the objects of everything a change does not touch
    changed = replace(state, groups={**state.groups, **{k: joined.groups[k] for k in
                                                        ("ns/edge", "svc/edge/gateway")}})

    def full_plan(*args: object, **kwargs: object) -> None:
        raise AssertionError("planned against the whole state")

    monkeypatch.setattr(Adapter, "plan", full_plan)
    outcome = sync_device(adapter, changed, SAFETY, apply=True, known=known, read=False)
    assert outcome.ok and outcome.plan is not None and not outcome.read
    assert 1 <= len(outcome.plan.changes) <= 3
    assert any(a["name"].endswith("10.1.0.99") or a.get("subnet", "").startswith("10.1.0.99")
               for a in device.table("firewall/address"))
