"""FortiOS names are unique by construction: real collisions found against a FortiGate (two
namespaces whose default rules hashed alike, a 5,000-entry `egress-allow` annotation) compile,
render and plan, and every desired object has a name of its own in its FortiOS table."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import naming
from adapters.fortios import render as render_module
from adapters.fortios.adapter import FortiOSAdapter
from adapters.fortios.known import KnownPieces
from adapters.fortios.render import (
    ADDRESS,
    ADDRGRP,
    KIND_ORDER,
    NAMES,
    POLICY,
    POLICY_NAMES,
    SERVICE,
    PolicySettings,
)
from adapters.fortios.renderer import Renderer, render_state
from connector.cluster import StaticView
from connector.compiler import CompileSettings, compile_cluster
from connector.model import DeviceState
from connector.planner.planner import plan
from connector.planner.types import DeviceObject
from tests.adapters.fortios import test_incremental
from tests.adapters.fortios.test_incremental import KEYS, replay, steps
from tests.connector.compiler.builders import namespace, pod

MARK = "fusion-connector:rt"
SETTINGS = PolicySettings(("port2",), ("port1",))
CAPABILITIES = FortiOSAdapter.capabilities


def compiled(objects: list[dict[str, object]]) -> DeviceState:
    settings = CompileSettings(cluster="rt", devices=(("fgt", CAPABILITIES),))
    return compile_cluster(StaticView(objects), settings).devices["fgt"]


def duplicates(objects: list[DeviceObject]) -> list[tuple[str, str]]:
    """(table, name) used twice: addresses and address groups share one FortiOS name table."""
    tables = Counter(("address" if o.kind in (ADDRESS, ADDRGRP) else o.kind, o.name) for o in objects)
    return [ref for ref, count in tables.items() if count > 1]


def check(state: DeviceState) -> list[DeviceObject]:
    objects = render_state(state, mark=MARK, settings=SETTINGS)
    assert duplicates(objects) == []
    made = plan("fgt", "rt", objects, [], owner_mark=MARK, kind_order=KIND_ORDER)  # raised before
    assert len(made.changes) == len(objects)
    return objects


def test_two_namespaces_whose_default_rules_hashed_alike_get_two_policies() -> None:
    # different default actions: two grouped default rules (one per action)
    state = compiled([namespace("t2066"),
                      namespace("t4399", annotations={"fusion-connector.io/default-action": "Allow"}),
                      pod("t2066", "a", "10.244.0.2"), pod("t4399", "b", "10.244.0.3")])
    assert len(state.rules) == 2
    policies = [o for o in check(state) if o.kind == POLICY]
    assert len({o.name for o in policies}) == 2
    assert {o.body["srcaddr"][0] for o in policies} == {"fc_rt_ip_10.244.0.2", "fc_rt_ip_10.244.0.3"}


def test_a_five_thousand_entry_annotation_gets_a_policy_per_port_set() -> None:
    entries = ",".join(f"10.{i // 250}.{i % 250}.1:{1000 + i}" for i in range(5000))
    ns = namespace("big", annotations={"fusion-connector.io/egress-allow": entries})
    state = compiled([ns, pod("big", "a", "10.244.0.2")])
    assert len(state.rules) == 5001  # one rule per port set, then the namespace default
    policies = [o for o in check(state) if o.kind == POLICY]
    assert len({o.name for o in policies}) == 5001


@contextmanager
def short_hashes(digits: int = 1) -> Iterator[None]:
    """Every name hash cut to `digits` hex digits: contested names become common."""
    real = naming.stable_hash

    def short(text: str, length: int) -> str:
        return real(text, min(length, digits))

    render_module._piece_address.cache_clear()
    try:
        with patch.object(naming, "stable_hash", short):
            yield
    finally:
        render_module._piece_address.cache_clear()


def check_names(objects: list[DeviceObject]) -> None:
    """Unique per FortiOS table, valid, and every reference names an object rendered."""
    assert duplicates(objects) == []
    addresses = {o.name for o in objects if o.kind in (ADDRESS, ADDRGRP)}
    services = {o.name for o in objects if o.kind == SERVICE}
    for obj in objects:
        rules = POLICY_NAMES if obj.kind == POLICY else NAMES
        assert len(obj.name) <= rules.max_length and re.fullmatch(f"[A-Za-z][{rules.allowed}]*", obj.name)
        if obj.kind == ADDRGRP:
            assert set(obj.body["member"]) <= addresses
        elif obj.kind == POLICY:
            assert set(obj.body["srcaddr"]) | set(obj.body["dstaddr"]) <= addresses | {"all"}
            assert set(obj.body["service"]) <= services | {"ALL"}


LONG = "prod-" + "x" * 66  # every address and group name is shortened, so it carries a hash


@settings(max_examples=60, deadline=None)
@given(steps(), st.integers(2, 6), st.sampled_from(["prod", LONG]))
def test_names_stay_unique_and_deterministic_when_hashes_collide(actions: list[tuple[str, Any]], limit: int,
                                                                 cluster: str) -> None:
    with short_hashes():
        for _, objects, fresh in replay(actions, limit, cluster):
            assert objects == fresh  # the same desired set gets the same names, whatever came before
            check_names(objects)


def test_a_contested_name_moved_under_its_users_re_renders_them() -> None:
    # Under one-digit hashes, a new group whose name was another's makes the smaller key keep it:
    # the render starts again with the final names, so every reference follows the move.
    with short_hashes():
        renderer = Renderer(mark=test_incremental.MARK, settings=test_incremental.SETTINGS, group_members=3)
        known = KnownPieces()
        before = list(replay([("rules", list(KEYS))], 3, LONG))[-1][0]
        renderer.render(before, known)
        for actions in ([("rules", ["cr/u", *KEYS])], [("rules", ["cr/v", "cr/u", *KEYS])]):
            state, _, fresh = list(replay(actions, 3, LONG))[-1]
            objects = renderer.render(state, known)
            assert objects == fresh
            check_names(objects)
