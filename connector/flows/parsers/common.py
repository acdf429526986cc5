"""What the log parsers share: the error, `key=value` reading, addresses, ports, protocols and
times. Written for speed: one precompiled regex pass per line that matches only the wanted keys,
no dict of every field unless a line needs it (escaped quotes, a quoted value holding `=`)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from connector.flows.record import FlowAction, FlowLine

_MAX_SHOWN = 64


class MalformedLine(ValueError):
    """A line that is not a flow in the expected format. The message names the field and what is
    wrong with it (a value shown is cut to 64 characters); it never holds the whole line."""


class NotAFlow(MalformedLine):
    """A well-formed log line that reports no flow (a FortiOS event log, a UTM log, ...)."""


class StagedMatch(NotAFlow):
    """A flow a staged (audit) policy matched: the device logged what the rule would have done
    and did not enforce it (BIG-IP AFM `acl_policy_type="Staged"`). Not an enforced decision: the
    receiver counts it as `staged` and drops it (the audit counts come from the enforced flows)."""


Parser = Callable[[str, str, datetime | None], FlowLine]
"""(message, device, header_time) -> FlowLine; raises MalformedLine."""


def shown(value: str) -> str:
    """`value` quoted for an error message, cut to 64 characters."""
    return repr(value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "...")


# ---- key=value fields

_ANY_FIELD = re.compile(r'(?:^|(?<=[ ,\[]))([\w.-]+)=("(?:[^"\\]|\\.)*"|[^ ,\]"]*)')
_UNESCAPE = re.compile(r"\\(.)")
_QUOTED_EQUALS = re.compile(r'="[^"]*=')  # a quoted value holding "=" (no escaped quotes here)
_UNCLOSED = re.compile(r'([\w.-]+)="[^"]*$')


class KeyValues:
    """Reads chosen keys from `key=value` lines whose pairs are separated by spaces or by commas
    (decided per line by what ends the first pair; in RFC 5424 structured data `[ID key="v" ...]`
    the pairs are space-separated). A value is `"quoted"` (`\\"` escapes a quote) or runs to the next
    separator. A key inside a quoted value is never taken for one; a key given twice: the last wins.

    Fast path: one regex `findall` that matches only the chosen keys (their alternation factored
    by common prefixes) and captures each value without its quotes, so its (key, value) pairs make
    the dict. It is exact when no quoted value holds `=` and quotes are balanced and unescaped;
    other lines go through every pair."""

    __slots__ = ("_absent", "_by_comma", "_by_space", "_in_order", "_keys")

    def __init__(self, keys: Iterable[str]) -> None:
        order = tuple(dict.fromkeys(keys))
        self._keys = frozenset(order)
        self._absent: dict[str, str | None] = dict.fromkeys(order)
        self._in_order = operator.itemgetter(*order) if len(order) > 1 else (
            lambda found: (found[order[0]],))
        alternation = prefix_alternation(self._keys)
        # a lookbehind tells a quoted value (captured without its quotes) from a bare one
        value = r'"?((?<=")[^"]*|(?<!")[^ ,\]"]*)"?'
        self._by_space = re.compile(f" ({alternation})={value}")
        self._by_comma = re.compile(f",({alternation})={value}")

    def read(self, text: str) -> dict[str, str]:
        """The chosen keys present in `text` -> their values (unquoted)."""
        return dict(self._pairs(text))

    def values(self, text: str) -> tuple[str | None, ...]:
        """The values of the chosen keys in `text`, in the order the keys were given (None for a
        key not there): `read(text).get(key)` for each, in one step."""
        found = self._absent.copy()
        found.update(self._pairs(text))
        return self._in_order(found)

    def _pairs(self, text: str) -> Iterable[tuple[str, str]] | dict[str, str]:
        if (("\\" in text and '\\"' in text)  # one character is found far faster than two
                or text.count('"') & 1 or _QUOTED_EQUALS.search(text) is not None):
            return _read_every_pair(text, self._keys)
        # the separator: what ends the first pair (`_by_comma`, inline: it runs for every line)
        equals = text.find("=")
        if equals >= 0:
            if text.startswith('"', equals + 1):
                by_comma = text.startswith(",", text.find('"', equals + 2) + 1)
            else:
                space = text.find(" ", equals)
                by_comma = text.find(",", equals, space if space >= 0 else len(text)) >= 0
            if by_comma:
                return self._by_comma.findall("," + text)
        return self._by_space.findall(" " + text)


def prefix_alternation(words: Iterable[str]) -> str:
    """A regex matching exactly `words` (no group captures), branches factored by their common
    prefixes (`s(?:rc(?:ip|port)|ervice)`): the regex engine tries far fewer branches per position."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        by_first.setdefault(word[:1], []).append(word[1:])
    ends_here = "" in by_first
    parts = [re.escape(first) + prefix_alternation(rests) for first, rests in by_first.items() if first]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 and not ends_here else f"(?:{'|'.join(parts)})"
    return body + "?" if ends_here else body


