"""Surge baseline: how a key learns its expected rate (daily cycle from its own hours, optional day level)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from chalicelib.domain.surge import DAY, DEFAULT_CONFIGS, HOUR, BucketCounts, SurgeConfig
from chalicelib.domain.surge.baseline import (
    FLAT_SHAPE,
    cycle_prior,
    daily_shape,
    harmonic_shape,
)
from tests.unit.test_surge import poisson_stream

T0 = 1_709_510_400.0  # 2024-03-04 00:00 UTC, a Monday


def cosine(hod: float, ratio: float = 4.0, peak: float = 16.0) -> float:
    """A daily cycle of mean 1 whose peak hour is ``ratio`` times its trough."""
    a = (ratio - 1) / (ratio + 1)
    return 1.0 + a * math.cos(2 * math.pi * (hod - peak) / 24)


def test_harmonic_shape_recovers_a_cosine_and_is_flat_without_counts() -> None:
    rates = [10.0 * cosine(i) for i in range(24)]
    shape = harmonic_shape(rates, 2)
    assert max(abs(s - cosine(i)) for i, s in enumerate(shape)) < 1e-9
    assert harmonic_shape([0.0] * 24, 2) == FLAT_SHAPE
    # the floor: no hour under 5 % of the mean, even where a steep cycle's fit dips below zero
    steep = harmonic_shape([0.0] * 20 + [24.0, 48.0, 24.0, 0.0], 1)
    assert min(steep) > 0 and abs(sum(steep) / 24 - 1.0) < 1e-9


def test_one_burst_hour_does_not_lift_the_cycle_around_it() -> None:
    # three days of a flat 20 an hour, one hour at 5x: the plain Fourier fit spreads the burst over the afternoon,
    # the prior (refitted with counts capped at the first fit's expectation) hardly moves
    first = int(T0 // HOUR) * HOUR
    hours = [first + i * HOUR for i in range(72)]
    values = [20] * 72
    values[24 + 14] = 100
    c = [0.0] * 24
    e = [0.0] * 24
    for h, v in zip(hours, values, strict=True):
        c[(h // HOUR) % 24] += v
        e[(h // HOUR) % 24] += 1
    plain = harmonic_shape([c[i] / e[i] for i in range(24)], 2)
    robust = cycle_prior(hours, values, c, e, 2)
    assert plain[12] > 1.1  # two hours away from the burst
    assert max(abs(x - 1.0) for x in robust) < 0.06


def _counts(rate_of_hour: callable, days: float, seed: int = 3) -> BucketCounts:  # type: ignore[valid-type]
    rng = random.Random(seed)
    ts = poisson_stream(rng, T0, T0 + days * DAY, lambda t: rate_of_hour((t % DAY) / HOUR))
    return BucketCounts.from_timestamps(ts)


def test_a_young_brand_learns_its_quiet_hours_from_its_own_first_day() -> None:
    # a day and a half of a 4:1 cycle at 10 an hour: shrunk towards a flat day (harmonics off) the trough is expected
    # far above its true 0.4 of the mean; towards the key's own smooth cycle it is close
    counts = _counts(lambda hod: 10.0 * cosine(hod), 1.5)
    end_hour = int(T0 + 36 * HOUR)
    brand = DEFAULT_CONFIGS["brand"]
    own, _, _ = daily_shape(counts, end_hour, brand, data_start=T0)
    flat_prior, _, _ = daily_shape(counts, end_hour, replace(brand, shape_harmonics=0), data_start=T0)
    trough = 4  # 04:00 UTC
    assert abs(own[trough] - cosine(trough)) < 0.15
    assert flat_prior[trough] > cosine(trough) + 0.2
    assert brand.shape_harmonics == 2 and DEFAULT_CONFIGS["product"].shape_harmonics == 0


def test_rate_learning_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SurgeConfig(shape_harmonics=-1)
