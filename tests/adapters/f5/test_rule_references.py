"""AFM rule references: each enforced AFM rule's name (`acl_rule_name`) -> its rule's key, as the
rendered rule lists name them and as the BIG-IP mock names the rule that decided a flow."""

from __future__ import annotations

from adapters.f5 import AS3Adapter
from adapters.f5.rule_names import afm_rule_names
from connector.config import Secrets
from tests.adapters.f5.conftest import CLUSTER, FAST, Device, make_config, sync
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


def test_the_rule_name_afm_decides_a_flow_with_maps_to_the_deciding_rule(device: Device) -> None:
    state = payments_state()
    adapter = AS3Adapter(make_config(device.url, routeDomain="/Common/0"), CLUSTER,
                         Secrets({"BIGIP_PASSWORD": "admin"}), retry=FAST, poll_interval=0.005)
    try:
        sync(adapter, state)
        references = adapter.rule_references(state)
    finally:
        adapter.close()
    for dst, port, key in (("10.20.30.40", 5432, "allow-db"), ("10.20.1.1", 22, "deny-internal"),
                           ("198.51.100.1", 80, "payments-default")):
        response = device.http.post("/_mock/traffic", json={
            "src": "10.244.1.2", "srcPort": 40000, "dst": dst, "dstPort": port, "protocol": "TCP"})
        assert response.status_code == 200, response.text
        assert references[response.json()["rule"]] == key
