"""The brand test's sequential route (``SurgeConfig.glr_threshold``): a likelihood ratio of 3x against 1x over every
window of whole buckets up to an hour, on spike-capped counts, beside the calibrated window test."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from chalicelib.domain.surge import DEFAULT_CONFIGS, HOUR, BucketCounts, SurgeDetector, evaluate, history_range
from chalicelib.domain.surge.baseline import Baseline
from chalicelib.domain.surge.config import SurgeConfig
from chalicelib.domain.surge.detector import nb_log_ratio

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC
FLAT = tuple([1.0] * 24)


def steady_baseline(level: float = 6.0, alpha: float = 1e-6) -> Baseline:
    """A steady key at ``level`` an hour with a long history, its window test calibrated strict (a history with
    bursts)."""
    return Baseline(FLAT, level, support=2000.0, history_hours=300.0, dispersion=0.0, alpha=alpha)


def glr_on(threshold: float | None = None) -> SurgeConfig:
    """The brand config with the route on (at 8.5, the threshold tried, or another)."""
    return replace(DEFAULT_CONFIGS["brand"], glr_threshold=8.5 if threshold is None else threshold)


WINDOW_TEST_ONLY = replace(DEFAULT_CONFIGS["brand"], glr_threshold=None)


NOW = T0 + 10 * 86400 + 14 * HOUR - 1.0  # the last second of a bucket (and of an hour)


def counts_of(per_bucket: list[int]) -> BucketCounts:
    """The last ``len(per_bucket)`` buckets ending with the one holding NOW."""
    end = int(NOW // 300) * 300 + 300
    fine = {end - 300 * (len(per_bucket) - i): n for i, n in enumerate(per_bucket) if n}
    return BucketCounts(fine, None)


def test_log_ratio_is_poisson_for_large_size_and_weaker_with_dispersion() -> None:
    import math

    assert nb_log_ratio(18, 6.0, 1e9, 3.0) == pytest.approx(18 * math.log(3) - 12)
    assert nb_log_ratio(18, 6.0, 5.0, 3.0) < nb_log_ratio(18, 6.0, 1e9, 3.0)
    assert nb_log_ratio(6, 6.0, 50.0, 3.0) < 0  # the expected count is evidence against 3x


def test_glr_route_alerts_on_a_tripling_the_window_test_misses() -> None:
    # 20 mentions in the last hour (1-2 per bucket) against 6 expected: P(X >= 20) ~ 1e-5, above the key's strict
    # calibrated tail (1e-6), but 20 ln 3 - 12 = 10.0 nats for 3x (threshold 8.5)
    per_bucket = [2, 2, 2, 1, 2, 1, 2, 2, 2, 1, 2, 1]
    counts = counts_of(per_bucket)
    base = steady_baseline()
    assert DEFAULT_CONFIGS["brand"].glr_threshold is None  # off by default (held-out streams over budget)
    off, _ = evaluate("brand", counts, NOW, config=WINDOW_TEST_ONLY, baseline=base)
    assert off is None
    alert, state = evaluate("brand", counts, NOW, config=glr_on(), baseline=base)
    assert alert is not None and state.active
    assert alert.count == 20 and alert.window_start == pytest.approx(NOW + 1 - HOUR)
    assert alert.baseline == pytest.approx(6.0, rel=1e-3)
    # a stricter threshold than the evidence stays silent
    assert evaluate("brand", counts, NOW, config=glr_on(10.5), baseline=base)[0] is None


def test_glr_route_sees_spike_capped_counts() -> None:
    # the same 20 mentions in one bucket (a retweet storm) count at most the GLR's spike cap (5): no alert
    counts = counts_of([0] * 11 + [20])
    alert, _ = evaluate("brand", counts, NOW, config=glr_on(), baseline=steady_baseline())
    assert alert is None


def test_glr_route_waits_for_the_history_and_respects_the_episode() -> None:
    counts = counts_of([2, 2, 2, 1, 2, 1] * 2)
    young = replace(steady_baseline(), history_hours=10.0)
    assert evaluate("brand", counts, NOW, config=glr_on(), baseline=young)[0] is None
    _, state = evaluate("brand", counts, NOW, config=glr_on(), baseline=steady_baseline())
    # an open episode: the next evaluation a bucket later does not fire again
    again, _ = evaluate("brand", counts, NOW + 300, state, config=glr_on(), baseline=steady_baseline())
    assert again is None


def _stream(rng: random.Random, days: int, rate: float, extra: tuple[float, float] | None = None) -> list[float]:
    out: list[float] = []
    t = T0
    while rate > 0:
        t += rng.expovariate(rate / HOUR)
        if t >= T0 + days * 86400:
            break
        out.append(t)
    if extra is not None:
        start, add = extra
        t = start
        while True:
            t += rng.expovariate(add / HOUR)
            if t >= start + HOUR:
                break
            out.append(t)
    return sorted(out)


def _brand_alerts(ts: list[float], config: SurgeConfig) -> list[float]:
    configs = {**DEFAULT_CONFIGS, "brand": config}
    det = SurgeDetector(configs, data_start=T0)
    return [a.detected_at for t in ts for a in det.observe(t, ["brand"])]


def test_offline_detector_catches_a_quiet_tripling_sooner_and_stays_silent_on_the_clean_stream() -> None:
    # a steady brand at 20 mentions an hour for 8 days; a tripling (40 more an hour) for an hour on day 7: the
    # window test (30 and 60 minutes) sees it 25 minutes in, the GLR route (at 8.5) a minute sooner
    start = T0 + 7 * 86400 + 15 * HOUR
    clean = _stream(random.Random(3), 8, 20.0)
    surged = sorted(clean + _stream(random.Random(103), 0, 0.0, (start, 40.0)))
    assert _brand_alerts(clean, glr_on()) == []
    shipped = [t for t in _brand_alerts(surged, WINDOW_TEST_ONLY) if start <= t <= start + HOUR]
    with_glr = [t for t in _brand_alerts(surged, glr_on()) if start <= t <= start + HOUR]
    assert with_glr, "the GLR route alerts within the hour"
    assert shipped and with_glr[0] <= shipped[0] - 60


def test_config_validation_and_history_range() -> None:
    with pytest.raises(ValueError):
        SurgeConfig(glr_threshold=0.0)
    with pytest.raises(ValueError):
        SurgeConfig(glr_threshold=float("inf"))
    with pytest.raises(ValueError):
        SurgeConfig(glr_ratio=1.0)
    with pytest.raises(ValueError):
        SurgeConfig(glr_threshold=5.0, glr_max_window=100)
    cfg = replace(SurgeConfig(windows=(900,), cooldown_seconds=1800), glr_threshold=5.0, glr_max_window=5400)
    (fine_start, fine_end), _ = history_range(NOW, cfg)
    assert fine_end - fine_start == 5400  # the store reads every bucket the GLR windows need
    (fine_start, fine_end), _ = history_range(NOW, replace(cfg, glr_threshold=None))
    assert fine_end - fine_start == 1800
