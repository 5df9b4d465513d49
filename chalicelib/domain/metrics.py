"""The ops figures over a period: volume, response and resolution times, SLA hit rate, CSAT, recurrence.

One module for every reader (``GET /metrics/summary``, ``social-response metrics``, the monthly protocol review and
the weekly report), so the figures never disagree. Pure: issues come in as plain dicts (as the issues table stores
them), ``now`` is given.

* **Which issues.** Those first seen in ``since <= first_seen < until``.
* **First response.** The first published reply: ``response_time_seconds`` as the publisher recorded it (the
  platform's own timestamp where it gives one), else ``first_response_at - first_seen``.
* **Resolution.** ``resolved_at - first_seen``.
* **Business hours.** The same stretches, counting only the seconds inside the issue's team's working week (the
  plan's ``business_hours``, per team: time zone and weekly timetable; :mod:`chalicelib.domain.business_hours`).
* **Median, p90, mean.** Over the issues that have the time; p90 is the nearest rank (the smallest value with at
  least 90 % of the values at or below it).
* **SLA hit rate.** ``(applied - missed) / applied``, for first response and for resolution: an SLA applies when
  the issue has its due time and the promise is settled (kept, or the due time has passed); it is missed when it
  was met late, or not met and the due time has passed. A breach is one such miss.
* **CSAT.** The share of satisfaction scores of 4 or 5 (on 1..5), and their mean; only scored issues count (a
  score recorded by a person, ``satisfaction_score``, else the survey's answer, ``satisfaction_rating``).
  Response rate: answered surveys among the surveys settled (``satisfaction``: answered, or ran out unanswered).
* **Recurrence (reopened).** The share of issues resolved (or closed) that were reopened afterwards.
* **Recurrence (by kind).** As :func:`chalicelib.domain.recurrence.recurrence_rate` defines it (the one
  definition): issues resolved in the period that a later issue recurred within the plan's window ÷ issues
  resolved in the period, overall and separately for the same author (a repeat contact) and for the same
  product and topic (a recurring problem). The links are read off the recurring issues (``recurs_issue_id``,
  ``recurrence_rule``, ``recurrence_gap_seconds``).

A figure without data is ``null`` with a count of 0, never a made-up 0 or 100 %.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain.business_hours import TeamHours
from chalicelib.domain.recurrence import RecurrenceLink, RecurrenceRule, recurrence_rate
from chalicelib.domain.survey import SATISFIED_FROM

SATISFIED = SATISFIED_FROM  # CSAT counts scores of 4 and 5 on a 1..5 scale
LIVE = ("open", "in_progress")
RECURRENCE_WINDOW = timedelta(days=30)  # the plan's recurrence.window_days when the caller does not give it
# Survey outcomes on the issue (``satisfaction``, written by the surveys): answered or ran out.
SURVEY_SETTLED = ("satisfied", "dissatisfied", "unanswered")

Issue = dict[str, Any]


class Durations(BaseModel):
    count: int = Field(description="issues with this time")
    median_seconds: float | None = None
    p90_seconds: float | None = None
    mean_seconds: float | None = None


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


class RecurrenceKinds(BaseModel):
    resolved: int = Field(description="issues resolved in the period: what every rate here is over")
    any_rule: Rate = Field(description="of them, recurred within the window by a later issue, by any rule")
    same_author: Rate = Field(description="... by the same author (a repeat contact)")
    same_product_topic: Rate = Field(description="... with the same product and topic (a recurring problem)")


class MetricsSummary(BaseModel):
    since: datetime
    until: datetime
    volume: Volume
    response_time: Durations
    resolution_time: Durations
    response_time_business: Durations = Field(description="first response, in the team's business hours")
    resolution_time_business: Durations = Field(description="resolution, in the team's business hours")
    sla: SlaFigures
    csat: Csat
    recurrence: Rate = Field(description="issues resolved (or closed) that were reopened afterwards")
    recurrence_by_kind: RecurrenceKinds


# ---- small figures --------------------------------------------------------------------------------------------


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
    return Durations(
        count=len(values),
        median_seconds=median(values),
        p90_seconds=percentile(values, 0.9),
        mean_seconds=round(sum(values) / len(values), 3) if values else None,
    )


def rate(hits: int, count: int) -> Rate:
    return Rate(count=count, rate=round(hits / count, 4) if count else None)


def moment(value: Any) -> datetime | None:
    """A stored time (ISO-8601, ``Z`` or an offset; naive counts as UTC), or None."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_time = moment  # the name other modules imported before


