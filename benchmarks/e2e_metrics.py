"""The controller's Prometheus text, parsed once per scrape, and quantiles of histogram deltas."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "fusion_connector_"
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    """One `/metrics` exposition."""

    def __init__(self, text: str) -> None:
        self.samples: list[Sample] = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            name, _, label_text = head.partition("{")
            self.samples.append(Sample(name, dict(_LABEL.findall(label_text)), float(value)))

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples of `PREFIX + name` whose labels include `labels` (0 when absent)."""
        return sum(s.value for s in self.samples if s.name == PREFIX + name
                   and all(s.labels.get(k) == v for k, v in labels.items()))

    def has(self, name: str, **labels: str) -> bool:
        return any(s.name == PREFIX + name and all(s.labels.get(k) == v for k, v in labels.items())
                   for s in self.samples)

    def buckets(self, histogram: str, device: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of `histogram` for `device`, by bound."""
        return sorted((float(s.labels["le"]), s.value) for s in self.samples
                      if s.name == f"{PREFIX}{histogram}_bucket" and s.labels.get("device") == device)


@dataclass(frozen=True)
class Estimate:
    """A quantile; `above`: it fell in the +Inf bucket, so it is at least `seconds`."""

    seconds: float
    above: bool = False

    def text(self, digits: int = 2) -> str:
        return f"{'>' if self.above else ''}{self.seconds:.{digits}f}"


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]],
             q: float) -> Estimate | None:
    """The `q` quantile of the samples added between two histogram snapshots (linear within a
    bucket; None when no sample was added; beyond the last finite bound, that bound, marked above)."""
    old = dict(before)
    counts = [(bound, total - old.get(bound, 0.0)) for bound, total in after]
    if not counts or counts[-1][1] == 0:
        return None
    target = q * counts[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= target:
            if bound == float("inf"):
                return Estimate(lower, above=True)
            share = (target - below) / (cumulative - below) if cumulative > below else 1.0
            return Estimate(lower + (bound - lower) * share)
        lower, below = bound, cumulative
    return Estimate(lower, above=True)


def count(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> float:
    """Samples added between two snapshots."""
    return (after[-1][1] if after else 0.0) - (before[-1][1] if before else 0.0)
