"""The IPv4 fast path gives exactly what `ipaddress` gives: texts, keys, sort orders and errors.

The references below are the `ipaddress`-only implementations the adapters and the compiler used
before the fast path; every property compares against them on addresses, networks and malformed
forms alike, errors by kind and message."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.f5.declaration import address_text, sorted_addresses
from adapters.rest.objects import canonical_members
from connector import netaddr
from connector.compiler import values as compiler_values
from connector.compiler.values import ParsedAddress, parse_address, parse_host_ip
from connector.netaddr import Network, ip_address_text, ip_network_text, ipv4_int, ipv4_text, network


# --- references: the ipaddress-only code ----------------------------------------------------------
def reference_network(text: str) -> Network:
    net = ipaddress.ip_network(text, strict=False)
    canonical = str(net.network_address) if net.num_addresses == 1 else str(net)
    return Network(net.version, int(net.network_address), net.prefixlen, canonical)


def reference_f5_text(value: str) -> str:
    if "-" in value:
        return value
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def reference_f5_key(value: str) -> tuple[int, int, int, str]:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return (9, 0, 0, value)
    return (net.version, int(net.network_address), net.prefixlen, value)


def reference_sorted_addresses(values: list[str]) -> list[str]:
    return sorted({reference_f5_text(v) for v in values}, key=reference_f5_key)


def reference_canonical_members(values: list[str]) -> list[str]:
    def member(value: str) -> tuple[tuple[int, bytes, int], str]:
        net = ipaddress.ip_network(value.strip(), strict=False)
        text = str(net.network_address) if net.num_addresses == 1 else str(net)
        again = ipaddress.ip_network(text, strict=False)
        return (again.version, again.network_address.packed, again.prefixlen), text
    return [text for _, text in sorted({member(v) for v in values})]


@contextmanager
def ipaddress_only() -> Iterator[None]:
    """The compiler's parsers as they were: `ipaddress` for every text, no fast path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiler_values, "ip_address_text", lambda text: str(ipaddress.ip_address(text)))
        patch.setattr(compiler_values, "ip_network_text",
                      lambda text: str(ipaddress.ip_network(text, strict=False)))
        yield


def reference_parse_address(text: object) -> ParsedAddress:
    with ipaddress_only():
        return parse_address(text)


def reference_parse_host_ip(text: object) -> str:
    with ipaddress_only():
        compiler_values._canonical_ip.cache_clear()
        try:
            return parse_host_ip(text)
        finally:
            compiler_values._canonical_ip.cache_clear()


def outcome(func: Callable[[], object]) -> object:
    """What `func()` returns, or the kind and message of the error it raises."""
    try:
        return func()
    except ValueError as exc:
        return (type(exc), str(exc))


# --- strategies ------------------------------------------------------------------------------------
ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
# pod-like addresses, so that sets hold near neighbours and the numeric order matters
pod_ipv4 = st.builds(lambda c, d: f"10.{c}.{d}.7", st.integers(0, 255), st.integers(0, 255))
ipv6 = st.integers(0, 2**128 - 1).flatmap(lambda n: st.sampled_from(
    [ipaddress.IPv6Address(n).compressed, ipaddress.IPv6Address(n).exploded]))
octet = st.one_of(
    st.integers(0, 255).map(str),                                   # canonical
    st.integers(0, 255).map(lambda n: f"0{n}"),                     # leading zero
    st.integers(0, 255).map(lambda n: f"00{n}"),
    st.integers(256, 1500).map(str),                                # out of range
    st.sampled_from(["", "-1", "+1", " 1", "1 ", "0x1", "\u0661", "²", "1e2"]),  # not decimal ASCII
)
quads = st.lists(octet, min_size=3, max_size=5).map(".".join)      # also three or five parts
prefix = st.one_of(st.integers(0, 130).map(str), st.sampled_from(["032", "32 ", " 32", "", "x", "-1",
                                                                  "255.255.255.255", "0.0.0.255"]))
networks = st.builds(lambda a, p: f"{a}/{p}", st.one_of(ipv4, ipv6, quads), prefix)
hosts = st.builds(lambda a: f"{a}/32", st.one_of(ipv4, pod_ipv4, quads))
padded = st.builds(lambda pad, a, side: pad + a if side else a + pad,
                   st.sampled_from([" ", "\t", "\n", "  ", "\u00a0"]),
                   st.one_of(ipv4, hosts, ipv6), st.booleans())
ranges = st.builds(lambda a, b: f"{a}-{b}", ipv4, ipv4)
noise = st.text(alphabet="0123456789./:abcdef x-\n", max_size=24)
valid = st.one_of(ipv4, pod_ipv4, ipv6, st.builds(lambda a: f"{a}/32", st.one_of(ipv4, pod_ipv4)),
                  st.builds(lambda a, p: f"{a}/{p}", ipv4, st.integers(0, 32)))
anything = st.one_of(ipv4, pod_ipv4, ipv6, quads, networks, hosts, padded, ranges, noise)
# what rule specs and annotations hold besides addresses: names, wildcards, zones, non-strings
names = st.sampled_from(["example.com", "EXAMPLE.com.", "*.example.com", "*.com", "*", "a.*.com", "",
                         "  ", "localhost", "10.0.0.1.", "1.2.3.4.5", "fe80::1%eth0", "10.0.0.1%1"])
specs = st.one_of(anything, names, st.builds(lambda a, n: a + n, anything, names),
                  st.none(), st.integers(), st.lists(ipv4, max_size=1))


