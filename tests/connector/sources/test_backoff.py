from __future__ import annotations

import random

from connector.sources.backoff import Backoff


def test_delays_grow_to_the_cap_with_jitter_and_reset() -> None:
    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(7))
    delays = [backoff.next() for _ in range(40)]
    ceilings = [min(4.0, 0.5 * 2 ** n) for n in range(40)]
    assert all(0.25 <= delay <= max(0.25, ceiling) for delay, ceiling in zip(delays, ceilings, strict=True))
    assert len({round(delay, 6) for delay in delays[10:]}) > 20  # jittered, not a fixed schedule
    assert max(delays) > 2.0
    backoff.reset()
    assert backoff.failures == 0 and backoff.next() <= 0.5
