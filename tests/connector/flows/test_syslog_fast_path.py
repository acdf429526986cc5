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


def time_first(line: str, now: datetime) -> header.SyslogMessage:
    """A line starting with a BSD time, read in the documented order: the time (a date that does
    not exist makes the whole line the message), then a relayed message, then host and tag."""
    match = header._BSD_TIME.match(line)
    assert match is not None
    when = header._bsd_time(match, now)
    if when is None:
        return header.SyslogMessage(None, None, None, None, None, line)
    inner = header._relayed(line, match.end(), now)
    if inner is not None:
        return inner
    hostname, app, pos = header._host_and_tag(line, match.end())
    return header.SyslogMessage(None, when, hostname, app, None, line[pos:])


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(["Jan", "Feb", "Apr", "Dec"]), st.integers(0, 32),
       st.sampled_from(["", " 0000", " 2024", " 2026"]), st.integers(0, 25), st.sampled_from([0, 59, 60]),
       st.sampled_from([0, 59, 60, 61]),
       st.sampled_from(["10.99.5.207 1 2026-12-06T15:59:58Z h a p m - x", "relay <14>1 - h a - - - y",
                        "relay <14>Dec  6 15:59:58 h2 app: z", "fw1 app: msg", "1 bad"]),
       st.sampled_from([datetime(2026, 12, 6, tzinfo=UTC), datetime(2024, 2, 28, 23, tzinfo=UTC),
                        datetime(1, 1, 1, 1, tzinfo=UTC)]))
def test_a_relayed_message_is_read_as_in_the_documented_order(
        month: str, day: int, year: str, hour: int, minute: int, second: int, rest: str,
        now: datetime) -> None:
    line = f"{month} {day:2d}{year} {hour:02d}:{minute:02d}:{second:02d} {rest}"
    assert parse_syslog(line, now=now) == time_first(line, now)


RELAY_PREFIXES = st.builds(
    "{}{} {}{}1 {} {} {} {} {} ".format,
    st.sampled_from(["Dec  6 15:59:58", "Dec 06 15:59:58", "Feb 29 10:00:00", "Dec  6 2026 15:59:58"]),
    st.sampled_from(["", ".123"]),
    st.sampled_from(["10.99.5.207 ", "[::1] ", "relay ", ""]),
    st.sampled_from(["", "<134>", "<999>"]),
    st.sampled_from(["2026-12-06T15:59:58.000Z", "-", "2026-12-06T15:59:5x"]),
    st.sampled_from(["bigip-dc1.example", "-", "h[1"]),
    st.sampled_from(["tmm", "-"]), st.sampled_from(["14807", "-"]), st.sampled_from(["23003137", "-"]))
RELAY_TAILS = st.lists(st.sampled_from([
    '[F5@12276 acl_policy_type="Enforced" action="Accept"]', '[F5@12276 a="b]"]', "[x@1 a=\"\\\"\"]",
    "[open", " msg", "msg", "", "\ufeffmsg", "[a][b] rest", "[a]x"]), max_size=3).map("".join)


@settings(max_examples=800, deadline=None)
@given(RELAY_PREFIXES, RELAY_TAILS, RELAY_TAILS,
       st.sampled_from([NOW, None, datetime(9999, 1, 1, tzinfo=UTC)]))
def test_a_remembered_relay_prefix_reads_as_the_whole_line(prefix: str, tail: str, other: str,
                                                           now: datetime | None) -> None:
    header._RELAYED.clear()
    for text in (prefix + tail, prefix + other, prefix + tail):  # later ones may be remembered
        assert parse_syslog(text, now=now) == header._parse(text.rstrip("\r\n\0"), now, depth=0)


def test_a_relayed_bigip_line_is_remembered_by_its_prefix() -> None:
    header._RELAYED.clear()
    prefix = "Dec 06 15:59:58 10.99.5.207 1 2026-12-06T15:59:58.000Z bigip-dc1.example tmm 14807 23003137 "
    first = parse_syslog(prefix + '[F5@12276 action="Accept"] tail', now=NOW)
    assert header._RELAYED.get(prefix) == (None, first.time, "bigip-dc1.example", "tmm")
    again = parse_syslog(prefix + '[F5@12276 action="Drop"]', now=NOW)
    assert again.structured_data == '[F5@12276 action="Drop"]' and again.message == ""
    assert again.time == first.time