def first_seen_in(issues: Iterable[Issue], since: datetime, until: datetime) -> list[Issue]:
    return [i for i in issues if (first := moment(i.get("first_seen"))) is not None and since <= first < until]


# ---- times ----------------------------------------------------------------------------------------------------


def first_response_at(issue: Issue) -> datetime | None:
    """When the first reply was published: recorded, or first seen plus the recorded response time."""
    recorded = moment(issue.get("first_response_at"))
    first, seconds = moment(issue.get("first_seen")), issue.get("response_time_seconds")
    if recorded is None and first is not None and seconds is not None:
        return first + timedelta(seconds=float(seconds))
    return recorded


def response_seconds(issue: Issue) -> float | None:
    if issue.get("response_time_seconds") is not None:
        return float(issue["response_time_seconds"])
    first, answered = moment(issue.get("first_seen")), first_response_at(issue)
    return max(0.0, (answered - first).total_seconds()) if first and answered else None


def resolution_seconds(issue: Issue) -> float | None:
    first, resolved = moment(issue.get("first_seen")), moment(issue.get("resolved_at"))
    return max(0.0, (resolved - first).total_seconds()) if first and resolved else None


def _business(issue: Issue, end: datetime | None, hours: TeamHours) -> float | None:
    first = moment(issue.get("first_seen"))
    if first is None or end is None:
        return None
    return hours.of(issue.get("team")).seconds_between(first, end)


def response_business_seconds(issue: Issue, hours: TeamHours) -> float | None:
    """The same stretch as :func:`response_seconds` (the recorded response time first), in business hours."""
    first, seconds = moment(issue.get("first_seen")), issue.get("response_time_seconds")
    answered = first + timedelta(seconds=float(seconds)) if first and seconds is not None else first_response_at(issue)
    return _business(issue, answered, hours)


def resolution_business_seconds(issue: Issue, hours: TeamHours) -> float | None:
    return _business(issue, moment(issue.get("resolved_at")), hours)


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


class Clocks(BaseModel):
    calendar: Durations
    business: Durations


class TimeFigures(BaseModel):
    first_response: Clocks
    resolution: Clocks


def time_figures(issues: list[Issue], hours: TeamHours) -> TimeFigures:
    return TimeFigures(
        first_response=Clocks(
            calendar=durations(_present(response_seconds(i) for i in issues)),
            business=durations(_present(response_business_seconds(i, hours) for i in issues)),
        ),
        resolution=Clocks(
            calendar=durations(_present(resolution_seconds(i) for i in issues)),
            business=durations(_present(resolution_business_seconds(i, hours) for i in issues)),
        ),
    )


# ---- SLA ------------------------------------------------------------------------------------------------------

SLA_CLOCKS: dict[str, tuple[str, Callable[[Issue], datetime | None]]] = {
    "first_response": ("sla_first_response_due", first_response_at),
    "resolution": ("sla_resolution_due", lambda issue: moment(issue.get("resolved_at"))),
}


class Breach(BaseModel):
    issue_id: str
    sla: str = Field(description="first_response or resolution")
    category: str
    team: str | None
    due: datetime
    met_at: datetime | None = Field(description="when the promise was kept, late; null: not kept yet")
    late_seconds: float = Field(description="met_at (or the report's now) minus due")


def sla_clock_end(issue: Issue, now: datetime) -> datetime | None:
    """Where an SLA's clock stops for an issue that never met it: ``now`` while the issue is live, its close time
    once closed and its resolution time once resolved (closing or resolving without a reply stops the clock, as a
    solved ticket's does: a promise is missed only if its due time passed before then), None where no
    clock runs: a duplicate merged into another issue (that issue carries the promise), or an issue closed before
    close times were recorded."""
    if issue.get("merged_into"):
        return None
    if issue.get("status") == "closed":
        return moment(issue.get("closed_at"))
    if issue.get("status") == "resolved":  # resolved without a reply: the customer's wait ended there
        return moment(issue.get("resolved_at")) or now
    return now


