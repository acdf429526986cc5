"""The Kubernetes `isIP`/`isCIDR` functions as the API server has them (no zone, no IPv4-mapped
form, no leading zeros, a decimal prefix), `messageExpression`, and the API server's text for a
failed rule (`Invalid value: "<schema type>": <message>`)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.crds import cel, schema


@pytest.mark.parametrize(("value", "expected"), [
    ("192.0.2.1", True), ("2001:db8::1", True), ("::", True), ("0.0.0.0", True),
    ("::ffff:192.0.2.1", False),  # IPv4-mapped
    ("fe80::1%eth0", False),  # zone
    ("010.0.0.1", False),  # leading zero
    ("192.0.2.1/32", False), ("example.com", False), ("", False),
])
def test_is_ip(value: str, expected: bool) -> None:
    assert cel.evaluate("isIP(self)", value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("10.0.0.0/8", True), ("10.0.0.1/8", True),  # host bits may be set
    ("2001:db8::/32", True), ("0.0.0.0/0", True), ("::/0", True),
    ("10.0.0.0/33", False), ("2001:db8::/129", False), ("10.0.0.0/08", False), ("10.0.0.0/+8", False),
    ("10.0.0.0/255.0.0.0", False),  # a netmask is not a prefix length
    ("::ffff:10.0.0.0/104", False), ("fe80::%eth0/64", False), ("10.0.0.0", False), ("10.0.0.0/", False),
])
def test_is_cidr(value: str, expected: bool) -> None:
    assert cel.evaluate("isCIDR(self)", value) is expected


def test_is_ip_of_a_non_string_cannot_be_evaluated() -> None:
    assert cel.evaluate("isIP(self)", 5) is None and cel.evaluate("isCIDR(self)", ["x"]) is None


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_every_ipv4_address_and_cidr(n: int, prefix: int) -> None:
    address = str(ipaddress.IPv4Address(n))
    assert cel.evaluate("isIP(self) && isCIDR(self + '/' + string(" + str(prefix) + "))", address) is True


def test_message_expression_gives_the_message_or_none() -> None:
    assert cel.message("'\"' + self + '\" is bad'", "x") == '"x" is bad'
    assert cel.message("self.size()", "x") is None  # not a string
    assert cel.message("''", "x") is None  # empty
    assert cel.message("'a\\nb'", "x") is None  # several lines
    assert cel.message("self.missing", {"a": 1}) is None  # an error


ITEMS = {"type": "array", "items": {
    "type": "string",
    "x-kubernetes-validations": [{"rule": "self.startsWith('a')", "message": "static",
                                  "messageExpression": "'\"' + self + '\" does not start with a'"}]}}


def test_a_failed_rule_shows_the_schema_type_and_the_message_expression() -> None:
    causes = schema.validate({"list": ["ab", "xy"]}, {"type": "object", "properties": {"list": ITEMS}})
    assert causes == [{"reason": "FieldValueInvalid", "field": "list[1]",
                       "message": 'Invalid value: "string": "xy" does not start with a'}]


def test_the_static_message_stands_in_when_the_expression_fails() -> None:
    items = {**ITEMS["items"], "x-kubernetes-validations": [
        {"rule": "self.startsWith('a')", "message": "static", "messageExpression": "self.size()"}]}
    causes = schema.validate(["xy"], {"type": "array", "items": items})
    assert [c["message"] for c in causes] == ['Invalid value: "string": static']
