"""The CEL subset: evaluation, error absorption, and skipping what it cannot evaluate."""

from __future__ import annotations

from typing import Any

import pytest

from connector.crds.cel import evaluate

OBJ = {
    "a": 1,
    "b": "text",
    "list": [1, 2, 3],
    "ports": [{"port": 80}, {"port": 443, "name": "https"}],
    "op": "In",
    "values": ["x"],
    "m": {"k": "v"},
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("has(self.a)", True),
        ("!has(self.missing)", True),
        ("self.a == 1 && self.b != 'other'", True),
        ("self.a > 1 || self.b == 'text'", True),
        ("size(self.list) == 3 && self.list.size() >= 3", True),
        ("self.b in ['text', 'more']", True),
        ("self.op in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : true", True),
        ("self.ports.all(p, p.port > 0 && p.port < 65536)", True),
        ("self.ports.exists(p, has(p.name) && p.name == 'https')", True),
        ("self.ports.exists_one(p, p.port == 80)", True),
        ("self.ports.filter(p, p.port > 100).size() == 1", True),
        ("self.ports.map(p, p.port) == [80, 443]", True),
        ("self.b.startsWith('te') && self.b.endsWith('xt') && self.b.contains('ex')", True),
        ("self.b.matches('^t[a-z]+$')", True),
        ("'1-5'.split('-').all(r, int(r) > 0)", True),
        ("self.a + 2 * 3 == 7 && 7 % 4 == 3 && -self.a == -1 && 7 / 2 == 3", True),
        ("self.m['k'] == 'v' && 'k' in self.m", True),
        ("isIP('10.0.0.1') && !isIP('10.0.0.300') && isCIDR('fd00::/64')", True),
        ("self.a == 2", False),
        ("size(self.list) > 5", False),
        ("self.missing == 1 && false", False),
        ("self.missing == 1 || true", True),
    ],
)
def test_rules(rule: str, expected: bool) -> None:
    assert evaluate(rule, OBJ) is expected


@pytest.mark.parametrize(
    "rule",
    [
        "self.missing == 1",
        "self.a.frobnicate()",
        "unknownFunction(self.a)",
        "self.a == 'x' +",
        "self.a + 'x' == 'y'",
        "self.a",
        "self.list[7] == 1",
    ],
)
def test_unevaluable_rules_are_none(rule: str) -> None:
    assert evaluate(rule, OBJ) is None


def test_transition_rule_uses_old_self() -> None:
    assert evaluate("self == oldSelf", "a", "a") is True
    assert evaluate("self == oldSelf", "a", "b") is False


def test_string_escapes_and_raw_strings() -> None:
    value: Any = {"s": "a'b\\c"}
    assert evaluate("self.s == 'a\\'b\\\\c'", value) is True
    assert evaluate("self.s.matches(r'^a.b\\\\c$')", value) is True
