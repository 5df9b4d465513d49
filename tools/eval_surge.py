"""Evaluate the surge detector on real background streams with injected surges of known size and start.

Usage: ``.venv/bin/python -m tools.eval_surge [--seed 7] [--starts 10] [--signals model|labels] [--streams united,delta]
[--tripling typical|realized] [--no-write] [--set brand.alpha=0.002] [--paired] [--synthetic-parity even]``.
``--streams`` (substrings of stream names), fewer ``--starts`` and ``--set KIND.FIELD=VALUE`` (a detector setting
changed for the run, experiments only) are for iterating; the committed JSON is a full run (all streams, 10 starts,
the text model, the shipped settings).
``--paired`` draws each injected event before the check for a background alert nearby, so two detector variants
replay identical cases (the committed JSON keeps the earlier order: the check first); ``--synthetic-parity even``
runs only the synthetic seeds a setting may be chosen on. Both are for comparisons and never write the JSON.

``--signals model`` (default) labels complaints and topics with the shipped text model, as the product does;
``labels`` uses the data's human labels. ``summary_rows`` in the output are ``[what, measured, target]``
triples for the README's figure table.

Streams (from ``<repo>/../shared/data``; skipped with a message when absent), each replayed as it is (false
alerts per two weeks, unexplained ones against the budget of 2 product and 3 brand alerts) and with injected events
at its own volume (each replayed on its own, several seeded starts after two days of history):

* tuning (the detector's parameters were chosen on these): the airline tweets of 17-24 Feb 2015 as one brand whose
  products are the airlines (from 16:00 UTC on 17 Feb, when the collection really starts); United and US Airways
  each as a brand of its own;
* tuning only, made for it (issue 14, early-burst session): three CrisisLexT6 collections of eleven days (Alberta
  floods, Oklahoma tornado, West Texas explosion), each as one brand's stream as it is (25-45 mentions an hour) and
  thinned to a third (12-15 an hour): long streams whose history opens with a real burst, the young-key regime in
  which the calibration tightens a tail (the airline tuning streams never show it). A brand alert within a day of
  the crisis's onset is the crisis itself (explained);
* held out (never looked at while tuning): Southwest, Delta (its stream is mostly JetBlue's, as filed in the data)
  and Virgin America each as a brand; 5,000 Amazon reviews 2016-2018 as one brand whose products are the review's
  product names (dates only: each gets a time of day drawn from the airline stream's hourly profile).

Synthetic family (``synthetic`` in the JSON; generated, not real, reported apart): two weeks shaped like the outside
evaluator's case (about 10 mentions an hour, daily cycle peak/trough 4, weekends lower, day-to-day level variation
and hourly over-dispersion: plain Poisson and negative binomial), a handful of products, 48 seeds; per seed a brand
tripling in each placement band (day 1-2, 2-4, 4-8, 8-13.5: the detector's history is short at first) and three
product bursts on the quietest product, and unexplained alerts of the stream as generated (every alert counts).
``--synthetic-only`` runs it alone (iterating).

Complaints and topics come from the shipped text model (``--signals labels``: the data's human labels).
Injected: a product burst, 12 complaints at random times within 45 minutes about the stream's quietest product (a
brand's own stream: a product it never had); target alerted within 15 minutes. A brand tripling: for one hour,
twice the stream's mean volume at that hour of the day added (``--tripling realized``: twice that very hour's
volume, which in a quiet hour adds less than the brand's normal volume and is no tripling of it); target alerted
within the hour. Triplings are also reported by the hour's normal volume (under / at least 10 mentions an hour): at
2 mentions an hour a tripling is 6 against 2, which a brand's ordinary wobble reaches every few days, so no
threshold within the alert budget can catch it reliably.

Explained alerts (not counted against the budget): the collection artefacts named per stream, and a brand alert
whose window is one story: at least ``STORY_SHARE`` of its mentions (and ``STORY_MIN`` or more) share a run of
``STORY_WORDS`` words (a post quoted or retweeted by many: a pile-on, which a brand alert is for, whatever its
tone). The rule is mechanical and applies to every stream alike; raw alert counts are reported next to it.

Tuning and held-out: the detector's parameters are chosen on the tuning streams only. The held-out streams are
reported apart (``held_out``); the JSON's ``method`` says what was looked at.
Writes ``bench/results/eval_surge.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chalicelib.domain.surge import (  # noqa: E402
    DAY,
    DEFAULT_CONFIGS,
    HOUR,
    BucketCounts,
    SurgeAlert,
    SurgeConfig,
    SurgeDetector,
    fit_key_baseline,
    key_kind,
    keys_for,
)
from chalicelib.domain.surge.detector import iso  # noqa: E402

DATA = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "results" / "eval_surge.json"
CONFIGS: dict[str, SurgeConfig] = dict(DEFAULT_CONFIGS)  # what the replays use (a sweep may swap it)
STORY_WORDS = 4
STORY_SHARE = 0.3
STORY_MIN = 5
LOW_VOLUME_PER_HOUR = 10  # triplings reported apart below this normal hourly volume
# --paired: each case's injection is drawn before the background check (which depends on the detector), so two
# detector variants replay identical cases and the random draws never follow a variant's skips. Off by default:
# the committed JSON's figures come from the order below (the check first, the draw only for a case kept).
PAIRED = False
BURST_BOUND = 15 * 60  # a product burst is alerted within 15 minutes of its first complaint
TRIPLING_BOUND = HOUR  # a brand tripling for an hour is alerted while it lasts


@dataclass(frozen=True)
class M:
    ts: float
    text: str
    product: str | None
    complaint: bool
    topic: str

    def keys(self, with_product: bool = True) -> list[str]:
        return keys_for(product=self.product if with_product else None, topic=self.topic, complaint=self.complaint)


REASON_TOPIC = {
    "Customer Service Issue": "customer_service",
    "Flight Attendant Complaints": "customer_service",
    "longlines": "customer_service",
    "Late Flight": "delivery",
    "Cancelled Flight": "delivery",
    "Lost Luggage": "delivery",
    "Damaged Luggage": "product_quality",
    "Bad Flight": "product_quality",
    "Flight Booking Problems": "billing_refunds",
}

KEYWORDS = {
    "product_quality": ("broke", "broken", "defect", "stopped working", "quality", "battery", "screen", "slow"),
    "delivery": ("deliver", "shipping", "shipped", "arrive", "package"),
    "billing_refunds": ("refund", "charge", "price", "money", "return"),
    "customer_service": ("customer service", "support", "rude", "help"),
    "safety": ("fire", "burn", "hot", "unsafe", "danger"),
}


def keyword_topic(text: str) -> str:
    low = text.lower()
    for topic, words in KEYWORDS.items():
        if any(w in low for w in words):
            return topic
    return "other"


# The airline collection runs at about 4 tweets an hour until 16:00 UTC on 17 Feb 2015 and at 60-140 an hour
# from then on (hourly counts of Tweets.csv: 4, 3, 4, 3, 1, 4, 6, 10, 11, then 97, 140, 108): the hours before are
# a collection artefact, not a quiet morning, and a
# daily shape learnt from them makes the next morning look like a tripling. The stream starts there.
AIRLINE_COLLECTION_START = datetime(2015, 2, 17, 16, tzinfo=timezone.utc).timestamp()


def load_airline() -> list[tuple[M, str]]:
    out = []
    with open(DATA / "airline" / "Tweets.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            ts = datetime.strptime(r["tweet_created"], "%Y-%m-%d %H:%M:%S %z").timestamp()
            neg = r["airline_sentiment"] == "negative"
            topic = REASON_TOPIC.get(r["negativereason"], "other") if neg else "other"
            if ts >= AIRLINE_COLLECTION_START:
                out.append((M(ts, r["text"], r["airline"].strip().lower(), neg, topic), r["airline"]))
    out.sort(key=lambda x: x[0].ts)
    return out


def load_reviews(rng: random.Random, hour_weights: Sequence[float]) -> list[M]:
    out = []
    with open(DATA / "reviews" / "datafiniti_amazon_consumer_reviews.csv", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            day = datetime.strptime(r["reviews.date"][:10], "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
            hour = rng.choices(range(24), weights=hour_weights)[0]
            ts = day + hour * HOUR + rng.random() * HOUR
            text = f"{r['reviews.title']}. {r['reviews.text']}"
            rating = float(r["reviews.rating"] or 5)
            out.append(M(ts, text, r["name"].strip().lower(), rating <= 3, keyword_topic(text)))
    out.sort(key=lambda m: m.ts)
    return [m for m in out if m.ts >= datetime(2016, 5, 1, tzinfo=timezone.utc).timestamp()]


# CrisisLexT6 (tuning only): a 10,000-tweet sample of each crisis's keyword collection, timed by its tweet ids
# (snowflake: milliseconds since 2010-11-04 in the high bits). The three that run eleven days, each as a brand's
# stream whose history starts with a real burst (the crisis breaking a day in): the young-key regime the airline
# streams never show. Onsets (UTC) from the public record; a brand alert within a day of its crisis's onset is the
# crisis itself, explained. Oklahoma's collection thins to a few tweets an hour after 29 May 03:00: cut there.
CRISES: dict[str, tuple[str, datetime, datetime | None]] = {
    "Alberta floods": (
        "2013_Alberta_Floods",
        datetime(2013, 6, 21, 18, tzinfo=timezone.utc),
        None,
    ),
    "Oklahoma tornado": (
        "2013_Oklahoma_Tornado",
        datetime(2013, 5, 20, 19, 56, tzinfo=timezone.utc),
        datetime(2013, 5, 29, 3, tzinfo=timezone.utc),
    ),
    "West Texas explosion": (
        "2013_West_Texas_Explosion",
        datetime(2013, 4, 18, 0, 50, tzinfo=timezone.utc),
        None,
    ),
}
SNOWFLAKE_EPOCH_MS = 1288834974657


def load_crisis(folder: str, until: datetime | None) -> list[M]:
    path = DATA / "crisislex" / "CrisisLexT6" / folder / f"{folder}-ontopic_offtopic.csv"
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh, skipinitialspace=True):
            ts = ((int(r["tweet id"].strip("'")) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000
            if until is None or ts < until.timestamp():
                out.append(M(ts, r["tweet"], None, False, "other"))
    out.sort(key=lambda m: m.ts)
    return out


def thinned(stream: Sequence[M], keep: int, of: int) -> list[M]:
    """Every ``of``-th mention's ``keep`` first (by position): the same stream at a fraction of its volume."""
    return [m for i, m in enumerate(stream) if i % of < keep]


