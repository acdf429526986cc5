"""Attributed flow records as people and tools read them: table lines, CSV, one JSON array.

Contract: pure functions over `FlowRecord`s (no I/O); `json_text` is one JSON array of
`FlowRecord.to_json()`; `csv_text` has a header row (`CSV_COLUMNS`) and one row per record;
`table_lines` gives a heading and one row per record, columns left-aligned. Also the parsing of
the `flows` command's time bounds (`1h`, `7d`, RFC 3339) and `--rule KIND/NS/NAME`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from connector.flows.record import FlowIdentity, FlowRecord, FlowRule, parse_rfc3339
from connector.model import RuleKind

CSV_COLUMNS = ("time", "device", "action", "src", "src_port", "dst", "dst_port", "protocol",
               "cluster", "namespace", "pod", "pod_uid", "services", "node", "source_mode",
               "ambiguous", "candidates", "rule_kind", "rule_namespace", "rule_name", "rule_tier",
               "device_rule", "count")
TABLE_HEADING = ("TIME (UTC)", "DEVICE", "ACTION", "SOURCE", "DESTINATION", "RULE", "COUNT")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_moment(text: str, now: datetime) -> datetime:
    """A duration before `now` (`90s`, `15m`, `1h`, `7d`, `2w`) or an RFC 3339 time with a zone
    (`2026-12-06T16:00:00Z`); ValueError saying what is accepted."""
    match = _DURATION.match(text)
    if match is not None:
        try:
            return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise ValueError(f"{text!r} reaches back before the calendar starts") from None
    try:
        return parse_rfc3339(text.strip())
    except ValueError as exc:
        raise ValueError(f"{exc}: give a duration such as 1h or 7d, or an RFC 3339 time such as "
                         "2026-12-06T16:00:00Z") from None


def parse_rule(text: str) -> tuple[str, str, str]:
    """`KIND/NS/NAME` (or `KIND/NAME`, `KIND//NAME` for a ClusterEgressRule) as (kind, namespace or
    "", name); ValueError naming the problem."""
    parts = text.split("/")
    if len(parts) == 2:
        parts.insert(1, "")
    kinds = ", ".join(k.value for k in RuleKind)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise ValueError(f"{text!r} is not KIND/NAMESPACE/NAME (KIND one of {kinds})")
    kind = next((k.value for k in RuleKind if k.value.lower() == parts[0].lower()), None)
    if kind is None:
        raise ValueError(f"{text!r}: unknown rule kind {parts[0]!r} (one of {kinds})")
    if kind == RuleKind.CLUSTER and parts[1]:
        raise ValueError(f"{text!r}: a ClusterEgressRule has no namespace (ClusterEgressRule/NAME)")
    return kind, parts[1], parts[2]


def identity_text(identity: FlowIdentity) -> str:
    """`payments/checkout-7d4b (svc checkout)`, `node worker-1 (analytics)`, `billing (egress-ip)`;
    an egress IP several namespaces share: `egress-ip shared by several namespaces`."""
    if identity.pod:
        where = f"{identity.namespace}/{identity.pod}"
    elif identity.source_mode == "node" or (identity.node and not identity.namespace):
        where = f"node {identity.node}" + (f" ({identity.namespace})" if identity.namespace else "")
    elif identity.namespace:
        where = f"{identity.namespace} ({identity.source_mode})"
    else:
        where = f"{identity.source_mode} shared by several namespaces"
    if identity.services:
        where += f" (svc {','.join(identity.services)})"
    return where


def source_text(record: FlowRecord) -> str:
    """`10.0.0.5 -> payments/checkout-7d4b (svc checkout)`; unattributed and ambiguous say so."""
    if record.ambiguous and record.candidates:
        who = "ambiguous: " + " | ".join(identity_text(c) for c in record.candidates)
    elif record.identity is not None:
        who = identity_text(record.identity)
    else:
        who = "no cluster identity"
    return f"{record.line.src} -> {who}"


def destination_text(record: FlowRecord) -> str:
    """`203.0.113.7:443/TCP`, `[2001:db8::1]:443/TCP`, `198.51.100.1/ICMP`."""
    line = record.line
    host = f"[{line.dst}]" if ":" in line.dst and line.dst_port is not None else line.dst
    port = f":{line.dst_port}" if line.dst_port is not None else ""
    return f"{host}{port}/{line.protocol}"


def rule_text(rule: FlowRule | None, device_rule: str | None) -> str:
    """`ServiceEgressRule payments/allow-stripe`, `ClusterEgressRule allow-dns`; without a rule
    of ours, the device's rule reference (`device rule 1, not ours`) or `-`."""
    if rule is not None:
        where = f"{rule.namespace}/" if rule.namespace else ""
        return f"{rule.kind} {where}{rule.name}"
    if device_rule:
        return f"device rule {device_rule}, not ours"
    return "-"


def _device_rule(record: FlowRecord) -> str | None:
    line = record.line
    return line.device_rule if line.device_rule is not None else line.device_rule_id


def time_text(moment: datetime) -> str:
    """`2026-12-06 16:20:00` (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def table_rows(records: Sequence[FlowRecord]) -> list[list[str]]:
    """The heading, then a row per record (in the order given)."""
    rows = [list(TABLE_HEADING)]
    for record in records:
        rows.append([time_text(record.line.time), record.line.device, record.line.action,
                     source_text(record), destination_text(record),
                     rule_text(record.rule, _device_rule(record)), str(record.count)])
    return rows


def table_lines(records: Sequence[FlowRecord]) -> list[str]:
    """Left-aligned columns, trailing spaces trimmed."""
    rows = table_rows(records)
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADING))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def csv_row(record: FlowRecord) -> dict[str, str]:
    line, who, rule = record.line, record.identity, record.rule
    return {
        "time": record.to_json()["time"], "device": line.device, "action": line.action,
        "src": line.src, "src_port": "" if line.src_port is None else str(line.src_port),
        "dst": line.dst, "dst_port": "" if line.dst_port is None else str(line.dst_port),
        "protocol": line.protocol,
        "cluster": who.cluster if who else "", "namespace": who.namespace if who else "",
        "pod": who.pod if who else "", "pod_uid": who.pod_uid if who else "",
        "services": "; ".join(who.services) if who else "", "node": who.node if who else "",
        "source_mode": who.source_mode if who else "",
        "ambiguous": "true" if record.ambiguous else "false",
        "candidates": "; ".join(identity_text(c) for c in record.candidates),
        "rule_kind": rule.kind if rule else "", "rule_namespace": rule.namespace if rule else "",
        "rule_name": rule.name if rule else "", "rule_tier": rule.tier if rule else "",
        "device_rule": _device_rule(record) or "", "count": str(record.count),
    }


def csv_text(records: Sequence[FlowRecord]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_row(r) for r in records)
    return out.getvalue()


def json_text(records: Sequence[FlowRecord]) -> str:
    """One JSON array of records (the documented record fields), newline-terminated."""
    return json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False) + "\n"
