"""How much headroom has the brand surge test on the synthetic family? An oracle bound and a practical sequential test.

Usage: ``.venv/bin/python -m tools.surge_bound [--seeds 48] [--no-write] [--rate-error even|odd|all] [--predictive]
[--set KIND.FIELD=VALUE]``. Writes ``bench/results/surge_bound.json`` (with the baseline's rate error and the tuning
streams' predictive deviance, :func:`rate_errors` and :func:`predictive_deviance`; ``--rate-error`` and
``--predictive`` print those alone, ``--set`` changes a detector setting for the run and never writes).

The synthetic family and its brand triplings are :mod:`tools.eval_surge`'s own (imported: ``synth_stream``,
``synth_mean_rate``, ``SYNTH_*``, ``background_hits``, ``inject_and_detect``, ``false_alarms``), replayed seed by
seed with the same random draws, so every tripling here is the very tripling ``eval_surge --synthetic-only`` injects
(the shipped detector's delay is taken per event from the same ``inject_and_detect`` call). Only the generator's
hidden day levels are not exposed by eval_surge: :func:`synth_levels` repeats ``synth_stream``'s draws to read them
(checked equal to ``synth_stream`` mention for mention in the unit test).

Two detectors, both a GLR of "3x the expected rate" against "1x" over the windows ending now of 5, 10, ..., 60
minutes (evaluated at the end of every minute), on negative-binomial window counts (moment-matched):

* oracle: knows each stream's true hourly mean (day level x daily cycle x weekend, before injection) and its phi.
  A window's count has mean m and variance m + phi * sum over its clock hours of m_h**2 (each hour's gamma wobble);
  under the alternative the injected mentions (Poisson) add 2m: mean 3m, same extra variance.
* practical: the expectation is the shipped brand baseline (``fit_key_baseline``, refitted when the detector would
  refit it, from the stream's own past only): window mean from its level and daily shape, variance m + m**2/size
  (``Baseline.size()``: the level's uncertainty and the key's dispersion). Silent before 24 hours of history.

Alert episodes: the statistic crossing the threshold fires; the next episode needs a new upward crossing at least
60 minutes after the last firing (a 60-minute cooldown). Thresholds: one per setting, chosen on the clean streams
of the even seeds (index in the family), (a) the lowest threshold at which the mean number of episodes per two weeks
is within the brand budget of 3, (b) the lowest at which every stream is within it (the project's rule). Reported on
the odd seeds only: triplings alerted within the hour, median delay, by hour volume, and the odd seeds' own clean
episodes at that threshold; the shipped detector's figures on the same odd-seed triplings beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chalicelib.domain.surge import HOUR, BucketCounts, fit_key_baseline  # noqa: E402
from chalicelib.domain.surge.config import baseline_end_hour  # noqa: E402
from tools import eval_surge as es  # noqa: E402

OUT = REPO / "bench" / "results" / "surge_bound.json"
BUDGET = 3.0  # brand alerts per two weeks
WINDOWS_MIN = tuple(range(5, 61, 5))
COOLDOWN_MIN = 60
RATIO = 3.0
MINUTES = es.SYNTH_DAYS * 24 * 60
GRID = np.round(np.arange(0.5, 40.0, 0.05), 3)


def synth_levels(seed: int, day_sd: float, phi: float) -> tuple[list[float], list[float]]:
    """``synth_stream``'s hidden draws, repeated: (the day levels, every mention's timestamp in generation order)."""
    rng = random.Random(seed)
    levels: list[float] = []
    ts: list[float] = []
    n = 0
    for d in range(es.SYNTH_DAYS):
        day_level = math.exp(rng.gauss(0.0, day_sd) - day_sd**2 / 2)
        levels.append(day_level)
        for h in range(24):
            t = es.SYNTH_T0 + d * es.DAY + h * HOUR
            mu = day_level * es.synth_mean_rate(t + HOUR / 2)
            if phi > 0:
                mu *= rng.gammavariate(1 / phi, phi)
            for _ in range(es._poisson(rng, mu)):
                ts.append(t + rng.random() * HOUR)
                es.synth_mention(rng, ts[-1], n)  # consumes the same draws as the generator
                n += 1
    return levels, ts


def true_minute_rate(levels: Sequence[float]) -> np.ndarray:
    """The oracle's expectation per minute (before injection)."""
    out = np.empty(len(levels) * 24 * 60)
    for d, lvl in enumerate(levels):
        for h in range(24):
            t = es.SYNTH_T0 + d * es.DAY + h * HOUR
            j = (d * 24 + h) * 60
            out[j : j + 60] = lvl * es.synth_mean_rate(t + HOUR / 2) / 60.0
    return out


