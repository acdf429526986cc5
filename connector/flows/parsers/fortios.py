"""FortiOS traffic logs (`config log syslogd setting`, `format default`, `csv` or `rfc5424`).

Accepted: `key=value` pairs separated by spaces (`default`, `rfc5424`) or commas (`csv`), string
values in double quotes (`\\"` escapes a quote), in any order. Read:

- `srcip`, `dstip` (required; IPv4 or IPv6), `srcport`, `dstport` (optional: absent for ICMP);
- `proto` (IP protocol number), else the protocol of `service` (`tcp/7680`); one is required;
- `action` (required): `deny`, `block`, `blocked` are Deny; `accept`, `start`, `close`, `timeout`,
  `client-rst`, `server-rst`, `ip-conn`, `dns` (a session the policy let through) are Allow;
- `policyname` (the device rule when present) and `policyid` (the rule id; the device rule when no
  name; `0` is the implicit deny);
- time: `date` and `time` with `tz` (`+0200`) when all three are there (refined to the sub-second
  by `eventtime` when both agree within a second); else `eventtime` (Unix time in s, ms, us or ns,
  by its number of digits); else `date` and `time` without zone: the syslog header's time, else
  read as UTC; without any, the header's time;
- `type`: a line of another type than `traffic` (event, utm) raises NotAFlow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.flows.parsers.common import (
    EPOCH,
    KNOWN_ADDRESSES,
    KNOWN_REFERENCES,
    PROTOCOL_NUMBERS,
    KeyValues,
    MalformedLine,
    NotAFlow,
    action,
    address,
    epoch_micros,
    epoch_time,
    local_time,
    port,
    protocol,
    reference,
    shown,
    zone_offset,
)
from connector.flows.record import FlowAction, FlowLine

ALLOW = frozenset({"accept", "start", "close", "timeout", "client-rst", "server-rst", "ip-conn", "dns"})
DENY = frozenset({"deny", "block", "blocked"})
_ACTIONS: dict[str | None, FlowAction] = {**dict.fromkeys(ALLOW, "Allow"), **dict.fromkeys(DENY, "Deny")}

_FIELDS = KeyValues(("type", "srcip", "dstip", "action", "proto", "service", "srcport", "dstport",
                     "policyid", "policyname", "eventtime", "date", "time", "tz"))
_SERVICE_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "icmp": "ICMP"}
_clock_cache: dict[tuple[str, str, str | None], datetime] = {}
_CLOCK_CACHE_SIZE = 4096
_zoned_cache: dict[tuple[str, str, str], tuple[datetime, int]] = {}
_MICROSECOND = timedelta(microseconds=1)


def parse_fortios(message: str, device: str, header_time: datetime | None) -> FlowLine:
    """One FortiOS traffic log line (the message after the syslog header) as a FlowLine."""
    (kind, source, destination, verb, proto, service, src_text, dst_text, policy_id, name, eventtime,
     date, clock, tz) = _FIELDS.values(message)
    if kind is not None and kind != "traffic":
        raise NotAFlow(f"type {shown(kind)} is not a traffic log")
    # the common values take one lookup each; the checking functions handle the rest and the
    # errors, in this order: srcip, dstip, action, proto/service, the time, proto, the ports
    source = KNOWN_ADDRESSES.get(source) or address(source, "srcip")
    destination = KNOWN_ADDRESSES.get(destination) or address(destination, "dstip")
    decision = _ACTIONS.get(verb) or action(verb, "action", ALLOW, DENY)
    proto = proto or _service_protocol(service)
    policy_id = policy_id or None
    if policy_id is not None:
        policy_id = KNOWN_REFERENCES.get(policy_id) or reference(policy_id)
    moment = _time(eventtime, date, clock, tz, header_time)
    proto = PROTOCOL_NUMBERS.get(proto) or protocol(proto, "proto")
    src_port = port(src_text, "srcport")
    dst_port = port(dst_text, "dstport")
    if name:
        name = KNOWN_REFERENCES.get(name) or reference(name)
    return FlowLine(moment, device, decision, source, destination,
                    proto, src_port, dst_port, name or policy_id, policy_id)


def _service_protocol(service: str | None) -> str:
    if service is None:
        raise MalformedLine("proto is missing (and no service gives it)")
    name, slash, _ = service.partition("/")
    known = _SERVICE_PROTOCOLS.get(name.lower()) if slash else None
    if known is None:
        raise MalformedLine(f"proto is missing and service {shown(service)} does not give it")
    return known


def _time(eventtime: str | None, date: str | None, clock: str | None, tz: str | None,
          header_time: datetime | None) -> datetime:
    """`date` `time` `tz` when the zone is given (`eventtime` refines it to the sub-second when
    both agree within a second: some builds write a shifted `eventtime`); else `eventtime`; else
    the wall clock without zone (header time, else UTC)."""
    if not eventtime:
        return _clock(date, clock, tz, header_time)
    if not (tz and date and clock):
        return epoch_time(eventtime, "eventtime")
    key = (date, clock, tz)
    zoned = _zoned_cache.get(key)  # the wall clock with its zone, and as Unix microseconds
    if zoned is None:
        wall = _clock(date, clock, tz, header_time)  # a zone is given: the header time is not used
        zoned = (wall, (wall - EPOCH) // _MICROSECOND)
        if len(_zoned_cache) >= _CLOCK_CACHE_SIZE:
            _zoned_cache.clear()
        _zoned_cache[key] = zoned
    if len(eventtime) == 19 and eventtime.isdigit() and eventtime.isascii():  # ns, the usual
        micros = int(eventtime) // 1000
    else:
        micros = epoch_micros(eventtime, "eventtime")
    if abs(micros - zoned[1]) < 1_000_000:
        return EPOCH + timedelta(0, 0, micros)
    epoch_time(eventtime, "eventtime")  # still a Unix time in range, or the line is refused
    return zoned[0]


def _clock(date: str | None, clock: str | None, tz: str | None,
           header_time: datetime | None) -> datetime:
    if not date or not clock:
        if header_time is None:
            raise MalformedLine("eventtime and date/time are missing, and no syslog header time")
        return header_time
    key = (date, clock, tz)
    cached = _clock_cache.get(key)
    if cached is not None and (tz is not None or header_time is None):
        return cached
    try:
        naive = datetime.fromisoformat(f"{date}T{clock}")
    except ValueError:
        raise MalformedLine(f"date {shown(date)} time {shown(clock)} is not a time") from None
    if naive.tzinfo is not None:
        raise MalformedLine(f"time {shown(clock)} is not a time of day")
    offset = zone_offset(tz) if tz else None
    if tz and offset is None:
        raise MalformedLine(f"tz {shown(tz)} is not a zone offset")
    moment = local_time(naive, offset, header_time)
    if offset is not None or header_time is None:
        if len(_clock_cache) >= _CLOCK_CACHE_SIZE:
            _clock_cache.clear()
        _clock_cache[key] = moment
    return moment
