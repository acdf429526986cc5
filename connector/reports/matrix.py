"""Per namespace decision matrix as inline SVG: destinations by sources (the namespace and its
Services), one cell per device, coloured by what the connector's rules decide.

Contract: `namespace_matrix(namespace, sources, devices, chart_id)` takes the namespace's entries
of the report JSON `egress[]` (the Namespace first, then its Services) and the report's device
names, and returns `(svg, cells)`: one `<svg>` element (every text escaped) and the number of
cells drawn. A cell summarises the source's first-match entries on that device for traffic to the
destination's addresses on the ports the namespace's rules name for it:

- `allow` / `deny`: the first entry covering all of that traffic decides, and no earlier entry
  decides part of it otherwise;
- `mixed`: entries decide parts of it differently (by port, address range or a podSelector), or
  part of it is left to the device's own rulebase;
- `none`: no entry applies; the device's own rulebase decides.

Names are matched as `connector.evaluate` matches them (`name_matches`): an entry's
`*.example.com` covers a row's `api.example.com`; a row's wildcard is only partly covered by an
entry naming one of its names.

The last row, "other destinations", is traffic to addresses no ExternalService of the rules
names. Rows are capped at `MAX_ROWS` (the destinations most entries name), sources at
`MAX_SOURCES` and devices at `MAX_DEVICES`, each with a "+N more" note: the egress tables and
the JSON give everything.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from connector.evaluate import name_matches
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

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PortRange = tuple[str, int, int]  # protocol, first, last


class _Rel(Enum):
    DISJOINT = 0
    OVERLAPS = 1
    COVERS = 2


@dataclass(frozen=True)
class Row:
    """A destination: an ExternalService (`key` namespace/name) or, with `key` None, every
    address no ExternalService of the rules names. `ports` None: any port."""

    key: tuple[str, str] | None
    networks: tuple[Network, ...]
    fqdns: frozenset[str]
    ports: tuple[PortRange, ...] | None

    @property
    def label(self) -> str:
        return f"{self.key[0]}/{self.key[1]}" if self.key else "other destinations"


@dataclass(frozen=True)
class Cell:
    state: str  # allow | deny | mixed | none
    text: str  # what decides, for people


def parse_ports(texts: Sequence[str] | None) -> tuple[PortRange, ...] | None:
    """`["443/TCP", "8000-8080/TCP"]` as ranges; None (any port) stays None."""
    return None if texts is None else _parse_ports(tuple(texts))


@functools.lru_cache(maxsize=4096)
def _parse_ports(texts: tuple[str, ...]) -> tuple[PortRange, ...]:
    out = []
    for text in texts:
        span, _, protocol = text.partition("/")
        first, _, last = span.partition("-")
        out.append((protocol.upper(), int(first), int(last or first)))
    return tuple(out)


def _networks(texts: Sequence[str]) -> tuple[Network, ...]:
    return _parse_networks(tuple(texts))


@functools.lru_cache(maxsize=4096)
def _parse_networks(texts: tuple[str, ...]) -> tuple[Network, ...]:
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    return tuple(out)


def _port_relation(entry: tuple[PortRange, ...] | None, row: tuple[PortRange, ...] | None) -> _Rel:
    if entry is None:
        return _Rel.COVERS
    if row is None:
        return _Rel.OVERLAPS
    covered_all, touched = True, False
    for protocol, first, last in row:
        spans = sorted((a, b) for p, a, b in entry if p == protocol and b >= first and a <= last)
        touched = touched or bool(spans)
        cursor = first
        for a, b in spans:
            if a > cursor:
                break
            cursor = max(cursor, b + 1)
        covered_all = covered_all and cursor > last
    if covered_all:
        return _Rel.COVERS
    return _Rel.OVERLAPS if touched else _Rel.DISJOINT


def _everything(networks: Sequence[Network]) -> tuple[bool, bool]:
    """Whether `networks` hold every IPv4 and every IPv6 address."""
    return (any(n.version == 4 and n.prefixlen == 0 for n in networks),
            any(n.version == 6 and n.prefixlen == 0 for n in networks))


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _destination_relation(entry: Mapping[str, Any] | None, row: Row) -> _Rel:
    if entry is None:
        return _Rel.COVERS
    if row.key is not None and (entry.get("namespace"), entry.get("name")) == row.key:
        return _Rel.COVERS
    networks = _networks(entry.get("networks") or ())
    all4, all6 = _everything(networks)
    if row.key is None:
        return _Rel.COVERS if all4 and all6 else _Rel.OVERLAPS if all4 or all6 else _Rel.DISJOINT
    fqdns = tuple(entry.get("fqdns") or ())
    nets_covered = all(any(_within(n, e) for e in networks) for n in row.networks)
    names_covered = (all4 and all6) or all(any(name_matches(e, n) for e in fqdns) for n in row.fqdns)
    if (row.networks or row.fqdns) and nets_covered and names_covered:
        return _Rel.COVERS
    if any(n.version == e.version and n.overlaps(e) for n in row.networks for e in networks):
        return _Rel.OVERLAPS
    if any(name_matches(e, n) or name_matches(n, e) for n in row.fqdns for e in fqdns) \
            or (row.fqdns and (all4 or all6)):
        return _Rel.OVERLAPS
    return _Rel.DISJOINT


Memo = dict[tuple[Any, ...], "_Rel"]


def _relation(entry: Mapping[str, Any], row: Row, memo: Memo) -> _Rel:
    target = entry.get("destination")
    texts = entry.get("ports")
    key = (id(row), None if target is None else (target.get("namespace"), target.get("name"),
                                                 tuple(target.get("networks") or ()),
                                                 tuple(target.get("fqdns") or ())),
           None if texts is None else tuple(texts))
    found = memo.get(key)
    if found is None:
        destination = _destination_relation(target, row)
        ports = _port_relation(parse_ports(texts), row.ports)
        found = memo[key] = _Rel.DISJOINT if _Rel.DISJOINT in (destination, ports) else \
            _Rel.COVERS if destination is ports is _Rel.COVERS else _Rel.OVERLAPS
    if found is _Rel.COVERS and entry.get("appliesTo", "all") != "all":
        return _Rel.OVERLAPS
    return found


def _entry_text(entry: Mapping[str, Any]) -> str:
    rule = entry.get("rule") or {}
    where = f"{rule.get('namespace')}/" if rule.get("namespace") else ""
    ports = ", ".join(entry.get("ports") or ()) or "any port"
    return (f"{entry.get('action')} ({ports}) by {rule.get('kind')} {where}{rule.get('name')} "
            f"(order {entry.get('position')})")


def decide(entries: Sequence[Mapping[str, Any]], row: Row, note: str = "", memo: Memo | None = None) -> Cell:
    """The cell for traffic to `row` given one source's entries on one device (first-match order);
    `memo` keeps relations between destinations and rows across the cells of one matrix."""
    memo = {} if memo is None else memo
    partial: list[Mapping[str, Any]] = []
    for entry in entries:
        if entry.get("shadowed"):
            continue
        relation = _relation(entry, row, memo)
        if relation is _Rel.DISJOINT:
            continue
        if relation is _Rel.OVERLAPS:
            partial.append(entry)
            continue
        actions = {str(e.get("action")) for e in partial} | {str(entry.get("action"))}
        if len(actions) == 1:
            return Cell(str(entry.get("action")).lower(), _entry_text(entry))
        parts = [_entry_text(e) for e in partial[:3]] + [f"the rest: {_entry_text(entry)}"]
        return Cell("mixed", "depends on port, address or pod: " + "; ".join(parts))
    if partial:
        parts = [_entry_text(e) for e in partial[:3]]
        more = f" and {len(partial) - 3} more" if len(partial) > 3 else ""
        return Cell("mixed", "partly decided: " + "; ".join(parts) + more
                    + "; the rest: the device's own rulebase")
    return Cell("none", note or "no compiled rule applies: the device's own rulebase decides")


def destination_rows(sources: Sequence[Mapping[str, Any]], devices: Collection[str],
                     limit: int = MAX_ROWS) -> tuple[list[Row], int]:
    """The ExternalServices the sources' entries on `devices` name (the `limit` most named, by
    label), then the "other destinations" row; and how many ExternalServices were left out."""
    networks: dict[tuple[str, str], set[str]] = {}
    fqdns: dict[tuple[str, str], set[str]] = {}
    last: dict[tuple[str, str], Mapping[str, Any]] = {}  # the variant merged last, to skip repeats
    ports: dict[tuple[str, str], set[str] | None] = {}
    uses: Counter[tuple[str, str]] = Counter()
    for source in sources:
        for device in source.get("devices") or ():
            if device.get("device") not in devices:
                continue
            for entry in device.get("entries") or ():
                target = entry.get("destination")
                if target is None:
                    continue
                key = (str(target.get("namespace")), str(target.get("name")))
                uses[key] += 1
                seen = last.get(key)
                if seen is None or (seen.get("networks"), seen.get("fqdns")) != (target.get("networks"),
                                                                                 target.get("fqdns")):
                    last[key] = target
                    networks.setdefault(key, set()).update(target.get("networks") or ())
                    fqdns.setdefault(key, set()).update(target.get("fqdns") or ())
                known = ports.get(key, set())
                named = entry.get("ports")
                if known is not None and (named is None or not known.issuperset(named)):
                    ports[key] = None if named is None else known | set(named)
                else:
                    ports.setdefault(key, known)
    kept = sorted(sorted(uses, key=lambda k: (-uses[k], k))[:limit])
    rows = [Row(key, _networks(sorted(networks[key])), frozenset(fqdns[key]),
                parse_ports(sorted(found)) if (found := ports[key]) is not None else None) for key in kept]
    rows.append(Row(None, (), frozenset(), None))
    return rows, len(uses) - len(kept)


def _source_label(source: Mapping[str, Any]) -> str:
    return str(source.get("service") or f"{source.get('namespace')} (namespace)")


def namespace_matrix(namespace: str, sources: Sequence[Mapping[str, Any]], devices: Sequence[str],
                     chart_id: str) -> tuple[str, int]:
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
    memo: Memo = {}
    for column, (source, label) in enumerate(zip(shown_sources, labels, strict=True)):
        x = LABEL_W + column * (group + GROUP_GAP)
        full = _source_label(source)
        parts.append(f'<text class="m-source" transform="translate({num(x + 4)} {num(header)}) rotate(-37)">'
                     f'<title>{esc(full)}</title>{esc(label)}</text>')
        for index in range(len(shown_devices)):
            cx = x + index * (CELL_W + CELL_GAP) + CELL_W / 2
            parts.append(f'<text class="m-device" x="{num(cx)}" y="{num(body_top - 4)}">{index + 1}</text>')
        by_device = {d.get("device"): d for d in source.get("devices") or ()}
        for r, row in enumerate(rows):
            y = body_top + r * (CELL_H + CELL_GAP)
            for index, device in enumerate(shown_devices):
                found = by_device.get(device)
                cell = decide(found.get("entries") or (), row, str(found.get("note") or ""), memo) if found \
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
    what = ", ".join([*(str(n) for n in row.networks), *sorted(row.fqdns)]) or "no address"
    ports = ", ".join(f"{a}{f'-{b}' if b != a else ''}/{p}" for p, a, b in row.ports) if row.ports \
        else "any port"
    return f"ExternalService {row.label}: {what}; {ports}"