def _by_comma(text: str) -> bool:
    """Whether the first pair of `text` ends with a comma rather than a space."""
    equals = text.find("=")
    if equals < 0:
        return False
    if text.startswith('"', equals + 1):
        end = text.find('"', equals + 2) + 1
        return text.startswith(",", end)
    space = text.find(" ", equals)
    comma = text.find(",", equals, space if space >= 0 else len(text))
    return comma >= 0


def _read_every_pair(text: str, keys: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ANY_FIELD.finditer(text):
        if match.group(1) not in keys:
            continue
        value = match.group(2)
        if value.startswith('"'):
            value = _UNESCAPE.sub(r"\1", value[1:-1])
        found[match.group(1)] = value
    if text.count('"') - text.count('\\"') & 1:
        unclosed = _UNCLOSED.search(text)
        name = unclosed.group(1) if unclosed else "a value"
        raise MalformedLine(f"{name}: the quoted value is not closed (truncated line?)")
    return found


# ---- addresses, ports, protocols

_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")


KNOWN_ADDRESSES: dict[str | None, str] = {}  # IPv4 addresses already checked -> the one string
# kept for each (bounded): a parser may take the value found here as it is. The same string object
# each time: its hash is kept, and the attribution's lookups of it compare by identity.
KNOWN_ADDRESSES_SIZE = 65536


def address(value: str | None, field: str) -> str:
    """An IP address as text (IPv6 compressed; a BIG-IP route domain `%N` dropped)."""
    if not value:
        raise MalformedLine(f"{field} is missing")
    known = KNOWN_ADDRESSES.get(value)
    if known is not None:
        return known
    if _IPV4.fullmatch(value):
        if len(KNOWN_ADDRESSES) >= KNOWN_ADDRESSES_SIZE:
            KNOWN_ADDRESSES.clear()
        KNOWN_ADDRESSES[value] = value
        return value
    percent = value.find("%")
    if percent > 0:
        value = value[:percent]
        if _IPV4.fullmatch(value):
            return value
    if ":" in value:
        import ipaddress

        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            pass
    raise MalformedLine(f"{field} {shown(value)} is not an IP address")


def port(value: str | None, field: str) -> int | None:
    """A port number, None when absent or empty."""
    if not value:
        return None
    known = _KNOWN_PORTS.get(value)
    if known is not None:
        return known
    if value.isdigit() and value.isascii() and len(value) <= 5:  # "²" is a digit int() refuses
        number = int(value)
        if number <= 65535:
            if len(_KNOWN_PORTS) < _PORTS_SIZE:
                _KNOWN_PORTS[value] = number
            return number
    raise MalformedLine(f"{field} {shown(value)} is not a port number")


_KNOWN_PORTS: dict[str, int] = {}  # port texts already read -> `port`'s answer (at most 65536 x
# 1-5 digits; bounded)
_PORTS_SIZE = 70000


KNOWN_REFERENCES: dict[str, str] = {}  # device rule references seen -> the one string kept for
# each (bounded), as KNOWN_ADDRESSES: a device has a few thousand rules at most
_REFERENCES_SIZE = 65536


def reference(value: str) -> str:
    """`value` (a device rule reference), as the string kept for it: `KNOWN_REFERENCES.get(value)
    or reference(value)` takes one lookup for a reference seen before."""
    known = KNOWN_REFERENCES.get(value)
    if known is not None:
        return known
    if len(KNOWN_REFERENCES) >= _REFERENCES_SIZE:
        KNOWN_REFERENCES.clear()
    KNOWN_REFERENCES[value] = value
    return value


PROTOCOL_NUMBERS = {"6": "TCP", "17": "UDP", "1": "ICMP", "58": "ICMP", "132": "SCTP"}
_PROTOCOL_NAMES = {"TCP": "TCP", "UDP": "UDP", "ICMP": "ICMP", "SCTP": "SCTP", "ICMPV6": "ICMP",
                   "IPV6-ICMP": "ICMP", "ICMP6": "ICMP"}


def protocol(value: str | None, field: str) -> str:
    """TCP, UDP, ICMP (also ICMPv6), SCTP, or another IP protocol's number or name as given."""
    if not value:
        raise MalformedLine(f"{field} is missing")
    known = PROTOCOL_NUMBERS.get(value) or _PROTOCOL_NAMES.get(value.upper())
    if known:
        return known
    if value.isdigit() and int(value) <= 255:
        return value
    if value.replace("-", "").replace(".", "").isalnum() and len(value) <= 32:
        return value.upper()
    raise MalformedLine(f"{field} {shown(value)} is not an IP protocol")


def action(value: str | None, field: str, allow: frozenset[str], deny: frozenset[str]) -> FlowAction:
    """Allow or Deny for the device's action word (compared in lower case)."""
    if not value:
        raise MalformedLine(f"{field} is missing")
    word = value.lower()
    if word in allow:
        return "Allow"
    if word in deny:
        return "Deny"
    raise MalformedLine(f"{field} {shown(value)} is not a known action")


# ---- times

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_BSD_WITH_YEAR = re.compile(
    r"([A-Za-z]{3}) +(\d{1,2}) (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?: +(\S+))?")
_ZONE = re.compile(r"[+-]\d\d:?\d\d")


def epoch_time(value: str, field: str) -> datetime:
    """A Unix time in seconds, milliseconds, microseconds or nanoseconds, told apart by its number
    of digits (<= 11 s, 12-15 ms, 16-18 us, >= 19 ns)."""
    try:
        return EPOCH + timedelta(microseconds=epoch_micros(value, field))
    except OverflowError:
        raise MalformedLine(f"{field} {shown(value)} is out of range") from None


def epoch_micros(value: str, field: str) -> int:
    """`epoch_time`'s Unix time as whole microseconds (not checked for range)."""
    if not (value.isdigit() and value.isascii()):
        raise MalformedLine(f"{field} {shown(value)} is not a Unix time")
    digits = len(value)
    number = int(value)
    if digits >= 19:
        return number // 1000
    if digits >= 16:
        return number
    if digits >= 12:
        return number * 1000
    return number * 1_000_000


def zone_offset(text: str) -> timedelta | None:
    """`+0200`, `-05:00`, `Z`, `UTC`, `GMT` as an offset; None for what is not one."""
    if text in ("Z", "z", "UTC", "GMT", "utc", "gmt"):
        return timedelta(0)
    if not _ZONE.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def local_time(naive: datetime, offset: timedelta | None, header_time: datetime | None) -> datetime:
    """A device time: shifted by its zone when the line gives one; else the syslog header's time
    when there is one; else read as UTC."""
    if offset is not None:
        return naive.replace(tzinfo=UTC) - offset
    if header_time is not None:
        return header_time if header_time.tzinfo is UTC else header_time.astimezone(UTC)
    return naive.replace(tzinfo=UTC)


_CLOCK_CACHE_SIZE = 4096
_clocks: dict[str, tuple[datetime | None, datetime]] = {}


def month_day_year_time(value: str, field: str, header_time: datetime | None) -> datetime:
    """`Mar 14 2015 20:24:33` (optionally `.SSS` and a zone), as BIG-IP and CEF `rt` write it:
    `local_time` of it."""
    known = _clocks.get(value)  # a device logs many lines per second: remember the last few
    if known is None:
        naive, offset = _month_day_year_time(value, field)
        # local_time's answers: with the zone; without one and without a header time
        known = (local_time(naive, offset, None) if offset is not None else None,
                 naive.replace(tzinfo=UTC))
        if len(_clocks) >= _CLOCK_CACHE_SIZE:
            _clocks.clear()
        _clocks[value] = known
    zoned, as_utc = known
    if zoned is not None:
        return zoned
    if header_time is not None:
        return header_time if header_time.tzinfo is UTC else header_time.astimezone(UTC)
    return as_utc


def _month_day_year_time(value: str, field: str) -> tuple[datetime, timedelta | None]:
    match = _BSD_WITH_YEAR.fullmatch(value)
    month = _MONTHS.get(match.group(1).lower()) if match else None
    if match is None or month is None:
        raise MalformedLine(f"{field} {shown(value)} is not a time")
    fraction = match.group(7) or ""
    try:
        naive = datetime(int(match.group(3)), month, int(match.group(2)), int(match.group(4)),
                         int(match.group(5)), int(match.group(6)),
                         int(fraction.ljust(6, "0")) if fraction else 0)
    except ValueError:
        raise MalformedLine(f"{field} {shown(value)} is not a valid date") from None
    zone = match.group(8)
    return naive, zone_offset(zone) if zone else None


def iso_time(value: str, field: str, header_time: datetime | None) -> datetime:
    """An ISO 8601 / RFC 3339 time; without an offset it is a device-local time."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedLine(f"{field} {shown(value)} is not a time") from None
    if moment.tzinfo is None:
        return local_time(moment, None, header_time)
    return moment.astimezone(UTC)