def minute_counts(timestamps: Sequence[float], t0: float, n: int) -> np.ndarray:
    idx = ((np.asarray(timestamps, dtype=float) - t0) // 60).astype(int)
    idx = idx[(idx >= 0) & (idx < n)]
    return np.bincount(idx, minlength=n).astype(float)


def gammaln(x: np.ndarray) -> np.ndarray:
    """``log Γ(x)`` for positive arrays, in numpy alone (scipy is a training-only dependency that CI does not
    install): shift ``x`` up past 7 by the recurrence, then Stirling's series (error under 1e-10 there)."""
    z = np.asarray(x, dtype=float)
    shift = np.zeros_like(z)
    for _ in range(7):
        low = z < 7.0
        shift = shift + np.where(low, np.log(z), 0.0)
        z = np.where(low, z + 1.0, z)
    inv = 1.0 / z
    series = (z - 0.5) * np.log(z) - z + 0.5 * math.log(2 * math.pi) + inv / 12 - inv**3 / 360 + inv**5 / 1260
    return series - shift


def nb_llr(c: np.ndarray, m: np.ndarray, extra: np.ndarray, ratio: float = RATIO) -> np.ndarray:
    """log P(c | mean ratio*m, var ratio*m + extra) - log P(c | mean m, var m + extra), negative binomial
    (Poisson where extra is negligible)."""
    m = np.maximum(m, 1e-9)
    m1 = ratio * m
    pois = c * math.log(ratio) - (m1 - m)
    small = extra < 1e-6 * m
    ex = np.where(small, 1.0, extra)

    def logpmf(mu: np.ndarray) -> np.ndarray:
        s = mu * mu / ex
        return gammaln(c + s) - gammaln(s) + s * np.log(s / (s + mu)) + c * np.log(mu / (s + mu))

    return np.where(small, pois, logpmf(m1) - logpmf(m))


def glr_stat(
    counts: np.ndarray,
    window_moments: Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]],
    minutes: np.ndarray | None = None,
) -> np.ndarray:
    """max over windows (0 if none is evaluable) of the LLR of the window ending at each minute's end.
    ``window_moments(w, js)`` gives (mean, extra variance) of the w-minute window ending at minute j."""
    n = len(counts)
    js = np.arange(n) if minutes is None else minutes
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    best = np.zeros(len(js))
    for w in WINDOWS_MIN:
        ok = js + 1 >= w
        jj = js[ok]
        c = cum[jj + 1] - cum[jj + 1 - w]
        m, extra = window_moments(w, jj)
        llr = nb_llr(c, m, extra)
        llr = np.where(m > 0, llr, 0.0)
        best[ok] = np.maximum(best[ok], llr)
    return best


