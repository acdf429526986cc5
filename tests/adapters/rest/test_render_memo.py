"""Rendering with the adapter's memo: the same output as a fresh render, and a one-pod change
re-renders only the group holding the pod."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.rest.objects import render
from connector.model import DeviceState
from tests.adapters.f5.scenarios import with_pod
from tests.adapters.rest.conftest import offline_adapter
from tests.adapters.rest.scenarios import payments_state
from tests.adapters.strategies import device_states


@settings(max_examples=40, deadline=None)
@given(st.lists(device_states(), min_size=1, max_size=4))
def test_a_memoized_render_equals_a_fresh_one(states: list[DeviceState]) -> None:
    adapter = offline_adapter(groupReferences=True)
    for state in [*states, states[0]]:
        assert adapter.render(state) == render(state, adapter.cluster, adapter.owner_mark,
                                               group_references=True)


def test_a_pod_change_re_renders_only_the_group_holding_it() -> None:
    adapter = offline_adapter()
    state = payments_state()
    key = sorted(state.groups)[0]
    before = {o.ref: o for o in adapter.render(state)}
    after = {o.ref: o for o in adapter.render(with_pod(state, key, "10.0.0.99"))}
    assert before.keys() == after.keys()
    rebuilt = [ref for ref in after if after[ref] is not before[ref]]
    assert [ref[0] for ref in rebuilt] == ["group"]
    assert "10.0.0.99" in after[rebuilt[0]].body["members"]
