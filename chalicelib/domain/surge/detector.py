"""The test: is a key surging now? And the offline, in-memory detector that replays a stream in event time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from chalicelib.domain.surge.baseline import Baseline, fit_baseline, fit_key_baseline, nb_tail
from chalicelib.domain.surge.config import DEFAULT_CONFIGS, SurgeConfig, baseline_end_hour, config_for
from chalicelib.domain.surge.counts import HOUR, BucketCounts, bucket_start
from chalicelib.domain.surge.keys import key_kind


@dataclass(frozen=True)
class SurgeState:
    """What the detector remembers per key between evaluations (persist it with the counters).

    ``opening``: the alert of a surge whose Crisis is owed. The pipeline's surge service records it with the
    conditional write that claims the key (the state's Crisis is named then), opens the Crisis only after that
    write succeeded, then clears it; a state still carrying it (the try died between the two writes, or another
    processor is opening it now) has its Crisis opened by the next batch that reads it (opening is idempotent by
    the Crisis's name). The detector carries it along unchanged while the surge lasts and never sets it.
    """

    active: bool = False
    fired_at: float | None = None
    level_at_fire: float = 0.0  # expected mentions/hour (daily mean) just before the surge
    opening: SurgeAlert | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"active": self.active, "fired_at": self.fired_at, "level_at_fire": self.level_at_fire}
        if self.opening is not None:
            alert = self.opening
            out["opening"] = {
                "key": alert.key,
                "detected_at": alert.detected_at,
                "window_start": alert.window_start,
                "count": alert.count,
                "baseline": alert.baseline,
                "p_value": alert.p_value,
            }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> SurgeState:
        if not data:
            return cls()
        fired = data.get("fired_at")
        opening = data.get("opening")
        return cls(
            active=bool(data.get("active", False)),
            fired_at=float(fired) if isinstance(fired, (int, float)) else None,
            level_at_fire=float(data.get("level_at_fire", 0.0) or 0.0),  # type: ignore[arg-type]
            opening=_alert_from_dict(opening) if isinstance(opening, Mapping) else None,
        )


def _alert_from_dict(data: Mapping[str, object]) -> SurgeAlert:
    return SurgeAlert(
        key=str(data["key"]),
        detected_at=float(data["detected_at"]),  # type: ignore[arg-type]
        window_start=float(data["window_start"]),  # type: ignore[arg-type]
        count=int(data["count"]),  # type: ignore[call-overload]
        baseline=float(data["baseline"]),  # type: ignore[arg-type]
        p_value=float(data.get("p_value", 1.0)),  # type: ignore[arg-type]
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    (history before it is unknown, not zero). ``baseline``: the key's :func:`fit_key_baseline` (it only changes
    hourly); without it one is fitted here from ``counts`` and ``reference_shape``.
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
        subsided = now - fired_at >= config.cooldown_seconds and (c < config.min_count or c <= config.exit_ratio * mu)
        if not subsided:
            return None, state
        state = SurgeState()

    if baseline.history_hours < config.min_history_hours:
        return None, state

    size = baseline.size()
    best: SurgeAlert | None = None
    for w in config.windows:
        start = end - w
        c = counts.window(start, end)
        if c < config.min_count:
            continue
        mu = baseline.expected(start, now)
        c = counts.window_capped(start, end, spike_cap(config, mu, now, start, config.spike_cap_min))
        if c < config.min_count:
            continue
        if c < config.min_ratio * mu:
            continue
        p = nb_tail(c, mu, size)
        if p <= config.window_alpha(w, baseline.alpha) and (best is None or p < best.p_value):
            best = SurgeAlert(key, now, float(start), c, mu, p)
    if best is None and config.glr_threshold is not None:
        best = _glr_alert(key, counts, now, end, baseline, config, config.glr_threshold)
    if best is None:
        return None, state
    return best, SurgeState(active=True, fired_at=now, level_at_fire=baseline.level)


def spike_cap(config: SurgeConfig, mu: float, now: float, start: float, floor: int) -> float:
    """The most one bucket of the window ``[start, now]`` counts: a spike inside one bucket (a retweet storm, one
    user posting ten times) is not a surge of the key, so each bucket counts at most ``spike_cap_ratio`` times its
    share of the window's expectation ``mu``, and at least ``floor``."""
    b = config.bucket_seconds
    return max(config.spike_cap_ratio * mu * b / max(now - start, b), floor)


def nb_log_ratio(c: int, mu: float, size: float, ratio: float) -> float:
    """``log P(c | mean ratio*mu) - log P(c | mean mu)`` for negative binomials of the same extra variance
    ``mu**2 / size`` (Poisson as size → ∞): the evidence a count holds for a rate ``ratio`` times the expected."""
    if size > 1e6:
        return c * math.log(ratio) - (ratio - 1.0) * mu
    extra = mu * mu / size

    def log_pmf(m: float) -> float:
        s = m * m / extra
        return math.lgamma(c + s) - math.lgamma(s) + s * math.log(s / (s + m)) + c * math.log(m / (s + m))

    return log_pmf(ratio * mu) - log_pmf(mu)


def _glr_alert(
    key: str, counts: BucketCounts, now: float, end: int, baseline: Baseline, config: SurgeConfig, threshold: float
) -> SurgeAlert | None:
    """The sequential route: over every window of whole buckets ending with the current one (up to
    ``glr_max_window``), the log-likelihood ratio of ``glr_ratio`` times the expected rate against 1x on the
    spike-capped count (each bucket at most ``spike_cap_ratio`` times its expectation, as the window test caps);
    an alert on the window with the largest ratio when that exceeds ``threshold``. ``p_value`` holds
    ``exp(-ratio)`` (a likelihood ratio, not a tail probability)."""
    b = config.bucket_seconds
    size = baseline.size()
    floor = config.spike_cap_min if config.glr_spike_cap_min is None else config.glr_spike_cap_min
    best: SurgeAlert | None = None
    best_llr = threshold
    for w in range(b, config.glr_max_window + b, b):
        start = end - w
        mu = baseline.expected(start, now)
        if mu <= 0:
            continue
        c = counts.window_capped(start, end, spike_cap(config, mu, now, start, floor))
        if c < config.min_count:
            continue
        llr = nb_log_ratio(c, mu, size, config.glr_ratio)
        if llr > best_llr:
            best_llr = llr
            best = SurgeAlert(key, now, float(start), c, mu, math.exp(-llr))
    return best


class SurgeDetector:
    """In-memory, event-time detector for offline streams: keeps counters, states and baselines per key.

    ``observe(ts, keys)`` counts one mention under each key and evaluates those keys at ``ts``. Mentions
    must arrive in (roughly) time order; ``now`` never goes backwards. Baselines are refitted when the hour
    they end at moves (:func:`fit_key_baseline`, the same fit the pipeline makes every batch).
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

    def baseline(self, key: str, now: float) -> Baseline:
        end_hour = baseline_end_hour(now, self.configs[key_kind(key)])
        cached = self._baselines.get(key)
        if cached is not None and cached[0] == end_hour:
            return cached[1]
        fitted = fit_key_baseline(key, self.counts.get, now, self.configs, data_start=self.data_start)
        self._baselines[key] = (end_hour, fitted)
        return fitted

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
                baseline=self.baseline(key, now),
            )
            self.states[key] = state
            if alert is not None:
                alerts.append(alert)
        return alerts
