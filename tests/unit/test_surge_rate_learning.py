"""Surge baseline: how a key learns its expected rate (daily cycle from its own hours, optional day level)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from chalicelib.domain.surge import DAY, DEFAULT_CONFIGS, HOUR, BucketCounts, SurgeConfig
from chalicelib.domain.surge.baseline import (
    FLAT_SHAPE,
    causal_expectations,
    cycle_prior,
    daily_shape,
    fit_baseline,
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


def test_day_level_starts_each_utc_day_from_the_long_level() -> None:
    # yesterday at 20 an hour, the days before at 10: at 00:30 the "recent" level follows yesterday's evening, the
    # "day" level has no hour of today yet and is the long level
    counts = _counts(lambda hod: 10.0, 3.0)
    rng = random.Random(5)
    for t in poisson_stream(rng, T0 + 3 * DAY, T0 + 4 * DAY, lambda t: 20.0):
        counts.add(t)
    config = SurgeConfig(windows=(1800,), shape_prior=1e12)  # flat shape: the level alone
    now = T0 + 4 * DAY + 30 * 60 + 1
    recent = fit_baseline(counts, now, config, data_start=T0)
    day = fit_baseline(counts, now, replace(config, level_mode="day"), data_start=T0)
    assert recent.level > 17.0
    assert 11.0 < day.level < 14.5  # the four days' mean, 12.5
    assert day.support == config.day_level_prior_counts


def test_causal_day_level_resets_at_midnight() -> None:
    values = [10] * 24 + [30] * 24
    hods = [i % 24 for i in range(48)]
    config = replace(SurgeConfig(), level_mode="day", day_level_prior_counts=20.0)
    mus, supports = causal_expectations(values, FLAT_SHAPE, hods, 20.0, config)
    assert mus[0] == pytest.approx(20.0) and mus[24] == pytest.approx(20.0)  # each day opens on the long level
    assert mus[23] < 12.0 and mus[47] > 28.0  # and ends near its own
    assert supports[24] == 20.0


def test_rate_learning_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SurgeConfig(level_mode="week")
    with pytest.raises(ValueError):
        SurgeConfig(shape_harmonics=-1)
