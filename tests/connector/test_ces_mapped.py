"""import-ces: an IPv4-mapped IPv6 address or network (which the CRD's `isIP`/`isCIDR` refuse, as the
API server does) becomes its IPv4 form, with a note."""

from __future__ import annotations

import pytest

from connector.ces import convert_address


@pytest.mark.parametrize(("text", "expected"), [
    ("::ffff:192.0.2.1", ["192.0.2.1"]),
    ("::FFFF:c000:201", ["192.0.2.1"]),
    ("::ffff:10.0.0.0/104", ["10.0.0.0/8"]),
    ("::ffff:0:0/96", ["0.0.0.0/0"]),
    ("::ffff:192.0.2.4-::ffff:192.0.2.9", ["192.0.2.4/30", "192.0.2.8/31"]),
])
def test_ipv4_mapped_addresses_become_ipv4(text: str, expected: list[str]) -> None:
    addresses, notes = convert_address(text)
    assert addresses == expected
    assert f"IPv4-mapped {text!r} converted to {', '.join(expected)} (the firewall sees IPv4)" in notes


@pytest.mark.parametrize("text", ["2001:db8::1", "::ffff:0:0/95", "64:ff9b::192.0.2.1", "192.0.2.1"])
def test_other_addresses_are_not_touched(text: str) -> None:
    addresses, notes = convert_address(text)
    assert not any("IPv4-mapped" in note for note in notes)
    assert all(":" in a for a in addresses) == (":" in text)
