"""Surge calibration of a key with a short history: how many past episodes its history may hold."""

from __future__ import annotations

import math
import random

import pytest

from chalicelib.domain.surge import DAY, DEFAULT_CONFIGS, HOUR, SurgeDetector, calibrate
from chalicelib.domain.surge.baseline import episodes_allowed
from tests.unit.test_surge import poisson_stream


def poisson_at_least(k: int, mean: float) -> float:
    return 1.0 - sum(math.exp(-mean) * mean**j / math.factorial(j) for j in range(k))


@pytest.mark.parametrize("mean", [0.0, 0.1, 0.5, 0.69, 0.7, 0.857, 1.0, 1.5, 1.68, 1.7, 2.0, 2.5, 3.0, 4.2, 6.0])
def test_allowance_is_the_most_a_key_within_budget_raises_more_likely_than_not(mean: float) -> None:
    allowed = episodes_allowed(mean)
    assert poisson_at_least(allowed, mean) >= 0.5
    assert poisson_at_least(allowed + 1, mean) < 0.5


def test_allowance_at_two_weeks_is_the_budget_and_a_young_brand_gets_its_first_episode_after_three_days() -> None:
    brand, product = DEFAULT_CONFIGS["brand"].alert_budget, DEFAULT_CONFIGS["product"].alert_budget
    assert episodes_allowed(brand) == 3
    assert episodes_allowed(product) == 2
    assert episodes_allowed(brand * 72 / 336) == 0  # three days: 0.64 expected, P(one or more) = 0.47
    assert episodes_allowed(brand * 96 / 336) == 1  # four days: floor(0.86) would allow none


def test_allowance_of_a_long_history_is_its_median_without_underflow() -> None:
    # exp(-800) is 0.0 in a float: summing the Poisson terms would never reach one half
    assert [episodes_allowed(m) for m in (499.6, 800.0, 1e6)] == [499, 800, 1_000_000]


def _history(hours: int, bursts: list[int]) -> tuple[list[int], list[float]]:
    mus = [10.0] * hours
    values = [10] * hours
    for at in bursts:
        values[at] = 45  # far beyond the brand's starting tail
    return values, mus


def test_one_burst_in_four_days_leaves_a_brand_its_tail_two_tighten_it() -> None:
    config = DEFAULT_CONFIGS["brand"]
    one, mus = _history(96, [30])
    assert calibrate(one, mus, 50.0, config) == config.alpha
    two, mus = _history(96, [30, 70])
    assert calibrate(two, mus, 50.0, config) < config.alpha


def test_allowance_never_exceeds_the_budget() -> None:
    # a median above the budget (4.2 expected: 4) is capped at it
    assert episodes_allowed(4.2) == 4
    assert episodes_allowed(4.2, 3.0) == 3
    assert episodes_allowed(800.0, 2.0) == 2
    values, mus = _history(14 * 24, [30, 60, 90, 120])  # four far beyond the tail in two weeks: over the budget
    assert calibrate(values, mus, 50.0, DEFAULT_CONFIGS["brand"]) < DEFAULT_CONFIGS["brand"].alpha


def _support_stream(t: float) -> float:
    """About 10 mentions an hour with a daily cycle (4 at 04:00 UTC, 16 at 16:00)."""
    return 10.0 - 6.0 * math.cos(2 * math.pi * ((t % DAY) / HOUR - 4) / 24)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_tripling_on_day_four_is_alerted_after_one_natural_burst_on_day_one(seed: int) -> None:
    # the acceptance scenario's young key: a support stream with one natural burst (five times its volume for an
    # hour) on its first full day, then a tripling for an hour 3.5 days in. The burst is an episode of the
    # calibration's replay; rounded down, 3.5 days allowed none, and the tail went below the burst's, out of a
    # tripling's reach
    rng = random.Random(seed)
    t0 = 1_709_510_400.0  # 2024-03-04 00:00 UTC
    burst = t0 + DAY + 14 * HOUR
    tripling = t0 + 3 * DAY + 12 * HOUR + 10 * 60
    base = poisson_stream(rng, t0, t0 + 4 * DAY, _support_stream)
    extra = poisson_stream(rng, burst, burst + HOUR, lambda t: 4 * _support_stream(t))
    extra += poisson_stream(rng, tripling, tripling + HOUR, lambda t: 2 * _support_stream(t))
    detector = SurgeDetector(data_start=t0)
    alerts = []
    for ts in sorted(base + extra):
        alerts += [a for a in detector.observe(ts, ["brand"]) if ts >= tripling - 2 * HOUR]
    assert detector.baseline("brand", tripling).alpha == DEFAULT_CONFIGS["brand"].alpha
    assert alerts, "the tripling was not alerted"
    assert all(tripling <= a.detected_at <= tripling + HOUR for a in alerts)
