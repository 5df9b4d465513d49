"""A young brand whose history opens with a real burst (a story breaking on its first day) and a tripling on its
fourth day: with the calibration's median allowance (the default) the burst sets the brand's tail beyond the
tripling, which is missed. A known limit, kept as a test so that a change that lifts it shows: the allowance at the
quarter quantile alerted it but put two held-out streams over their budget (eval_surge's "method")."""

from __future__ import annotations

import math
import random

from chalicelib.domain.surge import DAY, DEFAULT_CONFIGS, HOUR, SurgeDetector
from tests.unit.test_surge import poisson_stream

T0 = 1_709_510_400.0  # 2024-03-04 00:00 UTC


def _busy_stream(t: float) -> float:
    """About 40 mentions an hour with a daily cycle (16 at 04:00 UTC, 64 at 16:00)."""
    return 40.0 - 24.0 * math.cos(2 * math.pi * ((t % DAY) / HOUR - 4) / 24)


def _replay(seed: int) -> tuple[float, list[float]]:
    rng = random.Random(seed)
    burst = T0 + 14 * HOUR  # six times the volume for an hour, 14 hours in
    tripling = T0 + 3 * DAY + 2 * HOUR + 10 * 60  # 74 hours in
    base = poisson_stream(rng, T0, tripling + 2 * HOUR, _busy_stream)
    extra = poisson_stream(rng, burst, burst + HOUR, lambda t: 5 * _busy_stream(t))
    extra += poisson_stream(rng, tripling, tripling + HOUR, lambda t: 2 * _busy_stream(t))
    detector = SurgeDetector(DEFAULT_CONFIGS, data_start=T0)
    alerts = []
    for ts in sorted(base + extra):
        alerts += [a.detected_at - tripling for a in detector.observe(ts, ["brand"]) if ts >= tripling - 2 * HOUR]
    return detector.baseline("brand", tripling).alpha, alerts


def test_with_the_median_allowance_the_brands_default_the_first_day_burst_sets_the_tail_beyond_the_tripling() -> None:
    alpha, alerts = _replay(1)
    assert alpha < DEFAULT_CONFIGS["brand"].alpha / 10
    assert not [d for d in alerts if 0 <= d <= HOUR]