def _word_runs(text: str) -> set[str]:
    words = [
        w
        for w in text.lower().replace("\u201c", " ").replace("\u201d", " ").split()
        if w[0] not in "@#" and "://" not in w
    ]
    words = [w.strip(".,!?:;\"'()") for w in words]
    words = [w for w in words if w]
    return {" ".join(words[i : i + STORY_WORDS]) for i in range(len(words) - STORY_WORDS + 1)}


def one_story(stream: Sequence[M], alert: SurgeAlert) -> str | None:
    """``"one story: ..."`` when at least ``STORY_SHARE`` of the alert window's mentions share a run of
    ``STORY_WORDS`` words (a post quoted or retweeted by many), else ``None``. Brand alerts only."""
    if alert.key != "brand":
        return None
    texts = [m.text for m in stream if alert.window_start <= m.ts <= alert.detected_at]
    runs: Counter[str] = Counter(run for text in texts for run in _word_runs(text))
    if not runs:
        return None
    run, n = runs.most_common(1)[0]
    if n >= STORY_MIN and n >= STORY_SHARE * len(texts):
        return f"one story: '{run}' in {n} of {len(texts)} mentions"
    return None


def relabel(stream: list[M], analyze: Callable[[str], object]) -> list[M]:
    res = []
    for m in stream:
        s = analyze(m.text)
        res.append(replace(m, complaint=bool(s.complaint), topic=str(s.topic)))
    return res


def replay(
    stream: Sequence[M],
    *,
    configs: dict[str, SurgeConfig] | None = None,
    eval_from: float | None = None,
    eval_to: float | None = None,
    only_keys: set[str] | None = None,
    with_product: bool = True,
) -> list[SurgeAlert]:
    """Event-time replay. Outside ``[eval_from, eval_to]`` mentions are only counted (fast warm-up)."""
    det = SurgeDetector(configs or CONFIGS, data_start=stream[0].ts if stream else None)
    alerts: list[SurgeAlert] = []
    for m in stream:
        if eval_to is not None and m.ts > eval_to:
            break
        keys = m.keys(with_product)
        active = eval_from is None or m.ts >= eval_from
        if only_keys is not None and active:
            det.observe(m.ts, [k for k in keys if k not in only_keys], evaluate_keys=False)
            keys = [k for k in keys if k in only_keys]
        alerts.extend(det.observe(m.ts, keys, evaluate_keys=active))
    return alerts


def weeks(stream: Sequence[M]) -> float:
    return (stream[-1].ts - stream[0].ts) / (7 * DAY)


def false_alarms(
    name: str,
    stream: Sequence[M],
    explained: Callable[[SurgeAlert], str | None],
    configs: dict[str, SurgeConfig] | None = None,
    with_product: bool = True,
) -> dict[str, object]:
    alerts = replay(stream, configs=configs, with_product=with_product)
    w = weeks(stream)
    by_kind: Counter[str] = Counter()
    unexplained: Counter[str] = Counter()
    listed = []
    for a in alerts:
        kind = key_kind(a.key)
        by_kind[kind] += 1
        why = explained(a)
        if why is None:
            unexplained[kind] += 1
        listed.append({**a.to_json(), "explained_by": why})
    return {
        "stream": name,
        "weeks": round(w, 2),
        "mentions": len(stream),
        "alerts": dict(by_kind),
        "unexplained": dict(unexplained),
        "unexplained_per_week": {k: round(unexplained[k] / w, 2) for k in ("brand", "product", "topic")},
        "unexplained_per_2_weeks": {k: round(2 * unexplained[k] / w, 2) for k in ("brand", "product", "topic")},
        "alerts_per_2_weeks": {k: round(2 * by_kind[k] / w, 2) for k in ("brand", "product", "topic")},
        "alert_list": listed,
    }


def inject_and_detect(
    stream: list[M],
    injected: list[M],
    target: str,
    start: float,
    horizon: float,
    with_product: bool = True,
) -> tuple[float | None, int]:
    alerts = replay_around(sorted(stream + injected, key=lambda m: m.ts), target, start, with_product)
    hits = [a for a in alerts if a.key == target and start <= a.detected_at <= start + 6 * HOUR]
    first = [a for a in hits if a.detected_at <= start + horizon]
    delay = first[0].detected_at - start if first else None
    return delay, len(hits)


def replay_around(stream: Sequence[M], target: str, start: float, with_product: bool) -> list[SurgeAlert]:
    """``target``'s alerts from 3 hours before ``start`` to 6 hours after (earlier mentions only warm up)."""
    return replay(
        stream, eval_from=start - 3 * HOUR, eval_to=start + 6 * HOUR, only_keys={target}, with_product=with_product
    )


def background_hits(stream: list[M], target: str, start: float, with_product: bool = True) -> bool:
    alerts = replay_around(stream, target, start, with_product)
    return any(a.key == target and start - 2 * HOUR <= a.detected_at <= start + 6 * HOUR for a in alerts)


def pick_starts(rng: random.Random, stream: Sequence[M], n: int, warmup: float = DAY) -> list[float]:
    lo, hi = stream[0].ts + warmup, stream[-1].ts - 4 * HOUR
    return sorted(rng.uniform(lo, hi) for _ in range(n))


def summarize(delays: list[float | None], fires: list[int], bound: float) -> dict[str, object]:
    got = [d for d in delays if d is not None]
    within = [d for d in got if d <= bound]
    return {
        "n": len(delays),
        "detected": len(got),
        "detected_within_bound": len(within),
        "detection_rate": round(len(within) / len(delays), 3) if delays else None,
        "delay_median_min": round(statistics.median(got) / 60, 1) if got else None,
        "delay_max_min": round(max(got) / 60, 1) if got else None,
        "fired_more_than_once": sum(1 for f in fires if f > 1),
    }


def burst_mentions(rng: random.Random, pool: Sequence[M], start: float, product: str, spacing: str) -> list[M]:
    """A product burst's 12 complaints within 45 minutes of ``start`` (evenly spaced or at random times)."""
    if spacing == "even":
        offs = [i * 45 * 60 / 12 for i in range(12)]
    else:
        offs = sorted([0.0] + [rng.uniform(0, 45 * 60) for _ in range(11)])
    return [replace(rng.choice(pool), ts=start + o, product=product, complaint=True) for o in offs]


def tripling_mentions(rng: random.Random, stream: Sequence[M], start: float, vol: int) -> list[M]:
    """A brand tripling's mentions: ``2 * vol`` copies of the stream's mentions at random times in the hour."""
    return [replace(rng.choice(stream), ts=start + rng.uniform(0, HOUR)) for _ in range(2 * vol)]


def product_bursts(
    rng: random.Random,
    stream: list[M],
    product: str,
    pool: Sequence[M],
    starts: Sequence[float],
    spacing: str,
) -> dict[str, object]:
    target = f"product:{product}"
    delays: list[float | None] = []
    fires: list[int] = []
    skipped = 0
    for start in starts:
        drawn = burst_mentions(rng, pool, start, product, spacing) if PAIRED else None
        if background_hits(stream, target, start):
            skipped += 1
            continue
        inj = drawn if drawn is not None else burst_mentions(rng, pool, start, product, spacing)
        d, f = inject_and_detect(stream, inj, target, start, 15 * 60)
        delays.append(d)
        fires.append(f)
    res = summarize(delays, fires, 15 * 60)
    res["skipped_background_alert_nearby"] = skipped
    return res


def typical_hour_volume(stream: Sequence[M], start: float) -> float:
    """Mean volume of the clock hour ``[start, start+1h)`` over the stream's days (same time of day)."""
    vals = []
    t = start - 30 * DAY
    while t < stream[-1].ts:
        if t >= stream[0].ts and t + HOUR <= stream[-1].ts:
            vals.append(sum(1 for m in stream if t <= m.ts < t + HOUR))
        t += DAY
    return statistics.mean(vals) if vals else 0.0


def brand_triplings(
    rng: random.Random,
    stream: list[M],
    starts: Sequence[float],
    with_product: bool = True,
    typical: bool = True,
) -> dict[str, object]:
    """Triple one hour's volume: add twice the stream's mean volume at that time of day (``typical``) or twice the
    realized volume of that hour. An hour to which that adds nothing (a stream quieter than a mention an hour) is
    not a tripling and is skipped (counted)."""
    delays: list[float | None] = []
    fires: list[int] = []
    skipped = 0
    nothing_added = 0
    base_rates = []
    by_volume: dict[str, list[float | None]] = {"low": [], "high": []}
    by_expectation: dict[str, list[float | None]] = {"tripled_expectation": [], "less_than_tripled_expectation": []}
    over_expected = []
    tightened: dict[str, list[float | None]] = {"tail_calibrated_tighter": [], "tail_as_the_kind": []}
    for start in starts:
        in_hour = [m for m in stream if start <= m.ts < start + HOUR]
        vol = round(typical_hour_volume(stream, start)) if typical else len(in_hour)
        drawn = tripling_mentions(rng, stream, start, vol) if PAIRED and vol > 0 else None
        if background_hits(stream, "brand", start, with_product):
            skipped += 1
            continue
        if vol == 0:
            nothing_added += 1
            continue
        base_rates.append(vol)
        inj = drawn if drawn is not None else tripling_mentions(rng, stream, start, vol)
        d, f = inject_and_detect(stream, inj, "brand", start, TRIPLING_BOUND, with_product)
        delays.append(d)
        fires.append(f)
        by_volume["low" if vol < LOW_VOLUME_PER_HOUR else "high"].append(d)
        expected, alpha = detector_expectation(stream, start)
        tightened["tail_as_the_kind" if alpha >= CONFIGS["brand"].alpha else "tail_calibrated_tighter"].append(d)
        over_expected.append(2 * vol / max(expected, 1e-9))
        tripled = 2 * vol >= 2 * expected
        by_expectation["tripled_expectation" if tripled else "less_than_tripled_expectation"].append(d)
    res = summarize(delays, fires, TRIPLING_BOUND)
    res["skipped_background_alert_nearby"] = skipped
    res["skipped_nothing_to_add"] = nothing_added
    res["volume"] = "typical" if typical else "realized"
    for band, got in by_volume.items():
        within = [d for d in got if d is not None and d <= TRIPLING_BOUND]
        res[f"{band}_volume"] = {"n": len(got), "detected_within_bound": len(within)}
    res["hourly_volume_before_injection_median"] = statistics.median(base_rates) if base_rates else None
    # added / what the detector expected of that hour: 2 is a tripling of the stream's level at the time
    res["added_over_detector_expectation_median"] = (
        round(statistics.median(over_expected), 2) if over_expected else None
    )
    for band, got in (*by_expectation.items(), *tightened.items()):
        within = [d for d in got if d is not None and d <= TRIPLING_BOUND]
        res[band] = {"n": len(got), "detected_within_bound": len(within)}
    return res


