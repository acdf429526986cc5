"""`same_body` decides like a comparison of canonical JSON texts, without encoding."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connector.model import canonical_json
from connector.planner import same_body

SCALARS = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b", "10.0.0.1"]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
                            st.dictionaries(st.sampled_from(["x", "y", "z"]), inner, max_size=3)),
    max_leaves=12)
BODIES = st.dictionaries(st.sampled_from(["name", "members", "rules"]), VALUES, max_size=3)


def _tupled(value: Any) -> Any:
    """The same value with every list turned into a tuple."""
    if isinstance(value, dict):
        return {key: _tupled(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_tupled(item) for item in value)
    return value


@given(BODIES, BODIES)
def test_decides_like_canonical_json(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert same_body(a, b) == (canonical_json(a) == canonical_json(b))


@given(BODIES)
def test_tuples_and_lists_are_the_same_body(body: dict[str, Any]) -> None:
    assert same_body(body, _tupled(body))
    assert same_body(_tupled(body), body)


def test_a_changed_member_deep_in_a_long_list_is_seen() -> None:
    members = [f"10.0.{i // 256}.{i % 256}" for i in range(10_000)]
    changed = (*members[:-1], "10.9.9.9")
    assert not same_body({"members": members}, {"members": changed})
    assert same_body({"members": members}, {"members": tuple(members)})
    assert not same_body({"members": members}, {"members": tuple(members[1:])})


def test_keys_json_makes_equal() -> None:
    assert same_body({"a": {1: "x"}}, {"a": {"1": "x"}})
