"""The ops figures over a period: volume, response and resolution times, SLA hit rate, CSAT, recurrence.

One module for every reader (``GET /metrics/summary``, ``social-response metrics`` and the weekly report), so the
figures never disagree. Pure: issues come in as plain dicts (as the issues table stores them), ``now`` is given.

* **Which issues.** Those first seen in ``since <= first_seen < until``.
* **Times.** Response: ``response_time_seconds`` (first published reply). Resolution: ``resolved_at`` minus
  ``first_seen``. Median and 90th percentile (nearest rank), over the issues that have one.
* **SLA hit rate.** ``(applied - missed) / applied``, for first response and for resolution: an SLA applies when
  the issue has its due time; it is missed when it was met late, or not met and the due time has passed.
* **CSAT.** The share of satisfaction scores of 4 or 5 (on 1..5), and their mean; only scored issues count.
* **Recurrence.** The share of issues resolved (or closed) that were reopened afterwards.

A figure without data is ``null`` with a count of 0, never a made-up 0 or 100 %.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field

SATISFIED = 4  # CSAT counts scores of 4 and 5 on a 1..5 scale


class Durations(BaseModel):
    count: int = Field(description="issues with this time")
    median_seconds: float | None = None
    p90_seconds: float | None = None


class Rate(BaseModel):
    count: int = Field(description="issues the rate is over (0: no data, and the rate is null)")
    rate: float | None = Field(None, ge=0, le=1)


class SlaFigures(BaseModel):
    first_response: Rate
    resolution: Rate


class Csat(BaseModel):
    count: int = Field(description="satisfaction scores")
    satisfied_share: float | None = Field(None, ge=0, le=1, description="scores of 4 or 5 among them")
    mean_score: float | None = Field(None, ge=1, le=5)


class Volume(BaseModel):
    issues: int
    mentions: int
    by_category: dict[str, int]
    by_severity: dict[str, int]
    by_platform: dict[str, int]
    by_status: dict[str, int]


class MetricsSummary(BaseModel):
    since: datetime
    until: datetime
    volume: Volume
    response_time: Durations
    resolution_time: Durations
    sla: SlaFigures
    csat: Csat
    recurrence: Rate


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def durations(values: list[float]) -> Durations:
    return Durations(count=len(values), median_seconds=median(values), p90_seconds=percentile(values, 0.9))


def rate(hits: int, count: int) -> Rate:
    return Rate(count=count, rate=round(hits / count, 4) if count else None)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def sla_rate(issues: list[dict[str, Any]], due_field: str, met: Any, now: datetime) -> Rate:
    """``(applied - missed) / applied``; ``met(issue)`` is when the SLA's promise was kept (None: not yet)."""
    applied = missed = 0
    for issue in issues:
        due = _time(issue.get(due_field))
        if due is None:
            continue
        done = met(issue)
        if done is None and due > now:
            continue  # still running: neither kept nor missed yet
        applied += 1
        missed += done is None or done > due
    return rate(applied - missed, applied)


def summarize(issues: list[dict[str, Any]], since: datetime, until: datetime, now: datetime) -> MetricsSummary:
    chosen = [i for i in issues if (first := _time(i.get("first_seen"))) is not None and since <= first < until]
    response = [float(i["response_time_seconds"]) for i in chosen if i.get("response_time_seconds") is not None]
    resolution = [(resolved - _time(i["first_seen"])).total_seconds() for i in chosen  # type: ignore[operator]
                  if (resolved := _time(i.get("resolved_at"))) is not None]
    scores = [int(i["satisfaction_score"]) for i in chosen if i.get("satisfaction_score") is not None]
    settled = [i for i in chosen if i.get("resolved_at") or int(i.get("reopened_count") or 0)]
    reopened = sum(1 for i in settled if int(i.get("reopened_count") or 0) > 0)
    return MetricsSummary(
        since=since, until=until,
        volume=Volume(issues=len(chosen), mentions=sum(int(i.get("mention_count") or 0) for i in chosen),
                      **{f"by_{name}": dict(Counter(str(i.get(name) or "unknown") for i in chosen))
                         for name in ("category", "severity", "platform", "status")}),
        response_time=durations(response), resolution_time=durations([max(0.0, r) for r in resolution]),
        sla=SlaFigures(
            first_response=sla_rate(chosen, "sla_first_response_due", lambda i: _time(i.get("first_response_at")),
                                    now),
            resolution=sla_rate(chosen, "sla_resolution_due", lambda i: _time(i.get("resolved_at")), now)),
        csat=Csat(count=len(scores),
                  satisfied_share=round(sum(s >= SATISFIED for s in scores) / len(scores), 4) if scores else None,
                  mean_score=round(sum(scores) / len(scores), 3) if scores else None),
        recurrence=rate(reopened, len(settled)),
    )
