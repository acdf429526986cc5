"""Audit rules on FortiOS: the device has no staged policy, so nothing of them is pushed; what it
holds decides like the cluster compiled without them."""

from __future__ import annotations

import json

from adapters.fortios.adapter import FortiOSAdapter
from connector.model import Action
from tests.adapters.audit_scenario import AUDIT_RULES, PROBES, state
from tests.adapters.fortios.conftest import TOKEN, AdapterFactory, Device, sync
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.fortios.test_conformance import expected_action


def test_audit_rules_are_not_pushed(device: Device, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(cluster="c1")
    desired = state("fgt", FortiOSAdapter.capabilities)
    assert desired.staged.rules
    _, result = sync(adapter, desired)
    assert result.ok, result.error
    tables = fetch_tables(device.url, TOKEN)
    evaluator = FortiGateEvaluator(tables)
    enforced_only = state("fgt", FortiOSAdapter.capabilities, audit=False)
    for probe in PROBES:
        assert evaluator.decide(probe).action == expected_action(enforced_only, probe), probe
    text = json.dumps(tables)
    assert not any(name in text for name in AUDIT_RULES)
    # the audit rules would have decided some of these probes differently
    assert any(expected_action(desired.as_staged(), p) not in (None, expected_action(enforced_only, p))
               for p in PROBES)
    assert {r.action for r in desired.staged.rules} == {Action.ALLOW, Action.DENY}
