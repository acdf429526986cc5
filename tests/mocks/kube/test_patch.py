"""Patch semantics: merge patch (RFC 7386), strategic merge, JSON patch (RFC 6902)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocks.kube.errors import ApiError
from mocks.kube.patch import apply_patch, json_patch, merge_patch, strategic_merge

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


@settings(max_examples=80, deadline=None)
@given(objects, objects)
def test_merge_patch_is_idempotent(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


def test_merge_patch_rfc_examples() -> None:
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}


def test_strategic_merge_lists() -> None:
    target = {
        "spec": {
            "containers": [
                {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "1"},
            ],
            "tolerations": [{"key": "t"}],
        },
        "metadata": {"finalizers": ["one"]},
    }
    patch = {
        "spec": {
            "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}, {"name": "c", "image": "3"}],
            "tolerations": [{"key": "u"}],
        },
        "metadata": {"finalizers": ["two"]},
    }
    result = strategic_merge(target, patch)
    containers = result["spec"]["containers"]
    assert [c["name"] for c in containers] == ["a", "b", "c"]
    assert containers[0]["image"] == "1" and [e["name"] for e in containers[0]["env"]] == ["X", "Y"]
    assert result["spec"]["tolerations"] == [{"key": "u"}]
    assert result["metadata"]["finalizers"] == ["one", "two"]
    replaced = strategic_merge(
        target, {"spec": {"containers": [{"name": "z", "image": "9"}, {"$patch": "replace"}]}}
    )
    assert replaced["spec"]["containers"] == [{"name": "z", "image": "9"}]
    ports = strategic_merge(
        {"spec": {"ports": [{"port": 80, "name": "http"}]}},
        {"spec": {"ports": [{"port": 443, "name": "https"}]}},
    )
    assert [p["port"] for p in ports["spec"]["ports"]] == [80, 443]


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    result = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "move", "from": "/c", "path": "/d"},
            {"op": "copy", "from": "/d", "path": "/e~1f"},
            {"op": "test", "path": "/d", "value": "x"},
        ],
    )
    assert result == {"a": {"b": [0, 1, 2, 3]}, "d": "x", "e/f": "x"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}
    with pytest.raises(ApiError) as caught:
        json_patch(doc, [{"op": "test", "path": "/c", "value": "y"}])
    assert caught.value.code == 422
    with pytest.raises(ApiError) as caught:
        json_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])
    assert caught.value.code == 422


def test_unknown_patch_type_is_415() -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch("application/xml", {}, {}, custom=False)
    assert caught.value.code == 415
