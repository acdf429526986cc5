"""Union source groups on AS3: one address list referencing the included lists by `addressLists`;
empty lists never emitted nor referenced; decisions as the model's; O(1) objects per namespace
joining or leaving; a pod change re-renders only its namespace's list."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings

from adapters.f5 import AS3Adapter
from connector.evaluate import Probe
from connector.model import DeviceState
from connector.planner.types import Op
from tests.adapters.f5.conftest import Device, sync
from tests.adapters.f5.test_conformance import assert_conforms
from tests.adapters.f5.test_render import adapter as offline_adapter
from tests.adapters.f5.test_render import shared
from tests.adapters.f5.unions import UNION_PROBES, union_state, union_states_with_probes

TOR = "src_cluster_block-tor_union"


def test_a_union_references_the_non_empty_namespace_lists() -> None:
    items = shared(offline_adapter(), union_state())
    assert items[TOR] == {"class": "Firewall_Address_List", "remark": "union sources of block-tor",
                          "addressLists": [{"use": "src_ops"}, {"use": "src_payments"}, {"use": "src_shop"}]}
    assert items["src_ops"]["addresses"] == ["10.0.0.9", "10.0.0.10"], "emitted for the union alone"
    assert "src_empty" not in items
    assert not any("nothing-selected" in name for name in items), "an empty union's rule is left out"
    rules = [r for name in ("rules_admin", "rules_baseline") for r in items[name]["rules"]]
    assert [r["name"] for r in rules] == ["deny_cluster_block-tor", "deny_cluster_no-web"]
    assert all(r["source"] == {"addressLists": [{"use": TOR}]} for r in rules)


def test_own_members_of_a_union_are_addresses_next_to_the_included_lists() -> None:
    state = union_state()
    tor = state.groups["c1/_cluster/rule/block-tor"]
    members = (("192.0.2.10", ()),)
    own = replace(tor, members=members)
    items = shared(offline_adapter(), replace(state, groups={**state.groups, tor.key: own}))
    assert items[TOR]["addresses"] == ["192.0.2.10"]
    assert len(items[TOR]["addressLists"]) == 3


def test_union_state_decides_like_the_model(device: Device, adapter: AS3Adapter) -> None:
    state = union_state()
    sync(adapter, state)
    assert_conforms(device, adapter, state, UNION_PROBES)
    _, again = sync(adapter, state)
    assert again.writes == 0


def test_a_namespace_joining_or_leaving_changes_one_list(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, union_state(("payments", "shop")))
    joined, _ = sync(adapter, union_state(("payments", "shop", "ops")))
    assert sorted((c.op, c.name) for c in joined.changes) == [(Op.CREATE, "src_ops"), (Op.UPDATE, TOR)]
    assert_conforms(device, adapter, union_state(("payments", "shop", "ops")), UNION_PROBES)
    left, _ = sync(adapter, union_state(("payments", "ops")))
    assert [(c.op, c.name) for c in left.changes] == [(Op.UPDATE, TOR), (Op.DELETE, "src_shop")]
    assert_conforms(device, adapter, union_state(("payments", "ops")), UNION_PROBES)


def test_the_last_namespace_leaving_leaves_the_rules_out(device: Device, adapter: AS3Adapter) -> None:
    sync(adapter, union_state())
    state = union_state(("empty",))
    sync(adapter, state)
    body = device.tenant(adapter.tenant)
    assert body is not None and TOR not in body["Shared"]
    assert_conforms(device, adapter, state, UNION_PROBES)


def test_a_pod_change_re_renders_only_its_namespace_list() -> None:
    a = offline_adapter()
    state = union_state()
    before = {o.name: o for o in a.render(state)}
    payments = state.groups["c1/payments/ns"]
    grown = replace(payments, members=(*payments.members, ("10.0.0.3", ())))
    after = {o.name: o for o in a.render(replace(state, groups={**state.groups, payments.key: grown}))}
    assert [name for name in after if after[name] is not before[name]] == ["fc_c1", "src_payments"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(union_states_with_probes())
def test_generated_union_states_decide_like_the_model(device: Device, adapter: AS3Adapter,
                                                      case: tuple[DeviceState, list[Probe]]) -> None:
    state, probes = case
    sync(adapter, state)
    assert_conforms(device, adapter, state, probes)
    body = device.tenant(adapter.tenant) or {"Shared": {}}
    lists = [v for v in body["Shared"].values()
             if isinstance(v, dict) and v.get("class") == "Firewall_Address_List"]
    assert all(v.get("addresses") or v.get("fqdns") or v.get("addressLists") for v in lists)
    _, again = sync(adapter, state)
    assert again.writes == 0
