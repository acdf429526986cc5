"""Per namespace decision matrix as inline SVG: destinations by sources (the namespace and its
Services), one cell per device, coloured by what the connector's rules decide.

Contract: `namespace_matrix(namespace, sources, devices, chart_id)` takes the namespace's entries
of the report JSON `egress[]` (the Namespace first, then its Services) and the report's device
names, and returns `(svg, cells)`: one `<svg>` element (every text escaped) and the number of
cells drawn. It only lays out the cells the report carries (`egress[].devices[].decisions[]`,
computed when the report is built by `connector.evaluate.evaluate_region`, the first-match walk
`explain` uses): `allow`, `deny`, `mixed` or `none` (docs/report.md, "Charts"), each with a
tooltip naming the entries the cell names (`decidedBy`, `partly`) by their order and, with
`numbering` (device -> the label of its `ruleNumbering`), their numbers on the device.

A row is an ExternalService the namespace's decisions name; the last row, "other destinations",
is traffic to addresses no such ExternalService holds. Rows are capped at `MAX_ROWS` (the
destinations most entries name), sources at `MAX_SOURCES` and devices at `MAX_DEVICES`, each
with a "+N more" note: the egress tables and the JSON give everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.reports.svg import clip, esc, num

MAX_ROWS = 12
MAX_SOURCES = 8
MAX_DEVICES = 4
CELL_W = 20
CELL_H = 18
CELL_GAP = 2
GROUP_GAP = 14
LABEL_W = 230
_CHAR = 6.0  # average glyph width at 11px
_HEAD_CHAR = 7.2  # the same, bold, with room to spare
_SLANT = 0.6  # sin and cos of the header's 37° slant are about 0.6 and 0.8
_STATE_GLYPH = {"allow": "A", "deny": "D", "mixed": "±", "none": "·"}

RowKey = tuple[str, str] | None


@dataclass(frozen=True)
class Row:
    """A destination: an ExternalService (`key` namespace/name) or, with `key` None, every
    address no ExternalService of the rules names; `what` its addresses and FQDNs, `ports` the
    ports its cells were decided for (None: any), both for the row's tooltip."""

    key: RowKey
    what: tuple[str, ...] = ()
    ports: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return f"{self.key[0]}/{self.key[1]}" if self.key else "other destinations"


@dataclass(frozen=True)
class Cell:
    state: str  # allow | deny | mixed | none
    text: str  # what decides, for people


def _key(destination: Mapping[str, Any] | None) -> RowKey:
    return None if destination is None else (str(destination.get("namespace")), str(destination.get("name")))


def destination_rows(sources: Sequence[Mapping[str, Any]], devices: Collection[str],
                     limit: int = MAX_ROWS) -> tuple[list[Row], int]:
    """The ExternalServices the sources' entries on `devices` name (the `limit` most named, by
    label), then the "other destinations" row; and how many were left out."""
    uses: Counter[tuple[str, str]] = Counter()
    what: dict[tuple[str, str], set[str]] = {}
    ports: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for source in sources:
        for device in source.get("devices") or ():
            if device.get("device") not in devices:
                continue
            for decision in device.get("decisions") or ():
                key = _key(decision.get("destination"))
                if key is not None:
                    found = decision.get("ports")
                    ports[key] = tuple(found) if found is not None else None
            for entry in device.get("entries") or ():
                target = entry.get("destination")
                if target is None:
                    continue
                key = _key(target)
                assert key is not None
                uses[key] += 1
                what.setdefault(key, set()).update(target.get("networks") or ())
                what[key].update(target.get("fqdns") or ())
    kept = sorted(sorted(uses, key=lambda k: (-uses[k], k))[:limit])
    rows = [Row(key, tuple(sorted(what.get(key, ()))), ports.get(key)) for key in kept]
    rows.append(Row(None))
    return rows, len(uses) - len(kept)


def _entry_text(entry: Mapping[str, Any], label: str) -> str:
    rule = entry.get("rule") or {}
    where = f"{rule.get('namespace')}/" if rule.get("namespace") else ""
    ports = ", ".join(entry.get("ports") or ()) or "any port"
    numbers = entry.get("deviceNumbers") or ()
    on_device = f", {label} {', '.join(numbers)}".rstrip() if numbers and label else ""
    return (f"{entry.get('action')} ({ports}) by {rule.get('kind')} {where}{rule.get('name')} "
            f"(order {entry.get('position')}{on_device})")


def _cell_text(decision: Mapping[str, Any], device: Mapping[str, Any], label: str) -> str:
    """What decides the cell, for people: the entries it names, by their order."""
    entries = {e.get("position"): e for e in device.get("entries") or ()}
    if not entries:
        return str(device.get("note") or "no compiled rule applies: the device's own rulebase decides")
    partial = [_entry_text(entries[p], label) for p in decision.get("partly") or () if p in entries]
    decided = entries.get(decision.get("decidedBy"))
    if decided is not None and decision.get("decision") != "mixed":
        return _entry_text(decided, label)
    if decided is not None:
        return ("depends on port, address or pod: " + "; ".join(partial[:3])
                + f"; the rest: {_entry_text(decided, label)}")
    if partial:
        more = f" and {len(partial) - 3} more" if len(partial) > 3 else ""
        return "partly decided: " + "; ".join(partial[:3]) + more + "; the rest: the device's own rulebase"
    return "no compiled rule applies: the device's own rulebase decides"


def _cells(device: Mapping[str, Any], label: str) -> dict[RowKey, Cell]:
    return {_key(d.get("destination")): Cell(str(d.get("decision")), _cell_text(d, device, label))
            for d in device.get("decisions") or ()}


