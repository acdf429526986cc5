"""Syslog headers: RFC 5424 and RFC 3164 (BSD), as firewalls and relays really send them.

`parse_syslog(line)` never fails: what it cannot read as a header is message. Accepted shapes:

- RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [BOM]MSG`; `-` for any nil field; SD is
  `-` or one or more `[ID key="value" ...]` elements (`\\"`, `\\]`, `\\\\` escaped);
- RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`, the day space- or zero-padded, optionally with a
  year (`Mmm dd yyyy hh:mm:ss`) and fractional seconds; HOST and TAG (`app`, `app[pid]`) optional;
- an RFC 3339 time instead of the BSD one (`<PRI>2026-04-03T00:31:09.976+00:00 HOST MSG`, as
  relays write it);
- no header at all (`<PRI>` then the message, FortiOS `format default`; or not even `<PRI>`);
- a relay's BSD prefix in front of a whole RFC 5424 message (`Mmm dd hh:mm:ss RELAY 1 TIMESTAMP ...`
  or `... RELAY <PRI>1 ...`): the inner header wins.

Times are aware UTC datetimes. A BSD time has no zone and is read as UTC; without a year it takes
the year that puts it nearest before `now` (at most a day ahead of it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_BSD_TIME = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]?\d)(?: (\d{4}))? "
    r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: |$)")
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|z|[+-]\d\d:?\d\d)?)(?: |$)")
_HOST = re.compile(r"([^\s=\[\]\":]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*) ")
_TAG = re.compile(r"([A-Za-z0-9_.\-/]{1,48})(?:\[([^\]\s]{1,32})\])?:(?: |$)")
_NOT_TAGS = frozenset({"CEF"})
_MAX_FRACTION_DIGITS = 6


class SyslogMessage(NamedTuple):
    """One syslog message split into its header fields (None when absent) and message.
    `structured_data` is the raw RFC 5424 SD text (None for `-` or a BSD message). A tuple: one is
    made per line received, and a tuple is made several times faster than a frozen dataclass."""

    priority: int | None
    time: datetime | None
    hostname: str | None
    app: str | None
    structured_data: str | None
    message: str

    @property
    def body(self) -> str:
        """What a parser reads: the structured data (which some devices fill with the log's
        fields, BIG-IP AFM with `[F5@12276 key="value" ...]`) followed by the message."""
        if self.structured_data:
            return f"{self.structured_data} {self.message}" if self.message else self.structured_data
        return self.message


_message = tuple.__new__  # a SyslogMessage from its six fields, without NamedTuple's Python __new__


def parse_syslog(line: str, *, now: datetime | None = None) -> SyslogMessage:
    """The header fields of one syslog line (trailing CR/LF/NUL ignored); never raises."""
    line = line.rstrip("\r\n\0")
    plain = _PLAIN.get(line[:_PLAIN_PREFIX])
    if plain is not None:  # a beginning seen before, with no header after the priority
        return _message(SyslogMessage, (plain[0], None, None, None, None, line[plain[1]:]))
    relayable = line[:3] in MONTHS and (now is None or 1 < now.year < 9999)
    if relayable:
        cut = line.find(" [", 0, _RELAYED_PREFIX_MAX)
        known = _RELAYED.get(line[:cut + 1]) if cut > 0 else None
        if known is not None:
            read = _with_structured_data(line, cut + 1, known)
            if read is not None:
                return read
    message = _parse(line, now, depth=0)
    if relayable and message.structured_data is not None and message.time is not None:
        _remember_relayed(line, message, now)
    return message


# Relays' prefixes up to the structured data of the RFC 5424 message they carry (`Mmm dd hh:mm:ss
# RELAY <PRI>1 TIMESTAMP HOST APP PROCID MSGID `) -> (priority, time, host, app) of that message.
# The header up to its structured data depends on that text alone (its fields cannot hold a space),
# and a relayed message's header does not depend on `now` when the relay's time is a time in any
# year; a device stamps many lines with one second (bounded).
_RELAYED: dict[str, tuple[int | None, datetime | None, str | None, str | None]] = {}
_RELAYED_PREFIX_MAX = 512
_RELAYED_SIZE = 4096


def _remember_relayed(line: str, message: SyslogMessage, now: datetime | None) -> None:
    cut = line.find(" [", 0, _RELAYED_PREFIX_MAX)
    assert message.structured_data is not None
    if cut <= 0 or not line.startswith(message.structured_data, cut + 1):
        return
    stamp = _BSD_TIME.match(line)
    if stamp is None or not _a_time_in_any_year(stamp, now):
        return
    if len(_RELAYED) >= _RELAYED_SIZE:
        _RELAYED.clear()
    _RELAYED[line[:cut + 1]] = (message.priority, message.time, message.hostname, message.app)


def _with_structured_data(line: str, pos: int, header: tuple[int | None, datetime | None, str | None,
                                                              str | None]) -> SyslogMessage | None:
    """The message of a remembered prefix whose structured data starts at `pos`, as `_rfc5424`
    reads it; None where `_rfc5424` would refuse it (the line is then read in full)."""
    end = _sd_end(line, pos)
    if end < 0:
        return None
    if not (line.startswith(" ", end) or end == len(line)):
        return None
    return _message(SyslogMessage, (*header, line[pos:end], _strip_bom(line[end + 1:])))


# Beginnings of lines with no header after the priority (FortiOS `format default`, a BIG-IP
# "Splunk" line) -> (priority, where the message starts). That is decided by the priority and the
# four characters after it alone (none of them starts a header), which the first 9 characters
# hold; a line whose beginning could start a header never gets here (bounded).
_PLAIN: dict[str, tuple[int | None, int]] = {}
_PLAIN_PREFIX = 9
_PLAIN_SIZE = 4096


def _parse(line: str, now: datetime | None, depth: int, start: int = 0) -> SyslogMessage:
    """The message of `line[start:]` (a relayed one is read in place, not copied)."""
    priority: int | None = None
    pos = start
    match = _PRI.match(line, pos) if line.startswith("<", pos) else None
    if match:
        number = int(match.group(1))
        if number <= 191:
            priority = number
            pos = match.end()
    head = line[pos:pos + 4]  # what each header shape starts with, checked before its regex
    match = _RFC5424.match(line, pos) if head[:2] == "1 " else None
    if match:
        parsed = _rfc5424(line, match, priority)
        if parsed is not None:
            return parsed
    when: datetime | None = None
    relay = depth == 0  # a relayed message may follow the time
    match = _BSD_TIME.match(line, pos) if head[:3] in MONTHS else None
    if match:
        if relay and _a_time_in_any_year(match, now):  # so the time is never None: a relayed
            inner = _relayed(line, match.end(), now)  # message, whose header wins, is read first
            if inner is not None:
                return inner
            relay = False
        when = _bsd_time(match, now)
    elif head.isdigit():
        match = _ISO_TIME.match(line, pos)
        if match:
            when = _iso_time(match.group(1))
    if match is None or when is None:
        at = pos + 1 if line.startswith("\ufeff", pos) else pos
        if (match is None and start == 0 and head[:2] != "1 " and head[:3] not in MONTHS
                and not head.isdigit()):  # decided by line[:pos + 4] alone: remembered
            if len(_PLAIN) >= _PLAIN_SIZE:
                _PLAIN.clear()
            _PLAIN[line[:_PLAIN_PREFIX]] = (priority, at)
        return _message(SyslogMessage, (priority, None, None, None, None, line[at:]))
    pos = match.end()
    if relay:
        inner = _relayed(line, pos, now)
        if inner is not None:
            return inner
    hostname, app, pos = _host_and_tag(line, pos)
    return _message(SyslogMessage, (priority, when, hostname, app, None, _strip_bom(line[pos:])))


def _relayed(line: str, pos: int, now: datetime | None) -> SyslogMessage | None:
    """A whole syslog message behind a relay's prefix (`RELAY 1 TS ...`, `RELAY <PRI>...`)."""
    host = _HOST.match(line, pos)
    if host is None and not line.startswith(("<", "1 "), pos):
        return None
    for start in (pos, host.end()) if host else (pos,):
        if line.startswith("1 ", start) or (line.startswith("<", start) and _PRI.match(line, start)):
            inner = _parse(line, now, depth=1, start=start)
            if inner.time is not None:
                return inner
    return None


