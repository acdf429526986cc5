"""Per namespace bar chart of observed egress as inline SVG: a bar per destination (address, port,
protocol), its length the flows logged, split into allowed (green) and denied (red).

Contract: `observed_chart(source, chart_id)` takes a Namespace entry of the report JSON
`observedEgress.sources[]` and returns one `<svg>` element (every text escaped, no reference
outside the page). At most `MAX_BARS` destinations are drawn — those with denied flows first,
then the most flows — and a "+N more destinations" note counts the rest; the tables and the JSON
list every destination. Bar lengths are proportional to the flows (a bar of any flow is at least
`MIN_BAR` wide).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.reports.svg import clip, esc, num

MAX_BARS = 12
LABEL_W = 230
BAR_W = 420
ROW_H = 18
ROW_GAP = 4
MIN_BAR = 2.0
TOP = 8


def _target(item: Mapping[str, Any]) -> str:
    host, port = item["destination"], item["port"]
    if port is None:
        return f"{host}/{item['protocol']}"
    return f"{f'[{host}]' if ':' in host else host}:{port}/{item['protocol']}"


def _bars(source: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(target, allowed, denied) per destination, denied ones first, then the most flows."""
    totals: dict[str, list[int]] = {}
    for item in source["destinations"]:
        pair = totals.setdefault(_target(item), [0, 0])
        pair[1 if item["action"] == "Deny" else 0] += int(item["count"])
    bars = [(target, allowed, denied) for target, (allowed, denied) in totals.items()]
    return sorted(bars, key=lambda b: (b[2] == 0, -(b[1] + b[2]), b[0]))


def observed_chart(source: Mapping[str, Any], chart_id: str) -> str:
    """The SVG chart of one namespace's observed egress (see the module)."""
    namespace = str(source["namespace"])
    bars = _bars(source)
    shown, left = bars[:MAX_BARS], len(bars) - min(len(bars), MAX_BARS)
    most = max((a + d for _, a, d in shown), default=1)
    scale = BAR_W / most
    width = LABEL_W + BAR_W + 90
    legend_y = TOP + len(shown) * (ROW_H + ROW_GAP) + 18
    height = legend_y + 12
    denied_targets = sum(1 for _, _, d in bars if d)
    summary = (f"Observed egress of namespace {namespace}: {len(bars)} destinations, "
               f"{source['flows']} flows, {source['deniedFlows']} denied ({denied_targets} destinations "
               "with denied flows)")
    parts = [f'<svg class="chart observed" role="img" viewBox="0 0 {width} {num(height)}" width="{width}" '
             f'height="{num(height)}" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'data-namespace="{esc(namespace)}">',
             f'<title id="{chart_id}-t">Observed egress of namespace {esc(namespace)}</title>',
             f'<desc id="{chart_id}-d">{esc(summary)}</desc>']
    for row, (target, allowed, denied) in enumerate(shown):
        y = TOP + row * (ROW_H + ROW_GAP)
        parts.append(f'<text class="o-label" x="{LABEL_W - 8}" y="{num(y + ROW_H - 5)}">'
                     f'<title>{esc(target)}</title>{esc(clip(target, 36))}</text>')
        x = float(LABEL_W)
        title = f"{target}: {allowed} allowed, {denied} denied"
        parts.append(f'<g class="o-bar" data-target="{esc(target)}" data-allowed="{allowed}" '
                     f'data-denied="{denied}"><title>{esc(title)}</title>')
        for count, css in ((denied, "o-deny"), (allowed, "o-allow")):
            if count:
                length = max(MIN_BAR, count * scale)
                parts.append(f'<rect class="{css}" x="{num(x)}" y="{num(y)}" width="{num(length)}" '
                             f'height="{ROW_H}"/>')
                x += length
        parts.append(f'<text class="o-count" x="{num(x + 6)}" y="{num(y + ROW_H - 5)}">'
                     f'{allowed + denied}</text></g>')
    key_x = 8.0
    for css, label in (("o-deny", "denied"), ("o-allow", "allowed")):
        parts.append(f'<rect class="{css}" x="{num(key_x)}" y="{num(legend_y - 10)}" width="12" height="12"/>'
                     f'<text class="o-key" x="{num(key_x + 17)}" y="{num(legend_y)}">{label}</text>')
        key_x += 80
    note = "flows per destination, bar length proportional"
    if left:
        note += f"; +{left} more destinations in the table"
    parts.append(f'<text class="o-key" x="{num(key_x)}" y="{num(legend_y)}">{esc(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)