def _source_label(source: Mapping[str, Any]) -> str:
    return str(source.get("service") or f"{source.get('namespace')} (namespace)")


def namespace_matrix(namespace: str, sources: Sequence[Mapping[str, Any]], devices: Sequence[str],
                     chart_id: str, numbering: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The SVG decision matrix of `namespace` and the number of cells drawn (see the module)."""
    shown_sources = list(sources[:MAX_SOURCES])
    sources_left = len(sources) - len(shown_sources)
    shown_devices = list(devices[:MAX_DEVICES])
    devices_left = len(devices) - len(shown_devices)
    rows, rows_left = destination_rows(sources, set(shown_devices))
    columns = max(1, len(shown_devices))
    group = columns * CELL_W + (columns - 1) * CELL_GAP
    labels = [clip(_source_label(s), 30) for s in shown_sources]
    longest = max((len(label) for label in labels), default=0) * _HEAD_CHAR
    header = 16 + longest * _SLANT
    body_top = header + 16
    width = LABEL_W + len(shown_sources) * (group + GROUP_GAP) + max(0.0, longest * 0.8 - group) + 10
    width = max(width, 640.0)
    legend_y = body_top + len(rows) * (CELL_H + CELL_GAP) + 20
    notes = []
    if rows_left:
        notes.append(f"+{rows_left} more destinations")
    if sources_left:
        notes.append(f"+{sources_left} more Services")
    if devices_left:
        notes.append(f"+{devices_left} more devices")
    height = legend_y + 30
    summary = (f"Decision matrix of namespace {namespace}: {len(rows) - 1} destinations by "
               f"{len(shown_sources)} sources on {len(shown_devices)} devices")
    parts = [f'<svg class="chart matrix" role="img" viewBox="0 0 {num(width)} {num(height)}" '
             f'width="{num(width)}" height="{num(height)}" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'data-namespace="{esc(namespace)}">',
             f'<title id="{chart_id}-t">Decision matrix of namespace {esc(namespace)}</title>',
             f'<desc id="{chart_id}-d">{esc(summary)}</desc>']
    cells = 0
    for column, (source, label) in enumerate(zip(shown_sources, labels, strict=True)):
        x = LABEL_W + column * (group + GROUP_GAP)
        full = _source_label(source)
        parts.append(f'<text class="m-source" transform="translate({num(x + 4)} {num(header)}) rotate(-37)">'
                     f'<title>{esc(full)}</title>{esc(label)}</text>')
        for index in range(len(shown_devices)):
            cx = x + index * (CELL_W + CELL_GAP) + CELL_W / 2
            parts.append(f'<text class="m-device" x="{num(cx)}" y="{num(body_top - 4)}">{index + 1}</text>')
        by_device = {d.get("device"): _cells(d, (numbering or {}).get(str(d.get("device")), ""))
                     for d in source.get("devices") or ()}
        for r, row in enumerate(rows):
            y = body_top + r * (CELL_H + CELL_GAP)
            for index, device in enumerate(shown_devices):
                found = by_device.get(device)
                cell = found.get(row.key, Cell("none", "not decided in this report")) if found is not None \
                    else Cell("none", "not in this report")
                cx = x + index * (CELL_W + CELL_GAP)
                title = f"{full} → {row.label} on {device}: {cell.text}"
                parts.append(f'<g class="m-{cell.state}"><title>{esc(title)}</title>'
                             f'<rect x="{num(cx)}" y="{num(y)}" width="{CELL_W}" height="{CELL_H}" rx="2"/>'
                             f'<text x="{num(cx + CELL_W / 2)}" y="{num(y + CELL_H - 5)}">'
                             f'{_STATE_GLYPH[cell.state]}</text></g>')
                cells += 1
    for r, row in enumerate(rows):
        y = body_top + r * (CELL_H + CELL_GAP) + CELL_H - 5
        css = "m-row m-other" if row.key is None else "m-row"
        parts.append(f'<text class="{css}" x="{LABEL_W - 8}" y="{num(y)}">'
                     f'<title>{esc(_row_title(row))}</title>{esc(clip(row.label, 34))}</text>')
    keys = [("m-allow", "A", "Allow"), ("m-deny", "D", "Deny"),
            ("m-mixed", "±", "depends on port, address or pod"),
            ("m-none", "·", "left to the device's rulebase")]
    key_x = 8.0
    for css, glyph, label in keys:
        parts.append(f'<g class="{css}"><rect x="{num(key_x)}" y="{num(legend_y - 11)}" width="14" '
                     'height="14" rx="2"/>'
                     f'<text x="{num(key_x + 7)}" y="{num(legend_y)}">{glyph}</text></g>'
                     f'<text class="m-key" x="{num(key_x + 19)}" y="{num(legend_y)}">{esc(label)}</text>')
        key_x += 30 + _CHAR * len(label)
    devices_key = ", ".join(f"{i + 1} = {d}" for i, d in enumerate(shown_devices))
    line = f"cells per source, left to right: {devices_key}" + (f"; {'; '.join(notes)}" if notes else "")
    parts.append(f'<text class="m-key" x="8" y="{num(legend_y + 20)}">{esc(line)}</text>')
    parts.append("</svg>")
    return "".join(parts), cells


def _row_title(row: Row) -> str:
    if row.key is None:
        return "traffic to addresses no ExternalService of these rules names, any port"
    what = ", ".join(row.what) or "no address"
    ports = ", ".join(row.ports) if row.ports else "any port"
    return f"ExternalService {row.label}: {what}; {ports}"
