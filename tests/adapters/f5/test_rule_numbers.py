"""AS3 rule numbers: a plan-only sync reports each rule's place in the enforced firewall policy as
the BIG-IP holds it (the declaration read back), one number per AFM rule."""

from __future__ import annotations

from adapters.f5 import AS3Adapter
from connector.planner import SafetyThresholds
from connector.reconciler.device import sync_device
from tests.adapters.f5.conftest import Device, sync
from tests.adapters.fortios.scenarios import payments_state


def _afm_rules_in_policy_order(device: Device, adapter_tenant: str) -> list[str]:
    """The names of the enforced policy's AFM rules, in its order, from the tenant the mock holds."""
    tenant = device.tenant(adapter_tenant) or {}
    app = next(v for v in tenant.values() if isinstance(v, dict) and v.get("class") == "Application")
    policy = next(v for v in app.values() if isinstance(v, dict) and v.get("class") == "Firewall_Policy"
                  and not any(str(r.get("use")).endswith("rules_audit") for r in v.get("rules", [])))
    names: list[str] = []
    for used in policy["rules"]:
        names += [rule["name"] for rule in app[str(used["use"]).rsplit("/", 1)[-1]]["rules"]]
    return names


def test_a_plan_only_sync_gives_each_afm_rules_place_in_the_policy(adapter: AS3Adapter,
                                                                    device: Device) -> None:
    state = payments_state()
    sync(adapter, state)
    outcome = sync_device(adapter, state, SafetyThresholds(), apply=False, numbers=True)
    assert outcome.numbering is not None and outcome.numbering.scheme == "policy-position"
    held = _afm_rules_in_policy_order(device, adapter.tenant)
    names = adapter.rule_references(state)
    expected: dict[str, tuple[str, ...]] = {}
    for place, name in enumerate(held, 1):
        if name in names:
            expected[names[name]] = (*expected.get(names[name], ()), str(place))
    assert outcome.numbering.numbers == expected and set(expected) == {r.key for r in state.rules}
    assert sorted(int(n) for numbers in expected.values() for n in numbers) == list(range(1, len(held) + 1))