def _host_and_tag(line: str, pos: int) -> tuple[str | None, str | None, int]:
    hostname: str | None = None
    tag = _TAG.match(line, pos)
    if tag is None:
        host = _HOST.match(line, pos)
        if host:
            hostname = host.group(1).strip("[]")
            pos = host.end()
            tag = _TAG.match(line, pos)
    app: str | None = None
    if tag and tag.group(1) not in _NOT_TAGS:
        app = tag.group(1)
        pos = tag.end()
    return hostname, app, pos


def _rfc5424(line: str, match: re.Match[str], priority: int | None) -> SyslogMessage | None:
    stamp, host, app = match.group(1), match.group(2), match.group(3)
    when: datetime | None = None
    if stamp != "-":
        when = _iso_time(stamp)
        if when is None:
            return None
    pos = match.end()
    structured: str | None = None
    if line.startswith("-", pos):
        pos += 1
    elif line.startswith("[", pos):
        end = _sd_end(line, pos)
        if end < 0:
            return None
        structured = line[pos:end]
        pos = end
    else:
        return None
    if line.startswith(" ", pos):
        pos += 1
    elif pos != len(line):
        return None
    return _message(SyslogMessage, (priority, when, None if host == "-" else host,
                                    None if app == "-" else app, structured, _strip_bom(line[pos:])))


