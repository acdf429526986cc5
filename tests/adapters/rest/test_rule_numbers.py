"""REST rule numbers: a plan-only sync reports each rule's place in the receiver's rule list
(`GET /state`), rules of other owners counted."""

from __future__ import annotations

from adapters.rest import RestAdapter
from connector.planner import SafetyThresholds
from connector.reconciler.device import sync_device
from tests.adapters.fortios.scenarios import payments_state
from tests.adapters.rest.conftest import Receiver, sync
from tests.adapters.rest.test_adapter import FOREIGN


def test_a_plan_only_sync_gives_each_rules_place_in_the_receivers_list(adapter: RestAdapter,
                                                                        receiver: Receiver) -> None:
    state = payments_state()
    receiver.seed(**FOREIGN)  # a rule of another owner first: ours start at 2
    sync(adapter, state)
    outcome = sync_device(adapter, state, SafetyThresholds(), apply=False, numbers=True)
    assert outcome.numbering is not None and outcome.numbering.scheme == "rule-position"
    listed = [rule["name"] for rule in receiver.client.get("/state").json()["rules"]]
    names = adapter.rule_references(state)
    assert outcome.numbering.numbers == {names[name]: (str(place),) for place, name in enumerate(listed, 1)
                                         if name in names}
    assert set(outcome.numbering.numbers) == {rule.key for rule in state.rules}
    assert listed[0] == "admins-dns" and "1" not in {n for (n,) in outcome.numbering.numbers.values()}