def detector_expectation(stream: Sequence[M], start: float) -> tuple[float, float]:
    """What the detector's brand baseline, fitted on the history before ``start``, expects of ``[start, start+1h)``
    (a tripling at the stream's typical volume is less than a tripling of this on a day busier than usual), and the
    tail it tests at (below the kind's ``alpha`` when the key's own history made the calibration tighten it)."""
    counts = BucketCounts.from_timestamps([m.ts for m in stream if m.ts < start])
    now = start + HOUR - 1
    baseline = fit_key_baseline("brand", {"brand": counts}.get, now, CONFIGS, data_start=stream[0].ts)
    return baseline.expected(start, start + HOUR), baseline.alpha


def complaint_rate_per_hour(stream: Sequence[M], product: str) -> float:
    n = sum(1 for m in stream if m.complaint and m.product == product)
    return n / ((stream[-1].ts - stream[0].ts) / HOUR)


def _pct(r: dict[str, object]) -> str:
    rate = r.get("detection_rate")
    got = f"{round(100 * float(rate))}% of {r['n']}" if rate is not None else "n/a"  # type: ignore[arg-type]
    if r.get("delay_median_min") is not None:
        got += f", delay median {r['delay_median_min']} / max {r['delay_max_min']} min"
    high = r.get("high_volume")
    if isinstance(high, dict) and high.get("n"):
        got += f"; at ≥ {LOW_VOLUME_PER_HOUR}/h {high['detected_within_bound']} of {high['n']}"
    tripled = r.get("tripled_expectation")
    if isinstance(tripled, dict) and tripled.get("n"):
        got += f"; tripling what the detector expected {tripled['detected_within_bound']} of {tripled['n']}"
    tighter = r.get("tail_calibrated_tighter")
    if isinstance(tighter, dict) and tighter.get("n"):
        got += f"; tail calibrated tighter {tighter['detected_within_bound']} of {tighter['n']}"
    return got


def _pooled(rs: list[dict[str, object]]) -> dict[str, object]:
    n = sum(int(r["n"]) for r in rs)  # type: ignore[call-overload]
    hit = sum(int(r["detected_within_bound"]) for r in rs)  # type: ignore[call-overload]
    med = [float(r["delay_median_min"]) for r in rs if r.get("delay_median_min") is not None]  # type: ignore[arg-type]
    mx = [float(r["delay_max_min"]) for r in rs if r.get("delay_max_min") is not None]  # type: ignore[arg-type]
    pooled: dict[str, object] = {
        "n": n,
        "detected_within_bound": hit,
        "detection_rate": round(hit / n, 3) if n else None,
        "delay_median_min": round(statistics.median(med), 1) if med else None,
        "delay_max_min": max(mx) if mx else None,
    }
    for band in (
        "low_volume",
        "high_volume",
        "tripled_expectation",
        "less_than_tripled_expectation",
        "tail_calibrated_tighter",
        "tail_as_the_kind",
    ):
        parts = [r[band] for r in rs if band in r]
        if parts:
            bn = sum(int(b["n"]) for b in parts)  # type: ignore[index]
            bhit = sum(int(b["detected_within_bound"]) for b in parts)  # type: ignore[index]
            pooled[band] = {
                "n": bn,
                "detected_within_bound": bhit,
                "detection_rate": round(bhit / bn, 3) if bn else None,
            }
    return pooled


@dataclass
class Stream:
    """One real stream of the evaluation: its mentions, whether it tuned the detector, how its products are named."""

    name: str
    mentions: list[M]
    tuning: bool
    with_product: bool = True  # False: a single brand's stream (the airline is the brand, not a product)
    explained: Callable[[SurgeAlert], str | None] = lambda alert: None
    burst_product: str | None = None  # the quiet product the bursts hit (None: one never seen before)


def quietest_product(stream: Sequence[M], min_mentions: int = 20) -> str | None:
    """The product with the fewest complaints among those mentioned at least ``min_mentions`` times."""
    mentioned = Counter(m.product for m in stream if m.product)
    complaints = Counter(m.product for m in stream if m.product and m.complaint)
    busy = [p for p, n in mentioned.items() if n >= min_mentions]
    return min(busy, key=lambda p: (complaints[p], p)) if busy else None


def evaluate_stream(rng: random.Random, stream: Stream, starts: int, typical: bool = True) -> dict[str, object]:
    """False alerts of the stream as it is, then product bursts and brand triplings injected at its own volume."""
    mentions = stream.mentions

    def explained(alert: SurgeAlert) -> str | None:
        return stream.explained(alert) or one_story(mentions, alert)

    fa = false_alarms(stream.name, mentions, explained, with_product=stream.with_product)
    product = stream.burst_product or "brand-new gadget"
    pool = [m for m in mentions if m.complaint] or list(mentions)
    burst_starts = pick_starts(rng, mentions, starts, warmup=2 * DAY)
    if stream.with_product:
        bursts = product_bursts(rng, mentions, product, pool, burst_starts, "random")
    else:  # a single brand's stream: its complaints get a product name the brand never had before
        tagged = [replace(m, product=None) for m in mentions]
        bursts = product_bursts(rng, tagged, product, pool, burst_starts, "random")
    bursts["product"] = product
    bursts["baseline_complaints_per_hour"] = round(complaint_rate_per_hour(mentions, product), 2)
    triplings = brand_triplings(
        rng,
        mentions,
        pick_starts(rng, mentions, starts, warmup=2 * DAY),
        with_product=stream.with_product,
        typical=typical,
    )
    return {
        "stream": stream.name,
        "tuning": stream.tuning,
        "weeks": fa["weeks"],
        "mentions_per_hour": round(len(mentions) / max(1.0, (mentions[-1].ts - mentions[0].ts) / HOUR), 1),
        "false_alarms": fa,
        "product_burst": bursts,
        "brand_tripling": triplings,
    }


