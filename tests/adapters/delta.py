"""Helpers for the tests that a sync against the known state is planned by difference."""

from __future__ import annotations

import pytest

from connector.adapter import Adapter
from connector.planner import SafetyThresholds

PERMISSIVE = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=1)


def forbid_full_planning(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, planning against the whole device state fails the test."""

    def full_plan(*args: object, **kwargs: object) -> None:
        raise AssertionError("planned against the whole state")

    monkeypatch.setattr(Adapter, "plan", full_plan)
