"""The AS3 mock accepts a staged firewall policy on a virtual server (`policyFirewallStaged`),
checks its pointer like AS3 does, and keeps it in the stored declaration."""

from __future__ import annotations

from typing import Any

import httpx

from tests.mocks.bigip.test_app import DECLARE, adc, client, server, tenant

__all__ = ["client", "server"]  # fixtures


def staged_tenant(pointer: str = "audit_policy") -> dict[str, Any]:
    body = tenant()
    shared = body["Shared"]
    shared["rules_audit"] = {"class": "Firewall_Rule_List", "rules": [
        {"name": "deny_audit", "action": "reject", "protocol": "any", "loggingEnabled": True,
         "source": {"addressLists": [{"use": "src"}]}}]}
    shared["audit_policy"] = {"class": "Firewall_Policy", "rules": [{"use": "rules_audit"}]}
    shared["vs"]["policyFirewallStaged"] = {"use": pointer}
    return body


def test_a_staged_policy_is_accepted_and_kept(client: httpx.Client) -> None:
    response = client.post(f"{DECLARE}/T1", json=adc(T1=staged_tenant()))
    assert response.status_code == 200, response.text
    stored = client.get(f"{DECLARE}/T1").json()["T1"]["Shared"]
    assert stored["vs"]["policyFirewallStaged"] == {"use": "audit_policy"}
    assert stored["vs"]["policyFirewallEnforced"] == {"use": "policy"}
    assert stored["rules_audit"]["rules"][0]["name"] == "deny_audit"


def test_a_staged_pointer_to_another_class_is_422(client: httpx.Client) -> None:
    response = client.post(f"{DECLARE}/T1", json=adc(T1=staged_tenant("src")))
    assert response.status_code == 422
    assert response.json()["errors"][0].startswith(
        "/T1/Shared/vs/policyFirewallStaged/use: AS3 pointer src does not point to required object type")


def test_a_staged_pointer_to_nothing_is_422(client: httpx.Client) -> None:
    response = client.post(f"{DECLARE}/T1", json=adc(T1=staged_tenant("missing")))
    assert response.status_code == 422
    assert response.json()["errors"][0].startswith(
        "/T1/Shared/vs/policyFirewallStaged/use: contains path to non-existent object missing")
