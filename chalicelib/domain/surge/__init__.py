"""Streaming surge detection over per-key time-bucket counters: pure, typed, no I/O.

Modules: :mod:`.keys` (what is counted), :mod:`.counts` (counters, time buckets, what a live batch counts),
:mod:`.config` (parameters per kind of key, the history an evaluation reads), :mod:`.baseline` (the one
baseline fit, with each key's own dispersion and calibrated threshold) and :mod:`.detector` (the test, and the
offline detector). The pipeline (:mod:`chalicelib.services.surges`) and ``detect-surges`` both fit with
:func:`fit_key_baseline` and test with :func:`evaluate`, so they give the same alerts.

What is counted
---------------
* ``brand``: **every** mention. A brand-wide surge is a surge of *volume*, independent of the text model's
  mistakes; a sudden pile-on is worth a look whatever its tone.
* ``product:<name>``: **complaints** about that product only (product volume follows launches, sales and
  seasons; complaints are rarer, so a small burst of them stands out).
* ``topic:<name>``: complaints of that topic (``delivery``, ``billing_refunds`` ...), except ``other``.

Counters live in buckets of ``bucket_seconds`` (5 min) plus hourly roll-ups; live, in DynamoDB items per
day (hourly counts) and per hour (5-minute counts), written by atomic ``ADD``s per batch and spread over
write shards; offline, :class:`SurgeDetector` keeps the same counts in memory.

The maths
---------
Expected rate, time-of-day aware: ``rate(t) = L * s(hour_of_day(t))``, ``s`` a daily shape with mean 1 and
``L`` the key's mean hourly level.

* **Shape** ``s``: counts per hour of day over the previous ``season_days`` days (two weeks), shrunk towards a
  prior shape by ``shape_prior`` pseudo-counts, smoothed over neighbouring hours, normalised to mean 1. The prior:
  products and topics borrow the brand's shape (too sparse for their own); the brand shrinks towards a smooth daily
  cycle fitted to its own hours (``shape_harmonics`` harmonics, refitted with bursts capped, so a young key knows
  its quiet hours from its first day), and no hour is expected under ``shape_floor`` times the daily mean (a flat
  day only with ``shape_harmonics`` 0).
* **Level** ``L``: a gamma-Poisson posterior mean: the long level is the prior (``level_prior_counts``
  pseudo-counts), updated by the last ``recent_hours`` hours. History ends at the last whole hour before the
  longest test window, so the surge being tested never inflates its own baseline.
* **Burstiness, per key**: the key's own extra-Poisson variance, a method-of-moments negative-binomial
  dispersion ``phi`` of its past hourly counts around what each hour expected (shape times that day's level),
  at least ``overdispersion``. A few days of history understate it (the shape and day levels were fitted on the
  same hours), so it is shrunk towards ``dispersion_prior`` with the weight of ``dispersion_prior_hours`` hours:
  until a key has history of its own it is taken to be as bursty as a typical stream. A window count is tested
  against a negative binomial of mean ``mu`` and variance ``mu + mu**2 * (1/(n + 1) + phi)``: the level's
  uncertainty from ``n`` counts and the key's own bursts.
* **Threshold, per key, against the alert budget**: the test fires when ``P(X >= c) <= alpha``. ``alpha`` is at
  most the kind's value and is calibrated on the key's own history: every past hour is tested as the live test
  would have tested it then (its count against the level of the hours before it, times the shape; consecutive
  firing hours are one episode); when that replay raises more episodes than a key keeping ``alert_budget`` per
  two weeks (the plan's budget: 2 product, 3 brand alerts) raises in that history more likely than not (a Poisson
  count's median, never past the budget: a brand's first episode is
  allowed after 3.2 days, its third at two weeks), ``alpha`` moves
  ``calibration_margin`` below the first episode beyond that allowance (the live test slides its windows every
  five minutes, so it finds a burst sharper than clock hours show it). Windows shorter than the longest are held
  to ``alpha * (w / longest) ** short_window_exponent``: the history is hourly, and sub-hour windows wobble more
  (retweet waves). No fixed minimum volume: a quiet steady stream alerts on a clear tripling, and a bursty one,
  whose history holds bursts like it, does not cry wolf. ``min_count`` (3) only says three mentions out of
  nowhere are the least a story can be, and ``min_ratio`` that a 20 % rise at high volume is not a surge.
* **Windows** ``windows`` (whole buckets ending with the current one: brand 30 and 60 minutes, products 10 to
  60). Each 5-minute bucket counts at most ``spike_cap_ratio`` times its expectation (and at least
  ``spike_cap_min``): a one-bucket spike (a retweet storm) is not a surge; a real surge raises consecutive
  buckets.
* **Warm-up**: nothing fires until ``min_history_hours`` (a day) of counting since ``data_start``.
* **Once per surge**: :class:`SurgeState` records that a surge is active; nothing fires until the last hour's
  count is back under ``exit_ratio`` times what the baseline expects and ``cooldown_seconds`` have passed.
"""

from chalicelib.domain.surge.baseline import (
    FLAT_SHAPE,
    Baseline,
    brand_reference_shape,
    calibrate,
    causal_expectations,
    daily_shape,
    dispersion,
    fit_baseline,
    fit_key_baseline,
    nb_tail,
)
from chalicelib.domain.surge.config import (
    DEFAULT_CONFIGS,
    SurgeConfig,
    baseline_end_hour,
    config_for,
    configs_with_budget,
    days_needed,
    history_range,
)
from chalicelib.domain.surge.counts import (
    DAY,
    HOUR,
    HOURS_PER_DAY,
    OBSERVATION_MAX_AGE,
    OBSERVATION_MAX_LEAD,
    BucketCounts,
    Observation,
    bucket_start,
    countable,
    counter_fields,
    day_epoch,
    day_of,
    day_start,
    evaluation_time,
    hour_of,
    hour_start,
)
from chalicelib.domain.surge.detector import SurgeAlert, SurgeDetector, SurgeState, evaluate, iso
from chalicelib.domain.surge.keys import BRAND_KEY, EXCLUDED_TOPICS, KINDS, key_kind, keys_for

__all__ = [
    "BRAND_KEY",
    "DAY",
    "DEFAULT_CONFIGS",
    "EXCLUDED_TOPICS",
    "FLAT_SHAPE",
    "HOUR",
    "HOURS_PER_DAY",
    "KINDS",
    "OBSERVATION_MAX_AGE",
    "OBSERVATION_MAX_LEAD",
    "Baseline",
    "BucketCounts",
    "Observation",
    "SurgeAlert",
    "SurgeConfig",
    "SurgeDetector",
    "SurgeState",
    "baseline_end_hour",
    "brand_reference_shape",
    "bucket_start",
    "calibrate",
    "causal_expectations",
    "config_for",
    "configs_with_budget",
    "counter_fields",
    "countable",
    "daily_shape",
    "day_epoch",
    "day_of",
    "day_start",
    "days_needed",
    "dispersion",
    "evaluate",
    "evaluation_time",
    "fit_baseline",
    "fit_key_baseline",
    "history_range",
    "hour_of",
    "hour_start",
    "iso",
    "key_kind",
    "keys_for",
    "nb_tail",
]
