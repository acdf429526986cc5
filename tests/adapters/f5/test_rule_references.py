"""AFM rule references: each enforced AFM rule's name (`acl_rule_name`) -> its rule's key, as the
rendered rule lists name them."""

from __future__ import annotations

from adapters.f5 import AS3Adapter
from adapters.f5.rule_names import afm_rule_names
from tests.adapters.fortios.scenarios import payments_state


def rendered_rules(adapter: AS3Adapter) -> dict[str, list[str]]:
    """AFM rule name -> the remarks of the rules of that name, over the enforced rule lists."""
    state = payments_state()
    out: dict[str, list[str]] = {}
    for obj in adapter.render(state):
        if obj.body.get("class") == "Firewall_Rule_List" and obj.name != "rules_audit":
            for rule in obj.body["rules"]:
                out.setdefault(rule["name"], []).append(rule.get("remark", ""))
    return out


def test_every_enforced_rule_name_maps_to_the_rule_it_was_rendered_from(adapter: AS3Adapter) -> None:
    state = payments_state()
    references = adapter.rule_references(state)
    rendered = rendered_rules(adapter)
    assert set(references) == set(rendered)
    origins = {rule.key: str(rule.origin) for rule in state.rules}
    for name, key in references.items():
        assert all(origins[key][:40] in remark for remark in rendered[name]), name
    assert set(references.values()) == {rule.key for rule in state.rules}
    assert references == afm_rule_names(state)
