"""Surge calibration of a key with a short history: how many past episodes its history may hold."""

from __future__ import annotations

import math

import pytest

from chalicelib.domain.surge import DEFAULT_CONFIGS, calibrate
from chalicelib.domain.surge.baseline import episodes_allowed


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


def test_one_burst_in_two_days_still_tightens_a_brands_tail() -> None:
    config = DEFAULT_CONFIGS["brand"]
    values, mus = _history(48, [30])
    assert calibrate(values, mus, 50.0, config) < config.alpha
