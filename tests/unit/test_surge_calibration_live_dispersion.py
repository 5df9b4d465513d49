"""A key's burstiness measured around what the live test expected (the level of the hours just before): slow drift
is no burstiness, isolated bursty hours are."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from chalicelib.domain.surge import DEFAULT_CONFIGS
from chalicelib.domain.surge.baseline import (
    FLAT_SHAPE,
    causal_expectations,
    dispersion,
    hourly_expectations,
)


def _poisson(rng: random.Random, mu: float) -> int:
    k, p, threshold = 0, 1.0, math.exp(-mu)
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def _both(values: list[int]) -> tuple[float, float]:
    config = replace(DEFAULT_CONFIGS["brand"], recent_hours=3)
    hods = [i % 24 for i in range(len(values))]
    level_long = (sum(values) + 0.5) / len(values)
    day = dispersion(values, hourly_expectations(values, FLAT_SHAPE, hods, level_long), 0.0)
    mus, supports = causal_expectations(values, FLAT_SHAPE, hods, level_long, config)
    return day, dispersion(values, mus, 0.0, supports)


def test_a_drifting_level_is_less_bursty_around_the_live_level_than_around_each_days() -> None:
    # a story fading and returning every 30 hours: within a day the level moves 4x, slowly
    rng = random.Random(3)
    values = [_poisson(rng, 40.0 * (1.0 + 0.6 * math.sin(2 * math.pi * h / 30))) for h in range(10 * 24)]
    day, live = _both(values)
    assert day > 0.05
    assert live < day / 2


def test_isolated_bursty_hours_stay_bursty_around_the_live_level() -> None:
    # a steady 30 an hour with one hour in ten at three times that: the live level cannot foresee those hours
    rng = random.Random(4)
    values = [_poisson(rng, 90.0 if rng.random() < 0.1 else 30.0) for _ in range(10 * 24)]
    day, live = _both(values)
    assert live > 0.2
    assert live > day / 2


def test_a_steady_poisson_key_shows_no_burstiness_either_way() -> None:
    rng = random.Random(5)
    values = [_poisson(rng, 20.0) for _ in range(10 * 24)]
    day, live = _both(values)
    assert day < 0.02 and live < 0.02