def sla_outcome(issue: Issue, sla: str, now: datetime) -> bool | None:
    """True: kept; False: missed; None: no SLA, still running, or no clock (:func:`sla_clock_end`)."""
    due_field, met = SLA_CLOCKS[sla]
    due = moment(issue.get(due_field))
    if due is None or issue.get("merged_into"):
        return None
    done = met(issue)
    if done is not None:
        return done <= due
    end = sla_clock_end(issue, now)
    if end is None or due > end:
        return None
    return False


def sla_rate(issues: list[Issue], sla: str, now: datetime) -> Rate:
    """``(applied - missed) / applied``."""
    outcomes = [o for o in (sla_outcome(i, sla, now) for i in issues) if o is not None]
    return rate(sum(outcomes), len(outcomes))


def breaches(issues: list[Issue], now: datetime) -> list[Breach]:
    found = []
    for issue in issues:
        for sla, (due_field, met) in SLA_CLOCKS.items():
            due, done = moment(issue.get(due_field)), met(issue)
            if due is not None and sla_outcome(issue, sla, now) is False:
                found.append(
                    Breach(
                        issue_id=str(issue["issue_id"]),
                        sla=sla,
                        category=str(issue.get("category")),
                        team=issue.get("team") or None,
                        due=due,
                        met_at=done,
                        late_seconds=((done or sla_clock_end(issue, now) or now) - due).total_seconds(),
                    )
                )
    return sorted(found, key=lambda b: (b.due, b.issue_id, b.sla))


# ---- CSAT -----------------------------------------------------------------------------------------------------


def score_of(issue: Issue) -> int | None:
    """The issue's satisfaction score: one recorded by a person (``satisfaction_score``, POST
    /issues/{id}/satisfaction, taken after the survey) wins over the survey's answer (``satisfaction_rating``)."""
    for name in ("satisfaction_score", "satisfaction_rating"):
        if issue.get(name) is not None:
            return int(issue[name])
    return None


def scores(issues: list[Issue]) -> list[int]:
    return [score for score in map(score_of, issues) if score is not None]


def csat(issues: list[Issue]) -> Csat:
    given = scores(issues)
    return Csat(
        count=len(given),
        satisfied_share=round(sum(s >= SATISFIED for s in given) / len(given), 4) if given else None,
        mean_score=round(sum(given) / len(given), 3) if given else None,
    )


def csat_response_rate(issues: list[Issue]) -> Rate:
    """Answered surveys among the surveys settled (answered, or ran out unanswered)."""
    asked = [i for i in issues if i.get("satisfaction") in SURVEY_SETTLED]
    return rate(sum(i.get("satisfaction") != "unanswered" for i in asked), len(asked))


def csat_distribution(issues: list[Issue]) -> dict[str, int]:
    counted = Counter(scores(issues))
    return {str(score): counted.get(score, 0) for score in range(1, 6)}


# ---- recurrence -----------------------------------------------------------------------------------------------


def reopened_rate(issues: list[Issue]) -> Rate:
    """Of the issues resolved or closed (a merged duplicate is neither: its issue counts), or reopened since, the
    share that were reopened."""
    settled = [
        i
        for i in issues
        if i.get("resolved_at")
        or int(i.get("reopened_count") or 0)
        or (i.get("status") == "closed" and not i.get("merged_into"))
    ]
    return rate(sum(1 for i in settled if int(i.get("reopened_count") or 0) > 0), len(settled))


def resolved_in(issues: Iterable[Issue], since: datetime, until: datetime) -> list[Issue]:
    return [i for i in issues if (done := moment(i.get("resolved_at"))) is not None and since <= done < until]


def recurrence_links(issues: Iterable[Issue]) -> list[RecurrenceLink]:
    """The links the recurrence rule stored on the issues that recur a resolved one."""
    found = []
    for issue in issues:
        recurs, rule = issue.get("recurs_issue_id"), str(issue.get("recurrence_rule") or "")
        if recurs and rule in RecurrenceRule._value2member_map_:
            found.append(
                RecurrenceLink(
                    issue_id=str(issue["issue_id"]),
                    recurs_issue_id=str(recurs),
                    rule=RecurrenceRule(rule),
                    gap_seconds=int(issue.get("recurrence_gap_seconds") or 0),
                )
            )
    return found