# --- properties ------------------------------------------------------------------------------------
@settings(max_examples=1000, deadline=None)
@given(anything)
def test_network_is_what_ipaddress_reads(text: str) -> None:
    assert outcome(lambda: network(text)) == outcome(lambda: reference_network(text))


@settings(max_examples=1000, deadline=None)
@given(anything)
def test_ipv4_int_is_the_ipv4_address_or_nothing(text: str) -> None:
    value = ipv4_int(text)
    if value is not None:
        assert value == int(ipaddress.IPv4Address(text))
    else:
        assert not isinstance(outcome(lambda: ipaddress.ip_address(text)), ipaddress.IPv4Address)


@given(st.integers(0, 2**32 - 1))
def test_ipv4_text_is_what_ipaddress_writes(value: int) -> None:
    assert ipv4_text(value) == str(ipaddress.IPv4Address(value))
    assert ipv4_int(ipv4_text(value)) == value


@settings(max_examples=400, deadline=None)
@given(st.lists(anything, max_size=30))
def test_f5_sorted_addresses_as_before(values: list[str]) -> None:
    assert sorted_addresses(values) == reference_sorted_addresses(values)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ipv4, pod_ipv4, hosts, ipv6, networks, padded), max_size=30))
def test_rest_canonical_members_as_before(values: list[str]) -> None:
    assert outcome(lambda: canonical_members(values)) == outcome(lambda: reference_canonical_members(values))


@settings(max_examples=200, deadline=None)
@given(st.lists(valid, min_size=2, max_size=30))
def test_rest_canonical_members_of_valid_addresses_as_before(values: list[str]) -> None:
    # every member valid, so the order (not only a shared error) is compared
    assert canonical_members(values) == reference_canonical_members(values)


@settings(max_examples=1000, deadline=None)
@given(anything)
def test_address_and_network_texts_are_what_ipaddress_writes(text: str) -> None:
    assert outcome(lambda: ip_address_text(text)) == outcome(lambda: str(ipaddress.ip_address(text)))
    assert outcome(lambda: ip_network_text(text)) == outcome(
        lambda: str(ipaddress.ip_network(text, strict=False)))


@settings(max_examples=1000, deadline=None)
@given(specs)
def test_compiler_parse_address_as_before(text: object) -> None:
    assert outcome(lambda: parse_address(text)) == outcome(lambda: reference_parse_address(text))


@settings(max_examples=1000, deadline=None)
@given(specs)
def test_compiler_parse_host_ip_as_before(text: object) -> None:
    assert outcome(lambda: parse_host_ip(text)) == outcome(lambda: reference_parse_host_ip(text))


def test_compiler_errors_name_the_value() -> None:
    # the messages the properties compare are the compiler's own, naming the offending text
    assert outcome(lambda: parse_host_ip(" 010.0.0.1")) == (
        compiler_values.ValueProblem, "' 010.0.0.1' is not an IP address")
    assert outcome(lambda: parse_address("10.0.0.256/8")) == (
        compiler_values.ValueProblem, "'10.0.0.256/8' is not an IP address, CIDR or FQDN")


# --- the fast path is taken for plain IPv4 ---------------------------------------------------------
def test_canonical_quads_never_reach_ipaddress(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> Network:
        raise AssertionError(f"{text!r} went to ipaddress")
    monkeypatch.setattr(netaddr, "_parsed", refuse)
    monkeypatch.setattr(netaddr, "ipaddress", None)  # any use of the module fails
    assert network("10.1.2.3") == Network(4, 0x0A010203, 32, "10.1.2.3")
    assert network("255.255.255.255/32") == Network(4, 2**32 - 1, 32, "255.255.255.255")
    assert network("0.0.0.0").text == "0.0.0.0"
    assert ipv4_int("192.168.0.1") == 0xC0A80001
    assert ip_address_text("10.1.2.3") == "10.1.2.3"
    assert ip_network_text("10.1.2.3") == ip_network_text("10.1.2.3/32") == "10.1.2.3/32"
    assert parse_address(" 10.9.8.7 ") == ParsedAddress(network="10.9.8.7/32")
    assert parse_host_ip(" 10.9.8.6\n") == "10.9.8.6"


@pytest.mark.parametrize("text", ["010.1.2.3", "10.1.2.256", " 10.1.2.3", "10.1.2.3/24", "10.1.2.3/032",
                                  "::1", "10.1.2", "10.1.2.3\n", "\u0661.1.1.1"])
def test_other_forms_go_to_ipaddress(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def record(value: str) -> Network:
        seen.append(value)
        raise ValueError(value)
    monkeypatch.setattr(netaddr, "_parsed", record)
    with pytest.raises(ValueError):
        network(text)
    assert seen == [text]
    assert ipv4_int(text) is None

    class Recording:
        def ip_address(self, value: str) -> None:
            seen.append(value)
            raise ValueError(value)

        def ip_network(self, value: str, strict: bool) -> None:
            seen.append(value)
            raise ValueError(value)
    monkeypatch.setattr(netaddr, "ipaddress", Recording())
    for func in (ip_address_text, ip_network_text):
        with pytest.raises(ValueError):
            func(text)
    assert seen == [text, text, text]


def test_f5_address_text_keeps_what_it_cannot_read() -> None:
    for text in ("10.0.0.1-10.0.0.9", "010.0.0.1", "not an address"):
        assert address_text(text) == text
