"""The syslog header's remembered beginnings (lines with no header after the priority) give
what reading the line in full gives, first time and remembered (hypothesis over generated lines)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.flows.syslog import header, parse_syslog

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
PIECES = st.sampled_from([  # beginnings and ends of headers, to be put together
    "<", ">", "<189>", "<192>", "<1234>", "1 ", "1", "2026-12-06T15:59:58Z ", "2026-12-06", "T15:59:58Z ",
    "1 2026-12", "-06T15:59:58Z h a p m - x", "Dec ", "Dec  6 15:", "59:58 ", "Dec  6 15:59:58 ",
    "Feb 29 10:00:00 ", "fw1 ", "app: ", "date=", "action=\"Drop\",", "-", " ", "\ufeff",
    "[x@1 a=\"b\"] ", "\u0661\u0668", "9", "a", "\r\n"])
LINES = st.lists(PIECES, max_size=8).map("".join)


def read_in_full(line: str) -> header.SyslogMessage:
    return header._parse(line.rstrip("\r\n\0"), NOW, depth=0)


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=3).map("".join), LINES, st.one_of(LINES, st.text(max_size=12)))
def test_a_remembered_beginning_reads_as_the_whole_line(beginning: str, tail: str, other: str) -> None:
    header._PLAIN.clear()
    for text in (beginning + tail, beginning + other, beginning, beginning + tail):  # later ones
        assert parse_syslog(text, now=NOW) == read_in_full(text)  # may be remembered


def test_the_usual_beginnings_are_remembered() -> None:
    header._PLAIN.clear()
    fortios = '<189>date=2026-05-02 time=08:31:47 srcip=10.0.0.1'
    splunk = 'action="Drop",hostname="bigip"'
    for line in (fortios, splunk):
        first = parse_syslog(line, now=NOW)
        assert header._PLAIN.get(line[:9]) is not None
        assert parse_syslog(line, now=NOW) == first == read_in_full(line)
    assert parse_syslog(fortios, now=NOW).priority == 189
    assert parse_syslog("<189>Dec  6 15:59:58 fw1 app: x", now=NOW).time is not None  # a header
    assert header._PLAIN.get("<189>Dec ") is None


@pytest.mark.parametrize(("first", "then"), [
    ("<189>2026-12-06 x", "<189>2026-12-06T15:59:58Z fw1 app: x"),
    ("<189>Dec  6 15:xx", "<189>Dec  6 15:59:58 fw1 app: x"),
    ("<189>1 2026-12-0 bad", "<189>1 2026-12-06T15:59:58Z h a p m - x"),
    ("Dec  6 15:59:5x y", "Dec  6 15:59:58 fw1 app: x"),
])
def test_a_beginning_that_could_start_a_header_is_never_remembered(first: str, then: str) -> None:
    header._PLAIN.clear()
    assert parse_syslog(first, now=NOW).time is None
    assert parse_syslog(then, now=NOW) == read_in_full(then)
    assert parse_syslog(then, now=NOW).time is not None