# --- Synthetic family shaped like the outside case (issue 14) ------------------------------------------------------
# The outside evaluator replays two weeks of a real brand's support stream (about 10 mentions an hour, a daily
# cycle) with injected events. No real stream of ours is that shape (ours are a week or less and burstier), so this
# family is made to it: generated, not real, and reported apart from the real streams.
SYNTH_DAYS = 14
SYNTH_LEVEL = 10.0  # mentions an hour, the two weeks' mean
SYNTH_PEAK_TROUGH = 4.0  # the daily cycle: peak hour over trough hour (support streams: 3-5)
SYNTH_PEAK_HOUR = 16  # UTC
SYNTH_WEEKEND = 0.8  # a weekend day's level relative to a weekday's
SYNTH_COMPLAINT_SHARE = 0.35
# A handful of products: the share of mentions naming each (the rest name none); bursts hit the quietest.
SYNTH_PRODUCTS = {"app": 0.30, "card": 0.20, "delivery": 0.12, "loyalty": 0.06, "gift-card": 0.015}
SYNTH_TOPICS = ("delivery", "customer_service", "billing_refunds", "other", "other")
# Settings: (name, day-to-day level sd (lognormal), hourly gamma-Poisson dispersion phi: var = mu + phi * mu**2)
SYNTH_SETTINGS: tuple[tuple[str, float, float], ...] = (
    ("Poisson, steady days", 0.10, 0.0),
    ("negative binomial phi 0.05", 0.15, 0.05),
    ("negative binomial phi 0.15", 0.20, 0.15),
)
# Where the injected events start, in days from the stream's first mention (a uniform time within the band): the
# detector needs min_history_hours of history, and its calibration tightens on short histories.
SYNTH_BANDS: tuple[tuple[str, float, float], ...] = (
    ("day 1-2", 1.0, 2.0),
    ("day 2-4", 2.0, 4.0),
    ("day 4-8", 4.0, 8.0),
    ("day 8-13.5", 8.0, 13.5),
)
SYNTH_T0 = datetime(2024, 3, 4, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC


def synth_shape(t: float) -> float:
    """The daily cycle (mean 1 over a day): a cosine whose peak hour is ``SYNTH_PEAK_TROUGH`` times its trough."""
    a = (SYNTH_PEAK_TROUGH - 1) / (SYNTH_PEAK_TROUGH + 1)
    return 1.0 + a * math.cos(2 * math.pi * ((t % DAY) / HOUR - SYNTH_PEAK_HOUR) / 24)


def synth_mean_rate(t: float) -> float:
    """The stream's mean volume (mentions an hour) at ``t``'s time of day: what a tripling adds twice of."""
    weekday = datetime.fromtimestamp(t, tz=timezone.utc).weekday()
    week_mean = (5 + 2 * SYNTH_WEEKEND) / 7
    return SYNTH_LEVEL * synth_shape(t) * (SYNTH_WEEKEND if weekday >= 5 else 1.0) / week_mean


def _poisson(rng: random.Random, mu: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; ``mu`` stays well under 100 here)."""
    limit, k, p = math.exp(-mu), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def synth_mention(rng: random.Random, ts: float, i: int) -> M:
    r = rng.random()
    product = None
    for name, share in SYNTH_PRODUCTS.items():
        if r < share:
            product = name
            break
        r -= share
    # text without a four-word run, so no alert here is ever explained as one story: every alert counts
    return M(ts, f"m{i}", product, rng.random() < SYNTH_COMPLAINT_SHARE, rng.choice(SYNTH_TOPICS))


def synth_stream(seed: int, day_sd: float, phi: float) -> list[M]:
    """Two weeks shaped like the outside case: each hour's count is Poisson around the daily cycle times that day's
    level (lognormal, ``day_sd``) times a gamma wobble of variance ``phi`` (plain Poisson at 0)."""
    rng = random.Random(seed)
    out: list[M] = []
    for d in range(SYNTH_DAYS):
        day_level = math.exp(rng.gauss(0.0, day_sd) - day_sd**2 / 2)
        for h in range(24):
            t = SYNTH_T0 + d * DAY + h * HOUR
            mu = day_level * synth_mean_rate(t + HOUR / 2)
            if phi > 0:
                mu *= rng.gammavariate(1 / phi, phi)
            out += [synth_mention(rng, t + rng.random() * HOUR, len(out)) for _ in range(_poisson(rng, mu))]
    out.sort(key=lambda m: m.ts)
    return out


def _band_of(start: float) -> str:
    day = (start - SYNTH_T0) / DAY
    return next((name for name, lo, hi in SYNTH_BANDS if lo <= day < hi), SYNTH_BANDS[-1][0])


def synthetic_family(seeds: int, seed: int = 7, parity: int | None = None) -> dict[str, object]:
    """The synthetic family's figures: per setting and placement band, and overall.

    Per seed (the settings take turns): the stream as it is (every alert unexplained: per two weeks, brand and
    product, against the budget); one brand tripling per placement band (twice the stream's mean volume at that hour
    of the day added for an hour; target alerted within it); three product bursts (12 complaints at random times
    within 45 minutes on the quietest product, at random placements from day 1; target alerted within 15 minutes).
    Same code path as the real streams (:func:`false_alarms`, :func:`inject_and_detect`, :func:`background_hits`).
    ``parity`` (0 or 1, iterating only): only the seeds of that parity (each seed's draws are its own)."""
    t0 = time.time()
    quiet = min(SYNTH_PRODUCTS, key=SYNTH_PRODUCTS.__getitem__)
    target = f"product:{quiet}"
    rows: list[dict[str, object]] = []
    fa_rows: list[dict[str, object]] = []
    for i in range(seeds):
        if parity is not None and i % 2 != parity:
            continue
        setting, day_sd, phi = SYNTH_SETTINGS[i % len(SYNTH_SETTINGS)]
        s = seed * 1000 + i
        rng = random.Random(s + 500_000)
        stream = synth_stream(s, day_sd, phi)
        fa = false_alarms(f"synthetic {s}", stream, lambda a: None)
        fa_rows.append(
            {"i": i, "setting": setting, "per_2_weeks": fa["unexplained_per_2_weeks"], "mentions": len(stream)}
        )
        pool = [m for m in stream if m.complaint]
        for band, lo, hi in SYNTH_BANDS:
            start = SYNTH_T0 + rng.uniform(lo, hi) * DAY
            vol = round(synth_mean_rate(start + HOUR / 2))
            drawn = tripling_mentions(rng, stream, start, vol) if PAIRED else None
            if background_hits(stream, "brand", start):
                rows.append({"i": i, "event": "tripling", "setting": setting, "band": band, "skipped": True})
                continue
            inj = drawn if drawn is not None else tripling_mentions(rng, stream, start, vol)
            d, _ = inject_and_detect(stream, inj, "brand", start, TRIPLING_BOUND)
            rows.append({"i": i, "event": "tripling", "setting": setting, "band": band, "delay": d, "volume": vol})
        for _ in range(3):
            start = SYNTH_T0 + rng.uniform(SYNTH_BANDS[0][1], SYNTH_BANDS[-1][2]) * DAY
            band = _band_of(start)
            drawn = burst_mentions(rng, pool, start, quiet, "random") if PAIRED else None
            if background_hits(stream, target, start):
                rows.append({"i": i, "event": "burst", "setting": setting, "band": band, "skipped": True})
                continue
            inj = drawn if drawn is not None else burst_mentions(rng, pool, start, quiet, "random")
            d, _ = inject_and_detect(stream, inj, target, start, BURST_BOUND)
            rows.append({"i": i, "event": "burst", "setting": setting, "band": band, "delay": d})

    def rates(event: str, bound: float, pick: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        chosen = [r for r in rows if r["event"] == event and pick(r)]
        delays: list[float | None] = [r["delay"] for r in chosen if not r.get("skipped")]  # type: ignore[misc]
        res = summarize(delays, [0] * len(delays), bound)
        del res["fired_more_than_once"]
        res["skipped_background_alert_nearby"] = sum(1 for r in chosen if r.get("skipped"))
        return res

    def alerts(pick: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        chosen = [f for f in fa_rows if pick(f)]
        out: dict[str, object] = {"streams": len(chosen)}
        for kind, budget in (("brand", 3.0), ("product", 2.0)):
            vals = [float(f["per_2_weeks"][kind]) for f in chosen]  # type: ignore[index]
            out[kind] = {
                "worst": max(vals, default=0.0),
                "mean": round(statistics.mean(vals), 2) if vals else None,
                "streams_over_budget": sum(1 for v in vals if v > budget),
            }
        return out

    every: Callable[[dict[str, object]], bool] = lambda r: True  # noqa: E731
    per_setting = {}
    for name, day_sd, phi in SYNTH_SETTINGS:
        of: Callable[[dict[str, object]], bool] = lambda r, n=name: r["setting"] == n  # type: ignore[misc]  # noqa: E731
        per_setting[name] = {
            "day_level_sd": day_sd,
            "hourly_dispersion": phi,
            "brand_tripling": rates("tripling", TRIPLING_BOUND, of),
            "product_burst": rates("burst", BURST_BOUND, of),
            "unexplained_per_2_weeks": alerts(of),
        }
    per_band = {
        name: {
            "brand_tripling": rates("tripling", TRIPLING_BOUND, lambda r, n=name: r["band"] == n),  # type: ignore[misc]
            "product_burst": rates("burst", BURST_BOUND, lambda r, n=name: r["band"] == n),  # type: ignore[misc]
        }
        for name, _, _ in SYNTH_BANDS
    }
    mentions = [int(f["mentions"]) for f in fa_rows]  # type: ignore[call-overload]
    return {
        "what": "synthetic, shaped like the outside case: two weeks at about 10 mentions an hour (daily cycle "
        f"peak/trough {SYNTH_PEAK_TROUGH:g}, weekends x{SYNTH_WEEKEND:g}, day-to-day level and hourly "
        f"over-dispersion per setting), products {SYNTH_PRODUCTS} of mentions, complaints "
        f"{SYNTH_COMPLAINT_SHARE:g}; bursts on '{quiet}'",
        "seeds": seeds,
        "mentions_per_hour": round(statistics.mean(mentions) / (SYNTH_DAYS * 24), 1) if mentions else None,
        "brand_tripling": rates("tripling", TRIPLING_BOUND, every),
        "brand_tripling_by_volume": {  # the hour's mean volume: under 10 a tripling is 3x of a few mentions
            f"under {LOW_VOLUME_PER_HOUR}/h": rates(
                "tripling",
                TRIPLING_BOUND,
                lambda r: r.get("volume", 0) < LOW_VOLUME_PER_HOUR,  # type: ignore[operator]
            ),
            f"at least {LOW_VOLUME_PER_HOUR}/h": rates(
                "tripling",
                TRIPLING_BOUND,
                lambda r: r.get("volume", 0) >= LOW_VOLUME_PER_HOUR,  # type: ignore[operator]
            ),
        },
        "product_burst": rates("burst", BURST_BOUND, every),
        "unexplained_per_2_weeks": alerts(every),
        "by_band": per_band,
        # even seeds: what a setting may be chosen on; odd seeds: reported
        "by_seed_parity": {
            parity: {
                "brand_tripling": rates("tripling", TRIPLING_BOUND, lambda r, p=p: int(r["i"]) % 2 == p),  # type: ignore[call-overload,misc]
                "product_burst": rates("burst", BURST_BOUND, lambda r, p=p: int(r["i"]) % 2 == p),  # type: ignore[call-overload,misc]
                "unexplained_per_2_weeks": alerts(lambda r, p=p: int(r["i"]) % 2 == p),  # type: ignore[call-overload,misc]
            }
            for parity, p in (("even", 0), ("odd", 1))
        },
        "by_setting": per_setting,
        "seconds": round(time.time() - t0, 1),
    }


def group_summary(per_stream: list[dict[str, object]], tuning: bool) -> dict[str, object]:
    chosen = [r for r in per_stream if r["tuning"] is tuning]
    fa = [r["false_alarms"] for r in chosen]
    return {
        "streams": [r["stream"] for r in chosen],
        "product_burst": _pooled([r["product_burst"] for r in chosen]),  # type: ignore[misc]
        "brand_tripling": _pooled([r["brand_tripling"] for r in chosen]),  # type: ignore[misc]
        "worst_alerts_per_2_weeks": {
            kind: max((float(f["alerts_per_2_weeks"][kind]) for f in fa), default=0.0)  # type: ignore[index]
            for kind in ("brand", "product", "topic")
        },
        "worst_unexplained_per_2_weeks": {
            kind: max((float(f["unexplained_per_2_weeks"][kind]) for f in fa), default=0.0)  # type: ignore[index]
            for kind in ("brand", "product", "topic")
        },
        "streams_within_budget": sum(
            1
            for f in fa
            if float(f["unexplained_per_2_weeks"]["brand"]) <= 3  # type: ignore[index]
            and float(f["unexplained_per_2_weeks"]["product"]) <= 2
        ),  # type: ignore[index]
    }


def summary_rows(results: dict[str, object], signals: str) -> list[list[str]]:
    """``[what, measured, target]`` string triples for the README's figure table: tuning and held-out streams
    apart, then each stream's false alerts."""
    sig = "text model" if signals == "model" else "human labels"
    rows: list[list[str]] = []
    for tag, group in (("tuning", results["tuning"]), ("held-out", results["held_out"])):
        g: dict[str, object] = group  # type: ignore[assignment]
        names = ", ".join(str(n) for n in g["streams"])  # type: ignore[attr-defined]
        rows.append(
            [
                f"Product burst (12 complaints at random times in 45 min) on a quiet product, {tag} streams "
                f"({names}), {sig}",
                _pct(g["product_burst"]),
                "alerted ≤ 15 min",
            ]
        )  # type: ignore[arg-type]
        rows.append(
            [
                f"Brand tripling for an hour at each stream's own volume (its mean at that hour), {tag} streams",
                _pct(g["brand_tripling"]),
                "alerted within the hour",
            ]
        )  # type: ignore[arg-type]
        worst: dict[str, float] = g["worst_unexplained_per_2_weeks"]  # type: ignore[assignment]
        rows.append(
            [
                f"Unexplained alerts per 2 weeks, worst {tag} stream without injections",
                f"brand {worst['brand']:g}, product {worst['product']:g}; {g['streams_within_budget']} of "
                f"{len(g['streams'])} streams within budget",  # type: ignore[arg-type]
                "brand ≤ 3, product ≤ 2",
            ]
        )
    synth = results.get("synthetic")
    if isinstance(synth, dict):
        rows += synthetic_rows(synth)
    for r in results["streams"]:  # type: ignore[attr-defined]
        fa = r["false_alarms"]
        u = fa["unexplained_per_2_weeks"]
        rows.append(
            [
                f"{r['stream']} ({'tuning' if r['tuning'] else 'held out'}, {r['mentions_per_hour']} mentions/h, "
                f"{fa['weeks']} wk)",
                f"burst {_pct(r['product_burst'])}; tripling {_pct(r['brand_tripling'])}; unexplained per 2 wk: "
                f"brand {u['brand']:g}, product {u['product']:g} "
                f"(all alerts: brand {fa['alerts_per_2_weeks']['brand']:g})",
                "≤ 15 min; within the hour; ≤ 3, ≤ 2",
            ]
        )
    return rows


METHOD = {
    "tuning": "The brand and product parameters (DEFAULT_CONFIGS) were swept on the tuning streams only: brand "
    "false alerts and triplings on airline (six as one brand), United and US Airways, 20-30 starts each.",
    "held_out": "Southwest, Delta, Virgin America and the reviews were not swept, but they are not untouched: in "
    "the issue 14 session their figures were printed in early sweeps and in three full runs (a 45-minute window "
    "added, then without it, each with the history's budget rounded up), and both raised 2-3 unexplained brand "
    "alerts on Southwest or Delta. The final choice to round the budget of a short history down (calibrate) was "
    "made after seeing that, so the held-out brand false-alert figures are not independent of the choice. The text "
    "of Delta's alerts was read; the one-story explanation rule came from its 23 Feb alert ('Our fleet's on fleek' "
    "quoted by dozens). The rule is mechanical and applies to every stream; raw alert counts are reported next to "
    "the unexplained ones.",
    "issue_14_item_2_session": "Swept on the tuning streams only (15 starts each, brand false alerts and triplings, "
    "product bursts): the brand dispersion prior (0.05, 0.07, 0.1 for 24 h, none: each added a second brand alert on "
    "US Airways or the airline, 3.9 per two weeks), the brand tail (2e-3: the same), the half-hour window's "
    "exponent (no change), the product tail (1e-4 doubled the airline's burst catches with the same alerts on the "
    "tuning streams but alerted on a synthetic quiet Poisson product in a unit test; 3e-4 quadrupled the airline's "
    "product alerts; kept at 1e-5), and the calibration's rounding of a short history's budget (no change: on the "
    "tuning streams the calibration never tightened the brand tail at a tripling's start; with the tail opened to "
    "1e-2 so that the calibration alone sets the threshold, United and US Airways each raised 2 brand alerts in a "
    "week, rounded down or to nearest). Kept: an episode of the calibration's replay lasts as the live surge state "
    "does (until an hour is back under exit_ratio times its expectation), chosen on the design, which changed no "
    "figure. The held-out streams were run after those choices, once with this code and once with the code "
    "before this session (the same figures); then their brand "
    "baselines at 12 tripling starts each (another seed) were printed to explain the gap (Delta's tail "
    "calibrated to 3e-6..2e-5 in its first four days, Southwest's to 3e-5..1.5e-4 at 8 of 12 starts, by bursts "
    "in their first days, against the 1e-3 the tuning streams keep). "
    "Nothing was changed after that.",
    "tripling": "Twice the stream's mean volume at that hour of the day is added for an hour (--tripling realized: "
    "twice that very hour's volume, the earlier definition, which adds less than the normal volume in a quiet "
    "hour). Reported also by the hour's normal volume (low: under LOW_VOLUME_PER_HOUR a hour), and by whether what was "
    "added is at least twice what the detector's baseline, fitted on the history before the start, expected of that "
    "hour (tripled_expectation): on a day busier than the stream's mean, twice the mean volume is no tripling. "
    "tail_calibrated_tighter: triplings at whose start the brand's calibration had tightened its tail below the "
    "kind's alpha (its own history held more episodes than its allowance).",
    "issue_14_young_keys_session": "Looked at the tuning streams only, and at copies made from them: United and US "
    "Airways thinned to a third and a sixth of their mentions (3-8 an hour), rotated by 2-4 whole days (so "
    "mid-week bursts fall in a young key's first days) and cropped to start 1-2 days later. On none of them did the "
    "calibration ever tighten the brand tail (1e-3 at every baseline, fitted every 6 hours), so there the misses "
    "are the test's power at 1e-3 (the tripled hour's tail 1e-3..1e-2 under about 8 mentions an hour): a tail of "
    "2e-3 or 3e-3 put thinned or rotated copies over budget (4-6 unexplained brand alerts per two weeks); the "
    "level over 24 recent hours, or with 60 or 200 prior counts, predicted the next hour no better on every "
    "stream than the current level and moved triplings within noise (kept). Changed on the design, not on a "
    "tuning figure (on the tuning streams it changes none): the calibration allows a history the median number "
    "of episodes a key keeping its budget raises in it (Poisson) instead of the floor of their mean, so one "
    "early burst no longer sets a brand's tail beyond any tripling after 3.2 days of history instead of 4.7 (at "
    "two weeks both are the budget). Held-out streams: run once, in the full run that wrote this file, after "
    "the change was committed; nothing was changed after it.",
    "issue_14_early_burst_session": "New tuning material, from data not in the held-out set: three CrisisLexT6 "
    "collections of eleven days (Alberta floods, Oklahoma tornado, West Texas explosion; timed by their tweet ids), "
    "each as it is and thinned to a third. With the code before this session they reproduce the held-out failure on "
    "tuning data: 9 of their triplings met a tail the calibration had tightened (0 caught), all in a history under "
    "four days that holds the crisis breaking (allowed no episode by the median). Looked at on the tuning streams "
    "only (airline three and CrisisLex six, 10 starts): the calibration's allowance at level 1/4 instead of the "
    "median (brand; tighten only on a history that is evidence against the budget, never past the budget): no "
    "tripling met a tightened tail, triplings 58 -> 59 % (the young keys' misses are then the test's power: the "
    "dispersion prior of 0.1 for four days), no unexplained alert added (kept); with it the brand tail at 3e-3 "
    "(triplings 72 %, but US Airways and West Texas 3.9 unexplained brand alerts per two weeks: over budget) or "
    "the dispersion prior at 0.05 (64 %, US Airways 3.9: over budget), both dropped. Product keys keep the median. "
    "Then the brand's burstiness measured around the live test's expectations (the level of the recent hours "
    "before each past hour, less that level's own uncertainty) instead of around each day's level, swept on the "
    "same tuning streams (10 starts): recent level over 3 hours (dispersion prior 0.05, tail 1e-3: triplings 78 % "
    "but United 3.9 and US Airways 5.9 unexplained brand alerts; tail 3e-4: 71 %, prior 0.03 76 %, tail 5e-4 74 %, "
    "all within budget) or 6 hours (tail 1e-3: 73 %, over budget; 3e-4: 75 %, within) - not shipped: a recent "
    "level under 12 hours breaks two existing tests (a flat shape's dispersion no longer five times the shaped "
    "one's; the plan-budget scenario's second product burst opens no Crisis at 3 hours); over 12 hours (kept): "
    "prior 0.05 with tail 1e-3 triplings 74 % but US Airways 3.9 (over), 3e-4 61 %, 5e-4 69 % within budget "
    "(kept: worst unexplained brand 1.96 per two weeks). Held-out streams: run once after that commit (f9f91b3): "
    "triplings 46 %, but Delta 5.87 and Southwest 3.91 unexplained brand alerts per two weeks, over the budget of "
    "3.",
    "issue_14_synthetic_family": "Added (issue 14, outside-case session): a synthetic family shaped like the "
    "outside evaluator's stream (see the module's docstring), reported by placement band. Its first full run, with "
    "the detector unchanged (real streams' figures as before): triplings 39 % of 187 (day 1-2 26 %, 2-4 40 %, 4-8 "
    "41 %, 8-13.5 48 %; Poisson 52 %, phi 0.05 41 %, phi 0.15 23 %), misses mostly at the daily trough (12 "
    "mentions against 4 expected is beyond a 1e-3 tail even for Poisson); bursts 93 % of 144; unexplained brand "
    "alerts worst 4 per two weeks (2 of 16 phi-0.15 streams over the budget of 3), product worst 2.",
    "issue_14_synthetic_sweep": "Looked at on the synthetic family (48 seeds) and the tuning streams (10 starts) "
    "only; none shipped, the held-out streams were not run with any of them. Brand shape prior 3 (a daily shape "
    "learnt faster from a young history): synthetic triplings 39 -> 47 % (day 1-2 26 -> 43 %) but tuning 69 -> 66 % "
    "and 2 synthetic streams still over the brand budget (worst 4.01); prior 5: 46 %, tuning 65 %, 3 over. The "
    "calibration's replay counting past hours at twice the tail (sliding windows find a burst sharper than clock "
    "hours): no figure moved (24 seeds). The brand tail loosened 3x (3e-3) once a key has 7 days of history and its "
    "replay at that tail stays within its allowance: triplings on days 8-13.5 48 -> 71 %, tuning 69 % unchanged, "
    "but 7 of 48 synthetic streams over the brand budget (phi 0.05 and 0.15); with the replay checked at 9e-3 "
    "before loosening: 65 % on days 8-13.5, 4 streams over. The clock-hour replay undercounts what the live "
    "sliding-window test raises, so a tail loosened on it breaks the budget.",
    "issue_14_after_held_out": "Choices made after seeing held-out results (so those streams no longer test "
    "them blind), because a Crisis opened by a false alert starts a PR and legal protocol and the budget is the "
    "plan's promise to its people. First the live-test burstiness (tail 5e-4, prior 0.05; setting since deleted) was "
    "switched off for the brand (tail 1e-3, prior 0.1); run once: the held-out figures did not move (triplings 46 %, "
    "Delta 5.87 and Southwest 3.91 unexplained brand alerts per two weeks), so the over-budget alerts came from the "
    "1/4 allowance. Then the brand's allowance went back to the median (as at 5233cee, whose held-out run was within "
    "budget, triplings 33 %); the full run that wrote this file is that configuration's one run.",
    "issue_14_sliding_replay_session": "Looked at on the tuning streams (airline three and CrisisLex six, 10 starts) "
    "and the synthetic family (48 seeds) only, with --set; the held-out streams were not run with any of it; nothing "
    "shipped (the detector is unchanged, and so is every figure of this file). The brand calibration's replay was "
    "made to replay the live test itself instead of clock hours (a prototype: every 5-minute bucket of the history "
    "holding a mention evaluated at its end, as a key is evaluated when a mention counts; both brand windows ending "
    "there, with the spike cap, min_count, min_ratio and the half hour's share of the tail, against the level the "
    "live baseline had then; episodes as the live state counts them: from a firing evaluation for at least the "
    "cooldown and until the last hour is back under exit_ratio times its expectation, at least at the level before "
    "the surge for recent_hours; nothing tested in the live warm-up). A unit test checked it against evaluate() "
    "itself: the tail it picks keeps evaluate's own alerts over the same history within the allowance, the next "
    "looser one does not. Brand, tail 1e-3 (as shipped): tuning triplings 69 -> 71 % of 85 (one more), bursts 83 % "
    "as before, 9 of 9 streams within budget; synthetic triplings 39 -> 40 % of 187, brand unexplained worst 4 on "
    "the same two phi-0.15 streams (counted over budget: 3, the third a stream with 3 alerts, 3.01 per two weeks "
    "of its slightly shorter span). The calibration margin (0.5 or 0.9) changed no figure: at a 1e-3 tail the "
    "calibration seldom binds (2 of 7 triplings met a tightened tail). Looser tails with the faithful replay, "
    "allowance as shipped (the median episodes of a key keeping its budget): 1.5e-3, tuning triplings 73 % but US "
    "Airways 3.91 unexplained brand alerts per two weeks (over budget), synthetic 48 % of 186 with 4 of 48 "
    "streams over the brand budget (worst 4.01); 3e-3 (margin 0.9), tuning "
    "75 %, US Airways 3.91, synthetic 60 % of 183 with 11 of 48 over (worst 6.01); 3e-3 with the allowance at "
    "half the budget, tuning 58 % (young crisis "
    "keys tightened), US Airways 3.91, synthetic 58 % of 184 but 9 of 48 streams over the brand budget (worst 6.01). "
    "Why a faithful replay does not buy a looser tail: the calibration holds a key's past to its allowance, but a "
    "short stream's first novel bursts are not in its history (US Airways' two alerts in one week), and a key held "
    "to the budget's median rate still exceeds the budget in about a third of two-week spans (Poisson mean 3: "
    "P(N >= 4) = 0.35); every stream within budget needs a tail well under that rate, which the kind's 1e-3 is. "
    "Pipeline cost, had it shipped: the day items hold hourly counts (read for 15 days); the 5-minute counts of past "
    "hours are kept in the hour items (15 days' expiry) but a batch reads only the last hour's (2 hours x 4 shards), "
    "so a faithful replay live would read 14 x 24 x 4 = 1,344 hour items (14 BatchGetItem calls per cold read, "
    "against one per batch now) or need a per-day copy of settled 5-minute counts, and each brand fit took about 8x "
    "the CPU of the hourly one. Not done for one tripling of 85.",
    "glr_route_session": "Tried, left off (brand glr_threshold None): tools/surge_bound.py's GLR "
    "(log-likelihood ratio of 3x against "
    "1x over every window of whole 5-minute buckets ending now, 5..60 min, negative binomial of the key's size on"
    " the shipped baseline's expectations) as a second route to a brand alert inside evaluate(), after the window"
    " test, same warm-up, calibration of the window test and episode rules, on spike-capped bucket counts (the "
    "pipeline already reads the last hour's 5-minute buckets, history_range). Swept on the tuning streams (10 "
    "starts) and the synthetic family (48 seeds, all seeds' figures looked at; by_seed_parity now splits "
    "even/odd); held-out streams not run until the one full run that wrote this file. Shipped detector before, "
    "same runs: tuning triplings 59/85 = 69 %, bursts 83 %, 9/9 within budget; synthetic 73/187 = 39 %, brand "
    "worst 4 (2 of 48 over; even seeds 33/94, worst 4). With the window test's cap (floor spike_cap_min 3): "
    "threshold 7.15 nats (surge_bound's one threshold) tuning 64/88 = 73 %, bursts 88 %, US Airways 3.91 (8/9 "
    "within budget), synthetic 40 %; threshold 10 tuning 62/88 = 70 %, 9/9, synthetic 39 %. The study's gain did "
    "not survive the cap: at 10-17 mentions an hour a tripled 5-minute bucket holds 2-4 mentions against a cap of"
    " 3, and on synthetic seeds 1 and 3 the live statistic's maximum in the tripled hour was 1-6 nats under the "
    "study's with the cap, within 0.5 of it with the cap lifted. So the GLR gets its own cap floor "
    "(glr_spike_cap_min 5; the cap stays 4x the bucket's expectation above it): threshold 7.15 tuning 68 % of 87,"
    " US Airways 7.83 (over), synthetic 50 % but 5 of 48 streams over (worst 5.01); threshold 8.5 (chosen) tuning"
    " 66/88 = 75 %, bursts 87 %, 9/9 within budget (worst 2.55), synthetic 43 % of 187 with worst 4 and mean 0.83"
    " (the shipped detector's: the route added no clean synthetic alert; the brief's 'synthetic worst <= 3' is "
    "not met, as it was not before). One full run with it (held-out streams' only run with the route): tuning "
    "66/88 = 75 %, bursts 78/90 = 87 %, 9/9; synthetic 81/187 = 43 % (even seeds 36/94, odd 45/93; brand worst 4,"
    " 2 of 48 over, as shipped); held out triplings 9/28 = 32 % (shipped 10/27 = 37 %), bursts 98 % (90 %), but "
    "Southwest and Delta 3.91 unexplained brand alerts per two weeks (shipped 1.96 each): 2 of 4 held-out streams"
    " within budget. Left off by the session's rule (the synthetic worst stays 4, over 3) and for the held-out "
    "budget; this file stays the shipped settings' run (the GLR run's JSON is not committed).",
    "rate_learning_session": "The brand baseline's rate learning (1 Dec). Measured directly first "
    "(tools/surge_bound.py --rate-error: log of the expected over the true count of every clock hour of the "
    "synthetic family once the key has 24 h of history; --predictive: Poisson deviance of each hour of the real "
    "tuning streams against its expectation). Shipped baseline on even seeds: mean |log ratio| 0.164 (day 1-2 "
    "0.272), bias +0.124 in hours under 10/h and -0.055 above: the shape shrunk towards a flat day is too flat on a "
    "young key. Tried on even seeds and the tuning streams (10 starts) only, with --set: (a) the shape shrunk towards "
    "a smooth cycle fitted to the key's own hours (Fourier, shape_harmonics) instead of a flat day: error 0.164 -> "
    "0.14, synthetic triplings 73 -> 91-93 of ~186, but United raised a second unexplained brand alert (10:00 UTC on "
    "its second day, a morning ramp the smooth cycle misses: 3.92 per two weeks, over budget) until a shape floor of "
    "0.3 (0.2 did not stop it; 0.4 the same figures as 0.3); harmonics 1/2/3 and shape prior 10/30/100 swept: "
    "2 harmonics and prior 30 chosen (even seeds 47/95, tuning 65/88); (b) the cycle fitted robustly (refitted twice "
    "with each hour capped at the last fit's expectation + 3 sd + 3): the plain fit spread a day-one burst over the "
    "afternoon and missed the acceptance scenario's tripling (tests/unit/test_surge_young_keys.py, seed 3); with it "
    "tuning 62/88, synthetic 93/186, every stream within budget (chosen); (c) a day level (level_mode 'day': the "
    "UTC day's hours so far shrunk towards the long level by 40 pseudo-counts instead of the last 12 hours): "
    "synthetic error 0.135 -> 0.124 and triplings 82/187 alone, but tuning 61/88 and the real streams' median "
    "deviance worse (their level drifts across midnight): left off (a config knob in 8f9f9ac, removed since); "
    "recent_hours 8/18 and "
    "level_prior_counts 10/40 moved the error by under 0.005; (d) the shape weighing each UTC day alike "
    "(shape_by_day): real streams' deviance 8.72 -> 7.77 (median 2.09 -> 1.67; a crisis's onset no longer is the "
    "shape) but tuning triplings 62 -> 60/88, synthetic 93 -> 92: left off (a config knob in 8f9f9ac, removed "
    "since). Shipped before, same "
    "runs (v7 text model): tuning 62/88, bursts 78/90, 9/9 within budget; synthetic 73/187 (even 33/94, odd 40/93), "
    "brand worst 4 (1 over on each parity). Shipped: (a) with (b). The one full run that wrote this file (the "
    "held-out streams' only run with it): tuning 62/88 = 70 %, bursts 78/90, 9/9 within budget (worst brand 1.96, "
    "was 2.55); synthetic 93/186 = 50 % (even 47/95, odd 46/91; day 1-2 26 -> 48 %, under 10/h 16 -> 35 %), brand "
    "worst 4 and mean 0.83 -> 1.06 per two weeks, 2 of 48 over as before (one at 3.01: 3 alerts in a span a little "
    "under two weeks); held out 8/28 = 29 %, bursts 98 %, 4 of 4 within budget (worst brand 1.96). The previous "
    "settings' held-out figure under the v7 text model was not known (this file's previous run, 10/27 = 37 %, came "
    "before v7, and the injected starts follow the labels through the shared random draws), so the previous "
    "settings were also run once on every stream (--set, not written), to decide shipping only: held out 8/28 = "
    "29 % (Southwest 4/10, Delta 1/10, Virgin America 3/8; shipped now: 4, 2, 2), 4 of 4 within budget (worst "
    "brand 1.97); tuning and synthetic as above. Held out did not get worse, every stream within budget: shipped.",
    "surge_calibration_session": "Why brand triplings are missed, and a try at spending the budget (1 Dec). Every "
    "missed tripling of this file's run was replayed with each gate of the test lifted in turn (tuning streams and "
    "the synthetic family, same events): of the 26 tuning misses none alerted late, all never within six hours; 12 "
    "fall where the stream was busier than its typical volume at that hour (crisis streams on days 2-3: the "
    "detector expected 1.2-4x what the tripling adds twice of, so it was no tripling of the current rate), 6 are "
    "under 10 an hour (the tail at a few counts), 3 were stopped by the per-bucket spike cap (lifting it alone "
    "alerts), 3 by the calibration of the key's tail (a young crisis key whose first days hold the crisis itself: "
    "tail 1e-7..1e-6; lifting the cap instead also alerts on 1 of them), 2 by the tail at ordinary volume; 12 "
    "of the 26 had a calibrated tail but only those 3 were stopped by it. "
    "Synthetic misses (93; 9 alerted after the hour, 84 not within six hours): spike cap 28 "
    "(the cap, 4x a bucket's share and "
    "at least 3, truncates a tripling's own Poisson wobble at 10 an hour), under 10 an hour 27, the detector "
    "expecting over 1.2x the hour's mean volume 13, alerting had it known the true rate 10, other tail 8, "
    "warm-up 6 (starts at day 1.0-1.05). The tuning streams' "
    "slack (worst 1.96 of 3) is not spendable: United and US Airways are one week long, so one more alert is 3.92 "
    "per two weeks. Swept with the injections held fixed (the events of this file's run replayed under each "
    "setting, brand false alerts replayed per stream; tuning and even seeds chose): spike_cap_min 4/5 and "
    "spike_cap_ratio 5/6 (triplings up to +5 tuning, +10 even, but US Airways a second and third alert and 3-5 "
    "synthetic streams over budget), with the tail lowered to 3e-4..7e-4 to pay for it (US Airways or the crises "
    "still over, or triplings back down), a cap at 1.5-3x the window's median bucket (same: over budget), tail "
    "1.5e-3/2e-3 (4-5 synthetic streams over), calibration_margin 1 (no change), min_history_hours 20/22 (no "
    "change); kept as the candidate: calibration_min_episodes 1 (a history of any length may hold one episode: "
    "tuning 62 -> 65/88 on the same events, synthetic unchanged) with short_window_exponent 2 (tuning 66/88, even "
    "seeds 47 -> 49/95, odd 46 -> 48/91; every tuning stream as before, synthetic the same 2 of 48 over, mean 1.06 "
    "-> 1.17). One full run with it (the held-out streams' only run with it; its injections drawn before the "
    "background check, so they do not depend on the detector: under that order the shipped settings give tuning "
    "63/87, synthetic 93/188, even 47/95, odd 46/93): tuning 65/87 = 75 %, bursts 78/90, 9/9 within budget; "
    "synthetic 97/189 (even 49/95, odd 48/94), 2 of 48 over as shipped; held out triplings 7/29 = 24 % (shipped "
    "8/28), bursts 92 %, and Delta 3.91 unexplained brand alerts per two weeks (shipped 1.96): 3 of 4 held-out "
    "streams within budget. Not shipped: calibration_min_episodes was a knob, off, in 42e83d4, removed since; this "
    "file stays the shipped settings' run.",
    "learnt_spike_cap_session": "The per-bucket spike cap learnt per key (1 Dec; code in c55dede, switch "
    "spike_cap_learn, removed since). Compared with --paired (each injection drawn before the background check, "
    "so every variant replays the same "
    "cases; the default order, which wrote this file, is unchanged) on the tuning streams (10 starts) and the even "
    "seeds only (--synthetic-parity even); the held-out streams and odd seeds were not run with any variant. Shipped,"
    " same runs: tuning triplings 63/87, bursts 78/90, 9 of 9 within budget; even seeds 47/95, bursts 68/72, brand "
    "worst 3.01 (1 of 24 over), mean 1.21. Measured first: the within-hour dispersion index of the 5-minute buckets "
    "(1 when mentions fall at random within an hour) is 1.1-1.3 on every real tuning stream (clumps: retweet waves), "
    "1.0 on the synthetic family, 0.5-0.6 on the crises thinned to a third (every third mention kept: more regular "
    "than Poisson, an artefact of the thinning); the hourly dispersion the baseline fits is 0.05-0.09 on United and "
    "US Airways, 0.08-0.16 on the crises, 0.04-0.14 synthetic. A fixed looser cap (floor 5, ratio 6): tuning 64/84 "
    "but United and US Airways 5.87 and West Texas 3.82 unexplained brand alerts per two weeks (6 of 9 within "
    "budget), even seeds 56/93 with 7 of 24 over: the cap keeps real streams' clumps (US Airways: 8 and 9 mentions in"
    " two buckets against about 0.5 expected each) and the synthetic phi-0.15 hours from firing. Learnt caps "
    "(loosened towards floor 5, ratio 6 as a key is smooth): by the hourly dispersion (smooth at 0.04, bursty from "
    "0.08) US Airways 3.91 (over); (0.03, 0.06) tuning 63/87, 9 of 9, even 51/95 with 1 over (mean 1.21), no tuning "
    "figure moved; by the within-hour index of the 48 hours before the baseline (smooth 0.9, bursty 1.2, 12 hours' "
    "prior) tuning 66/87, 9 of 9, but the 3 gained are all the thinned West Texas stream's (the artefact), and even "
    "53/94 with 4 over (phi-0.15 seeds: smooth within the hour, bursty across hours); both required (index and hourly"
    " dispersion 0.05-0.1): tuning 63/87, 9 of 9, even 53/95, 1 over (mean 1.33); looser or wider (floor 6 ratio 8, "
    "dispersion 0.06-0.12/0.14, index 1.0-1.3): even 54-55/95 with 1-6 over. No variant raised the tuning triplings "
    "without the thinning artefact: on the real streams the cap is not what misses triplings (the fixed loose cap "
    "gains only on the thinned crisis), and real streams are clumpier within the hour than the synthetic family, so a"
    " cap learnt from burstiness leaves them as they are and helps the synthetic family alone (+4 to +6 of 95). Not "
    "shipped (the rule: tuning triplings up); the within-hour index would also have cost the live read 48 hours x 4 "
    "shards of 5-minute items.",
    "dispersion_prior_session": "Issue 14's tripling target, 1 Dec 17:00-17:45; nothing shipped, this file stays the "
    "shipped settings' run. Compared with --paired on the tuning streams (10 starts) and the even seeds only; "
    "shipped, same runs: tuning triplings 63/87, bursts 78/90, 9 of 9 within budget (worst brand 1.96); even seeds "
    "50 % of 95, brand worst 3.01 (1 of 24 over), mean 1.21. Tried (experiment code not kept): (a) a looser tail "
    "for a spread rise (the hour window also at 3e-3 or 1e-2 when each of its thirds holds at least 1.5x its own "
    "expectation): tuning 67/86 and 65/80, but United 3.92 and West Texas 3.82 brand alerts per two weeks, even "
    "seeds 7 and 18 of 24 over: the family's hour-long wobble, and United's real alerts (24 against 9.7, 55 against "
    "23, even over the hour), are as spread as a tripling. (b) the dispersion leaving out only outlier hours (of the "
    "top 1 %, those with a tail under 1e-3 at the trimmed dispersion): the trimmed estimate is about a third low on "
    "the family (phi 0.05 measured 0.033, 0.15 measured 0.11 at day 13; about right with the rule), but tuning "
    "triplings 63 -> 55/87 (the real streams' top hours are their wobble), even 47 % with 0 over; with prior 0.07 "
    "54 %, 2 over. (c) the prior weighed by information (each hour's inverse variance of the moment term; its "
    "hours at 10 or 5 an hour): tuning 63-64/89, even 46-50 %, 1-2 over. (d) the day-weighted shape (8f9f9ac's "
    "shape_by_day): tuning 61/87, even 50 %; with prior 0.07 57 % but 3 over; the shape's neighbour smoothing 0 or "
    "0.12 (0.25 shipped): tuning 59/86 (United 3.92) and 61/87. (e) dispersion prior 0.07 or 0.05: tuning 65/87, "
    "64/86 (United 3.92 at 0.05), even 55 %, 62 %, 3 over each. (f) the half-hour window held to a tail so small it "
    "never fires: no tripling lost, even mean 1.21 -> 1.13; the brand tail then 1.5e-3: 57 %, 3 over. (g) the "
    "prior's weight (dispersion_prior_hours) 72/48/36/30/24 hours instead of 96, with the half hour at exponent 5 "
    "(3e-5) or never firing: even 52/54/56/57/59 %, tuning 63/87 at each, 1 of 24 over (3.01) as shipped, but at 24 "
    "hours United 3.92; 36 hours with the half hour as shipped puts 2 over (worst 4); overdispersion floor 0.01 or 0 "
    "on top: United 3.92. Candidate (g): short_window_exponent 5, dispersion_prior_hours 36. One full run, default "
    "order, not written (the held-out streams' and odd seeds' only run with it): tuning 55/86 = 64 % (this file: "
    "56/86), bursts 87 %, 9 of 9 within budget (worst 1.96); synthetic 102/186 = 55 % (this file 93/186; even 47 -> "
    "53/95, odd 46 -> 49/91; by setting Poisson 42 -> 47/64, phi 0.05 33 -> 38/64, phi 0.15 18 -> 17/58), brand "
    "over budget 1 of 24 per parity as shipped (worst 3.01 even, 4 odd), mean 1.06 -> 1.17; held out 8/24 = 33 % "
    "(this file 10/28 = 36 %: Southwest 3/10 and Delta 4/9 unchanged, Virgin America 1/5 against 3/9, where one "
    "natural brand alert, 1.97 per two weeks against 0, skips 4 of its starts), bursts 88 %, 4 of 4 within budget "
    "(worst 1.97). Not shipped: the gain is the synthetic family's alone (+3 of 91 on its report seeds, within "
    "noise) and the real streams are no better. What bounds the real streams: their alerts within budget are "
    "sustained rises of 2-2.5x over an hour, shaped like a tripling, so any looser test adds one on a one-week "
    "stream (3.92 per two weeks).",
}


def _rate(r: dict[str, object]) -> str:
    n, hit = int(r["n"]), int(r["detected_within_bound"])  # type: ignore[call-overload]
    return f"{round(100 * hit / n)}% of {n}" if n else "n/a"


def synthetic_rows(synth: dict[str, object]) -> list[list[str]]:
    """The synthetic family's ``[what, measured, target]`` rows: overall, then by placement band."""
    bands: dict[str, dict[str, dict[str, object]]] = synth["by_band"]  # type: ignore[assignment]
    what = (
        f"Synthetic, shaped like the outside case (2 weeks at {synth['mentions_per_hour']} mentions/h, daily cycle "
        f"{SYNTH_PEAK_TROUGH:g}:1, Poisson and negative binomial; {synth['seeds']} seeds; generated, not real)"
    )
    rows = []
    for event, label, target in (
        ("brand_tripling", "brand tripling for an hour", "alerted within the hour"),
        ("product_burst", "product burst (12 complaints in 45 min) on a quiet product", "alerted ≤ 15 min"),
    ):
        by_band = "; ".join(f"{b} {_rate(v[event])}" for b, v in bands.items())
        got = f"{_pct(synth[event])} (by start: {by_band})"  # type: ignore[arg-type]
        if event == "brand_tripling":
            vols: dict[str, dict[str, object]] = synth["brand_tripling_by_volume"]  # type: ignore[assignment]
            got += " (by the hour's mean volume: " + "; ".join(f"{b} {_rate(v)}" for b, v in vols.items()) + ")"
        rows.append([f"{what}: {label}", got, target])
    u: dict[str, dict[str, object]] = synth["unexplained_per_2_weeks"]  # type: ignore[assignment]
    rows.append(
        [
            f"{what}: unexplained alerts per 2 weeks without injections, worst / mean stream",
            f"brand {u['brand']['worst']:g} / {u['brand']['mean']:g}, product {u['product']['worst']:g} / "
            f"{u['product']['mean']:g}; {u['streams']} streams, over budget: brand "
            f"{u['brand']['streams_over_budget']}, product {u['product']['streams_over_budget']}",
            "brand ≤ 3, product ≤ 2",
        ]
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--signals", choices=("labels", "model"), default="model")
    ap.add_argument("--streams", default="", help="comma-separated substrings of stream names (iterating only)")
    ap.add_argument("--tripling", choices=("typical", "realized"), default="typical")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--synthetic-seeds", type=int, default=48, help="seeds of the synthetic family (0: none)")
    ap.add_argument("--synthetic-only", action="store_true", help="the synthetic family alone (iterating; no write)")
    ap.add_argument(
        "--synthetic-parity",
        choices=("all", "even", "odd"),
        default="all",
        help="only the even (tuning) or odd (report) seeds of the synthetic family (iterating; no write)",
    )
    ap.add_argument(
        "--paired",
        action="store_true",
        help="draw each injection before the background check, so detector variants see identical cases (no write)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KIND.FIELD=VALUE",
        help="change a detector setting for this run (experiments only: such a run never writes the JSON)",
    )
    args = ap.parse_args(argv)
    global PAIRED
    PAIRED = args.paired
    parity = {"all": None, "even": 0, "odd": 1}[args.synthetic_parity]
    if args.paired or parity is not None:
        args.no_write = True  # the committed JSON is a full run in the shipped order
    for setting in args.set:
        name, value = setting.split("=", 1)
        kind, field_name = name.split(".", 1)
        current = getattr(CONFIGS[kind], field_name)
        parsed: object = (
            None
            if value.lower() == "none"
            else (float(value) if field_name.endswith("threshold") else int(value))
            if current is None
            else type(current)(value)
        )
        CONFIGS[kind] = replace(CONFIGS[kind], **{field_name: parsed})
        args.no_write = True  # the committed JSON is the shipped settings' run
    if args.synthetic_only:
        synth = synthetic_family(args.synthetic_seeds, args.seed, parity)
        print(json.dumps(synth, indent=1))
        for row in synthetic_rows(synth):
            print("  " + " | ".join(row))
        return 0
    if not (DATA / "airline" / "Tweets.csv").exists():
        print(f"eval_surge: skipped: shared data not found at {DATA} (a fresh clone has no ../shared)")
        return 0
    t0 = time.time()
    rng = random.Random(args.seed)

    airline_rows = load_airline()
    airline = [m for m, _ in airline_rows]
    hour_w = [0.0] * 24
    for m in airline:
        hour_w[int(m.ts // HOUR) % 24] += 1
    reviews = load_reviews(random.Random(args.seed), hour_w)
    crisis_dir = DATA / "crisislex" / "CrisisLexT6"
    crises = {
        name: load_crisis(folder, until)
        for name, (folder, _, until) in CRISES.items()
        if (crisis_dir / folder).exists()
    }
    if args.signals == "model":
        from chalicelib.commands.detect_surges import default_analyzer

        analyze = default_analyzer()
        airline = relabel(airline, analyze)
        reviews = relabel(reviews, analyze)
        airline_rows = list(zip(airline, [a for _, a in airline_rows], strict=True))
        crises = {name: relabel(stream, analyze) for name, stream in crises.items()}

    american_onset = datetime(2015, 2, 22, tzinfo=timezone.utc).timestamp()

    def explain_airline(a: SurgeAlert) -> str | None:
        if a.key in ("brand", "product:american") and abs(a.detected_at - american_onset) < 2 * DAY:
            return "American Airlines tweets only collected from 22 Feb (about 1/day before, ~1000/day after)"
        return None

    def crisis_onset(name: str) -> Callable[[SurgeAlert], str | None]:
        onset = CRISES[name][1].timestamp()

        def explained(a: SurgeAlert) -> str | None:
            if a.key == "brand" and onset - HOUR <= a.detected_at <= onset + DAY:
                return f"the {name} itself (onset {iso(onset)})"
            return None

        return explained

    def own(name: str) -> list[M]:
        return [m for m, a in airline_rows if a == name]

    # Tuning: the streams the detector's parameters were chosen on. Held out: never looked at while tuning.
    streams = [
        Stream(
            "airline (six airlines as one brand)",
            airline,
            True,
            explained=explain_airline,
            burst_product="virgin america",
        ),
        Stream("airline United (own brand)", own("United"), True, with_product=False),
        Stream("airline US Airways (own brand)", own("US Airways"), True, with_product=False),
        *(
            Stream(
                f"crisis {name}{label} (tuning only)",
                thinned(crises[name], keep, of),
                True,
                with_product=False,
                explained=crisis_onset(name),
            )
            for name in crises
            for keep, of, label in ((1, 1, ""), (1, 3, ", a third"))
        ),
        Stream("airline Southwest (own brand)", own("Southwest"), False, with_product=False),
        Stream("airline Delta (own brand)", own("Delta"), False, with_product=False),
        Stream("airline Virgin America (own brand)", own("Virgin America"), False, with_product=False),
        Stream(
            "reviews 2016-05..2018-09 (one brand, products)", reviews, False, burst_product=quietest_product(reviews)
        ),
    ]
    if args.streams:
        wanted = [w.strip().lower() for w in args.streams.split(",") if w.strip()]
        streams = [s for s in streams if any(w in s.name.lower() for w in wanted)]
    results: dict[str, object] = {
        "seed": args.seed,
        "starts": args.starts,
        "signals": args.signals,
        "tripling_volume": args.tripling,
        "method": METHOD,
        "configs": {k: vars(v) for k, v in CONFIGS.items()},
    }
    per_stream = [evaluate_stream(rng, s, args.starts, typical=args.tripling == "typical") for s in streams]
    results["streams"] = per_stream
    results["tuning"] = group_summary(per_stream, True)
    results["held_out"] = group_summary(per_stream, False)
    if args.synthetic_seeds > 0:
        results["synthetic"] = synthetic_family(args.synthetic_seeds, args.seed, parity)
    results["summary_rows"] = summary_rows(results, args.signals)
    results["seconds"] = round(time.time() - t0, 1)

    print(f"surge eval (seed {args.seed}, {args.starts} starts per case, signals={args.signals})")
    for r in per_stream:
        fa: dict[str, object] = r["false_alarms"]  # type: ignore[assignment]
        print(
            f"\n{r['stream']} [{'tuning' if r['tuning'] else 'held out'}] {fa['weeks']} wk, "
            f"{r['mentions_per_hour']}/h; alerts {fa['alerts']}, "
            f"unexplained per 2 wk {fa['unexplained_per_2_weeks']}"
        )
        print(f"  product burst on {r['product_burst']['product']}: {_pct(r['product_burst'])}")  # type: ignore[index,arg-type]
        print(f"  brand tripling: {_pct(r['brand_tripling'])}")  # type: ignore[arg-type]
    print("\nSummary [what | measured | target]")
    for row in results["summary_rows"]:  # type: ignore[attr-defined]
        print("  " + " | ".join(row))
    print(f"\n{results['seconds']} s")
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1, default=str) + "\n")
        print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
