"""Exponential backoff with full jitter for retrying API calls."""

from __future__ import annotations

import random


class Backoff:
    """Delays `uniform(0, min(cap, base * 2**n))` for the n-th consecutive failure; `reset()` after
    a success. The first delay is at least `base / 2` so that a tight failure loop cannot spin."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        self.failures += 1
        return max(self.base / 2, self._rng.uniform(0, ceiling))

    def reset(self) -> None:
        self.failures = 0
