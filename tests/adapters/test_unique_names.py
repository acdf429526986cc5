"""Every AS3 item and every REST object has a name of its own, whatever the keys: with name hashes
cut to one hex digit (contested names everywhere) each name is still unique in its table, every
reference names an object rendered, and a name depends on the desired set only (an adapter that
rendered other states before gives the same names as a fresh one). The FortiOS counterpart is in
`tests/adapters/fortios/test_names.py`."""

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
from adapters.base.memo import RenderMemo
from adapters.f5 import AS3Adapter
from adapters.rest.objects import NAME_RULES, RestNames, references, render
from connector.config import Secrets
from connector.model import DeviceState
from connector.planner.types import DeviceObject
from tests.adapters.f5.conftest import make_config
from tests.adapters.strategies import device_states

AS3_ITEM = re.compile(r"^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$")
LONG = "c" * 250  # every REST name is shortened, so it carries a hash


@contextmanager
def short_hashes(digits: int = 1) -> Iterator[None]:
    real = naming.stable_hash

    def short(text: str, length: int) -> str:
        return real(text, min(length, digits))

    with patch.object(naming, "stable_hash", short):
        yield


def uses(value: Any) -> Iterator[str]:
    """Every AS3 `use` reference inside an item body."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "use" and isinstance(inner, str):
                yield inner
            else:
                yield from uses(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from uses(inner)


def check_as3(objects: list[DeviceObject]) -> None:
    items = objects[1:]  # after the tenant: the items of its one application, one name table
    names = [o.name for o in items]
    assert len(set(names)) == len(names) and all(AS3_ITEM.match(n) for n in names)
    for obj in items:
        assert set(uses(obj.body)) <= set(names)
        if obj.body.get("class") == "Firewall_Rule_List":
            rules = [r["name"] for r in obj.body["rules"]]
            assert len(set(rules)) == len(rules) and all(AS3_ITEM.match(n) for n in rules)


def _as3() -> AS3Adapter:
    """An adapter that only renders: no TLS context to build (loading the CA bundle each time
    cost most of this module's time), no request ever made."""
    config = make_config("https://bigip.example").model_copy(update={"verify_tls": False})
    return AS3Adapter(config, "c1", Secrets({"BIGIP_PASSWORD": "x"}))


@settings(max_examples=100, deadline=None)
@given(st.lists(device_states(max_rules=10), min_size=1, max_size=3))
def test_as3_item_names_are_unique_and_depend_on_the_state_only(states: list[DeviceState]) -> None:
    with short_hashes():
        adapter = _as3()
        for state in states:
            objects = adapter.render(state)
            check_as3(objects)
            assert _as3().render(state) == objects  # a fresh adapter: nothing carried over


def check_rest(objects: list[DeviceObject]) -> None:
    tables = Counter((o.kind, o.name) for o in objects)
    assert all(count == 1 for count in tables.values())
    assert all(len(o.name) <= NAME_RULES.max_length and re.fullmatch(r"[A-Za-z][A-Za-z0-9._:/-]*", o.name)
               for o in objects)
    for obj in objects:
        assert all(ref in tables for ref in references(obj))


@settings(max_examples=100, deadline=None)
@given(st.lists(device_states(max_rules=10), min_size=1, max_size=3), st.sampled_from(["c1", LONG]),
       st.booleans())
def test_rest_names_are_unique_per_kind_and_depend_on_the_state_only(states: list[DeviceState], cluster: str,
                                                                    by_reference: bool) -> None:
    with short_hashes():
        memo, names = RenderMemo(), RestNames()
        for state in states:
            objects = render(state, cluster, "fusion-connector:c1", memo, group_references=by_reference,
                             names=names)
            check_rest(objects)
            assert render(state, cluster, "fusion-connector:c1", group_references=by_reference) == objects
