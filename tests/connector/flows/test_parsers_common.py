"""The parsers' shared pieces: reading keys, addresses, ports, protocols, times."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from connector.flows.parsers.common import (
    KeyValues,
    MalformedLine,
    _read_every_pair,
    address,
    epoch_time,
    month_day_year_time,
    port,
    prefix_alternation,
    protocol,
    zone_offset,
)

WANTED = frozenset(("time", "dest_ip", "action", "src"))
KEYS = KeyValues(WANTED)


@pytest.mark.parametrize("text", [
    'time=1 eventtime=2 translated_dest_ip="9.9.9.9" dest_ip="1.2.3.4" action="a b" src=x',
    'time=1,eventtime=2,translated_dest_ip="9.9.9.9",dest_ip="1.2.3.4",action="a b",src=x',
    'time="1",action="a b",dest_ip="1.2.3.4",src="x"',  # a first value with a space, then commas
    '[F5@12276 time="1" translated_dest_ip="9" dest_ip="1.2.3.4" action="a b" src="x"] 1.2.3.4,9',
])
def test_spaces_commas_and_structured_data(text: str) -> None:
    assert KEYS.read(text) == {"time": "1", "dest_ip": "1.2.3.4", "action": "a b", "src": "x"}


def test_a_key_inside_a_quoted_value_is_never_taken() -> None:
    text = 'note="x dest_ip=6.6.6.6 action=allow" dest_ip=1.2.3.4 action="deny"'
    assert KEYS.read(text) == {"dest_ip": "1.2.3.4", "action": "deny"}
    comma = 'note="x,dest_ip=6.6.6.6",dest_ip="1.2.3.4"'
    assert KEYS.read(comma) == {"dest_ip": "1.2.3.4"}


def test_escaped_quotes_are_unescaped() -> None:
    assert KEYS.read('action="say \\"hi\\"" src=\\x') == {"action": 'say "hi"', "src": "\\x"}


def test_the_last_of_a_repeated_key_wins_on_both_paths() -> None:
    assert KEYS.read("src=a src=b") == {"src": "b"}
    assert KEYS.read('note="=" src=a src=b') == {"src": "b"}


def test_an_unclosed_quote_names_its_key() -> None:
    with pytest.raises(MalformedLine, match="action"):
        KEYS.read('src=x action="cut off')
    assert KEYS.read("") == {}
    assert KEYS.read("no pairs here") == {}


@pytest.mark.parametrize(("value", "expected"), [
    ("10.0.0.1", "10.0.0.1"), ("10.0.0.1%2", "10.0.0.1"), ("2001:DB8:0:0::1", "2001:db8::1"),
    ("fe80::1%3", "fe80::1")])
def test_addresses(value: str, expected: str) -> None:
    assert address(value, "src") == expected


@pytest.mark.parametrize("value", ["10.0.0.256", "host.example", "1.2.3", "::g"])
def test_not_addresses(value: str) -> None:
    with pytest.raises(MalformedLine, match="src"):
        address(value, "src")


@pytest.mark.parametrize(("value", "expected"), [
    ("6", "TCP"), ("17", "UDP"), ("132", "SCTP"), ("1", "ICMP"), ("58", "ICMP"), ("tcp", "TCP"),
    ("IPv6-ICMP", "ICMP"), ("47", "47"), ("gre", "GRE")])
def test_protocols(value: str, expected: str) -> None:
    assert protocol(value, "proto") == expected


def test_epoch_and_zones() -> None:
    assert epoch_time("0", "t") == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(MalformedLine, match="t"):
        epoch_time("12a", "t")
    assert zone_offset("+0530") == timedelta(hours=5, minutes=30)
    assert zone_offset("-05:00") == timedelta(hours=-5)
    assert zone_offset("CET") is None


def test_month_day_year_time_is_remembered_per_text_but_zoned_per_call() -> None:
    header = datetime(2026, 3, 14, 19, 0, tzinfo=UTC)
    assert month_day_year_time("Mar 14 2026 20:24:33", "t", None) == datetime(
        2026, 3, 14, 20, 24, 33, tzinfo=UTC)
    assert month_day_year_time("Mar 14 2026 20:24:33", "t", header) == header
    assert month_day_year_time("Mar 14 2026 20:24:33 +01:00", "t", header) == datetime(
        2026, 3, 14, 19, 24, 33, tzinfo=UTC)
    with pytest.raises(MalformedLine, match="t"):
        month_day_year_time("Feb 30 2026 20:24:33", "t", header)


@pytest.mark.parametrize("words", [
    ["a"], ["a", "ab", "abc"], ["srcip", "srcport", "service", "time", "tz", "type", "t.x", "d-1"],
    ["source_ip", "source_port", "dest_ip", "dest_port", "date_time", "action", "acl_rule_name"],
])
def test_prefix_alternation_matches_exactly_the_words(words: list[str]) -> None:
    pattern = re.compile(prefix_alternation(words))
    assert pattern.groups == 0
    for word in words:
        assert pattern.fullmatch(word)
    prefixes = {word[:cut] for word in words for cut in range(len(word) + 2)} | {w + "x" for w in words}
    for other in prefixes - set(words):
        assert pattern.fullmatch(other) is None, other


def test_the_fast_path_reads_what_the_every_pair_path_reads() -> None:
    """Lines of random pairs (bare and quoted values, spaces and commas inside quotes, repeated
    keys, look-alike keys) read the same on the regex fast path as pair by pair."""
    rng = random.Random(16)
    names = ["time", "dest_ip", "action", "src", "srcx", "xsrc", "dest", "note", "time_"]
    values = ["1", "", '""', '"a b"', '"a,b"', '"x]"', "1.2.3.4", "a]b", '"%d"', "[z]"]
    for _ in range(2000):
        separator = rng.choice((" ", ","))
        pairs = [f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randrange(1, 9))]
        text = separator.join(pairs)
        if separator == "," and '"' in pairs[0] and " " in pairs[0]:
            continue  # the first pair decides the separator; covered by the parametrized cases
        assert KEYS.read(text) == _read_every_pair(text, WANTED), text


@pytest.mark.parametrize("value", ["\u00b2", "1\u0663"])  # digits to str.isdigit, not to int()
def test_non_ascii_digits_are_malformed_not_a_crash(value: str) -> None:
    with pytest.raises(MalformedLine, match="port"):
        port(value, "port")
    with pytest.raises(MalformedLine, match="eventtime"):
        epoch_time(value, "eventtime")
