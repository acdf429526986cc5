"""Applying plans to the mock BIG-IP: idempotence, drift, ownership, faults, errors, write counts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from adapters.f5 import AS3Adapter
from adapters.f5.client import DeclarationError
from connector.adapter import DeviceAuthError, PermanentDeviceError, UnsafePlan
from connector.config import Secrets
from connector.model import DeviceState
from connector.planner.planner import plan
from connector.planner.types import DeviceObject, Op
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.f5.conftest import CLUSTER, FAST, Device, make_config, sync
from tests.adapters.f5.scenarios import basic_probes, basic_state, with_pod
from tests.adapters.f5.test_conformance import assert_conforms


def new_adapter(device: Device, cluster: str = CLUSTER, password: str = "admin") -> AS3Adapter:
    return AS3Adapter(make_config(device.url), cluster, Secrets({"BIGIP_PASSWORD": password}),
                      retry=FAST, poll_interval=0.005)


def post_tenant(device: Device, tenant: str, body: dict[str, Any]) -> None:
    response = device.http.post(f"/mgmt/shared/appsvcs/declare/{tenant}",
                                json={"class": "ADC", "schemaVersion": "3.36.0", tenant: body})
    assert response.status_code == 200, response.text


def test_unchanged_state_makes_zero_writes(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, basic_state())
    device.clear_log()
    p, result = sync(adapter, basic_state())
    assert p.empty
    assert result.writes == 0
    assert device.writes() == []


def test_first_apply_is_one_async_declaration_with_task_polling(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, basic_state())
    posts = device.declaration_posts()
    assert len(posts) == 1
    assert posts[0]["path"] == "/mgmt/shared/appsvcs/declare/fc_c1"
    assert posts[0]["query"] == {"async": "true"}
    assert posts[0]["body"]["class"] == "AS3"
    assert posts[0]["body"]["declaration"]["fc_c1"]["label"] == "fusion-connector:c1"
    assert any(r["path"].startswith("/mgmt/shared/appsvcs/task/") for r in device.requests())


def test_one_pod_added_costs_exactly_one_declaration_post(device: Device, adapter: AS3Adapter) -> None:
    state = basic_state()
    sync(adapter, state)
    device.clear_log()
    changed = with_pod(state, "svc/payments/api", "10.0.0.99")
    p, _ = sync(adapter, changed)
    assert [(c.op, c.kind) for c in p.changes] == [(Op.UPDATE, "address_list")]
    assert len(device.declaration_posts()) == 1
    assert len(device.writes()) == 1
    assert_conforms(device, adapter, changed, basic_probes())


def test_drift_changed_by_hand_is_repaired(device: Device, adapter: AS3Adapter) -> None:
    state = basic_state()
    sync(adapter, state)
    body = device.tenant("fc_c1")
    assert body is not None
    body["Shared"]["src_payments"]["addresses"] = ["10.0.0.2"]
    body["Shared"]["rules_admin"]["rules"] = []
    post_tenant(device, "fc_c1", body)
    p, _ = sync(adapter, state)
    assert {(c.op, c.name) for c in p.changes} == {(Op.UPDATE, "src_payments"), (Op.UPDATE, "rules_admin")}
    assert_conforms(device, adapter, state, basic_probes())
    p, result = sync(adapter, state)
    assert p.empty and result.writes == 0


def test_tenant_removed_by_hand_is_recreated(device: Device, adapter: AS3Adapter) -> None:
    state = basic_state()
    sync(adapter, state)
    assert device.http.delete("/mgmt/shared/appsvcs/declare/fc_c1").status_code == 200
    assert device.tenant("fc_c1") is None
    sync(adapter, state)
    assert_conforms(device, adapter, state, basic_probes())


def test_foreign_tenant_with_our_name_is_never_touched(device: Device, adapter: AS3Adapter) -> None:
    foreign = {"class": "Tenant", "label": "team-network",
               "Shared": {"class": "Application", "template": "shared",
                          "hand_made": {"class": "Firewall_Address_List", "addresses": ["192.0.2.1"]}}}
    device.http.post("/_mock/seed", json={"fc_c1": foreign}).raise_for_status()
    desired = adapter.render(basic_state())
    p = plan(adapter.name, CLUSTER, desired, adapter.read(), owner_mark=adapter.owner_mark,
             kind_order=adapter.kind_order, force=True)
    assert [(c.kind, c.name, c.owner) for c in p.conflicts] == [("tenant", "fc_c1", "team-network")]
    assert not any(c.op is Op.DELETE for c in p.changes)
    device.clear_log()
    result = adapter.apply(p, desired)
    assert isinstance(result.error, PermanentDeviceError) and result.error.object_name == "fc_c1"
    assert "not ours" in str(result.error)
    assert (result.applied, result.writes) == (0, 0) and device.writes() == []
    assert device.tenant("fc_c1") == foreign


def test_other_tenants_are_untouched(device: Device, adapter: AS3Adapter) -> None:
    other = {"class": "Tenant", "label": "team-web",
             "App": {"class": "Application", "template": "generic",
                     "pool": {"class": "Pool",
                              "members": [{"servicePort": 80, "serverAddresses": ["192.0.2.9"]}]}}}
    device.http.post("/_mock/seed", json={"web": other}).raise_for_status()
    sync(adapter, basic_state())
    sync(adapter, DeviceState(device="bigip-dc1", cluster=CLUSTER))
    assert device.tenant("web") == other


def test_nothing_left_deletes_the_tenant_once(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, basic_state())
    device.clear_log()
    p, result = sync(adapter, DeviceState(device="bigip-dc1", cluster=CLUSTER))
    assert all(c.op is Op.DELETE for c in p.changes)
    assert [(r["method"], r["path"]) for r in device.writes()] == [
        ("DELETE", "/mgmt/shared/appsvcs/declare/fc_c1")]
    assert device.tenant("fc_c1") is None
    p, result = sync(adapter, DeviceState(device="bigip-dc1", cluster=CLUSTER))
    assert p.empty and result.writes == 0


def test_unsafe_plan_is_refused_unless_forced(device: Device, adapter: AS3Adapter) -> None:
    from connector.planner import SafetyThresholds

    sync(adapter, basic_state())
    device.clear_log()
    desired: list[DeviceObject] = []
    p = plan(adapter.name, CLUSTER, desired, adapter.read(), owner_mark=adapter.owner_mark,
             kind_order=adapter.kind_order, safety=SafetyThresholds(min_existing=1))
    assert p.unsafe
    with pytest.raises(UnsafePlan, match="unsafe plan refused") as raised:
        adapter.apply(p, desired)
    assert raised.value.reason == p.unsafe
    assert device.writes() == []
    assert device.tenant("fc_c1") is not None


def test_registry_builds_the_adapter(device: Device) -> None:
    from adapters.families import create_adapter

    created = create_adapter(make_config(device.url), CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"}))
    assert isinstance(created, AS3Adapter) and created.tenant == "fc_c1"
    assert created.read() == []
    created.close()


def test_503_storm_converges(device: Device, adapter: AS3Adapter) -> None:
    device.fault(status=503, times=5, method="POST", path="/mgmt/shared/appsvcs/declare")
    sync(adapter, basic_state())
    statuses = [r["status"] for r in device.declaration_posts()]
    assert statuses == [503] * 5 + [202]
    assert_conforms(device, adapter, basic_state(), basic_probes())


def test_429_latency_and_dropped_connections_converge(device: Device, adapter: AS3Adapter) -> None:
    device.fault(status=429, times=2, path="/mgmt/shared/appsvcs/declare")
    device.fault(latencyMs=30, times=4)
    device.fault(dropConnections=2, path="/mgmt/shared/appsvcs/task")
    sync(adapter, basic_state())
    assert_conforms(device, adapter, basic_state(), basic_probes())
    assert any(r["status"] == 0 for r in device.requests())


def test_device_busy_with_another_declaration_is_waited_out(device: Device, adapter: AS3Adapter) -> None:
    device.app.processing_ms = 300
    other = threading.Thread(target=post_tenant, args=(device, "web", {
        "class": "Tenant", "App": {"class": "Application", "template": "generic",
                                   "p": {"class": "Pool", "members": []}}}))
    other.start()
    while not device.app._busy.locked():
        pass
    sync(adapter, basic_state())
    other.join()
    assert 503 in [r["status"] for r in device.declaration_posts()]
    assert_conforms(device, adapter, basic_state(), basic_probes())


def test_expired_token_triggers_one_login_and_the_apply_succeeds(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, basic_state())
    device.http.post("/_mock/tokens/expire").raise_for_status()
    device.clear_log()
    changed = with_pod(basic_state(), "ns/shop", "10.0.0.8")
    sync(adapter, changed)
    requests = device.requests()
    assert [r["status"] for r in requests if r["path"] == "/mgmt/shared/authn/login"] == [200]
    assert requests[0]["status"] == 401
    assert_conforms(device, adapter, changed, basic_probes())


def test_wrong_password_is_an_auth_error_without_the_secret(device: Device) -> None:
    with new_adapter(device, password="s3cret-wrong") as adapter, pytest.raises(DeviceAuthError) as raised:
        adapter.read()
    assert "s3cret-wrong" not in str(raised.value)
    assert "admin" in str(raised.value)


def test_invalid_declaration_error_names_the_object(device: Device, adapter: AS3Adapter) -> None:
    desired = adapter.render(basic_state())
    broken = [DeviceObject(o.kind, o.name, {**o.body, "addresses": []}, o.owner)
              if o.name == "dst_payments_dns" else o for o in desired]
    p = plan(adapter.name, CLUSTER, broken, adapter.read(), owner_mark=adapter.owner_mark,
             kind_order=adapter.kind_order, force=True)
    result = adapter.apply(p, broken)
    error = result.error
    assert isinstance(error, DeclarationError) and result.applied == 0
    assert (error.object_kind, error.object_name) == ("address_list", "dst_payments_dns")
    assert "should NOT have fewer than 1 items" in str(error)
    assert len(device.declaration_posts()) == 1, "a permanent error is not retried"


def test_device_refusal_of_one_object_names_it(device: Device, adapter: AS3Adapter) -> None:
    desired = adapter.render(basic_state())
    broken = [DeviceObject(o.kind, o.name, {**o.body, "addresses": ["10.0.0.300"]}, o.owner)
              if o.name == "src_shop" else o for o in desired]
    p = plan(adapter.name, CLUSTER, broken, adapter.read(), owner_mark=adapter.owner_mark,
             kind_order=adapter.kind_order, force=True)
    result = adapter.apply(p, broken)
    assert isinstance(result.error, DeclarationError) and result.writes == 1
    assert (result.error.object_kind, result.error.object_name) == ("address_list", "src_shop")
    assert "declaration failed" in str(result.error)
    assert device.tenant("fc_c1") is None


def test_old_as3_is_refused_before_any_write(device: Device, adapter: AS3Adapter,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from mocks.bigip import app as bigip_app

    monkeypatch.setitem(bigip_app.VERSION, "version", "3.20.0")
    with pytest.raises(PermanentDeviceError, match=r"AS3 3\.20\.0 is installed"):
        sync(adapter, basic_state())
    assert device.writes() == []


def test_adapters_sharing_a_device_never_overlap_requests(device: Device) -> None:
    device.app.processing_ms = 30
    # each cluster's forwarding virtual scoped to its own pod network: identical wildcard virtuals
    # in two tenants are refused by the device
    adapters = [AS3Adapter(make_config(device.url, virtualServer={"sourceAddresses": [f"10.{i}.0.0/16"]}),
                           cluster, Secrets({"BIGIP_PASSWORD": "admin"}), retry=FAST, poll_interval=0.005)
                for i, cluster in enumerate(("east", "west", "north"))]
    errors: list[BaseException] = []

    def run(adapter: AS3Adapter) -> None:
        try:
            state = basic_state()
            sync(adapter, DeviceState(device=state.device, cluster=adapter.cluster, groups=state.groups,
                                      destinations=state.destinations, port_sets=state.port_sets,
                                      rules=state.rules))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in adapters:
        a.close()
    assert errors == []
    assert 503 not in [r["status"] for r in device.requests()]
    for cluster in ("east", "west", "north"):
        body = device.tenant(f"fc_{cluster}")
        assert body is not None and body["label"] == f"fusion-connector:{cluster}"
        assert verdict(Declaration(f"fc_{cluster}", body).decide(basic_probes()[0])) is not None


def test_close_releases_the_login_token(device: Device) -> None:
    adapter = new_adapter(device)
    adapter.read()
    adapter.close()
    released = [r for r in device.requests() if r["path"].startswith("/mgmt/shared/authz/tokens/")]
    assert [(r["method"], r["status"]) for r in released] == [("DELETE", 200)]
