"""A pod change synced against the known state is planned by difference, not against the VDOM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.delta import PERMISSIVE, forbid_full_planning
from tests.adapters.fortios.conftest import AdapterFactory, Device
from tests.adapters.fortios.scenarios import edge_state


def test_a_pod_change_is_planned_by_difference(device: Device, make_adapter: AdapterFactory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = make_adapter()
    known = KnownState()
    state = edge_state()
    assert sync_device(adapter, state, PERMISSIVE, apply=True, known=known).ok
    joined = edge_state(extra=["10.1.0.99"])
    # the compiler keeps the objects of everything a change does not touch
    changed = replace(state, groups={**state.groups, **{k: joined.groups[k] for k in
                                                        ("ns/edge", "svc/edge/gateway")}})
    forbid_full_planning(monkeypatch)
    outcome = sync_device(adapter, changed, PERMISSIVE, apply=True, known=known, read=False)
    assert outcome.ok and outcome.plan is not None and not outcome.read
    assert 1 <= len(outcome.plan.changes) <= 3
    assert any(a["name"].endswith("10.1.0.99") or a.get("subnet", "").startswith("10.1.0.99")
               for a in device.table("firewall/address"))