def recurred_ids(
    issues: Iterable[Issue], since: datetime, until: datetime, window: timedelta = RECURRENCE_WINDOW
) -> set[str]:
    """The issues resolved in the period that a later issue recurred within the window (any rule)."""
    issues = list(issues)
    in_period = {str(i["issue_id"]) for i in resolved_in(issues, since, until)}
    return {
        link.recurs_issue_id
        for link in recurrence_links(issues)
        if link.recurs_issue_id in in_period and link.gap_seconds <= window.total_seconds()
    }


def recurrence_kinds(
    issues: list[Issue], since: datetime, until: datetime, window: timedelta = RECURRENCE_WINDOW
) -> RecurrenceKinds:
    """``issues``: every issue that may be resolved in the period or recur one (first seen up to now)."""
    resolved = [(str(i["issue_id"]), moment(i["resolved_at"])) for i in resolved_in(issues, since, until)]
    figures = recurrence_rate(resolved, recurrence_links(issues), since, until, window)  # type: ignore[arg-type]
    return RecurrenceKinds(
        resolved=figures.resolved,
        any_rule=rate(figures.recurred, figures.resolved),
        same_author=rate(figures.same_author, figures.resolved),
        same_product_topic=rate(figures.same_product_topic, figures.resolved),
    )


# ---- volume ---------------------------------------------------------------------------------------------------


def products_of(issue: Issue) -> list[str]:
    value = issue.get("products") or []
    return [str(p) for p in (value if isinstance(value, (list, tuple, set)) else [value])]


def count_by(issues: list[Issue], field: str) -> dict[str, int]:
    """Issues per value of ``field`` (``products``: per product named; an issue may name several, or none)."""
    if field == "products":
        return dict(Counter(p for i in issues for p in products_of(i)))
    return dict(Counter(str(i.get(field) or "unknown") for i in issues))


def is_open_at(issue: Issue, at: datetime) -> bool:
    """Opened before ``at`` and neither resolved nor closed by then. A closed issue is open until its ``closed_at``;
    one closed before close times were kept counts as settled at every moment."""
    first = moment(issue.get("first_seen"))
    if first is None or first >= at:
        return False
    resolved = moment(issue.get("resolved_at"))
    if resolved is not None:
        return resolved >= at
    if str(issue.get("status") or "open") in LIVE:
        return True
    closed = moment(issue.get("closed_at")) if issue.get("status") == "closed" else None
    return closed is not None and closed >= at


def past_sla_at(issue: Issue, at: datetime) -> bool:
    """Open at ``at`` with its resolution due before it."""
    due = moment(issue.get("sla_resolution_due"))
    return is_open_at(issue, at) and due is not None and due < at


# ---- the summary (GET /metrics/summary, the report's headline) ------------------------------------------------


def summarize(
    issues: list[Issue],
    since: datetime,
    until: datetime,
    now: datetime,
    hours: TeamHours | None = None,
    recurrence_window: timedelta = RECURRENCE_WINDOW,
) -> MetricsSummary:
    """The figures of the issues first seen in the period. ``hours``: each team's working week (default: Monday to
    Friday 09-17 UTC); recurrence by kind also looks at the issues resolved in the period and at the later
    issues recurring them, so pass issues first seen up to now for it to be complete."""
    hours = hours or TeamHours()
    chosen = first_seen_in(issues, since, until)
    times = time_figures(chosen, hours)
    return MetricsSummary(
        since=since,
        until=until,
        volume=Volume(
            issues=len(chosen),
            mentions=sum(int(i.get("mention_count") or 0) for i in chosen),
            **{f"by_{name}": count_by(chosen, name) for name in ("category", "severity", "platform", "status")},
        ),
        response_time=times.first_response.calendar,
        resolution_time=times.resolution.calendar,
        response_time_business=times.first_response.business,
        resolution_time_business=times.resolution.business,
        sla=SlaFigures(
            first_response=sla_rate(chosen, "first_response", now), resolution=sla_rate(chosen, "resolution", now)
        ),
        csat=csat(chosen),
        recurrence=reopened_rate(chosen),
        recurrence_by_kind=recurrence_kinds(issues, since, until, recurrence_window),
    )
