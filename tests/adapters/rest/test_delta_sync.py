"""A pod change synced against the known state is planned by difference, not against the state."""

from __future__ import annotations

import pytest

from adapters.rest import RestAdapter
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.delta import PERMISSIVE, forbid_full_planning
from tests.adapters.f5.scenarios import with_pod
from tests.adapters.rest.conftest import Receiver
from tests.adapters.rest.scenarios import payments_state


def test_a_pod_change_is_planned_by_difference(receiver: Receiver, adapter: RestAdapter,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    known = KnownState()
    state = payments_state()
    assert sync_device(adapter, state, PERMISSIVE, apply=True, known=known).ok
    key = sorted(state.groups)[0]
    forbid_full_planning(monkeypatch)
    outcome = sync_device(adapter, with_pod(state, key, "10.0.0.9"), PERMISSIVE, apply=True, known=known,
                          read=False)
    assert outcome.ok and outcome.plan is not None and not outcome.read
    assert [(c.op.value, c.kind) for c in outcome.plan.changes] == [("update", "group")]
    held = {g["name"]: g for g in receiver.state()["groups"]}
    assert any("10.0.0.9" in g["members"] for g in held.values())
