"""Render a `Report` as JSON, CSV (one row per finding) or one self-contained HTML page.

`render(report, fmt)` returns the bytes to write or serve; `CONTENT_TYPES[fmt]` is the media type.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import jinja2

from connector.reports.charts import device_timelines, namespace_matrices, observed_charts
from connector.reports.model import RULE_KINDS, Report, iso


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


CONTENT_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.HTML: "text/html; charset=utf-8",
}

CSV_COLUMNS = ("record", "device", "status", "type", "object_kind", "object_name", "namespaces",
               "services", "rules", "identities", "first_seen", "last_seen", "resolved_at",
               "open_seconds", "message")


def render(report: Report, fmt: ReportFormat | str) -> bytes:
    """`report` in format `fmt` (json, csv or html); ValueError for another format."""
    fmt = ReportFormat(fmt)
    if fmt is ReportFormat.JSON:
        return render_json(report).encode()
    if fmt is ReportFormat.CSV:
        return render_csv(report).encode()
    return render_html(report).encode()


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"


def csv_rows(report: Report) -> Iterator[dict[str, str]]:
    """One row per finding: weakened transport security, devices this report could not read,
    device tables above their capacity, drift findings, rules not programmed (one row per device
    they are missing from, or one row when not accepted), bad namespace annotation values, rules in
    Audit mode; then one row per observed destination of each namespace and Service."""
    for warning in report.transport_warnings:
        yield _row(record="transport-warning", device=warning.device, status="open", type=warning.reason,
                   first_seen=iso(report.generated_at), message=warning.message)
    for device in report.devices:
        if device.read_error is not None:
            yield _row(record="device-unreadable", device=device.name, status="open", type="read-error",
                       first_seen=iso(report.generated_at), message=device.read_error)
    for device in report.devices:
        for table in device.capacity_exceeded:
            yield _row(record="capacity-exceeded", device=device.name, status="open", type=table.table.value,
                       first_seen=iso(report.generated_at),
                       message=f"CapacityExceeded: {table.table.value} {table.count} > limit {table.limit}")
    for finding in report.findings:
        yield _row(record="drift", device=finding.device, status=finding.status, type=finding.type,
                   object_kind=finding.object_kind, object_name=finding.object_name,
                   namespaces="; ".join(finding.namespaces), services="; ".join(finding.services),
                   rules="; ".join(finding.rules), identities="; ".join(str(i) for i in finding.identities),
                   first_seen=iso(finding.first_seen), last_seen=iso(finding.last_seen),
                   resolved_at=iso(finding.resolved_at), open_seconds=f"{finding.open_seconds:.0f}",
                   message=difference_text(finding.detail))
    for rule in report.rules_not_programmed:
        common = {"record": "rule-not-programmed", "status": "open", "type": rule.reason,
                  "namespaces": rule.rule.namespace, "rules": str(rule.rule)}
        if not rule.devices:
            yield _row(**common, message=rule.message)
        for name, why in rule.devices:
            yield _row(**common, device=name, message=why if rule.accepted else f"{why}: {rule.message}")
    for note in report.namespace_warnings:
        yield _row(record="namespace-warning", status="open", type="annotation", namespaces=note.namespace,
                   first_seen=iso(report.generated_at), message=note.message)
    for audit in report.audit_rules:
        counted = (f"would decide {audit.matched} observed flow(s), changing {audit.would_change}"
                   if audit.matched is not None else "no counts yet")
        yield _row(record="audit-rule", status="audit", type="Audit", namespaces=audit.rule.namespace,
                   rules=str(audit.rule), first_seen=iso(audit.since), message=counted)
    for source in report.observed.sources:
        for seen in source.destinations:
            decided = str(seen.rule) if seen.rule else ""
            not_ours = f"; device rule {', '.join(seen.device_rules)}, not ours" if seen.device_rules else ""
            yield _row(record="observed-egress", device="; ".join(seen.devices), status="observed",
                       type=seen.action, object_kind="flow", object_name=seen.target,
                       namespaces=source.namespace,
                       services=f"{source.namespace}/{source.service}" if source.service else "",
                       rules=decided, first_seen=iso(seen.first_seen), last_seen=iso(seen.last_seen),
                       message=f"{seen.count} flow{'' if seen.count == 1 else 's'}{not_ours}")


def _row(**values: str | None) -> dict[str, str]:
    return {column: values.get(column) or "" for column in CSV_COLUMNS}


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return out.getvalue()


def duration_text(seconds: float | None) -> str:
    """`3d 4h`, `2h 5m`, `4m 10s`, `12s` (two units at most); `<1s` below half a second."""
    if seconds is None:
        return ""
    if seconds < 0.5:
        return "<1s"
    total = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size or (unit == "s" and not parts):
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


def time_text(value: str | datetime | None) -> str:
    """An ISO timestamp as `2026-11-27 19:42:02` (UTC); empty for None."""
    if value is None:
        return ""
    text = iso(value) if isinstance(value, datetime) else value
    return str(text).replace("T", " ").removesuffix("Z")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("connector.reports", "."),  # report.html.j2 ships as package data
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["duration"] = duration_text
_ENV.filters["time"] = time_text


MAX_RESOLVED_ROWS = 50  # resolved rows on the HTML page, longest open first; JSON and CSV list all
MAX_OBSERVED_ROWS = 50  # observed destinations per source on the HTML page; JSON and CSV list all
MAX_OBJECTS_PER_ROW = 5
_SHOWN_KINDS = ("Namespace", "Service", *RULE_KINDS)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _items(values: list[Any], limit: int = 3) -> str:
    shown = ", ".join(_short(v, 40) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _keys(values: list[Any]) -> list[str]:
    return [json.dumps(v, sort_keys=True) for v in values]


def difference_text(detail: Mapping[str, Any], limit: int = 3) -> str:
    """What differs between `detail["device"]` and `detail["required"]` (a drift finding's bodies),
    in a few words: `addresses: unexpected 192.0.2.250`, `order differs`, `absent from the device`."""
    device, required = detail.get("device"), detail.get("required")
    if device is None:
        return "absent from the device" if required is not None else ""
    if required is None:
        return "not required by any rule"
    if not isinstance(device, dict) or not isinstance(required, dict):
        return f"{_short(device)} on the device, {_short(required)} required"
    parts = []
    for key in sorted(set(device) | set(required)):
        held, wanted = device.get(key), required.get(key)
        if held == wanted:
            continue
        if isinstance(held, list) and isinstance(wanted, list):
            held_keys, wanted_keys = _keys(held), _keys(wanted)
            held_set, wanted_set = set(held_keys), set(wanted_keys)
            extra = [v for v, k in zip(held, held_keys, strict=True) if k not in wanted_set]
            missing = [v for v, k in zip(wanted, wanted_keys, strict=True) if k not in held_set]
            words = [f"unexpected {_items(extra)}" if extra else "",
                     f"missing {_items(missing)}" if missing else ""]
            parts.append(f"{key}: {'; '.join(w for w in words if w) or 'order differs'}")
        elif key not in device:
            parts.append(f"{key}: missing on the device ({_short(wanted, 40)} required)")
        else:
            parts.append(f"{key}: {_short(held, 40)} on the device, {_short(wanted, 40)} required")
    more = f"; and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def _object_text(finding: dict[str, Any]) -> str:
    required = finding["detail"].get("required")
    if finding["objectName"] == finding["objectKind"] and isinstance(required, dict) and "order" in required:
        return f"order of the {finding['objectKind']} objects"
    return f"{finding['objectKind']} {finding['objectName']}"


def drift_rows(findings: list[dict[str, Any]], max_resolved: int = MAX_RESOLVED_ROWS
               ) -> tuple[list[dict[str, Any]], int]:
    """Rows of the HTML drift table: one per open finding; resolved findings that one sync found
    and repaired together (same device, first seen and resolved at the same times) share a row.
    Returns the rows (open first, then resolved, longest open first, at most `max_resolved`) and
    the number of resolved findings left out."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for finding in findings:
        key: tuple[Any, ...] = (finding["id"],) if finding["status"] == "open" else (
            finding["device"], finding["firstSeen"], finding["resolvedAt"])
        groups.setdefault(key, []).append(finding)
    rows = []
    for members in groups.values():
        first = members[0]
        types: dict[str, int] = {}
        for member in members:
            types[member["type"]] = types.get(member["type"], 0) + 1
        others = sorted({"/".join(p for p in (i["kind"], i["namespace"], i["name"]) if p)
                         for m in members for i in m["identities"] if i["kind"] not in _SHOWN_KINDS})
        rows.append({
            "status": first["status"], "device": first["device"], "count": len(members),
            "types": ", ".join(f"{n} {t}" if len(members) > 1 else t for t, n in sorted(types.items())),
            "objects": [_object_text(m) for m in members[:MAX_OBJECTS_PER_ROW]],
            "more": max(0, len(members) - MAX_OBJECTS_PER_ROW),
            "namespaces": sorted({n for m in members for n in m["namespaces"]}),
            "services": sorted({n for m in members for n in m["services"]}),
            "rules": sorted({n for m in members for n in m["rules"]}),
            "others": others, "firstSeen": first["firstSeen"], "resolvedAt": first["resolvedAt"],
            "openSeconds": max(m["openSeconds"] for m in members),
            "what": difference_text(first["detail"]) if len(members) == 1 and first["type"] == "different"
            else ""})
    open_rows = [r for r in rows if r["status"] == "open"]
    resolved = sorted((r for r in rows if r["status"] == "resolved"), key=lambda r: -r["openSeconds"])
    left_out = sum(r["count"] for r in resolved[max_resolved:])
    return open_rows + resolved[:max_resolved], left_out


def destination_legend(egress: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ExternalServices of the egress section, each listed once with its addresses; every
    entry's destination gets the `anchor` of its legend row. An ExternalService compiled
    differently on some devices (e.g. without FQDNs) has a row per variant naming the devices."""
    variants: dict[tuple[Any, ...], dict[str, Any]] = {}
    for source in egress:
        for device in source["devices"]:
            for entry in device["entries"]:
                target = entry["destination"]
                if target is None:
                    continue
                key = (target["namespace"], target["name"], tuple(target["networks"]), tuple(target["fqdns"]))
                row = variants.get(key)
                if row is None:
                    row = variants[key] = {**target, "anchor": f"dst-{len(variants) + 1}", "devices": set(),
                                           "order": len(variants)}
                row["devices"].add(device["device"])
                target["anchor"] = row["anchor"]
    rows = sorted(variants.values(), key=lambda r: (r["namespace"], r["name"], r["order"]))
    variants_of = Counter((r["namespace"], r["name"]) for r in rows)
    for row in rows:
        row["devices"] = sorted(row["devices"]) if variants_of[row["namespace"], row["name"]] > 1 else []
    return rows


def render_html(report: Report) -> str:
    data: dict[str, Any] = report.to_json()
    rows, left_out = drift_rows(data["findings"])
    legend = destination_legend(data["egress"])
    timelines, timelines_left = device_timelines(data)
    matrices, matrices_left = namespace_matrices(data)
    observed, observed_left = observed_charts(data)
    numbering = {d["name"]: d["ruleNumbering"]["label"] for d in data["devices"] if d.get("ruleNumbering")}
    return _ENV.get_template("report.html.j2").render(
        report=data, drift_rows=rows, drift_left_out=left_out, destinations=legend, numbering=numbering,
        timelines=timelines, timelines_left=timelines_left, matrices=matrices, matrices_left=matrices_left,
        observed_charts=observed, observed_charts_left=observed_left, max_observed_rows=MAX_OBSERVED_ROWS)
