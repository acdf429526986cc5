"""Small helpers for the report's inline SVG charts: escaping, number formatting, a UTC time axis.

Contract: every function is pure; text placed in SVG goes through `esc` (the charts are inlined
in the HTML page, so HTML escaping applies); no chart refers to anything outside the page (no
script, font, image or `url(...)` reference): fills and strokes are CSS classes of the page.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

_TICK_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
               14 * 86400, 28 * 86400, 91 * 86400, 365 * 86400)


def esc(text: object) -> str:
    """`text` safe as SVG/HTML character data and attribute values."""
    return html.escape(str(text), quote=True)


def num(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing `.0`."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis (the full text goes in a title)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 timestamp of the report JSON (`...Z`) as an aware UTC datetime; None stays None."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def short_time(value: datetime) -> str:
    """`2026-11-27 19:42` (UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class TimeScale:
    """Maps the window [since, until] onto [x0, x1]; times outside are clamped to the edges."""

    def __init__(self, since: datetime, until: datetime, x0: float, x1: float) -> None:
        self.since = since
        self.until = until if until > since else since + timedelta(seconds=1)
        self.x0 = x0
        self.x1 = x1
        self.span = (self.until - self.since).total_seconds()

    def x(self, value: datetime) -> float:
        fraction = (value - self.since).total_seconds() / self.span
        return self.x0 + (self.x1 - self.x0) * min(1.0, max(0.0, fraction))

    def fraction(self, value: datetime) -> float:
        return min(1.0, max(0.0, (value - self.since).total_seconds() / self.span))

    def ticks(self, most: int = 8) -> list[tuple[float, str]]:
        """Round UTC instants inside the window (at most `most`), each with its x and label."""
        step = next((s for s in _TICK_STEPS if self.span / s <= most), _TICK_STEPS[-1])
        first = int(self.since.timestamp()) // step * step + step
        out: list[tuple[float, str]] = []
        for stamp in range(first, int(self.until.timestamp()) + 1, step):
            moment = datetime.fromtimestamp(stamp, UTC)
            if step >= 86400:
                label = moment.strftime("%m-%d")
            elif self.span > 86400:
                label = moment.strftime("%m-%d %H:%M")
            else:
                label = moment.strftime("%H:%M")
            out.append((self.x(moment), label))
        return out[:most]

