"""FortiOS address parsing with the shared IPv4 fast path gives exactly what `ipaddress` gives."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.fortios.render import _ipv4, _ipv6, _piece_address
from tests.connector.test_netaddr import anything


def outcome(func: Callable[[], object]) -> object:
    try:
        return func()
    except ValueError:
        return ValueError


def reference_ipv4(address: str) -> int | None:
    ip = ipaddress.ip_address(address)
    return int(ip) if ip.version == 4 else None


def reference_ipv6(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    return ip.compressed if ip.version == 6 else None


@settings(max_examples=600, deadline=None)
@given(anything)
def test_host_family_as_ipaddress_reads_it(address: str) -> None:
    assert outcome(lambda: _ipv4(address)) == outcome(lambda: reference_ipv4(address))
    assert outcome(lambda: _ipv6(address)) == outcome(lambda: reference_ipv6(address))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_piece_texts_as_ipaddress_writes_them(first: int, second: int) -> None:
    start, end = sorted((first, second))
    _, _, start_text, end_text = _piece_address("c1", (start, end))
    assert (start_text, end_text) == (str(ipaddress.IPv4Address(start)), str(ipaddress.IPv4Address(end)))
