"""CEF (ArcSight Common Event Format) flow events, e.g. FortiOS `format cef`, BIG-IP `arcsight`.

Accepted: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension` anywhere in the
message (a syslog prefix may precede it; `CEF: 0` with a space, as FortiOS writes it, too); header
fields escape `\\|` and `\\\\`; the extension is `key=value` pairs whose values may hold spaces and
escape `\\=`, `\\\\`, `\\n`, `\\r`. Read:

- `src`/`dst` (or `c6a2`/`c6a3` for IPv6; required), `spt`, `dpt`, `proto` (number or name; required),
  `cnt` (how many flows the event stands for);
- `act` (required): allow/accept/permit/pass and FortiOS session ends (close, timeout, start,
  client-rst, server-rst) are Allow; deny/drop/reject/block (and their past tenses) are Deny;
- the device rule: the `csN` whose `csNLabel` names a rule or policy name (`Rule`, `Rule Name`,
  `acl_rule_name`, `Policy`, `Policy Name`, ...), else FortiOS `FTNTFGTpolicyname`; the rule id: the
  `csN`/`cnN` labelled `Policy Id` (FortiOS 5.6 `cs5`), else `FTNTFGTpolicyid`; the id is the
  device rule when there is no name;
- time: `rt`, else `start`, else `end` (Unix milliseconds, or `MMM dd yyyy HH:mm:ss[.SSS] [zone]`, or
  ISO 8601), else FortiOS `FTNTFGTeventtime`; without a zone the syslog header's time, else UTC;
  with no time at all, the header's time.
"""

from __future__ import annotations

import re
from datetime import datetime

from connector.flows.parsers.common import (
    MalformedLine,
    action,
    address,
    epoch_time,
    iso_time,
    month_day_year_time,
    port,
    protocol,
    shown,
)
from connector.flows.record import FlowLine

ALLOW = frozenset({"allow", "allowed", "accept", "accepted", "accept decisively", "permit", "permitted",
                   "pass", "passed", "close", "timeout", "start", "client-rst", "server-rst", "ip-conn"})
DENY = frozenset({"deny", "denied", "drop", "dropped", "reject", "rejected", "block", "blocked"})

_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\-\[\]]+)=")
_HEADER_UNESCAPE = re.compile(r"\\([\\|])")
_EXTENSION_UNESCAPE = re.compile(r"\\([\\=nr])")
_EXTENSION_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
_RULE_NAME_LABELS = frozenset({"rule", "rule name", "rulename", "rule_name", "acl_rule_name",
                               "policy", "policy name", "policyname", "policy_name"})
_RULE_ID_LABELS = frozenset({"policy id", "policyid", "policy_id", "rule id", "ruleid", "rule_id"})
_HEADER_FIELDS = 7


def parse_cef(message: str, device: str, header_time: datetime | None) -> FlowLine:
    """One CEF event (the message after the syslog header) as a FlowLine."""
    extension = _extension_text(message)
    values = _extension(extension)
    get = values.get
    count_text = get("cnt")
    count = 1
    if count_text:
        if not count_text.isdigit() or int(count_text) < 1:
            raise MalformedLine(f"cnt {shown(count_text)} is not a positive count")
        count = int(count_text)
    rule_name, rule_id = _rule(values)
    # keyword arguments run in order: the required fields are checked first
    return FlowLine(
        src=address(get("src") or get("c6a2"), "src"), dst=address(get("dst") or get("c6a3"), "dst"),
        action=action(get("act"), "act", ALLOW, DENY), protocol=protocol(get("proto"), "proto"),
        src_port=port(get("spt"), "spt"), dst_port=port(get("dpt"), "dpt"),
        time=_time(values, header_time), device=device,
        device_rule=rule_name or rule_id, device_rule_id=rule_id, count=count)


def _extension_text(message: str) -> str:
    start = message.find("CEF:")
    if start < 0:
        raise MalformedLine("no CEF header (CEF:Version|Vendor|...)")
    header = message[start + 4:]
    parts = header.split("|", _HEADER_FIELDS) if "\\" not in header else _split_escaped(header)
    if len(parts) <= _HEADER_FIELDS:
        raise MalformedLine(f"the CEF header has {len(parts) - 1} of its 7 fields (truncated line?)")
    if not parts[0].strip().isdigit():
        raise MalformedLine("the CEF version is not a number")
    return parts[_HEADER_FIELDS]


def _split_escaped(header: str) -> list[str]:
    parts: list[str] = []
    start = pos = 0
    size = len(header)
    while pos < size and len(parts) < _HEADER_FIELDS:
        char = header[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "|":
            parts.append(_HEADER_UNESCAPE.sub(r"\1", header[start:pos]))
            start = pos + 1
        pos += 1
    parts.append(header[start:])
    return parts


def _extension(text: str) -> dict[str, str]:
    """Extension pairs: a value runs to the space before the next `key=` (an unescaped `=`)."""
    values: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end():end].rstrip()
        if "\\" in value:
            value = _EXTENSION_UNESCAPE.sub(lambda found: _EXTENSION_ESCAPES[found.group(1)], value)
        values.setdefault(match.group(1), value)
    return values


def _rule(values: dict[str, str]) -> tuple[str | None, str | None]:
    name: str | None = None
    ident: str | None = None
    for prefix in ("cs", "cn"):
        for number in range(1, 7):
            label = values.get(f"{prefix}{number}Label")
            if not label:
                continue
            label = label.strip().lower()
            value = values.get(f"{prefix}{number}") or None
            if label in _RULE_NAME_LABELS and name is None:
                name = value
            elif label in _RULE_ID_LABELS and ident is None:
                ident = value
    return (name or values.get("FTNTFGTpolicyname") or None,
            ident or values.get("FTNTFGTpolicyid") or None)


def _time(values: dict[str, str], header_time: datetime | None) -> datetime:
    for key in ("rt", "start", "end"):
        stamp = values.get(key)
        if stamp:
            if stamp.isdigit():
                return epoch_time(stamp, key)
            if stamp[:4].isdigit():
                return iso_time(stamp, key, header_time)
            return month_day_year_time(stamp, key, header_time)
    eventtime = values.get("FTNTFGTeventtime")
    if eventtime:
        return epoch_time(eventtime, "FTNTFGTeventtime")
    if header_time is None:
        raise MalformedLine("rt is missing (no start, end or eventtime), and no syslog header time")
    return header_time
