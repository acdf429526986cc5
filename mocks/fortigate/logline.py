"""The traffic log line a FortiGate sends by syslog for one session a policy decided.

FortiOS 6.4 forward traffic log (`logid="0000000013"`, type traffic, subtype forward), facility
local7, level notice (`<189>`). Formats (`config log syslogd setting` `format`):
- `default`: `<189>` directly followed by the `key=value` body, starting with `date= time=
  devname= devid= eventtime= tz=` (no RFC 3164 timestamp or host);
- `rfc5424`: `<189>1 TIMESTAMP HOSTNAME - - - - ` then the body without date, time, devname and devid.
String values are double-quoted (`\\"` and `\\\\` escaped); numbers and IP addresses are bare.
`eventtime` is in nanoseconds (6.2 and later); date and time are the device's local time, which
is UTC on the mock (`tz="+0000"`). An accepted TCP session ends with `action="close"`, other
accepted sessions with `action="accept"`; a denied one has `action="deny"` and zero counters.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from mocks.common.traffic import Flow
from mocks.fortigate.traffic import PolicyMatch

FORMATS = ("default", "rfc5424")
PRI = "<189>"  # local7.notice
HEADER_KEYS = ("date", "time", "devname", "devid")


class Bare(str):
    """A value written without quotes (dates, times, IP addresses)."""


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def traffic_fields(match: PolicyMatch, flow: Flow, *, vdom: str, devname: str, devid: str,
                   sessionid: int) -> list[tuple[str, Any]]:
    """The log's fields in FortiOS order; `str` values are quoted, `int` and `Bare` are not."""
    moment = flow.time.astimezone(UTC)
    eventtime = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    accepted = match.action == "accept"
    action = ("close" if flow.protocol == "TCP" else "accept") if accepted else "deny"
    fields: list[tuple[str, Any]] = [
        ("date", Bare(moment.strftime("%Y-%m-%d"))), ("time", Bare(moment.strftime("%H:%M:%S"))),
        ("devname", devname), ("devid", devid), ("eventtime", eventtime), ("tz", "+0000"),
        ("logid", "0000000013"), ("type", "traffic"), ("subtype", "forward"), ("level", "notice"),
        ("vd", vdom), ("srcip", Bare(str(flow.src)))]
    if flow.src_port is not None:
        fields.append(("srcport", flow.src_port))
    fields += [("srcintf", match.srcintf), ("srcintfrole", "undefined"), ("dstip", Bare(str(flow.dst)))]
    if flow.dst_port is not None:
        fields.append(("dstport", flow.dst_port))
    fields += [("dstintf", match.dstintf), ("dstintfrole", "undefined"), ("sessionid", sessionid),
               ("proto", flow.ip_number), ("action", action), ("policyid", match.policyid),
               ("policytype", "policy")]
    if match.policy is not None:
        fields.append(("poluuid", match.policy["uuid"]))
        if match.policy.get("name"):
            fields.append(("policyname", match.policy["name"]))
    fields += [("service", match.service), ("trandisp", "noop")]
    if accepted:
        fields += [("duration", 1), ("sentbyte", 1200), ("rcvdbyte", 3400), ("sentpkt", 6),
                   ("rcvdpkt", 5), ("appcat", "unscanned")]
    else:
        fields += [("duration", 0), ("sentbyte", 0), ("rcvdbyte", 0), ("sentpkt", 0), ("rcvdpkt", 0)]
    return fields


def traffic_line(match: PolicyMatch, flow: Flow, *, vdom: str, devname: str, devid: str,
                 sessionid: int, fmt: str = "default") -> str:
    """The whole syslog message (PRI included) in `fmt` (`default` or `rfc5424`)."""
    fields = traffic_fields(match, flow, vdom=vdom, devname=devname, devid=devid, sessionid=sessionid)
    if fmt == "rfc5424":
        fields = [(key, value) for key, value in fields if key not in HEADER_KEYS]
    body = " ".join(f"{key}={_render(value)}" for key, value in fields)
    if fmt == "rfc5424":
        stamp = flow.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{PRI}1 {stamp} {devname} - - - - {body}"
    return PRI + body


def _render(value: Any) -> str:
    if isinstance(value, Bare | int):
        return str(value)
    return _quoted(str(value))
