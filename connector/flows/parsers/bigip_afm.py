"""BIG-IP AFM network firewall logs (Network Event, also Network DoS Event).

Accepted shapes of the message (after any syslog header):

- `key="value"` pairs, in any order, separated by spaces (the RFC 5424 structured data
  `[F5@12276 acl_rule_name="..." ...]` of the `rfc5424` destination, what follows it is ignored) or by
  commas (the "Splunk" destination: `action="Allow",hostname="...",...`);
- the field list: comma-separated values (each optionally in double quotes) in the documented order
  (`FIELD_ORDER`: acl_policy_name, acl_policy_type, acl_rule_name, action, hostname, ...);
  `field_list_parser(order)` reads a list configured in another order.

Read: `source_ip`, `dest_ip` (required; a route domain `%N` is dropped), `source_port`, `dest_port`,
`ip_protocol` (required: `TCP`, `UDP`, ... or a number), `action` (required: `Accept`,
`Accept Decisively`, `Allow` are Allow; `Drop`, `Reject`, `Deny` are Deny), `acl_rule_name` (the
device rule; empty is none), `date_time` (`Mar 14 2015 20:24:33` device-local, or ISO 8601; without
a zone the syslog header's time, else read as UTC; absent: the header's time).

Staged policies: AFM evaluates a virtual server's staged policy (`policyFirewallStaged`, where the
connector puts `mode: Audit` rules) beside the enforced one and logs its matches with
`acl_policy_type="Staged"` (any case). Such a line is not a decision the device enforced: it raises
`StagedMatch` (a `NotAFlow`), which the receiver counts as `staged` and drops, before any other
field is checked. It never becomes a flow record, a metric of flows, an EgressDenied Event or a
forwarded record; the audit counts (`status.audit`) come from the enforced flows, each judged
against the audit rules, so dropping the staged line counts nothing twice.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime

from connector.flows.parsers.common import (
    KNOWN_ADDRESSES,
    KNOWN_REFERENCES,
    PROTOCOL_NUMBERS,
    KeyValues,
    MalformedLine,
    Parser,
    StagedMatch,
    action,
    address,
    iso_time,
    month_day_year_time,
    port,
    protocol,
    reference,
    shown,
)
from connector.flows.record import FlowAction, FlowLine

ALLOW = frozenset({"accept", "accept decisively", "allow", "accept-decisively"})
DENY = frozenset({"drop", "reject", "deny"})
_ACTIONS: dict[str | None, FlowAction] = {
    **{word.title(): "Allow" for word in ALLOW}, **{word.title(): "Deny" for word in DENY},
    **dict.fromkeys(ALLOW, "Allow"), **dict.fromkeys(DENY, "Deny")}
_PROTOCOLS: dict[str | None, str] = {"TCP": "TCP", "UDP": "UDP", "ICMP": "ICMP", "SCTP": "SCTP"}
_PROTOCOLS.update(PROTOCOL_NUMBERS)

FIELD_ORDER = (
    "acl_policy_name", "acl_policy_type", "acl_rule_name", "action", "hostname", "bigip_mgmt_ip",
    "context_name", "context_type", "date_time", "dest_fqdn", "dest_ip", "dst_geo", "dest_port",
    "device_product", "device_vendor", "device_version", "drop_reason", "errdefs_msgno",
    "errdefs_msg_name", "flow_id", "ip_protocol", "severity", "partition_name", "route_domain",
    "sa_translation_pool", "sa_translation_type", "source_fqdn", "source_ip", "src_geo",
    "source_port", "source_user", "source_user_group", "translated_dest_ip", "translated_dest_port",
    "translated_ip_protocol", "translated_route_domain", "translated_source_ip",
    "translated_source_port", "translated_vlan", "vlan", "send_to_vs",
)
_WANTED = ("source_ip", "dest_ip", "action", "ip_protocol", "source_port", "dest_port",
           "acl_rule_name", "date_time", "acl_policy_type")
_FIELDS = KeyValues(_WANTED)


def parse_bigip_afm(message: str, device: str, header_time: datetime | None) -> FlowLine:
    """One AFM network firewall log message (key="value" pairs or the field list) as a FlowLine."""
    if '="' in message:
        return _flow(_FIELDS.values(message), device, header_time)  # in the order of _WANTED
    return _FIELD_LIST(message, device, header_time)


def field_list_parser(order: Sequence[str]) -> Parser:
    """A parser of comma-separated field lists in `order` (names as in FIELD_ORDER)."""
    missing = [name for name in _WANTED[:4] if name not in order]
    if missing:
        raise ValueError(f"a field list needs {', '.join(missing)}")
    positions = tuple(order.index(name) if name in order else -1 for name in _WANTED)
    needed = max(positions[:4]) + 1

    def parse(message: str, device: str, header_time: datetime | None) -> FlowLine:
        if '"' in message:
            values = next(csv.reader([message], skipinitialspace=True), [])
        else:
            values = message.split(",")
        if len(values) < needed:
            raise MalformedLine(f"the AFM field list has {len(values)} values; source_ip, dest_ip, "
                                f"action and ip_protocol need at least {needed}")
        count = len(values)
        return _flow([values[at].strip() if 0 <= at < count else None for at in positions],
                     device, header_time)

    return parse


_FIELD_LIST = field_list_parser(FIELD_ORDER)


def _flow(values: Sequence[str | None], device: str, header_time: datetime | None) -> FlowLine:
    src, dst, verb, proto, src_port, dst_port, rule, stamp, policy_type = values
    if policy_type and policy_type.lower() == "staged":
        raise StagedMatch(f"acl_policy_type {shown(policy_type)}: a staged policy's match, not enforced")
    # the common values take one lookup each; the checking functions handle the rest and the errors
    src = KNOWN_ADDRESSES.get(src) or address(src, "source_ip")
    dst = KNOWN_ADDRESSES.get(dst) or address(dst, "dest_ip")
    decision = _ACTIONS.get(verb) or action(verb, "action", ALLOW, DENY)
    proto = _PROTOCOLS.get(proto) or protocol(proto, "ip_protocol")
    source_port = port(src_port, "source_port")
    dest_port = port(dst_port, "dest_port")
    if rule:
        rule = KNOWN_REFERENCES.get(rule) or reference(rule)
    return FlowLine(_time(stamp, header_time), device, decision, src, dst,
                    proto, source_port, dest_port, rule or None)


def _time(stamp: str | None, header_time: datetime | None) -> datetime:
    if not stamp:
        if header_time is None:
            raise MalformedLine("date_time is missing, and no syslog header time")
        return header_time
    if stamp[:1].isdigit():
        return iso_time(stamp, "date_time", header_time)
    return month_day_year_time(stamp, "date_time", header_time)