def oracle_moments(rate: np.ndarray, phi: float) -> Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    cum = np.concatenate([[0.0], np.cumsum(rate)])

    def moments(w: int, js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = js + 1 - w
        hstart = (js // 60) * 60
        split = a < hstart
        m_prev = np.where(split, cum[hstart] - cum[a], 0.0)
        m_cur = cum[js + 1] - cum[np.where(split, hstart, a)]
        return m_prev + m_cur, phi * (m_prev**2 + m_cur**2)

    return moments


def baseline_arrays(
    counts: BucketCounts, data_start: float, minutes: np.ndarray, cache: dict[int, tuple[float, ...]] | None = None
) -> dict[str, np.ndarray]:
    """Per minute, the shipped brand baseline the detector would use at that minute's end: level, shape of this and
    the previous clock hour, NB size; level 0 while history is under ``min_history_hours``."""
    config = es.CONFIGS["brand"]
    cache = {} if cache is None else cache
    out = {k: np.zeros(len(minutes)) for k in ("level", "shape_cur", "shape_prev", "size")}
    for i, j in enumerate(minutes):
        now = es.SYNTH_T0 + (j + 1) * 60 - 1e-3
        key = baseline_end_hour(now, config)
        if key not in cache:
            b = fit_key_baseline("brand", {"brand": counts}.get, now, es.CONFIGS, data_start=data_start)
            usable = b.history_hours >= config.min_history_hours and b.level > 0
            cache[key] = (b.level if usable else 0.0, *b.shape, b.size())
        lvl, *shape, size = cache[key]
        h = int(now // HOUR) % 24
        out["level"][i] = lvl
        out["shape_cur"][i] = shape[h]
        out["shape_prev"][i] = shape[(h - 1) % 24]
        out["size"][i] = size
    return out


def practical_moments(
    arrays: dict[str, np.ndarray], minutes: np.ndarray
) -> Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    pos = {int(j): i for i, j in enumerate(minutes)}

    def moments(w: int, js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = np.array([pos[int(j)] for j in js], dtype=int)
        a = js + 1 - w
        hstart = (js // 60) * 60
        n_prev = np.clip(hstart - a, 0, None)
        n_cur = w - n_prev
        lvl = arrays["level"][ix] / 60.0
        m = lvl * (arrays["shape_prev"][ix] * n_prev + arrays["shape_cur"][ix] * n_cur)
        return m, m * m / arrays["size"][ix]

    return moments


def episodes(stat: np.ndarray, h: float, cooldown: int = COOLDOWN_MIN) -> list[int]:
    """Minutes at which an episode fires: an upward crossing of ``h`` at least ``cooldown`` after the last firing."""
    above = stat > h
    ups = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    fired: list[int] = []
    for j in ups:
        if not fired or j - fired[-1] >= cooldown:
            fired.append(int(j))
    return fired


def per_two_weeks(n: int, minutes: int = MINUTES) -> float:
    return n * (14 * 24 * 60) / minutes


def choose_threshold(stats: Sequence[np.ndarray], rule: str, grid: np.ndarray = GRID) -> float:
    """The lowest grid threshold from which on (every higher one too) the clean streams keep the budget:
    ``rule`` ``mean`` (their mean episodes per two weeks) or ``worst`` (each stream)."""
    chosen = float(grid[-1])
    if not stats:
        return chosen
    for h in grid[::-1]:
        per = [per_two_weeks(len(episodes(s, float(h))), len(s)) for s in stats]
        ok = (statistics.mean(per) if rule == "mean" else max(per)) <= BUDGET
        if not ok:
            break
        chosen = float(h)
    return chosen


def first_alert(stat: np.ndarray, minutes: np.ndarray, h: float, start: float) -> float | None:
    """Delay (s) from ``start`` to the end of the first minute within the hour whose statistic exceeds ``h``."""
    ends = es.SYNTH_T0 + (minutes + 1) * 60.0
    hit = np.flatnonzero((stat > h) & (ends > start) & (ends <= start + HOUR))
    return float(ends[hit[0]] - start) if len(hit) else None


def run(seeds: int, seed: int = 7) -> dict[str, object]:
    t_start = time.time()
    streams: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    for i in range(seeds):
        setting, day_sd, phi = es.SYNTH_SETTINGS[i % len(es.SYNTH_SETTINGS)]
        s = seed * 1000 + i
        rng = random.Random(s + 500_000)
        stream = es.synth_stream(s, day_sd, phi)
        levels, _ = synth_levels(s, day_sd, phi)
        rate = true_minute_rate(levels)
        ts = [m.ts for m in stream]
        counts = minute_counts(ts, es.SYNTH_T0, MINUTES)
        all_min = np.arange(MINUTES)
        o_mom = oracle_moments(rate, phi)
        bc = BucketCounts.from_timestamps(ts)
        cache: dict[int, tuple[float, ...]] = {}
        p_arr = baseline_arrays(bc, stream[0].ts, all_min, cache)
        oracle_clean = glr_stat(counts, o_mom)
        practical_clean = glr_stat(counts, practical_moments(p_arr, all_min))
        shipped_fa = es.false_alarms(f"synthetic {s}", stream, lambda a: None)
        streams.append(
            {
                "i": i,
                "setting": setting,
                "phi": phi,
                "oracle": oracle_clean,
                "practical": practical_clean,
                "shipped_brand_per_2_weeks": float(shipped_fa["unexplained_per_2_weeks"]["brand"]),  # type: ignore[index]
            }
        )
        for band, lo, hi in es.SYNTH_BANDS:
            start = es.SYNTH_T0 + rng.uniform(lo, hi) * es.DAY
            if es.background_hits(stream, "brand", start):
                events.append({"i": i, "setting": setting, "band": band, "skipped": True})
                continue
            vol = round(es.synth_mean_rate(start + HOUR / 2))
            inj = [replace(rng.choice(stream), ts=start + rng.uniform(0, HOUR)) for _ in range(2 * vol)]
            d, _ = es.inject_and_detect(stream, inj, "brand", start, es.TRIPLING_BOUND)
            j0 = int((start - es.SYNTH_T0) // 60)
            mins = np.arange(max(j0 - 1, 0), min(j0 + 62, MINUTES))
            all_ts = ts + [m.ts for m in inj]
            c_inj = minute_counts(all_ts, es.SYNTH_T0, MINUTES)
            # the baseline at these minutes is refitted from the injected stream's own past (it may hold a few
            # injected minutes when the tripling starts just before a clock hour)
            p_inj = baseline_arrays(BucketCounts.from_timestamps(sorted(all_ts)), stream[0].ts, mins)
            events.append(
                {
                    "i": i,
                    "setting": setting,
                    "band": band,
                    "start": start,
                    "volume": vol,
                    "shipped_delay": d,
                    "mins": mins,
                    "oracle": glr_stat(c_inj, o_mom, mins),
                    "practical": glr_stat(c_inj, practical_moments(p_inj, mins), mins),
                    "oracle_clean": oracle_clean[mins],
                    "practical_clean": practical_clean[mins],
                }
            )
        print(f"seed {i} ({setting}) done, {time.time() - t_start:.0f} s", file=sys.stderr)
    return summarize(streams, events, seeds, time.time() - t_start)


def _rate(delays: list[float | None]) -> dict[str, object]:
    got = [d for d in delays if d is not None]
    return {
        "n": len(delays),
        "within_hour": len(got),
        "rate": round(len(got) / len(delays), 3) if delays else None,
        "delay_median_min": round(statistics.median(got) / 60, 1) if got else None,
    }


def _bands(rows: list[dict[str, object]], delay_of: Callable[[dict[str, object]], float | None]) -> dict[str, object]:
    low = [r for r in rows if int(r["volume"]) < es.LOW_VOLUME_PER_HOUR]  # type: ignore[call-overload]
    high = [r for r in rows if int(r["volume"]) >= es.LOW_VOLUME_PER_HOUR]  # type: ignore[call-overload]
    return {
        "all": _rate([delay_of(r) for r in rows]),
        f"under {es.LOW_VOLUME_PER_HOUR}/h": _rate([delay_of(r) for r in low]),
        f"at least {es.LOW_VOLUME_PER_HOUR}/h": _rate([delay_of(r) for r in high]),
        "by_placement": {
            name: _rate([delay_of(r) for r in rows if r["band"] == name]) for name, _, _ in es.SYNTH_BANDS
        },
    }


def _budget(vals: list[float]) -> dict[str, object]:
    return {
        "streams": len(vals),
        "mean": round(statistics.mean(vals), 2) if vals else None,
        "worst": round(max(vals), 2) if vals else None,
        "over_budget": sum(1 for v in vals if v > BUDGET),
    }


def summarize(
    streams: list[dict[str, object]], events: list[dict[str, object]], seeds: int, seconds: float
) -> dict[str, object]:
    settings = [name for name, _, _ in es.SYNTH_SETTINGS]
    odd_events = [e for e in events if int(e["i"]) % 2 == 1 and not e.get("skipped")]  # type: ignore[call-overload]
    out: dict[str, object] = {
        "seeds": seeds,
        "budget_per_2_weeks": BUDGET,
        "windows_min": list(WINDOWS_MIN),
        "cooldown_min": COOLDOWN_MIN,
        "shipped": {
            "odd_seed_triplings": _bands(odd_events, lambda r: r["shipped_delay"]),  # type: ignore[arg-type,return-value]
            "by_setting": {
                name: _bands([e for e in odd_events if e["setting"] == name], lambda r: r["shipped_delay"])  # type: ignore[arg-type,return-value]
                for name in settings
            },
            "clean_brand_alerts_odd": _budget(
                [float(s["shipped_brand_per_2_weeks"]) for s in streams if int(s["i"]) % 2 == 1]  # type: ignore[call-overload,arg-type]
            ),
            "clean_brand_alerts_all": _budget([float(s["shipped_brand_per_2_weeks"]) for s in streams]),  # type: ignore[arg-type]
            "all_seed_triplings": _bands(
                [e for e in events if not e.get("skipped")],
                lambda r: r["shipped_delay"],  # type: ignore[arg-type,return-value]
            ),
        },
        "skipped_background_alert_nearby": sum(1 for e in events if e.get("skipped")),
    }
    for det in ("oracle", "practical"):
        res: dict[str, object] = {}
        # per setting (the oracle knows phi), and one threshold for every setting (a shipped detector does not)
        all_even = [s[det] for s in streams if int(s["i"]) % 2 == 0]  # type: ignore[call-overload]
        pooled = choose_threshold(all_even, "worst")  # type: ignore[arg-type]
        for rule in ("mean", "worst", "worst_one_for_all_settings"):
            delays_all: dict[int, float | None] = {}
            per_setting: dict[str, object] = {}
            false_credit = 0
            for name in settings:
                even = [s[det] for s in streams if s["setting"] == name and int(s["i"]) % 2 == 0]  # type: ignore[call-overload]
                odd = [s[det] for s in streams if s["setting"] == name and int(s["i"]) % 2 == 1]  # type: ignore[call-overload]
                h = pooled if rule.endswith("all_settings") else choose_threshold(even, rule)  # type: ignore[arg-type]
                ev = [e for e in odd_events if e["setting"] == name]
                for e in ev:
                    delays_all[id(e)] = first_alert(e[det], e["mins"], h, float(e["start"]))  # type: ignore[arg-type]
                    if first_alert(e[f"{det}_clean"], e["mins"], h, float(e["start"])) is not None:  # type: ignore[arg-type]
                        false_credit += 1
                per_setting[name] = {
                    "threshold": h,
                    "clean_episodes_even_tuned": _budget([per_two_weeks(len(episodes(s, h))) for s in even]),  # type: ignore[arg-type]
                    "clean_episodes_odd_reported": _budget([per_two_weeks(len(episodes(s, h))) for s in odd]),  # type: ignore[arg-type]
                    "triplings_odd": _bands(ev, lambda r, d=delays_all: d[id(r)]),
                }
            res[f"threshold_{rule}_within_budget"] = {
                "triplings_odd": _bands(odd_events, lambda r, d=delays_all: d[id(r)]),
                "odd_events_where_clean_stream_alone_crossed_in_the_hour": false_credit,
                "by_setting": per_setting,
            }
        out[det] = res
    out["summary"] = summary_lines(out)
    out["seconds"] = round(seconds, 1)
    out["method"] = METHOD
    return out


def summary_lines(out: dict[str, object]) -> list[str]:
    """One line per detector: odd-seed triplings within the hour (all, under / at least 10 an hour) and the odd
    streams' worst clean brand episodes per two weeks."""

    def line(name: str, tr: dict[str, dict[str, object]], worst: object) -> str:
        parts = [f"{k} {v['within_hour']}/{v['n']}" for k, v in tr.items() if k != "by_placement"]
        return f"{name}: triplings within the hour {'; '.join(parts)}; odd streams' worst per 2 wk {worst}"

    shipped = out["shipped"]
    lines = [line("shipped", shipped["odd_seed_triplings"], shipped["clean_brand_alerts_odd"]["worst"])]  # type: ignore[index]
    for det in ("oracle", "practical"):
        for rule, r in out[det].items():  # type: ignore[attr-defined]
            worst = max(v["clean_episodes_odd_reported"]["worst"] for v in r["by_setting"].values())
            lines.append(line(f"{det} ({rule})", r["triplings_odd"], worst))
    return lines


def rate_errors(seeds: int, seed: int = 7, parity: int | None = None) -> dict[str, object]:
    """How well the brand baseline learns the rate: for every clock hour of every synthetic stream (``parity``: only
    even (0) or odd (1) seed indices) once the key has ``min_history_hours`` of history, the log of the baseline's
    expected count for that hour (``fit_key_baseline`` at the hour's last second, i.e. from the hours before it, as
    the detector tests it) over the true mean (day level x daily cycle x weekend; the gamma wobble of an hour is not
    predictable and is left out). Reported: mean log ratio (bias; > 0 expects too much), mean absolute log ratio and
    root mean square, overall, by placement band (days from the first mention) and by the hour's true volume."""
    config = es.CONFIGS["brand"]
    rows: list[tuple[str, bool, float]] = []
    t0 = time.time()
    for i in range(seeds):
        if parity is not None and i % 2 != parity:
            continue
        setting, day_sd, phi = es.SYNTH_SETTINGS[i % len(es.SYNTH_SETTINGS)]
        s = seed * 1000 + i
        stream = es.synth_stream(s, day_sd, phi)
        levels, _ = synth_levels(s, day_sd, phi)
        bc = BucketCounts.from_timestamps([m.ts for m in stream])
        start = stream[0].ts
        for d, lvl in enumerate(levels):
            for h in range(24):
                t = es.SYNTH_T0 + d * es.DAY + h * HOUR
                now = t + HOUR - 1e-3
                b = fit_key_baseline("brand", {"brand": bc}.get, now, es.CONFIGS, data_start=start)
                if b.history_hours < config.min_history_hours or b.level <= 0:
                    continue
                truth = lvl * es.synth_mean_rate(t + HOUR / 2)
                rows.append((es._band_of(t), truth < es.LOW_VOLUME_PER_HOUR, math.log(b.expected(t, t + HOUR) / truth)))

    def stats(sel: list[float]) -> dict[str, object]:
        if not sel:
            return {"n": 0}
        return {
            "n": len(sel),
            "mean_log_ratio": round(statistics.mean(sel), 4),
            "mean_abs_log_ratio": round(statistics.mean(abs(x) for x in sel), 4),
            "rms_log_ratio": round(math.sqrt(statistics.mean(x * x for x in sel)), 4),
        }

    return {
        "seeds": seeds,
        "parity": {None: "all", 0: "even", 1: "odd"}[parity],
        "all": stats([x for _, _, x in rows]),
        "by_band": {name: stats([x for b, _, x in rows if b == name]) for name, _, _ in es.SYNTH_BANDS},
        "by_volume": {
            f"under {es.LOW_VOLUME_PER_HOUR}/h": stats([x for _, q, x in rows if q]),
            f"at least {es.LOW_VOLUME_PER_HOUR}/h": stats([x for _, q, x in rows if not q]),
        },
        "seconds": round(time.time() - t0, 1),
    }


def tuning_stream_timestamps() -> dict[str, list[float]]:
    """The brand mentions' times of eval_surge's TUNING streams only (the held-out ones are not loaded)."""
    rows = es.load_airline()
    out = {
        "airline (six airlines as one brand)": [m.ts for m, _ in rows],
        "airline United": [m.ts for m, a in rows if a == "United"],
        "airline US Airways": [m.ts for m, a in rows if a == "US Airways"],
    }
    for name, (folder, _, until) in es.CRISES.items():
        stream = es.load_crisis(folder, until)
        out[f"crisis {name}"] = [m.ts for m in stream]
        out[f"crisis {name}, a third"] = [m.ts for m in es.thinned(stream, 1, 3)]
    return out


def predictive_deviance() -> dict[str, object]:
    """Real tuning streams have no known rate: how well the brand baseline predicts each clock hour's count instead
    (fitted at the hour's last second from the hours before it, once the key has ``min_history_hours``): mean
    Poisson deviance ``2 (c log(c/mu) - (c - mu))`` per hour (lower is better; a burst weighs in as it would for any
    estimator) and the mean log ratio ``log((c + 1) / (mu + 1))`` (bias)."""
    config = es.CONFIGS["brand"]
    out: dict[str, object] = {}
    for name, ts in tuning_stream_timestamps().items():
        bc = BucketCounts.from_timestamps(ts)
        dev: list[float] = []
        bias: list[float] = []
        t = (int(ts[0] // HOUR) + 1) * HOUR
        while t + HOUR <= ts[-1]:
            b = fit_key_baseline("brand", {"brand": bc}.get, t + HOUR - 1e-3, es.CONFIGS, data_start=ts[0])
            if b.history_hours >= config.min_history_hours:
                mu = max(b.expected(t, t + HOUR), 1e-6)
                c = bc.window(t, t + HOUR)
                dev.append(2 * ((c * math.log(c / mu) if c > 0 else 0.0) - (c - mu)))
                bias.append(math.log((c + 1) / (mu + 1)))
            t += HOUR
        out[name] = {
            "hours": len(dev),
            "mean_deviance": round(statistics.mean(dev), 3),
            "median_deviance": round(statistics.median(dev), 3),
            "mean_log_ratio_count_over_expected": round(statistics.mean(bias), 4),
        }
    out["mean_of_streams"] = round(statistics.mean(v["mean_deviance"] for v in out.values()), 3)  # type: ignore[index]
    return out


METHOD = (
    "Synthetic family of tools/eval_surge.py (seed 7, streams 7000+i, settings by i mod 3), its brand triplings "
    "replayed with the same draws (same events, same skips: a tripling near a shipped background alert is skipped as "
    "in eval_surge). Detectors: GLR max over windows 5..60 min (step 5) ending at every minute's end of the NB "
    "log-likelihood ratio of 3x vs 1x the expected count; oracle = true hourly mean (day level x cycle x weekend) "
    "and phi, variance m + phi*sum of squared per-clock-hour means; practical = the shipped brand baseline "
    "(fit_key_baseline, refitted as the detector refits it, causal), variance m + m^2/Baseline.size(), silent "
    "before 24 h of history. Episodes: an upward crossing at least 60 min after the last firing (60-min cooldown). "
    "Thresholds chosen on the clean streams of EVEN i only: per setting, the lowest grid value (0.5..40 step 0.05) "
    "from which on the mean (rule 'mean') or every stream ('worst') keeps 3 episodes per two weeks; and one "
    "threshold for all three settings ('worst_one_for_all_settings': every one of the 24 even streams within "
    "budget; what a detector that does not know phi could ship). Every detection figure is on ODD i only "
    "(a tripling is alerted within the hour when a minute end in (start, start+1h] has the statistic over the "
    "threshold, whatever the episode state), beside the odd streams' own clean episodes at that threshold; the "
    "shipped detector's figures are on the same odd-i triplings, per event from eval_surge's inject_and_detect. "
    "'odd_events_where_clean_stream_alone_crossed_in_the_hour' counts detections the clean stream would also have "
    "had (credit not due to the tripling). The oracle GLR is one good test, not the best possible: the true ceiling "
    "is at least its figure."
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--rate-error", choices=("even", "odd", "all"), help="only the baseline's rate error on these seeds (no write)"
    )
    ap.add_argument("--predictive", action="store_true", help="only the baseline's hourly deviance on tuning streams")
    ap.add_argument("--set", action="append", default=[], metavar="KIND.FIELD=VALUE", help="as eval_surge's")
    args = ap.parse_args(argv)
    for setting in args.set:
        name, value = setting.split("=", 1)
        kind, field_name = name.split(".", 1)
        current = getattr(es.CONFIGS[kind], field_name)
        es.CONFIGS[kind] = replace(es.CONFIGS[kind], **{field_name: type(current)(value)})
        args.no_write = True
    if args.predictive:
        print(json.dumps(predictive_deviance(), indent=1))
        return 0
    if args.rate_error:
        parity = {"even": 0, "odd": 1, "all": None}[args.rate_error]
        print(json.dumps(rate_errors(args.seeds, parity=parity), indent=1))
        return 0
    res = run(args.seeds)
    # the brand baseline's own error (shipped settings): against the true rate on the synthetic family, and as
    # hourly deviance on the real tuning streams (when ../shared/data is there)
    res["rate_error"] = {"even": rate_errors(args.seeds, parity=0), "odd": rate_errors(args.seeds, parity=1)}
    if (es.DATA / "airline" / "Tweets.csv").exists():
        res["predictive_deviance_tuning_streams"] = predictive_deviance()
    text = json.dumps(res, indent=2)
    print(text)
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
