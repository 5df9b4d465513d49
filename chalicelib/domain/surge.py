"""Streaming surge detection over per-key time-bucket counters: pure, typed, no I/O.

What is counted
---------------
Three kinds of key, each a counter per time bucket:

* ``brand``: **every** mention. A brand-wide surge is a surge of *volume*; counting all mentions keeps
  the count high (a tripling becomes significant within minutes) and independent of the text model's
  mistakes, and a sudden brand-wide pile-on is worth a look whatever its tone.
* ``product:<name>``: **complaints** about that product only. Product volume follows launches, sales and
  seasons (the real Amazon reviews triple around Christmas, almost all 5-star); a response team cares
  about complaints, which are also far rarer, so a small burst of them stands out.
* ``topic:<name>``: complaints of that topic (``delivery``, ``billing_refunds`` ...), except the catch-all
  ``other`` (an "other" surge says nothing the brand key does not).

Counters live in buckets of ``bucket_seconds`` (5 min) plus hourly roll-ups. In production they are ONE
DynamoDB item per (key, UTC day) (:func:`day_of`) holding number attributes ``h<hour>`` (0-23) and
``f<bucket of the day>`` (0-287), incremented with an atomic ``ADD`` per processed batch
(:func:`counter_fields` names the two attributes a mention adds to); an evaluation reads the items of
:func:`days_needed` and rebuilds the read model with :meth:`BucketCounts.from_day_items`. Offline,
:class:`SurgeDetector` keeps the same counts in memory. Both feed the same :func:`evaluate` and give the
same alerts.

The maths
---------
Expected rate, time-of-day aware: ``rate(t) = L * s(hour_of_day(t))`` where ``s`` is a daily shape
with mean 1 and ``L`` the key's mean hourly level.

* **Shape** ``s``: counts per hour of day over the previous ``season_days`` days, as rates (count /
  hours observed, so a partial first day is fine), shrunk towards a prior shape by ``shape_prior``
  pseudo-counts per hour (a sparse product key has no cycle of its own worth estimating; it borrows the
  brand's shape, passed as ``reference_shape``, or a flat one), smoothed over neighbouring hours and
  normalised to mean 1. A flat baseline cries wolf every evening; a shape learnt from the key's own days
  does not need tuning to any one stream's cycle.
* **Level** ``L``: a gamma-Poisson posterior mean: the long level (all ``season_days`` days, count / sum
  of ``s``) is the prior, worth ``level_prior_counts`` pseudo-counts, updated by the last ``recent_hours``
  hours (count / sum of ``s`` over them). A busy key follows its recent level; a sparse one stays on its
  long level instead of chasing an empty night. Both end at the last whole hour before the longest test window, so the
  surge being tested never inflates its own baseline.
* **Test**: for each window ``w`` in ``windows`` (whole buckets ending with the current one, e.g. the last
  15, 30 and 60 minutes; products also 10 and 20),
  ``mu = L * integral of s`` over the window and ``c`` its count. The count is compared with a negative
  binomial of mean ``mu`` and variance ``mu + mu**2 * (1/(n + 1) + overdispersion)``: a Poisson tail
  widened by the uncertainty of a level estimated from ``n`` counts and by real streams' extra-Poisson
  wobble. A window fires when ``P(X >= c) <= alpha`` **and** ``c >= min_count`` (a minimum volume: three
  complaints out of nowhere are not yet a story) **and** ``c >= min_ratio * mu`` (at high volume a 20 %
  rise is "significant" but not a surge). Each 5-minute bucket counts at most ``spike_cap_ratio`` times
  its expectation (and at least ``spike_cap_min``): real streams have one-bucket spikes (a retweet storm, a
  user posting ten times) that are not a surge of the key, while a real surge raises consecutive buckets.
* **Warm-up**: nothing fires until ``min_history_hours`` (a day) of counting since ``data_start``; the
  shape of the first hours is unknown and every morning ramp would look like a surge.
* **Once per surge**: :class:`SurgeState` records that a surge is active (and the level before it). While
  active, nothing fires; the surge has subsided when the last hour's count is back under
  ``exit_ratio`` times what the baseline expects (the higher of the current and the pre-surge expectation,
  the latter for ``recent_hours`` after firing) and ``cooldown_seconds`` have passed since firing. The
  state is a small value object so the pipeline can persist it next to the counters.

Only a bounded history is read: fine buckets of the last ``max(windows, cooldown)`` seconds and hourly
counts for the previous ``season_days`` days (:func:`history_range`, as day items: :func:`days_needed`).
A ``shape_floor`` keeps any hour's expectation at or above that fraction of the daily mean (products: a
busy key's near-empty night makes its morning ramp look like a burst otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

HOUR = 3600
DAY = 24 * HOUR
HOURS_PER_DAY = 24

BRAND_KEY = "brand"
EXCLUDED_TOPICS = frozenset({"other", ""})


def key_kind(key: str) -> str:
    """``brand``, ``product`` or ``topic``."""
    if key == BRAND_KEY:
        return "brand"
    kind, sep, _ = key.partition(":")
    if not sep or kind not in ("product", "topic"):
        raise ValueError(f"not a surge key: {key!r}")
    return kind


def keys_for(*, product: str | None, topic: str | None, complaint: bool) -> list[str]:
    """The counters one mention increments (see the module docstring for why)."""
    keys = [BRAND_KEY]
    if complaint:
        name = (product or "").strip().lower()
        if name:
            keys.append(f"product:{name}")
        t = (topic or "").strip().lower()
        if t not in EXCLUDED_TOPICS:
            keys.append(f"topic:{t}")
    return keys


@dataclass(frozen=True)
class SurgeConfig:
    """Detector parameters. Times in seconds; ``windows`` and ``cooldown_seconds`` multiples of the bucket."""

    bucket_seconds: int = 300
    windows: tuple[int, ...] = (900, 1800, 3600)
    recent_hours: int = 12
    season_days: int = 7
    min_history_hours: int = 24
    alpha: float = 1e-4
    min_count: int = 4
    min_ratio: float = 2.0
    overdispersion: float = 0.05
    level_prior: float = 0.5
    level_prior_counts: float = 20.0
    spike_cap_ratio: float = 4.0
    spike_cap_min: int = 3
    shape_prior: float = 10.0
    exit_ratio: float = 1.5
    cooldown_seconds: int = 3600
    shape_floor: float = 0.0  # no hour of the day is expected below this fraction of the daily mean

    def __post_init__(self) -> None:
        if self.bucket_seconds <= 0 or HOUR % self.bucket_seconds:
            raise ValueError("bucket_seconds must divide an hour")
        for w in (*self.windows, self.cooldown_seconds):
            if w <= 0 or w % self.bucket_seconds:
                raise ValueError("windows and cooldown must be positive multiples of bucket_seconds")
        if not self.windows:
            raise ValueError("at least one window")


DEFAULT_CONFIGS: dict[str, SurgeConfig] = {
    # Every mention counts: high volume, and real streams are bursty (retweet storms, threads), hence the
    # per-bucket spike cap. The windows stop at 30 minutes, the target's horizon: the baseline then ends one
    # hour before now instead of two, closer to the stream's current level. A tripling is clear within 15-30
    # minutes at ~50+ mentions an hour; at 5-25 an hour real streams have 3-9x surges of their own every
    # few days (storms, a viral post), so a tripling there is either missed or they all alert (README). The
    # minimum of 20 in the window keeps a busy thread of a dozen tweets on a quiet brand from being a crisis.
    "brand": SurgeConfig(windows=(900, 1800), alpha=1e-4, min_count=20, min_ratio=2.0, spike_cap_min=3),
    # Sparse complaint counters. The windows run from 10 to 60 minutes: windows are whole buckets ending
    # with the current one, so the 20-minute window still holds a burst's first complaint 15 minutes in.
    # Three complaints can fire, but only where the strict tail (1e-5: five windows are scanned at every
    # complaint) allows it, i.e. on a near-silent product (a baseline of about 0.2 an hour or less);
    # busier ones need four to six. Twelve complaints spread at random
    # over 45 minutes put about four in the first 15, often only two or three: a minimum of four misses
    # a third of them. Ratio 6 keeps busy keys' real 4x-6x wobble quiet. The shape floor (no hour
    # of the day expected under 0.4x the daily mean) stops the night/morning ramp of a busy key from
    # looking like a burst when the learnt night rate is near zero.
    "product": SurgeConfig(
        windows=(600, 900, 1200, 1800, 3600),
        alpha=1e-5,
        min_count=3,
        min_ratio=6.0,
        spike_cap_min=2,
        shape_floor=0.4,
    ),
    "topic": SurgeConfig(alpha=1e-5, min_count=5, min_ratio=3.0, spike_cap_min=2),
}


def config_for(key: str, configs: Mapping[str, SurgeConfig] | None = None) -> SurgeConfig:
    return (configs or DEFAULT_CONFIGS)[key_kind(key)]


def bucket_start(ts: float, bucket_seconds: int = 300) -> int:
    """Start (epoch seconds) of the bucket holding ``ts``: the sort key of the counter item to ``ADD`` to."""
    return int(math.floor(ts / bucket_seconds)) * bucket_seconds


def hour_start(ts: float) -> int:
    return int(math.floor(ts / HOUR)) * HOUR


def day_start(ts: float) -> int:
    return int(math.floor(ts / DAY)) * DAY


def day_of(ts: float) -> str:
    """UTC day ``YYYY-MM-DD`` of ``ts``: the sort key of the (key, day) counter item."""
    return datetime.fromtimestamp(day_start(ts), tz=timezone.utc).strftime("%Y-%m-%d")


def _day_epoch(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


def counter_fields(ts: float, bucket_seconds: int = 300) -> tuple[str, str]:
    """The two number attributes of the day item that a mention at ``ts`` increments: ``("h13", "f157")``
    = hour of the UTC day and index of the ``bucket_seconds`` bucket within the day."""
    in_day = ts - day_start(ts)
    return f"h{int(in_day // HOUR)}", f"f{int(in_day // bucket_seconds)}"


def days_needed(now: float, config: SurgeConfig) -> list[str]:
    """The UTC days (oldest first) whose counter items an evaluation at ``now`` reads: they cover
    :func:`history_range` (fine buckets of the test windows and cooldown, hours of the season)."""
    (fine_start, fine_end), (h_start, h_end) = history_range(now, config)
    first = min(fine_start, h_start)
    last = max(fine_end, h_end) - 1
    return [day_of(d) for d in range(day_start(first), day_start(last) + DAY, DAY)]


# -- Live counting: which event times a batch counts, and when it is evaluated ---------------------------------
# Offline (``detect-surges``, ``make eval``) time is the stream's. Live, an event time is what a platform (or a
# caller) says, and it can be anything a date can be: year 1 would make the history range start before the
# calendar does, year 9999 would move every evaluation to the far future and count into buckets the real clock
# reaches later. The pipeline counts only times within this window around its own clock, and evaluates at the
# batch's latest event time but never after now.
OBSERVATION_MAX_AGE = 20 * 365 * DAY  # older than any platform we take: a date error, not a late delivery
OBSERVATION_MAX_LEAD = 15 * 60  # platforms' clocks run a little ahead; further is a date error


def countable(at: float, now: float) -> bool:
    return now - OBSERVATION_MAX_AGE <= at <= now + OBSERVATION_MAX_LEAD


def evaluation_time(times: Iterable[float], now: float) -> float:
    """When a live batch is evaluated: its latest event time, clamped to ``now``."""
    return min(max(times), now)


class BucketCounts:
    """Read model of one key's counters: fine buckets and (optionally) hourly roll-ups.

    ``fine`` maps bucket start → count; ``hourly`` maps hour start → count. When ``hourly`` is ``None``
    the hours are summed from ``fine`` (a store may keep fine buckets only). Missing buckets count 0.
    """

    __slots__ = ("bucket_seconds", "fine", "hourly")

    def __init__(
        self,
        fine: Mapping[int, int] | None = None,
        hourly: Mapping[int, int] | None = None,
        *,
        bucket_seconds: int = 300,
    ) -> None:
        self.bucket_seconds = bucket_seconds
        self.fine: Mapping[int, int] = fine if fine is not None else {}
        self.hourly: Mapping[int, int] | None = hourly

    @classmethod
    def from_timestamps(cls, timestamps: Iterable[float], *, bucket_seconds: int = 300) -> BucketCounts:
        counts = cls({}, {}, bucket_seconds=bucket_seconds)
        for ts in timestamps:
            counts.add(ts)
        return counts

    @classmethod
    def from_day_items(
        cls, items: Iterable[Mapping[str, object]], *, bucket_seconds: int = 300
    ) -> BucketCounts:
        """Read model from the per-(key, day) counter items: ``{"day": "YYYY-MM-DD", "h13": 4, "f157": 2,
        ...}`` (values int or ``Decimal``, as DynamoDB returns them; other attributes are ignored). Days not
        given count zero, so pass at least :func:`days_needed`."""
        fine: dict[int, int] = {}
        hourly: dict[int, int] = {}
        per_day = DAY // bucket_seconds
        for item in items:
            day = item.get("day")
            if not isinstance(day, str):
                raise ValueError(f"counter item without a day: {item!r}")
            base = _day_epoch(day)
            for name, value in item.items():
                if len(name) < 2 or name[0] not in "hf" or not name[1:].isdigit():
                    continue
                idx = int(name[1:])
                n = int(value)  # type: ignore[call-overload]
                if not n:
                    continue
                if name[0] == "h":
                    if idx >= HOURS_PER_DAY:
                        raise ValueError(f"bad hour field {name!r} in {day}")
                    hourly[base + idx * HOUR] = hourly.get(base + idx * HOUR, 0) + n
                else:
                    if idx >= per_day:
                        raise ValueError(f"bad bucket field {name!r} in {day}")
                    fine[base + idx * bucket_seconds] = fine.get(base + idx * bucket_seconds, 0) + n
        return cls(fine, hourly, bucket_seconds=bucket_seconds)

    def add(self, ts: float, n: int = 1) -> None:
        """In-memory counterpart of the pipeline's atomic ``ADD`` (needs mutable mappings)."""
        fine = self.fine
        assert isinstance(fine, MutableMapping)
        b = bucket_start(ts, self.bucket_seconds)
        fine[b] = fine.get(b, 0) + n
        if self.hourly is not None:
            hourly = self.hourly
            assert isinstance(hourly, MutableMapping)
            h = hour_start(ts)
            hourly[h] = hourly.get(h, 0) + n

    def bucket(self, start: int) -> int:
        return self.fine.get(start, 0)

    def hour(self, start: int) -> int:
        if self.hourly is not None:
            return self.hourly.get(start, 0)
        get = self.fine.get
        return sum(get(b, 0) for b in range(start, start + HOUR, self.bucket_seconds))

    def window(self, start: int, end: int) -> int:
        """Sum of the fine buckets starting in ``[start, end)``."""
        get = self.fine.get
        return sum(get(b, 0) for b in range(start, end, self.bucket_seconds))

    def window_capped(self, start: int, end: int, cap: float) -> int:
        """Like :meth:`window`, each bucket counting at most ``cap``."""
        get = self.fine.get
        return sum(min(get(b, 0), int(cap)) for b in range(start, end, self.bucket_seconds))


