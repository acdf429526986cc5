"""Syncs against the known state: no read of the tenant at all, the same declaration posted, and
drift made by hand repaired by the next sync that reads."""

from __future__ import annotations

from adapters.f5 import AS3Adapter
from connector.planner import SafetyThresholds
from connector.reconciler.device import sync_device
from connector.reconciler.known import KnownState
from tests.adapters.f5.conftest import Device
from tests.adapters.f5.scenarios import basic_state, with_pod

SAFETY = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=1)
DECLARE = "/mgmt/shared/appsvcs/declare"


def tenant_gets(device: Device) -> list[dict[str, object]]:
    return [r for r in device.requests() if r["method"] == "GET" and r["path"].startswith(DECLARE)]


def test_a_sync_against_the_known_state_never_gets_the_tenant(device: Device, adapter: AS3Adapter) -> None:
    known = KnownState()
    assert sync_device(adapter, basic_state(), SAFETY, apply=True, known=known).ok
    device.clear_log()
    state = with_pod(basic_state(), "ns/shop", "10.0.0.9")
    outcome = sync_device(adapter, state, SAFETY, apply=True, known=known, read=False)
    assert outcome.ok and outcome.applied and not outcome.read
    assert tenant_gets(device) == [] and len(device.declaration_posts()) == 1
    held = device.tenant(adapter.tenant)
    assert held is not None and "10.0.0.9" in held["Shared"]["src_shop"]["addresses"]


def test_hand_made_drift_is_repaired_by_the_next_reading_sync(device: Device, adapter: AS3Adapter) -> None:
    known = KnownState()
    assert sync_device(adapter, basic_state(), SAFETY, apply=True, known=known).ok
    held = device.tenant(adapter.tenant)
    assert held is not None
    del held["Shared"]["src_shop"]
    held["Shared"]["rules_namespace"]["rules"] = [
        r for r in held["Shared"]["rules_namespace"]["rules"] if "shop" not in r["name"]]
    declaration = {"class": "ADC", "schemaVersion": "3.36.0", adapter.tenant: held}
    device.http.post(DECLARE, json=declaration).raise_for_status()
    blind = sync_device(adapter, basic_state(), SAFETY, apply=True, known=known, read=False)
    assert blind.plan is not None and blind.plan.empty
    repair = sync_device(adapter, basic_state(), SAFETY, apply=True, known=known, read=True)
    assert repair.ok and repair.applied and repair.read
    repaired = device.tenant(adapter.tenant)
    assert repaired is not None and "src_shop" in repaired["Shared"]
