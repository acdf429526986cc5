"""Structural pruning, defaulting and validation, independent of HTTP."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.crds.schema import format_ok, prepare, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "rules": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "default": 443},
                        },
                    },
                },
                "target": {
                    "type": "object",
                    "default": {"kind": "Service"},
                    "properties": {"kind": {"type": "string"}, "weight": {"type": "integer", "default": 1}},
                },
                "value": {"x-kubernetes-int-or-string": True},
                "choice": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "^b"}]},
                "strict": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"x": {"type": "string"}},
                },
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "multipleOf": 0.5},
            },
        },
    },
}


def test_defaults_are_applied_recursively_and_unknown_fields_pruned() -> None:
    result = prepare(
        {
            "apiVersion": "x/v1",
            "kind": "K",
            "metadata": {"name": "n"},
            "extra": 1,
            "spec": {"rules": [{"name": "a", "junk": True}], "unknown": 2},
        },
        SCHEMA,
    )
    assert result == {
        "apiVersion": "x/v1",
        "kind": "K",
        "metadata": {"name": "n"},
        "spec": {"rules": [{"name": "a", "port": 443}], "target": {"kind": "Service", "weight": 1}},
    }


def test_null_is_dropped_then_defaulted() -> None:
    assert prepare({"spec": {"target": None}}, SCHEMA)["spec"]["target"] == {"kind": "Service", "weight": 1}


def fields(obj: dict[str, Any]) -> list[str]:
    return [c["field"] for c in validate(obj, SCHEMA)]


def test_list_types_int_or_string_combinators_and_numbers() -> None:
    assert fields({"spec": {"tags": ["a", "a"]}}) == ["spec.tags[1]"]
    assert fields({"spec": {"rules": [{"name": "a"}, {"name": "a"}]}}) == ["spec.rules[1]"]
    assert fields({"spec": {"value": 5}}) == [] and fields({"spec": {"value": "5%"}}) == []
    assert fields({"spec": {"value": [1]}}) == ["spec.value"]
    assert fields({"spec": {"choice": "abc"}}) == [] and fields({"spec": {"choice": "zzz"}}) == [
        "spec.choice"
    ]
    assert fields({"spec": {"strict": {"y": "1"}}}) == ["spec.strict.y"]
    assert fields({"spec": {"ratio": 0}}) == ["spec.ratio"]
    assert fields({"spec": {"ratio": 0.75}}) == ["spec.ratio"]
    assert fields({"spec": {"ratio": 1.5}}) == []


def test_formats() -> None:
    assert format_ok("ipv4", "192.0.2.1") and not format_ok("ipv4", "::1")
    assert format_ok("ipv6", "2001:db8::1") and not format_ok("ipv6", "1.2.3.4")
    assert (
        format_ok("cidr", "10.0.0.0/8")
        and format_ok("cidr", "fd00::/64")
        and not format_ok("cidr", "10.0.0.1")
    )
    assert format_ok("hostname", "api.example.com") and not format_ok("hostname", "-bad")
    assert format_ok("date-time", "2026-01-01T00:00:00Z") and not format_ok("date-time", "yesterday")
    assert format_ok("something-unknown", "anything")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-5, max_value=5), st.text(max_size=5))
def test_valid_input_stays_valid_after_prepare(weight: int, kind: str) -> None:
    obj = {"spec": {"target": {"kind": kind, "weight": weight}}}
    prepared = prepare(obj, SCHEMA)
    assert validate(prepared, SCHEMA) == []
    assert prepare(prepared, SCHEMA) == prepared


def test_root_metadata_is_kept_whole_but_validated_when_the_schema_constrains_it() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}
        },
    }
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "too-long-name", "labels": {"a": "b"}}}
    assert prepare(obj, schema) == obj
    assert [c["field"] for c in validate(obj, schema)] == ["metadata.name"]