@dataclass(frozen=True)
class SurgeState:
    """What the detector remembers per key between evaluations (persist it with the counters)."""

    active: bool = False
    fired_at: float | None = None
    level_at_fire: float = 0.0  # expected mentions/hour (daily mean) just before the surge

    def to_dict(self) -> dict[str, object]:
        return {"active": self.active, "fired_at": self.fired_at, "level_at_fire": self.level_at_fire}

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> SurgeState:
        if not data:
            return cls()
        fired = data.get("fired_at")
        return cls(
            active=bool(data.get("active", False)),
            fired_at=float(fired) if isinstance(fired, (int, float)) else None,
            level_at_fire=float(data.get("level_at_fire", 0.0) or 0.0),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SurgeAlert:
    key: str
    detected_at: float
    window_start: float
    count: int
    baseline: float  # expected count in the window
    p_value: float = field(default=1.0, compare=False)

    def to_json(self) -> dict[str, object]:
        """The contract's alert line: ``{"key", "detected_at", "window_start", "count", "baseline"}``."""
        return {
            "key": self.key,
            "detected_at": iso(self.detected_at),
            "window_start": iso(self.window_start),
            "count": self.count,
            "baseline": round(self.baseline, 3),
        }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Baseline:
    """The fitted expectation: daily shape (24 values, mean 1), mean hourly level and its support."""

    shape: tuple[float, ...]
    level: float
    support: float  # counts behind the level (for its uncertainty)
    history_hours: float

    def expected(self, start: float, end: float) -> float:
        """Expected count in ``[start, end)`` (integrates the shape hour by hour)."""
        total = 0.0
        t = start
        while t < end:
            h_end = min(end, hour_start(t) + HOUR)
            total += self.shape[int(t // HOUR) % HOURS_PER_DAY] * (h_end - t)
            t = h_end
        return self.level * total / HOUR


FLAT_SHAPE: tuple[float, ...] = (1.0,) * HOURS_PER_DAY


def history_range(now: float, config: SurgeConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    """What the store must read for an evaluation at ``now``: ``((fine_start, fine_end), (hour_start,
    hour_end))`` as half-open ranges of bucket / hour starts."""
    end = bucket_start(now, config.bucket_seconds) + config.bucket_seconds
    fine_start = end - max(*config.windows, config.cooldown_seconds)
    h_end = hour_start(end - max(config.windows))
    return (fine_start, end), (h_end - config.season_days * DAY, h_end)


def daily_shape(
    counts: BucketCounts,
    end_hour: int,
    config: SurgeConfig,
    *,
    data_start: float | None = None,
    reference_shape: Sequence[float] | None = None,
) -> tuple[tuple[float, ...], list[int], int]:
    """Daily shape from the ``season_days`` days of whole hours before ``end_hour``.

    Returns the shape and the hourly counts (oldest first) and the first hour used, for the level.
    """
    first = end_hour - config.season_days * DAY
    if data_start is not None:
        first = max(first, hour_start(data_start + HOUR - 1))  # first whole hour of data
    hours = list(range(first, end_hour, HOUR))
    values = [counts.hour(h) for h in hours]
    c = [0.0] * HOURS_PER_DAY
    e = [0.0] * HOURS_PER_DAY
    for h, v in zip(hours, values):
        hod = (h // HOUR) % HOURS_PER_DAY
        c[hod] += v
        e[hod] += 1.0
    ref = tuple(reference_shape) if reference_shape is not None else FLAT_SHAPE
    total_c = sum(c)
    total_e = sum(e)
    if total_e == 0 or total_c == 0:
        return ref, values, first
    mean_rate = total_c / total_e
    beta = config.shape_prior
    prior_exposure = beta / mean_rate
    rates = [(c[i] + beta * ref[i]) / (e[i] + prior_exposure) for i in range(HOURS_PER_DAY)]
    smooth = [
        (rates[i - 1] + 2.0 * rates[i] + rates[(i + 1) % HOURS_PER_DAY]) / 4.0 for i in range(HOURS_PER_DAY)
    ]
    m = sum(smooth) / HOURS_PER_DAY
    if m <= 0:
        return ref, values, first
    return tuple(x / m for x in smooth), values, first


def baseline_end_hour(now: float, config: SurgeConfig) -> int:
    """Where a key's baseline history ends at ``now``: the last whole hour before its longest test window."""
    end = bucket_start(now, config.bucket_seconds) + config.bucket_seconds
    return hour_start(end - max(config.windows))


def brand_reference_shape(
    brand_counts: BucketCounts,
    now: float,
    config: SurgeConfig,
    brand_config: SurgeConfig,
    *,
    data_start: float | None = None,
) -> tuple[float, ...]:
    """The brand's daily shape as a key with ``config`` borrows it at ``now``: learnt from the brand's hours
    before that key's own baseline ends, so it changes exactly when the key's baseline does (the pipeline,
    which refits every batch, and the offline detector, which refits hourly, then agree)."""
    return daily_shape(brand_counts, baseline_end_hour(now, config), brand_config, data_start=data_start)[0]


def fit_baseline(
    counts: BucketCounts,
    now: float,
    config: SurgeConfig,
    *,
    data_start: float | None = None,
    reference_shape: Sequence[float] | None = None,
) -> Baseline:
    """Fit shape and level from the history before the longest test window (see module docstring)."""
    end_hour = baseline_end_hour(now, config)
    shape, values, first = daily_shape(
        counts, end_hour, config, data_start=data_start, reference_shape=reference_shape
    )
    if config.shape_floor > 0:
        floored = [max(x, config.shape_floor) for x in shape]
        m = sum(floored) / HOURS_PER_DAY
        shape = tuple(x / m for x in floored)
    n_hours = len(values)
    if n_hours == 0:
        return Baseline(shape, 0.0, 0.0, 0.0)
    hods = [((first + i * HOUR) // HOUR) % HOURS_PER_DAY for i in range(n_hours)]
    # long level over all the days (a prior), updated by the recent hours: a gamma-Poisson posterior mean
    # with the long level as prior mean and ``level_prior_counts`` pseudo-counts of weight. A busy key
    # follows its recent level; a sparse one stays on its long level instead of chasing noise.
    n_long = float(sum(values))
    s_long = sum(shape[h] for h in hods)
    level_long = (n_long + config.level_prior) / s_long
    k = min(config.recent_hours, n_hours)
    n_recent = float(sum(values[-k:]))
    s_recent = sum(shape[h] for h in hods[-k:])
    prior_hours = config.level_prior_counts / level_long
    level = (n_recent + config.level_prior_counts) / (s_recent + prior_hours)
    return Baseline(shape, level, n_recent + config.level_prior_counts, float(n_hours))


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


def _size(support: float, config: SurgeConfig) -> float:
    inv = 1.0 / (support + 1.0) + config.overdispersion
    return 1.0 / inv


def evaluate(
    key: str,
    counts: BucketCounts,
    now: float,
    state: SurgeState | None = None,
    config: SurgeConfig | None = None,
    *,
    data_start: float | None = None,
    reference_shape: Sequence[float] | None = None,
    baseline: Baseline | None = None,
) -> tuple[SurgeAlert | None, SurgeState]:
    """Decide at event time ``now`` whether ``key`` is surging; returns ``(alert or None, new state)``.

    ``counts`` must hold every mention up to ``now`` (and none after). ``data_start``: when counting began
    (history before it is unknown, not zero). ``reference_shape``: a daily shape to fall back on for sparse
    keys (the brand's). ``baseline``: a precomputed :func:`fit_baseline` result (it only changes hourly).
    """
    config = config or config_for(key)
    state = state or SurgeState()
    b = config.bucket_seconds
    end = bucket_start(now, b) + b
    if baseline is None:
        baseline = fit_baseline(counts, now, config, data_start=data_start, reference_shape=reference_shape)

    if state.active:
        fired_at = state.fired_at if state.fired_at is not None else now
        start = end - config.cooldown_seconds
        c = counts.window(start, end)
        mu = baseline.expected(start, now)
        if now - fired_at < config.recent_hours * HOUR:
            pre = replace(baseline, level=state.level_at_fire)
            mu = max(mu, pre.expected(start, now))
        subsided = now - fired_at >= config.cooldown_seconds and (
            c < config.min_count or c <= config.exit_ratio * mu
        )
        if not subsided:
            return None, state
        state = SurgeState()

    if baseline.history_hours < config.min_history_hours:
        return None, state

    size = _size(baseline.support, config)
    best: SurgeAlert | None = None
    for w in config.windows:
        start = end - w
        c = counts.window(start, end)
        if c < config.min_count:
            continue
        mu = baseline.expected(start, now)
        # a spike inside one bucket (a retweet storm, one user posting ten times) is not a surge of the
        # key: each bucket counts at most spike_cap_ratio times its expectation (and spike_cap_min)
        cap = max(config.spike_cap_ratio * mu * b / max(now - start, b), config.spike_cap_min)
        c = counts.window_capped(start, end, cap)
        if c < config.min_count:
            continue
        if c < config.min_ratio * mu:
            continue
        p = nb_tail(c, mu, size)
        if p <= config.alpha and (best is None or p < best.p_value):
            best = SurgeAlert(key, now, float(start), c, mu, p)
    if best is None:
        return None, state
    return best, SurgeState(active=True, fired_at=now, level_at_fire=baseline.level)


class SurgeDetector:
    """In-memory, event-time detector for offline streams: keeps counters, states and baselines per key.

    ``observe(ts, keys)`` counts one mention under each key and evaluates those keys at ``ts``. Mentions
    must arrive in (roughly) time order; ``now`` never goes backwards. Product and topic keys borrow the
    brand key's daily shape.
    """

    def __init__(
        self,
        configs: Mapping[str, SurgeConfig] | None = None,
        *,
        data_start: float | None = None,
    ) -> None:
        self.configs = dict(configs or DEFAULT_CONFIGS)
        self.data_start = data_start
        self.counts: dict[str, BucketCounts] = {}
        self.states: dict[str, SurgeState] = {}
        self._baselines: dict[str, tuple[int, Baseline]] = {}
        self.now: float | None = None

    def _counts(self, key: str) -> BucketCounts:
        bc = self.counts.get(key)
        if bc is None:
            bc = BucketCounts({}, {}, bucket_seconds=self.configs[key_kind(key)].bucket_seconds)
            self.counts[key] = bc
        return bc

    def _baseline(self, key: str, now: float) -> Baseline:
        config = self.configs[key_kind(key)]
        end_hour = baseline_end_hour(now, config)
        cached = self._baselines.get(key)
        if cached is not None and cached[0] == end_hour:
            return cached[1]
        ref = None
        if key != BRAND_KEY and BRAND_KEY in self.counts:
            ref = brand_reference_shape(self.counts[BRAND_KEY], now, config, self.configs[BRAND_KEY],
                                        data_start=self.data_start)
        bl = fit_baseline(self._counts(key), now, config, data_start=self.data_start, reference_shape=ref)
        self._baselines[key] = (end_hour, bl)
        return bl

    def observe(self, ts: float, keys: Iterable[str], *, evaluate_keys: bool = True) -> list[SurgeAlert]:
        if self.data_start is None:
            self.data_start = ts
        now = ts if self.now is None else max(self.now, ts)
        self.now = now
        keys = list(keys)
        for key in keys:
            self._counts(key).add(ts)
        if not evaluate_keys:
            return []
        alerts: list[SurgeAlert] = []
        for key in keys:
            alert, state = evaluate(
                key,
                self.counts[key],
                now,
                self.states.get(key),
                self.configs[key_kind(key)],
                data_start=self.data_start,
                baseline=self._baseline(key, now),
            )
            self.states[key] = state
            if alert is not None:
                alerts.append(alert)
        return alerts
