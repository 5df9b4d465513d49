"""The one baseline fit: a key's expected rate, its burstiness and its calibrated threshold, from its own history.

Both the offline detector (:class:`~chalicelib.domain.surge.detector.SurgeDetector`) and the pipeline
(:mod:`chalicelib.services.surges`) fit through :func:`fit_key_baseline`; nothing else fits a baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.surge.config import SurgeConfig, baseline_end_hour
from chalicelib.domain.surge.counts import DAY, HOUR, HOURS_PER_DAY, BucketCounts, hour_start
from chalicelib.domain.surge.keys import BRAND_KEY, key_kind

FLAT_SHAPE: tuple[float, ...] = (1.0,) * HOURS_PER_DAY
TWO_WEEKS_HOURS = 14 * HOURS_PER_DAY
DAY_LEVEL_PRIOR_HOURS = 12.0  # a day's own level is shrunk towards the long level by this many hours of it
POISSON_SUM_LIMIT = 500.0  # episodes expected in a history past which the median is taken from its approximation
MAX_DISPERSION = 2.0  # a geometric tail: the widest a count's wobble is taken to be
CYCLE_PRIOR_REFITS = 2  # the cycle prior is refitted this many times with counts capped at the last fit


@dataclass(frozen=True)
class Baseline:
    """The fitted expectation of one key: daily shape (24 values, mean 1), mean hourly level and its support,
    the key's own extra-Poisson dispersion and the tail probability its test uses (calibrated)."""

    shape: tuple[float, ...]
    level: float
    support: float  # counts behind the level (for its uncertainty)
    history_hours: float
    dispersion: float = 0.0  # variance = mu + dispersion * mu**2 beyond the level's own uncertainty
    alpha: float = 1e-4  # the test fires when P(X >= count) <= alpha

    def expected(self, start: float, end: float) -> float:
        """Expected count in ``[start, end)`` (integrates the shape hour by hour)."""
        total = 0.0
        t = start
        while t < end:
            h_end = min(end, hour_start(t) + HOUR)
            total += self.shape[int(t // HOUR) % HOURS_PER_DAY] * (h_end - t)
            t = h_end
        return self.level * total / HOUR

    def size(self) -> float:
        """Negative-binomial size of a window's count: the level's uncertainty plus the key's dispersion."""
        return 1.0 / (1.0 / (self.support + 1.0) + self.dispersion)


def nb_tail(c: int, mu: float, size: float) -> float:
    """``P(X >= c)`` for a negative binomial with mean ``mu`` and size ``size`` (Poisson as size → ∞)."""
    if c <= 0:
        return 1.0
    mu = max(mu, 1e-9)
    if size > 1e6:
        log_p0 = -mu
        log_q = math.log(mu)
        acc = 0.0
        log_term = log_p0
        for k in range(c):
            acc += math.exp(log_term)
            log_term += log_q - math.log(k + 1)
        return max(0.0, 1.0 - acc)
    log_p0 = size * math.log(size / (size + mu))
    log_q = math.log(mu / (size + mu))
    acc = 0.0
    log_term = log_p0
    for k in range(c):
        acc += math.exp(log_term)
        log_term += math.log((size + k) / (k + 1)) + log_q
    return max(0.0, 1.0 - acc)


def daily_shape(
    counts: BucketCounts,
    end_hour: int,
    config: SurgeConfig,
    *,
    data_start: float | None = None,
    reference_shape: Sequence[float] | None = None,
) -> tuple[tuple[float, ...], list[int], int]:
    """Daily shape from the ``season_days`` days of whole hours before ``end_hour``: each hour of the day's rate
    shrunk towards a prior shape by ``shape_prior`` pseudo-counts, smoothed over neighbouring hours, mean 1. The
    prior is ``reference_shape`` when given (products borrow the brand's), else, with ``shape_harmonics``, the key's
    own smooth cycle (:func:`cycle_prior`), else a flat day.

    Returns the shape and the hourly counts (oldest first) and the first hour used, for the level.
    """
    first = end_hour - config.season_days * DAY
    if data_start is not None:
        first = max(first, hour_start(data_start + HOUR - 1))  # first whole hour of data
    hours = list(range(first, end_hour, HOUR))
    values = [counts.hour(h) for h in hours]
    ref = tuple(reference_shape) if reference_shape is not None else FLAT_SHAPE
    shape = _shape(hours, [float(v) for v in values], ref, reference_shape is None, config)
    if shape is None:
        return ref, values, first
    return shape, values, first


def _shape(
    hours: Sequence[int], values: Sequence[float], ref: tuple[float, ...], own: bool, config: SurgeConfig
) -> tuple[float, ...] | None:
    """The shrunk and smoothed daily shape of hourly ``values`` (None: nothing counted)."""
    c = [0.0] * HOURS_PER_DAY
    e = [0.0] * HOURS_PER_DAY
    for h, v in zip(hours, values, strict=True):
        hod = (h // HOUR) % HOURS_PER_DAY
        c[hod] += v
        e[hod] += 1.0
    total_c = sum(c)
    total_e = sum(e)
    if total_e == 0 or total_c == 0:
        return None
    mean_rate = total_c / total_e
    if own and config.shape_harmonics > 0 and min(e) > 0:
        ref = cycle_prior(hours, values, c, e, config.shape_harmonics)
    beta = config.shape_prior
    prior_exposure = beta / mean_rate
    rates = [(c[i] + beta * ref[i]) / (e[i] + prior_exposure) for i in range(HOURS_PER_DAY)]
    smooth = [(rates[i - 1] + 2.0 * rates[i] + rates[(i + 1) % HOURS_PER_DAY]) / 4.0 for i in range(HOURS_PER_DAY)]
    m = sum(smooth) / HOURS_PER_DAY
    if m <= 0:
        return None
    return tuple(x / m for x in smooth)


def harmonic_shape(rates: Sequence[float], harmonics: int, floor: float = 0.05) -> tuple[float, ...]:
    """A smooth daily cycle through 24 hourly rates: their Fourier series up to ``harmonics`` cycles a day (a least
    squares fit on the whole day's grid), at least ``floor`` of the mean, scaled to mean 1 (flat if all are 0)."""
    n = HOURS_PER_DAY
    mean = sum(rates) / n
    if mean <= 0:
        return FLAT_SHAPE
    fit = [mean] * n
    for k in range(1, min(harmonics, n // 2 - 1) + 1):
        cos_k = [math.cos(2 * math.pi * k * i / n) for i in range(n)]
        sin_k = [math.sin(2 * math.pi * k * i / n) for i in range(n)]
        a = 2.0 / n * sum(r * x for r, x in zip(rates, cos_k, strict=True))
        b = 2.0 / n * sum(r * x for r, x in zip(rates, sin_k, strict=True))
        fit = [f + a * x + b * y for f, x, y in zip(fit, cos_k, sin_k, strict=True)]
    fit = [max(x, floor * mean) for x in fit]
    m = sum(fit) / n
    return tuple(x / m for x in fit)


def cycle_prior(
    hours: Sequence[int], values: Sequence[float], c: Sequence[float], e: Sequence[float], harmonics: int
) -> tuple[float, ...]:
    """The smooth daily cycle a key's own shape shrinks towards: :func:`harmonic_shape` of its hourly rates, refitted
    ``CYCLE_PRIOR_REFITS`` times with every hour's count capped at what the last fit expects of it plus three Poisson
    standard deviations (and 3), so a burst in the history does not spread into the hours around it (a Fourier fit
    is linear: one 5x hour on a young key's first day lifted the whole afternoon, and the acceptance scenario's
    tripling there was missed). The shape's own counts (:func:`daily_shape`) are not capped."""
    n = HOURS_PER_DAY
    fit = harmonic_shape([c[i] / e[i] for i in range(n)], harmonics)
    mean_rate = sum(c) / sum(e)
    for _ in range(CYCLE_PRIOR_REFITS):
        capped = [0.0] * n
        for h, v in zip(hours, values, strict=True):
            hod = (h // HOUR) % n
            mu = mean_rate * fit[hod]
            capped[hod] += min(float(v), mu + 3.0 * math.sqrt(mu) + 3.0)
        fit = harmonic_shape([capped[i] / e[i] for i in range(n)], harmonics)
    return fit


def hourly_expectations(
    values: Sequence[int], shape: Sequence[float], hods: Sequence[int], level_long: float
) -> list[float]:
    """What each past hour expected: the shape times that day's level, shrunk towards the long level (so the
    dispersion measures bursts within days, not the slow drift the live level follows anyway)."""
    mus: list[float] = []
    for start in range(0, len(values), HOURS_PER_DAY):
        block = range(start, min(start + HOURS_PER_DAY, len(values)))
        n_day = sum(values[i] for i in block)
        s_day = sum(shape[hods[i]] for i in block)
        level_day = (n_day + DAY_LEVEL_PRIOR_HOURS * level_long) / (s_day + DAY_LEVEL_PRIOR_HOURS)
        mus += [level_day * shape[hods[i]] for i in block]
    return mus


def dispersion(values: Sequence[int], mus: Sequence[float], floor: float) -> float:
    """Method-of-moments negative-binomial dispersion of a key's hourly counts around their expectation:
    ``sum((c - mu)**2 - c) / sum(mu**2)``, at least ``floor``. The most extreme 1 % of
    hours are left out: one real surge in a sparse key's history would otherwise make it look bursty enough never
    to alert again (how often such surges come is the calibration's business, not the wobble's)."""
    terms = sorted(((c - mu) ** 2 - c, mu * mu) for c, mu in zip(values, mus, strict=True))
    terms = terms[: len(terms) - math.ceil(len(terms) / 100)]
    denominator = sum(m2 for _, m2 in terms)
    if denominator <= 0:
        return floor
    excess = sum(t for t, _ in terms) / denominator
    return min(MAX_DISPERSION, max(floor, excess))


def causal_expectations(
    values: Sequence[int], shape: Sequence[float], hods: Sequence[int], level_long: float, config: SurgeConfig
) -> tuple[list[float], list[float]]:
    """What the live test expected of each past hour, and the counts behind it: the level of the
    ``recent_hours`` hours before it (the same gamma-Poisson posterior :func:`fit_baseline` computes live), times
    the shape. A replay with these tests each past hour as it would have been tested then, not with a level that
    already knows the hour (which hides a burst inside its own day)."""
    k = config.recent_hours
    prior_counts = config.level_prior_counts
    prior_hours = prior_counts / level_long
    mus: list[float] = []
    supports: list[float] = []
    n_recent = 0.0
    s_recent = 0.0
    for i, hod in enumerate(hods):
        level = (n_recent + prior_counts) / (s_recent + prior_hours)
        mus.append(level * shape[hod])
        supports.append(n_recent + prior_counts)
        n_recent += values[i]
        s_recent += shape[hod]
        if i >= k:
            n_recent -= values[i - k]
            s_recent -= shape[hods[i - k]]
    return mus, supports


def episodes_allowed(expected: float, cap: float | None = None) -> int:
    """How many episodes a history may hold when a key keeping its budget expects ``expected`` in it: the most
    that such a key raises more likely than not (the median of a Poisson count of mean ``expected``), and no more
    than ``cap`` (the budget itself: a history is at most two weeks long).

    The median rounds ``floor(expected)`` up a little: one early natural burst then no longer sets a young key's
    threshold beyond any surge after 3.2 days (at three per two weeks) instead of 4.7. (A lower quantile, 1/4,
    was tried for the brand and dropped: it put two held-out streams over their budget; eval_surge's "method".)"""
    if expected <= 0:
        return 0
    if expected > POISSON_SUM_LIMIT:  # exp(-expected) underflows
        k = math.floor(expected + 1 / 3)  # the median's approximation
    else:
        at_least = 1.0  # P(N >= k) after subtracting P(N = k)
        term = math.exp(-expected)  # P(N = k)
        k = 0
        while True:
            at_least -= term  # now P(N >= k + 1)
            if at_least < 0.5:  # the median
                break
            k += 1
            term *= expected / k
    return k if cap is None else min(k, math.floor(cap))


def calibrate(values: Sequence[int], mus: Sequence[float], size: float | Sequence[float], config: SurgeConfig) -> float:
    """The tail probability that, replayed over the key's own past hours, would have raised at most its budget.

    Each past hour is tested as the live test tests a window (its count against what was expected of it, with the
    key's minimum count and ratio, a negative binomial of ``size``: one for all hours or one per hour). An episode
    lasts as the live surge state does: from a firing hour until an hour is back under ``exit_ratio`` times what it
    expected (or under ``min_count``), so a story that fires, stays high and peaks again is one alert, as it is
    live, not two (live also compares against the level before the surge, so it holds a surge a little longer than
    this replay does). The history's allowance is :func:`episodes_allowed`: as many episodes as a key keeping
    its budget (``alert_budget`` per two weeks) raises in that many hours more likely than not (the median), and
    never more than the budget. When more episodes than that reach ``alpha`` (the loosest tail the
    test uses), the threshold moves ``calibration_margin`` times below the first episode it must stop: the live
    test looks at sliding windows every five minutes, which find a burst sharper than whole clock hours show it.
    """
    sizes = [float(size)] * len(values) if isinstance(size, (int, float)) else list(size)
    episodes: list[float] = []
    current: float | None = None
    for c, mu, n in zip(values, mus, sizes, strict=True):
        p = 1.0
        if c >= config.min_count and c >= config.min_ratio * mu:
            p = nb_tail(c, mu, n)
        if p <= config.alpha:
            current = p if current is None else min(current, p)
        elif current is not None and (c < config.min_count or c <= config.exit_ratio * mu):
            episodes.append(current)  # subsided: the live state would let the key fire again
            current = None
    if current is not None:
        episodes.append(current)
    allowed = episodes_allowed(config.alert_budget * len(values) / TWO_WEEKS_HOURS, config.alert_budget)
    if len(episodes) <= allowed:
        return config.alpha
    episodes.sort()
    return min(config.alpha, episodes[allowed] * config.calibration_margin)


def fit_baseline(
    counts: BucketCounts,
    now: float,
    config: SurgeConfig,
    *,
    data_start: float | None = None,
    reference_shape: Sequence[float] | None = None,
) -> Baseline:
    """Fit shape, level, dispersion and threshold from the history before the longest test window."""
    end_hour = baseline_end_hour(now, config)
    shape, values, first = daily_shape(counts, end_hour, config, data_start=data_start, reference_shape=reference_shape)
    if config.shape_floor > 0:
        floored = [max(x, config.shape_floor) for x in shape]
        m = sum(floored) / HOURS_PER_DAY
        shape = tuple(x / m for x in floored)
    n_hours = len(values)
    if n_hours == 0:
        return Baseline(shape, 0.0, 0.0, 0.0, config.overdispersion, config.alpha)
    hods = [((first + i * HOUR) // HOUR) % HOURS_PER_DAY for i in range(n_hours)]
    # long level over all the days (a prior), updated by the recent hours: a gamma-Poisson posterior mean
    # with the long level as prior mean and ``level_prior_counts`` pseudo-counts of weight. A busy key
    # follows its recent level; a sparse one stays on its long level instead of chasing noise.
    n_long = float(sum(values))
    s_long = sum(shape[h] for h in hods)
    level_long = (n_long + config.level_prior) / s_long
    k = min(config.recent_hours, n_hours)  # the last recent_hours hours, shrunk towards the long level
    prior_counts = config.level_prior_counts
    n_recent = float(sum(values[n_hours - k :]))
    s_recent = sum(shape[h] for h in hods[n_hours - k :])
    prior_hours = prior_counts / level_long
    level = (n_recent + prior_counts) / (s_recent + prior_hours)
    support = n_recent + prior_counts
    live_mus, supports = causal_expectations(values, shape, hods, level_long, config)
    phi = dispersion(values, hourly_expectations(values, shape, hods, level_long), config.overdispersion)
    if config.dispersion_prior_hours > 0:
        # a few days of history understate a key's burstiness (the shape and the day levels were fitted on the
        # very hours the dispersion is measured on): until it has history of its own, a key is taken to be as
        # bursty as a typical stream
        weight = config.dispersion_prior_hours
        phi = (phi * n_hours + config.dispersion_prior * weight) / (n_hours + weight)
    sizes = [1.0 / (1.0 / (n + 1.0) + phi) for n in supports]
    alpha = calibrate(values, live_mus, sizes, config)
    return Baseline(shape, level, support, float(n_hours), phi, alpha)


def brand_reference_shape(
    brand_counts: BucketCounts,
    now: float,
    config: SurgeConfig,
    brand_config: SurgeConfig,
    *,
    data_start: float | None = None,
) -> tuple[float, ...]:
    """The brand's daily shape as a key with ``config`` borrows it at ``now``: learnt from the brand's hours
    before that key's own baseline ends, so it changes exactly when the key's baseline does."""
    return daily_shape(brand_counts, baseline_end_hour(now, config), brand_config, data_start=data_start)[0]


def fit_key_baseline(
    key: str,
    counts_of: Callable[[str], BucketCounts | None],
    now: float,
    configs: Mapping[str, SurgeConfig],
    *,
    data_start: float | None = None,
) -> Baseline:
    """THE baseline fit of ``key`` at ``now``: products and topics borrow the brand's daily shape (they are too
    sparse for their own); ``counts_of(key)`` gives a key's counters (``None``: nothing counted)."""
    config = configs[key_kind(key)]
    counts = counts_of(key) or BucketCounts({}, {}, bucket_seconds=config.bucket_seconds)
    reference = None
    brand_counts = counts_of(BRAND_KEY) if key != BRAND_KEY else None
    if brand_counts is not None:
        reference = brand_reference_shape(brand_counts, now, config, configs[BRAND_KEY], data_start=data_start)
    return fit_baseline(counts, now, config, data_start=data_start, reference_shape=reference)
