"""Per device timeline of the report window as inline SVG: applied plans and drift findings.

Contract: `device_timeline(device, history, findings, since, until, chart_id)` takes the device's
entries of the report JSON (`history[]`, `findings[]`) and returns one `<svg>` element (a string,
every text escaped). Its size is bounded whatever the window holds: applied plans are summed into
`BUCKETS` columns; drift findings that one sync found and repaired together share a bar, bars are
packed into at most `MAX_DRIFT_LANES` lanes and at most `MAX_DRIFT_BARS` are drawn, the rest
counted in a "+N more" note (the drift table and the JSON list every finding).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.reports.svg import TimeScale, esc, num, parse_time, short_time

WIDTH = 960
LEFT = 96  # lane labels
RIGHT = 16
BUCKETS = 96
MAX_DRIFT_LANES = 4
MAX_DRIFT_BARS = 60
_CHANGES_TOP = 10
_CHANGES_HEIGHT = 30
_LANE_HEIGHT = 12
_LANE_GAP = 4
_MIN_BAR = 3.0
# worst result first: a bucket takes the colour of its worst plan
_RESULT_CLASS = {"failed": "t-bad", "refused": "t-bad", "partial": "t-warn", "applied": "t-ok"}
_RESULT_RANK = {"failed": 0, "refused": 0, "partial": 1, "applied": 2}
_OPS = ("create", "update", "delete", "reorder")


@dataclass
class _Bucket:
    start: datetime
    end: datetime
    plans: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)

    @property
    def changes(self) -> int:
        return sum(self.counts[op] for op in _OPS)

    @property
    def worst(self) -> str:
        return min(self.results, key=lambda r: _RESULT_RANK.get(r, 0))


@dataclass
class _Bar:
    start: datetime
    end: datetime
    open: bool
    count: int
    types: Counter[str]
    objects: list[str]


def _buckets(history: Iterable[Mapping[str, Any]], scale: TimeScale) -> dict[int, _Bucket]:
    out: dict[int, _Bucket] = {}
    for entry in history:
        applied = parse_time(entry.get("appliedAt"))
        if applied is None:
            continue
        index = min(BUCKETS - 1, int(scale.fraction(applied) * BUCKETS))
        bucket = out.get(index)
        if bucket is None:
            start = scale.since + (scale.until - scale.since) * (index / BUCKETS)
            bucket = out[index] = _Bucket(start, start + (scale.until - scale.since) * (1 / BUCKETS))
        bucket.plans += 1
        bucket.results[str(entry.get("result", ""))] += 1
        for op in _OPS:
            bucket.counts[op] += int((entry.get("counts") or {}).get(op, 0) or 0)
    return out


def _bars(findings: Iterable[Mapping[str, Any]], until: datetime) -> list[_Bar]:
    """Findings with the same first-seen and resolved times (found, and repaired, by the same
    syncs) share a bar; open findings first seen by the same read share one."""
    groups: dict[tuple[Any, ...], _Bar] = {}
    for finding in findings:
        first = parse_time(finding.get("firstSeen"))
        if first is None:
            continue
        resolved = parse_time(finding.get("resolvedAt"))
        is_open = resolved is None
        key = (first, resolved)
        bar = groups.get(key)
        if bar is None:
            bar = groups[key] = _Bar(first, resolved or until, is_open, 0, Counter(), [])
        bar.count += 1
        bar.types[str(finding.get("type", ""))] += 1
        if len(bar.objects) < 3:
            bar.objects.append(f"{finding.get('objectKind', '')} {finding.get('objectName', '')}")
    return list(groups.values())


def _pack(bars: list[_Bar], scale: TimeScale) -> tuple[list[tuple[int, _Bar, float, float]], int]:
    """Bars placed in lanes without overlap, open ones and the longest first; returns the placed
    bars (lane, bar, x, width) and the number of findings left out."""
    lanes: list[list[tuple[float, float]]] = []
    placed: list[tuple[int, _Bar, float, float]] = []
    left_out = 0
    for bar in sorted(bars, key=lambda b: (not b.open, -(b.end - b.start).total_seconds(), b.start)):
        x = scale.x(bar.start)
        width = max(_MIN_BAR, scale.x(bar.end) - x)
        x = min(x, scale.x1 - width)
        lane = next((i for i, spans in enumerate(lanes)
                     if all(x + width + 1 < a or x > b + 1 for a, b in spans)), None)
        if lane is None and len(lanes) < MAX_DRIFT_LANES:
            lanes.append([])
            lane = len(lanes) - 1
        if lane is None or len(placed) >= MAX_DRIFT_BARS:
            left_out += bar.count
            continue
        lanes[lane].append((x, x + width))
        placed.append((lane, bar, x, width))
    return placed, left_out


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _bucket_title(bucket: _Bucket) -> str:
    results = ", ".join(f"{n} {r}" for r, n in sorted(bucket.results.items()))
    counts = ", ".join(f"{bucket.counts[op]} {op}" for op in _OPS if bucket.counts[op])
    return (f"{short_time(bucket.start)} to {short_time(bucket.end)} UTC: {_plural(bucket.plans, 'plan')} "
            f"({results}); {counts or 'no change'}")


def _bar_title(bar: _Bar) -> str:
    types = ", ".join(f"{n} {t}" for t, n in sorted(bar.types.items()))
    more = bar.count - len(bar.objects)
    what = "; ".join(bar.objects) + (f" and {more} more" if more > 0 else "")
    until = "still open" if bar.open else f"resolved {short_time(bar.end)} UTC"
    return (f"drift: {_plural(bar.count, 'finding')} ({types}), first seen {short_time(bar.start)} UTC, "
            f"{until}: {what}")


def device_timeline(device: str, history: list[Mapping[str, Any]], findings: list[Mapping[str, Any]],
                    since: datetime, until: datetime, chart_id: str) -> str:
    """The SVG timeline of `device` over [since, until]: a column per time slice with plans
    applied (height by the number of changes, colour by the worst result) and a bar per drift
    finding (red while open, amber once resolved)."""
    scale = TimeScale(since, until, LEFT, WIDTH - RIGHT)
    buckets = _buckets(history, scale)
    placed, left_out = _pack(_bars(findings, scale.until), scale)
    lanes = max((lane for lane, *_ in placed), default=-1) + 1
    drift_top = _CHANGES_TOP + _CHANGES_HEIGHT + 10
    axis_y = drift_top + max(1, lanes) * (_LANE_HEIGHT + _LANE_GAP) + 2
    height = axis_y + 34
    opened = sum(1 for f in findings if not f.get("resolvedAt"))
    summary = (f"{_plural(len(history), 'plan')} applied or refused, "
               f"{_plural(len(findings), 'drift finding')} ({opened} still open) between "
               f"{short_time(scale.since)} and {short_time(scale.until)} UTC")
    parts = [f'<svg class="chart timeline" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" aria-labelledby="{chart_id}-t {chart_id}-d" data-device="{esc(device)}">',
             f'<title id="{chart_id}-t">Timeline of {esc(device)}</title>',
             f'<desc id="{chart_id}-d">{esc(summary)}</desc>']
    base = _CHANGES_TOP + _CHANGES_HEIGHT
    for x, label in scale.ticks():  # first: the marks are drawn over the grid
        parts.append(f'<line class="t-tick" x1="{num(x)}" x2="{num(x)}" y1="{_CHANGES_TOP}" '
                     f'y2="{axis_y + 4}"/>'
                     f'<text class="t-label" x="{num(x)}" y="{axis_y + 16}">{esc(label)}</text>')
    parts.append(f'<text class="t-lane" x="{LEFT - 8}" y="{base - 10}">plans applied</text>')
    parts.append(f'<text class="t-lane" x="{LEFT - 8}" y="{drift_top + 10}">drift</text>')
    parts.append(f'<line class="t-base" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>')
    most = max((b.changes for b in buckets.values()), default=0)
    slot = (WIDTH - RIGHT - LEFT) / BUCKETS
    for index, bucket in sorted(buckets.items()):
        grown = math.log1p(bucket.changes) / math.log1p(most) if most else 0.0
        tall = 5 + (_CHANGES_HEIGHT - 5) * grown
        x = LEFT + index * slot + slot * 0.15
        parts.append(f'<rect class="{_RESULT_CLASS.get(bucket.worst, "t-bad")}" x="{num(x)}" '
                     f'y="{num(base - tall)}" width="{num(slot * 0.7)}" height="{num(tall)}">'
                     f'<title>{esc(_bucket_title(bucket))}</title></rect>')
    for lane, bar, x, width in placed:
        y = drift_top + lane * (_LANE_HEIGHT + _LANE_GAP)
        parts.append(f'<rect class="{"t-open" if bar.open else "t-resolved"}" x="{num(x)}" y="{y}" '
                     f'width="{num(width)}" height="{_LANE_HEIGHT}" rx="2">'
                     f'<title>{esc(_bar_title(bar))}</title></rect>')
    if not buckets and not placed:
        parts.append(f'<text class="t-none" x="{LEFT + 8}" y="{drift_top - 4}">no plan applied and no drift '
                     'found in the window</text>')
    parts.append(f'<line class="t-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{axis_y}" y2="{axis_y}"/>')
    legend_y = axis_y + 30
    legend = [("t-ok", "applied"), ("t-warn", "partial"), ("t-bad", "failed or refused"),
              ("t-open", "drift open"), ("t-resolved", "drift resolved")]
    x = float(LEFT)
    for css, label in legend:
        parts.append(f'<rect class="{css}" x="{num(x)}" y="{legend_y - 9}" width="10" height="10"/>'
                     f'<text class="t-key" x="{num(x + 14)}" y="{legend_y}">{label}</text>')
        x += 26 + 6.5 * len(label)
    if left_out:
        parts.append(f'<text class="t-more" x="{WIDTH - RIGHT}" y="{legend_y}">+{left_out} more drift '
                     'findings not drawn (see the drift table)</text>')
    parts.append("</svg>")
    return "".join(parts)
