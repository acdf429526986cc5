"""Rendering with the adapter's memo: the same output as a fresh render, and a one-pod change
re-renders only the address list of the group holding the pod."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.f5.declaration import TENANT
from adapters.f5.render import RenderSettings, render_objects
from connector.model import DeviceState
from tests.adapters.f5.scenarios import basic_state, with_pod
from tests.adapters.f5.test_render import adapter
from tests.adapters.strategies import device_states


@settings(max_examples=40, deadline=None)
@given(st.lists(device_states(), min_size=1, max_size=4))
def test_a_memoized_render_equals_a_fresh_one(states: list[DeviceState]) -> None:
    a = adapter()
    fresh = RenderSettings(a.tenant, a.owner_mark, a.config.attach)
    for state in [*states, states[0]]:
        assert a.render(state) == render_objects(state, fresh)


def test_a_pod_change_re_renders_only_the_address_list_of_its_group() -> None:
    a = adapter()
    before = {o.name: o for o in a.render(basic_state())}
    after = {o.name: o for o in a.render(with_pod(basic_state(), "ns/shop", "10.0.0.9"))}
    assert before.keys() == after.keys()
    rebuilt = sorted(name for name in after if after[name] is not before[name] and after[name].kind != TENANT)
    assert rebuilt == ["src_shop"]
    assert "10.0.0.9" in after["src_shop"].body["addresses"]