def _sd_end(line: str, pos: int) -> int:
    """End of the SD elements starting at `pos` (`[...]` repeated), or -1 when unterminated."""
    start = pos
    find, count = line.find, line.count
    while line.startswith("[", pos):  # fast path: a `]` with an even number of quotes before it
        end = find("]", pos)
        while end >= 0 and count('"', pos, end) & 1:
            end = find("]", end + 1)
        if end < 0:
            return -1
        if find("\\", pos, end) >= 0:
            return _sd_end_escaped(line, start)
        pos = end + 1
    return pos


def _sd_end_escaped(line: str, pos: int) -> int:
    """`_sd_end` for elements with backslash escapes, a character at a time."""
    length = len(line)
    while pos < length and line[pos] == "[":
        pos += 1
        quoted = False
        while True:
            if pos >= length:
                return -1
            char = line[pos]
            if char == "\\":
                pos += 2
                continue
            if char == '"':
                quoted = not quoted
            elif char == "]" and not quoted:
                pos += 1
                break
            pos += 1
    return pos


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


_ISO_CACHE: dict[str, datetime | None] = {}
_ISO_CACHE_SIZE = 4096


def _iso_time(text: str) -> datetime | None:
    """An RFC 3339 time (a zoneless one read as UTC) as aware UTC, None when it is not one.
    Remembered per text (a device stamps many lines with one second)."""
    known = _ISO_CACHE.get(text, False)
    if known is not False:
        return known  # type: ignore[return-value]
    moment = _read_iso_time(text)
    if len(_ISO_CACHE) >= _ISO_CACHE_SIZE:
        _ISO_CACHE.clear()
    _ISO_CACHE[text] = moment
    return moment


def _read_iso_time(text: str) -> datetime | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot > 0:  # datetime takes at most microseconds
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > _MAX_FRACTION_DIGITS:
            text = text[:dot + 1 + _MAX_FRACTION_DIGITS] + text[end:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # in every year


def _a_time_in_any_year(match: re.Match[str], now: datetime | None) -> bool:
    """Whether `_bsd_time` of this stamp is a time whatever year `now` is in: its date exists in
    every year (not Feb 29), and its time of day and its year (when given) are valid."""
    year = match.group(3)
    return (1 <= int(match.group(2)) <= _MONTH_DAYS[MONTHS[match.group(1)]]
            and int(match.group(4)) < 24 and int(match.group(5)) < 60 and int(match.group(6)) < 60
            and (int(year) >= 1 if year else now is None or 1 < now.year < 9999))


_BSD_CACHE: dict[tuple[str, int], tuple[datetime | None, ...]] = {}
_BSD_CACHE_SIZE = 4096
_DAY = timedelta(days=1)


def _bsd_time(match: re.Match[str], now: datetime | None) -> datetime | None:
    """The time of a BSD stamp; without a year, the latest of the years around `now`'s that is at
    most a day ahead of `now`. The candidate times are remembered per stamp and year of `now`."""
    reference = None if match.group(3) else now or datetime.now(UTC)
    key = (match.group(0), reference.year if reference is not None else 0)
    candidates = _BSD_CACHE.get(key)
    if candidates is None:
        candidates = _bsd_candidates(match, reference)
        if len(_BSD_CACHE) >= _BSD_CACHE_SIZE:
            _BSD_CACHE.clear()
        _BSD_CACHE[key] = candidates
    if reference is None:
        return candidates[0]
    for moment in candidates:  # the latest that fits
        if moment is not None and moment - reference <= _DAY:
            return moment
    return None


def _bsd_candidates(match: re.Match[str], reference: datetime | None) -> tuple[datetime | None, ...]:
    """The stamp's time in its own year (no `reference`), else in the year after, of and before
    `reference`'s (None where the date does not exist, Feb 29 outside a leap year)."""
    month = MONTHS[match.group(1)]
    day = int(match.group(2))
    fraction = match.group(7) or ""
    micro = int(fraction[:_MAX_FRACTION_DIGITS].ljust(_MAX_FRACTION_DIGITS, "0")) if fraction else 0
    hour, minute, second = int(match.group(4)), int(match.group(5)), int(match.group(6))
    years = (int(match.group(3)),) if reference is None else (
        reference.year + 1, reference.year, reference.year - 1)
    out: list[datetime | None] = []
    for year in years:
        try:
            out.append(datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC))
        except ValueError:
            out.append(None)
    return tuple(out)
