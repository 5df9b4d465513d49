"""Counters per key and time bucket: the read model, the time arithmetic, and what a live batch may count."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timezone

HOUR = 3600
DAY = 24 * HOUR
HOURS_PER_DAY = 24


def bucket_start(ts: float, bucket_seconds: int = 300) -> int:
    """Start (epoch seconds) of the bucket holding ``ts``."""
    return int(math.floor(ts / bucket_seconds)) * bucket_seconds


def hour_start(ts: float) -> int:
    return int(math.floor(ts / HOUR)) * HOUR


def day_start(ts: float) -> int:
    return int(math.floor(ts / DAY)) * DAY


def day_of(ts: float) -> str:
    """UTC day ``YYYY-MM-DD`` of ``ts``: the sort key of the (key, day) counter item."""
    return datetime.fromtimestamp(day_start(ts), tz=timezone.utc).strftime("%Y-%m-%d")


def hour_of(ts: float) -> str:
    """UTC hour ``YYYY-MM-DDTHH`` of ``ts``: names the item of that hour's fine buckets."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H")


def day_epoch(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


def counter_fields(ts: float, bucket_seconds: int = 300) -> tuple[str, str]:
    """The two counters a mention at ``ts`` increments: ``("h13", "f157")`` = hour of the UTC day and index of
    the ``bucket_seconds`` bucket within the day."""
    in_day = ts - day_start(ts)
    return f"h{int(in_day // HOUR)}", f"f{int(in_day // bucket_seconds)}"


@dataclass(frozen=True)
class Observation:
    """One counted mention: its event time, its identity (``platform#id``) and the keys it increments."""

    at: float
    mention: str
    keys: tuple[str, ...]


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
    def from_day_items(cls, items: Iterable[Mapping[str, object]], *, bucket_seconds: int = 300) -> BucketCounts:
        """Read model from per-(key, day) records: ``{"day": "YYYY-MM-DD", "h13": 4, "f157": 2, ...}`` (values
        int or ``Decimal``, as DynamoDB returns them; other attributes are ignored; several records of one day, as
        write shards give, add up). Days not given count zero, so pass at least :func:`days_needed`."""
        fine: dict[int, int] = {}
        hourly: dict[int, int] = {}
        per_day = DAY // bucket_seconds
        for item in items:
            day = item.get("day")
            if not isinstance(day, str):
                raise ValueError(f"counter item without a day: {item!r}")
            base = day_epoch(day)
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
