"""Audit rules on BIG-IP: absent from the enforced policy the mock holds, present in the staged
policy (`policyFirewallStaged`) of the forwarding virtual server, with AFM logging on; diffed like
every other object (no write when unchanged)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.f5 import AS3Adapter
from adapters.f5.declaration import as3_request
from connector.config import Secrets
from connector.evaluate import decide
from tests.adapters.audit_scenario import AUDIT_RULES, PROBES, state
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.f5.conftest import CLUSTER, FAST, Device, make_config, sync

CAPS = AS3Adapter.capabilities
SCHEMA = (Path(__file__).resolve().parents[3].parent / "shared" / "vendor" / "as3"
          / "as3-schema-3.56.0-10.json")


class StagedDeclaration(Declaration):
    """The tenant as AFM's staged evaluation sees it: the virtual server's staged policy."""

    def enforced_policy(self) -> Mapping[str, Any] | None:
        for item in self.body.get("Shared", {}).values():
            if isinstance(item, Mapping) and item.get("class") == "Service_L4" \
                    and "policyFirewallStaged" in item:
                return self.item(item["policyFirewallStaged"]["use"])
        return None


def test_audit_rules_are_not_enforced_and_are_staged(device: Device, adapter: AS3Adapter) -> None:
    desired = state("bigip-dc1", CAPS)
    enforced_only = state("bigip-dc1", CAPS, audit=False)
    sync(adapter, desired)
    body = device.tenant(adapter.tenant)
    assert body is not None
    enforced = Declaration(adapter.tenant, body)
    for probe in PROBES:
        expected = decide(enforced_only, probe)
        assert verdict(enforced.decide(probe)) == (expected.action.value if expected else None), probe
    assert not any(name in rule["remark"] for rule in enforced.rules() for name in AUDIT_RULES)

    staged = StagedDeclaration(adapter.tenant, body)
    remarks = [rule["remark"] for rule in staged.rules()]
    assert remarks == ["ClusterEgressRule no-bad", "ServiceEgressRule payments/api-no-stripe",
                       "NamespaceEgressRule payments/worker-anything"]
    assert all(rule["loggingEnabled"] is True for rule in staged.rules())
    alone = desired.as_staged()
    for probe in PROBES:
        expected = decide(alone, probe)
        assert verdict(staged.decide(probe)) == (expected.action.value if expected else None), probe
    virtual = body["Shared"]["egress_vs"]
    assert virtual["policyFirewallStaged"] == {"use": "audit_policy"}
    assert virtual["securityLogProfiles"] == [{"use": "egress_log"}]


def test_an_unchanged_staged_policy_is_not_written_again(device: Device, adapter: AS3Adapter) -> None:
    desired = state("bigip-dc1", CAPS)
    sync(adapter, desired)
    plan, result = sync(adapter, desired)
    assert not plan.changes and result.writes == 0


def test_enforcing_an_audit_rule_moves_it_in_one_write(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, state("bigip-dc1", CAPS))
    device.clear_log()
    enforced_only = state("bigip-dc1", CAPS, audit=False)
    sync(adapter, enforced_only)
    assert len(device.declaration_posts()) == 1
    body = device.tenant(adapter.tenant)
    assert body is not None
    assert "policyFirewallStaged" not in body["Shared"]["egress_vs"]
    assert "audit_policy" not in body["Shared"] and "rules_audit" not in body["Shared"]


def test_route_domain_attach_has_no_staged_policy(device: Device) -> None:
    config = make_config(device.url, routeDomain="/Common/0")
    with AS3Adapter(config, CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"}), retry=FAST,
                    poll_interval=0.005) as adapter:
        sync(adapter, state("bigip-dc1", CAPS))
        body = device.tenant(adapter.tenant)
    assert body is not None
    assert not any(name in rule["remark"] for rule in Declaration(adapter.tenant, body).rules()
                   for name in AUDIT_RULES)
    assert "audit_policy" not in body["Shared"]


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"needs F5's AS3 3.56 JSON schema at {SCHEMA}")
def test_the_staged_declaration_validates_against_the_as3_schema() -> None:
    from jsonschema import Draft7Validator

    adapter = AS3Adapter(make_config("https://bigip.example"), CLUSTER, Secrets({"BIGIP_PASSWORD": "x"}))
    body = as3_request(adapter.declaration(adapter.render(state("bigip-dc1", CAPS))))
    assert "policyFirewallStaged" in json.dumps(body)
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    assert [e.message[:200] for e in validator.iter_errors(body)] == []
