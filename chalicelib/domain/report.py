"""The weekly report: every figure for an ISO week, next to the week before, with the issues behind it.

Pure: the issues (plain dicts as the issues table keeps them), their audit trails and the plan come in; the
:class:`WeeklyReport` (what the JSON file holds, field names stable) and the CSV's rows come out. The headline
is :func:`chalicelib.domain.metrics.summarize`, the same code as ``GET /metrics/summary``; every other figure is
built from the same helpers in :mod:`chalicelib.domain.metrics`.

* **The week.** ISO weeks (Monday to Monday) counted in the plan's report time zone (``report.time_zone``):
  ``2026-W47`` in UTC is 2026-11-16T00:00Z to 2026-11-23T00:00Z. An issue belongs to the week it was first seen in.
* **Drill-down.** Each figure carries ``link``: the ops API query (``GET /issues?...``) that lists the issues
  behind it, and/or ``issue_ids``: the issues themselves, when the API has no filter for it (a topic, a
  breach, a step that timed out).
* **Approval cycles** come from the audit trail: a step's cycle runs from its first request (``step_initial``)
  to the outcome recorded for it (``step_submitted``, ``step_approved``, ``step_rejected``, ``step_edited``); it
  timed out when a reminder or an escalation was sent in between (``step_reminder``, ``step_escalated``), and
  escalated when the step went to its backup (``step_escalated``). A rejected draft starts a new cycle.
* **Surges and Crises**: the issues a surge opened (``rule`` ``surge:<key>``): started is the surge window's
  start, detected is the detector's time (audit ``surge_detected``), the delay between them, and how the issue
  ended (status, resolution time and note).
* **Canned-reply warnings**: audit ``canned_warning_raised`` (a draft close to a recent reply was shown the
  warning) and ``canned_warning_overridden`` (it was sent anyway).
* **Open at the week's end**: follow-ups (``follow_up_required``) and issues past their resolution SLA, as they
  stood at the end of each week, whatever day they were first seen (the store is read for every issue live now
  or settled since the week before began: ``chalicelib.services.issue_window.issues_for_period``). Likewise,
  recurrence counts every issue resolved in the week, however old.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, Field

from chalicelib.domain import metrics
from chalicelib.domain.business_hours import WEEKDAYS, TeamHours, zone
from chalicelib.domain.metrics import (
    Breach,
    Clocks,
    Csat,
    Durations,
    Issue,
    MetricsSummary,
    Rate,
    breaches,
    count_by,
    csat,
    csat_distribution,
    csat_response_rate,
    durations,
    first_seen_in,
    is_open_at,
    moment,
    past_sla_at,
    recurred_ids,
    reopened_rate,
    resolved_in,
    sla_rate,
    summarize,
    time_figures,
)

SCHEMA_VERSION = 1
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
LOOKBACK_DAYS = 42  # issues first seen this long before the period are read too (besides the live and the settled)
TOP = 5  # top recurring products and topics
MAX_COMMENTS = 50

T = TypeVar("T")


class BadWeek(ValueError):
    """Not a ``YYYY-Www`` ISO week."""


# ---- weeks ----------------------------------------------------------------------------------------------------


def parse_week(label: str) -> tuple[int, int]:
    found = WEEK.match(label or "")
    if not found:
        raise BadWeek(f"week: {label!r} is not an ISO week like 2026-W47")
    year, week = int(found[1]), int(found[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise BadWeek(f"week: {year} has no week {week}") from None
    if not 2000 <= year <= 2099:
        raise BadWeek("week: a year from 2000 to 2099")
    return year, week


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(label: str, time_zone: str = "UTC") -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 on ``time_zone``'s clock, as UTC instants."""
    year, week = parse_week(label)
    monday = date.fromisocalendar(year, week, 1)
    local = zone(time_zone)
    since = datetime.combine(monday, datetime.min.time(), tzinfo=local)
    until = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=local)
    return since.astimezone(timezone.utc), until.astimezone(timezone.utc)


def previous_week(label: str) -> str:
    year, week = parse_week(label)
    return week_label(date.fromisocalendar(year, week, 1) - timedelta(days=7))


def last_full_week(now: datetime, time_zone: str = "UTC") -> str:
    """The ISO week before the one ``now`` falls in (on ``time_zone``'s clock)."""
    return week_label(now.astimezone(zone(time_zone)).date() - timedelta(days=7))


def due_week(now: datetime, day: str, hour: int, time_zone: str) -> str | None:
    """The week whose report is due at ``now``: the last full week once this week's slot (``day`` at ``hour`` on
    ``time_zone``'s clock) has passed; None before it."""
    local = now.astimezone(zone(time_zone))
    monday = local.date() - timedelta(days=local.weekday())
    slot_day = monday + timedelta(days=WEEKDAYS.index(day))
    slot = datetime.combine(slot_day, datetime.min.time(), tzinfo=zone(time_zone)).replace(hour=hour)
    return last_full_week(now, time_zone) if local >= slot else None


# ---- the report's shapes --------------------------------------------------------------------------------------


class Compared(BaseModel, Generic[T]):
    this_week: T
    week_before: T


class CountRow(BaseModel):
    key: str
    this_week: int
    week_before: int
    link: str | None = Field(None, description="GET /issues query listing this week's issues behind the count")
    issue_ids: list[str] = Field(default_factory=list, description="this week's issues behind the count")


class Volume(BaseModel):
    issues: Compared[int]
    mentions: Compared[int]
    by_platform: list[CountRow]
    by_category: list[CountRow]
    by_severity: list[CountRow]
    by_product: list[CountRow]
    by_topic: list[CountRow]


class GroupTimes(BaseModel):
    key: str
    link: str | None
    issues: Compared[int]
    first_response: Compared[Clocks]
    resolution: Compared[Clocks]
    sla_first_response: Compared[Rate]
    sla_resolution: Compared[Rate]


class Times(BaseModel):
    overall_first_response: Compared[Clocks]
    overall_resolution: Compared[Clocks]
    by_category: list[GroupTimes]
    by_team: list[GroupTimes]


class BreachRow(Breach):
    link: str


class Sla(BaseModel):
    first_response: Compared[Rate]
    resolution: Compared[Rate]
    breach_count: Compared[int]
    breaches: list[BreachRow] = Field(description="this week's breaches, by due time")


class StepWeek(BaseModel):
    cycles: int = Field(description="cycles of the step that ended with an outcome")
    cycle_time: Durations
    timed_out: int = Field(description="cycles in which a reminder or escalation went out")
    escalated: int = Field(description="cycles handed to the step's backup")
    timed_out_issue_ids: list[str] = Field(default_factory=list)
    escalated_issue_ids: list[str] = Field(default_factory=list)


class StepFigures(BaseModel):
    protocol: str
    step: str
    this_week: StepWeek
    week_before: StepWeek


class Comment(BaseModel):
    issue_id: str
    score: int | None
    comment: str
    link: str


class Satisfaction(BaseModel):
    score: Compared[Csat]
    response_rate: Compared[Rate]
    distribution: Compared[dict[str, int]] = Field(description="scores 1..5 -> how many")
    comments: list[Comment] = Field(description=f"this week's comments, at most {MAX_COMMENTS}")


class Recurrence(BaseModel):
    reopened: Compared[Rate]
    any_rule: Compared[Rate]
    same_author: Compared[Rate]
    same_product_topic: Compared[Rate]
    top_products: list[CountRow]
    top_topics: list[CountRow]


class CrisisRow(BaseModel):
    issue_id: str
    key: str = Field(description="what surged: product:<name>, topic:<name> or brand")
    started: datetime | None
    detected: datetime | None
    detection_delay_seconds: float | None
    status: str
    resolved_at: datetime | None
    resolution_seconds: float | None
    resolution_note: str | None
    link: str


class Surges(BaseModel):
    crises: Compared[int]
    items: list[CrisisRow] = Field(description="this week's surges and the Crises they opened")


class OpenAtEnd(BaseModel):
    count: Compared[int]
    link: str
    issue_ids: list[str] = Field(description="as of this week's end")


class OpenItems(BaseModel):
    follow_ups: OpenAtEnd
    past_sla: OpenAtEnd


class CannedReplies(BaseModel):
    raised: Compared[int]
    overridden: Compared[int]
    issue_ids: list[str]


class WeeklyReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    week: str
    week_before: str
    since: datetime
    until: datetime
    time_zone: str
    generated_at: datetime
    brand: str
    plan_version: int
    definitions: dict[str, str]
    summary: Compared[MetricsSummary]
    volume: Volume
    times: Times
    sla: Sla
    approvals: list[StepFigures]
    satisfaction: Satisfaction
    recurrence: Recurrence
    surges: Surges
    open_items: OpenItems
    canned_replies: CannedReplies
    plan_review_overdue: bool | None = None


DEFINITIONS = {
    "week": "ISO week, Monday 00:00 to Monday 00:00 in the report's time zone; an issue counts in the week it was "
    "first seen in",
    "summary": "the same figures as GET /metrics/summary for each week",
    "volume": "issues first seen in the week, per platform, category, severity, product named and topic",
    "times.first_response": "first published reply minus first seen (the platform's timestamp where it gives one)",
    "times.resolution": "resolved_at minus first seen",
    "times.business": "the same stretch counting only the issue's team's business hours (plan business_hours)",
    "median/p90/mean": "over the issues that have the time; p90 is the nearest rank",
    "sla.rate": "(applied - missed) / applied; applied: the SLA's due time passed or it was met; missed: met late "
    "or not met by its due time",
    "sla.breaches": "each missed SLA of this week's issues, with how late (until the report ran when still unmet)",
    "approvals": "per protocol step: cycle time from the step's first request to its outcome (audit trail); "
    "timed_out: a reminder or escalation went out; escalated: handed to the backup",
    "satisfaction.score": "share of satisfaction scores of 4 or 5 (1..5): a score recorded by a person, else the "
    "survey's answer",
    "satisfaction.response_rate": "answered surveys among the surveys answered or run out unanswered",
    "recurrence.reopened": "issues resolved or closed that were reopened",
    "recurrence.any_rule": "issues resolved in the week that a later issue recurred within the plan's recurrence "
    "window (domain/recurrence.py) / issues resolved in the week",
    "recurrence.same_author": "the same, counting only recurrences by the same author (a repeat contact)",
    "recurrence.same_product_topic": "the same, counting only recurrences on the same product and topic (a "
    "recurring problem)",
    "recurrence.top": "products and topics of the issues resolved in the week that recurred",
    "surges": "Crises a surge opened: started (window start), detected, the delay between, and how they ended",
    "open_items": "as of each week's end: open issues with follow-up required, and open issues past their "
    "resolution SLA",
    "canned_replies": "warnings that a draft reads like a recent reply: raised, and sent anyway (overridden)",
}


# ---- building it ----------------------------------------------------------------------------------------------


@dataclass
class ReportInput:
    week: str
    # every issue first seen from LOOKBACK_DAYS before the week before up to the recurrence window after the week,
    # and every issue live at read time or resolved or closed since the week before began (however old)
    issues: list[Issue]
    history: dict[str, list[dict[str, Any]]]  # audit events per issue (at least for the two weeks' issues)
    hours: TeamHours
    time_zone: str
    now: datetime
    brand: str = ""
    plan_version: int = 0
    protocols: dict[str, str | None] = field(default_factory=dict)  # category -> its protocol
    recurrence_window: timedelta = metrics.RECURRENCE_WINDOW
    review_overdue: bool | None = None


@dataclass
class Period:
    label: str
    since: datetime
    until: datetime
    issues: list[Issue]  # first seen in the period
    resolved: list[Issue]  # resolved in the period (any first seen)


def _day(moment_: datetime) -> str:
    return moment_.astimezone(timezone.utc).date().isoformat()


def issues_link(period: Period, **filters: Any) -> str:
    """``GET /issues`` listing the period's issues with ``filters`` (days in UTC, ``until`` included)."""
    days = {"since": _day(period.since), "until": _day(period.until - timedelta(microseconds=1))}
    query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items() if v is not None}
    return "/issues?" + urlencode({**query, **days, "limit": 100})


def issue_link(issue_id: str) -> str:
    return f"/issues/{quote(issue_id, safe='')}"


def _ids(issues: list[Issue]) -> list[str]:
    return sorted(str(i["issue_id"]) for i in issues)


def _rows(this: Period, before: Period, field_name: str, api_filter: str | None) -> list[CountRow]:
    now, then = count_by(this.issues, field_name), count_by(before.issues, field_name)

    def behind(key: str) -> list[Issue]:
        if field_name == "products":
            return [i for i in this.issues if key in metrics.products_of(i)]
        return [i for i in this.issues if str(i.get(field_name) or "unknown") == key]

    keys = sorted(set(now) | set(then), key=lambda k: (-now.get(k, 0), -then.get(k, 0), k))
    return [
        CountRow(
            key=k,
            this_week=now.get(k, 0),
            week_before=then.get(k, 0),
            link=issues_link(this, **{api_filter: k}) if api_filter and k != "unknown" else None,
            issue_ids=_ids(behind(k)),
        )
        for k in keys
    ]


def _group_times(
    this: Period, before: Period, field_name: str, api_filter: str, hours: TeamHours, now: datetime
) -> list[GroupTimes]:
    keys = sorted({str(i.get(field_name) or "none") for i in this.issues + before.issues})
    groups = []
    for key in keys:
        mine = [[i for i in p.issues if str(i.get(field_name) or "none") == key] for p in (this, before)]
        times = [time_figures(issues, hours) for issues in mine]
        groups.append(
            GroupTimes(
                key=key,
                link=issues_link(this, **{api_filter: key}) if key != "none" else None,
                issues=Compared[int](this_week=len(mine[0]), week_before=len(mine[1])),
                first_response=Compared[Clocks](this_week=times[0].first_response, week_before=times[1].first_response),
                resolution=Compared[Clocks](this_week=times[0].resolution, week_before=times[1].resolution),
                sla_first_response=Compared[Rate](
                    this_week=sla_rate(mine[0], "first_response", now),
                    week_before=sla_rate(mine[1], "first_response", now),
                ),
                sla_resolution=Compared[Rate](
                    this_week=sla_rate(mine[0], "resolution", now), week_before=sla_rate(mine[1], "resolution", now)
                ),
            )
        )
    return groups


def _events(history: dict[str, list[dict[str, Any]]], issue_id: str) -> list[dict[str, Any]]:
    return sorted(history.get(issue_id, []), key=lambda e: (str(e.get("at") or ""), str(e.get("sk") or "")))


REQUEST_TYPES = {"step_initial": "initial", "step_reminder": "reminder", "step_escalated": "escalated"}
OUTCOME_TYPES = ("step_submitted", "step_approved", "step_rejected", "step_edited")


@dataclass
class _Cycles:
    seconds: list[float] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)


def step_cycles(
    issues: list[Issue], history: dict[str, list[dict[str, Any]]], protocols: dict[str, str | None]
) -> dict[tuple[str, str], _Cycles]:
    """(protocol, step) -> the cycles of the issues' steps (see the module docstring)."""
    found: dict[tuple[str, str], _Cycles] = defaultdict(_Cycles)
    for issue in issues:
        issue_id = str(issue["issue_id"])
        protocol = protocols.get(str(issue.get("category"))) or str(issue.get("category"))
        running: dict[str, dict[str, Any]] = {}
        for event in _events(history, issue_id):
            kind, details = str(event.get("type")), event.get("details") or {}
            step, at = details.get("step"), moment(event.get("at"))
            if not step or at is None:
                continue
            if kind in REQUEST_TYPES:
                cycle = running.setdefault(step, {"start": at, "timed_out": False, "escalated": False})
                if REQUEST_TYPES[kind] != "initial":
                    cycle["timed_out"] = True
                if REQUEST_TYPES[kind] == "escalated":
                    cycle["escalated"] = True
            elif kind in OUTCOME_TYPES and step in running:
                cycle = running.pop(step)
                found[(protocol, step)].seconds.append(max(0.0, (at - cycle["start"]).total_seconds()))
                _flag(found[(protocol, step)], cycle, issue_id)
        for step, cycle in running.items():  # still waiting: not a cycle time yet, but its timeouts count
            found[(protocol, step)]
            _flag(found[(protocol, step)], cycle, issue_id)
    return found


def _flag(cycles: _Cycles, cycle: dict[str, Any], issue_id: str) -> None:
    if cycle["timed_out"]:
        cycles.timed_out.append(issue_id)
    if cycle["escalated"]:
        cycles.escalated.append(issue_id)


def _step_week(cycles: _Cycles | None) -> StepWeek:
    cycles = cycles or _Cycles()
    return StepWeek(
        cycles=len(cycles.seconds),
        cycle_time=durations(cycles.seconds),
        timed_out=len(cycles.timed_out),
        escalated=len(cycles.escalated),
        timed_out_issue_ids=sorted(set(cycles.timed_out)),
        escalated_issue_ids=sorted(set(cycles.escalated)),
    )


def _count_events(issues: list[Issue], history: dict[str, list[dict[str, Any]]], kind: str) -> list[str]:
    return [str(i["issue_id"]) for i in issues for e in history.get(str(i["issue_id"]), []) if e.get("type") == kind]


def _comments(this: Period, history: dict[str, list[dict[str, Any]]]) -> list[Comment]:
    found = []
    for issue in this.issues:
        issue_id = str(issue["issue_id"])
        texts = [
            (e.get("details") or {})
            for e in _events(history, issue_id)
            if e.get("type") in ("satisfaction_recorded", "survey_answered")
        ]
        texts = [t for t in texts if str(t.get("comment") or "").strip()]
        if str(issue.get("satisfaction_comment") or "").strip():
            texts.insert(0, {"comment": issue["satisfaction_comment"], "rating": issue.get("satisfaction_rating")})
        for details in texts[-1:]:  # the latest comment of the issue
            score = details.get("score", details.get("rating", metrics.score_of(issue)))
            found.append(
                Comment(
                    issue_id=issue_id,
                    score=int(score) if score is not None else None,
                    comment=str(details["comment"]),
                    link=issue_link(issue_id),
                )
            )
    return sorted(found, key=lambda c: c.issue_id)[:MAX_COMMENTS]


def _crisis(issue: Issue, history: dict[str, list[dict[str, Any]]]) -> CrisisRow:
    issue_id = str(issue["issue_id"])
    detected_events = [e for e in _events(history, issue_id) if e.get("type") == "surge_detected"]
    details = (detected_events[0].get("details") or {}) if detected_events else {}
    started = moment(details.get("window_start")) or moment(issue.get("first_seen"))
    detected = moment(details.get("detected_at")) or (moment(detected_events[0].get("at")) if detected_events else None)
    return CrisisRow(
        issue_id=issue_id,
        key=str(details.get("key") or str(issue.get("rule") or "").removeprefix("surge:")),
        started=started,
        detected=detected,
        detection_delay_seconds=(detected - started).total_seconds() if started and detected else None,
        status=str(issue.get("status") or "open"),
        resolved_at=moment(issue.get("resolved_at")),
        resolution_seconds=metrics.resolution_seconds(issue),
        resolution_note=issue.get("resolution_note"),
        link=issue_link(issue_id),
    )


def is_surge(issue: Issue) -> bool:
    return str(issue.get("rule") or "").startswith("surge:")


def _top(
    this: Period, before: Period, field_name: str, api_filter: str | None, window: timedelta, issues: list[Issue]
) -> list[CountRow]:
    """The products (or topics) of the issues resolved in the week that recurred, most named first."""
    recurred = [
        [i for i in p.resolved if str(i["issue_id"]) in recurred_ids(issues, p.since, p.until, window)]
        for p in (this, before)
    ]
    periods = [
        Period(p.label, p.since, p.until, chosen, []) for p, chosen in zip((this, before), recurred, strict=True)
    ]
    return [row for row in _rows(periods[0], periods[1], field_name, api_filter) if row.this_week][:TOP]


def _compare(this: int, before: int) -> Compared[int]:
    return Compared[int](this_week=this, week_before=before)


def build_report(given: ReportInput) -> WeeklyReport:
    before_label = previous_week(given.week)
    periods = []
    for label in (given.week, before_label):
        since, until = week_bounds(label, given.time_zone)
        periods.append(
            Period(
                label, since, until, first_seen_in(given.issues, since, until), resolved_in(given.issues, since, until)
            )
        )
    this, before = periods
    now, hours = given.now, given.hours
    both = [summarize(given.issues, p.since, p.until, now, hours, given.recurrence_window) for p in periods]
    times = [time_figures(p.issues, hours) for p in periods]
    found = [breaches(p.issues, now) for p in periods]
    cycles = [step_cycles(p.issues, given.history, given.protocols) for p in periods]
    steps = sorted(set(cycles[0]) | set(cycles[1]))
    follow_ups = [[i for i in given.issues if i.get("follow_up_required") and is_open_at(i, p.until)] for p in periods]
    past_sla = [[i for i in given.issues if past_sla_at(i, p.until)] for p in periods]
    canned = [
        [_count_events(p.issues, given.history, kind) for p in periods]
        for kind in ("canned_warning_raised", "canned_warning_overridden")
    ]
    return WeeklyReport(
        week=given.week,
        week_before=before_label,
        since=this.since,
        until=this.until,
        time_zone=given.time_zone,
        generated_at=now,
        brand=given.brand,
        plan_version=given.plan_version,
        definitions=DEFINITIONS,
        summary=Compared[MetricsSummary](this_week=both[0], week_before=both[1]),
        volume=Volume(
            issues=_compare(len(this.issues), len(before.issues)),
            mentions=_compare(both[0].volume.mentions, both[1].volume.mentions),
            by_platform=_rows(this, before, "platform", "platform"),
            by_category=_rows(this, before, "category", "category"),
            by_severity=_rows(this, before, "severity", "severity"),
            by_product=_rows(this, before, "products", "product"),
            by_topic=_rows(this, before, "topic", None),
        ),
        times=Times(
            overall_first_response=Compared[Clocks](
                this_week=times[0].first_response, week_before=times[1].first_response
            ),
            overall_resolution=Compared[Clocks](this_week=times[0].resolution, week_before=times[1].resolution),
            by_category=_group_times(this, before, "category", "category", hours, now),
            by_team=_group_times(this, before, "team", "team", hours, now),
        ),
        sla=Sla(
            first_response=Compared[Rate](this_week=both[0].sla.first_response, week_before=both[1].sla.first_response),
            resolution=Compared[Rate](this_week=both[0].sla.resolution, week_before=both[1].sla.resolution),
            breach_count=_compare(len(found[0]), len(found[1])),
            breaches=[BreachRow(**b.model_dump(), link=issue_link(b.issue_id)) for b in found[0]],
        ),
        approvals=[
            StepFigures(
                protocol=protocol,
                step=step,
                this_week=_step_week(cycles[0].get((protocol, step))),
                week_before=_step_week(cycles[1].get((protocol, step))),
            )
            for protocol, step in steps
        ],
        satisfaction=Satisfaction(
            score=Compared[Csat](this_week=csat(this.issues), week_before=csat(before.issues)),
            response_rate=Compared[Rate](
                this_week=csat_response_rate(this.issues), week_before=csat_response_rate(before.issues)
            ),
            distribution=Compared[dict[str, int]](
                this_week=csat_distribution(this.issues), week_before=csat_distribution(before.issues)
            ),
            comments=_comments(this, given.history),
        ),
        recurrence=Recurrence(
            reopened=Compared[Rate](this_week=reopened_rate(this.issues), week_before=reopened_rate(before.issues)),
            any_rule=Compared[Rate](
                this_week=both[0].recurrence_by_kind.any_rule, week_before=both[1].recurrence_by_kind.any_rule
            ),
            same_author=Compared[Rate](
                this_week=both[0].recurrence_by_kind.same_author, week_before=both[1].recurrence_by_kind.same_author
            ),
            same_product_topic=Compared[Rate](
                this_week=both[0].recurrence_by_kind.same_product_topic,
                week_before=both[1].recurrence_by_kind.same_product_topic,
            ),
            top_products=_top(this, before, "products", "product", given.recurrence_window, given.issues),
            top_topics=_top(this, before, "topic", None, given.recurrence_window, given.issues),
        ),
        surges=Surges(
            crises=_compare(sum(map(is_surge, this.issues)), sum(map(is_surge, before.issues))),
            items=[_crisis(i, given.history) for i in this.issues if is_surge(i)],
        ),
        open_items=OpenItems(
            follow_ups=OpenAtEnd(
                count=_compare(len(follow_ups[0]), len(follow_ups[1])),
                link="/issues?" + urlencode({"status": "open", "follow_up_required": "true"}),
                issue_ids=_ids(follow_ups[0]),
            ),
            past_sla=OpenAtEnd(
                count=_compare(len(past_sla[0]), len(past_sla[1])),
                link="/issues?status=open",
                issue_ids=_ids(past_sla[0]),
            ),
        ),
        canned_replies=CannedReplies(
            raised=_compare(len(canned[0][0]), len(canned[0][1])),
            overridden=_compare(len(canned[1][0]), len(canned[1][1])),
            issue_ids=sorted(set(canned[0][0]) | set(canned[1][0])),
        ),
        plan_review_overdue=given.review_overdue,
    )


# ---- what a renderer makes of it ----------------------------------------------------------------------------


@dataclass
class ReportFiles:
    """A rendered report: the files to store in S3 and the files to write on disk (name -> (bytes, content
    type)), the email's HTML (charts by ``cid:``), its plain-text part and the inline images (Content-ID -> PNG)."""

    stored: dict[str, tuple[bytes, str]]
    disk: dict[str, tuple[bytes, str]]
    email_html: str
    text: str
    inline: dict[str, bytes]


# ---- the CSV: one row per issue of the week -------------------------------------------------------------------

CSV_COLUMNS = (
    "issue_id",
    "first_seen",
    "category",
    "severity",
    "team",
    "platform",
    "products",
    "topic",
    "status",
    "assigned_to",
    "mention_count",
    "reach",
    "first_response_at",
    "first_response_seconds",
    "first_response_business_seconds",
    "resolved_at",
    "resolution_seconds",
    "resolution_business_seconds",
    "sla_first_response",
    "sla_resolution",
    "satisfaction_score",
    "recurrence_rule",
    "recurs_issue_id",
    "follow_up_required",
    "surge",
    "description",
    "link",
)


def _sla_word(issue: Issue, sla: str, now: datetime) -> str:
    if not issue.get(metrics.SLA_CLOCKS[sla][0]) or issue.get("merged_into"):
        return "none"  # no SLA, or a duplicate whose issue carries it
    outcome = metrics.sla_outcome(issue, sla, now)
    if outcome is None:  # not applied: its clock stopped (closed before it was due) or still runs
        return "stopped" if metrics.sla_clock_end(issue, now) != now else "running"
    return "kept" if outcome else "missed"


def csv_rows(given: ReportInput) -> list[dict[str, Any]]:
    since, until = week_bounds(given.week, given.time_zone)
    rows = []
    for issue in sorted(
        first_seen_in(given.issues, since, until), key=lambda i: (str(i.get("first_seen")), str(i["issue_id"]))
    ):
        rows.append(
            {
                **{
                    name: issue.get(name)
                    for name in (
                        "issue_id",
                        "first_seen",
                        "category",
                        "severity",
                        "team",
                        "platform",
                        "topic",
                        "status",
                        "assigned_to",
                        "mention_count",
                        "reach",
                        "first_response_at",
                        "resolved_at",
                        "recurrence_rule",
                        "recurs_issue_id",
                        "description",
                    )
                },
                "products": ";".join(metrics.products_of(issue)),
                "satisfaction_score": metrics.score_of(issue),
                "first_response_seconds": metrics.response_seconds(issue),
                "first_response_business_seconds": metrics.response_business_seconds(issue, given.hours),
                "resolution_seconds": metrics.resolution_seconds(issue),
                "resolution_business_seconds": metrics.resolution_business_seconds(issue, given.hours),
                "sla_first_response": _sla_word(issue, "first_response", given.now),
                "sla_resolution": _sla_word(issue, "resolution", given.now),
                "follow_up_required": bool(issue.get("follow_up_required")),
                "surge": is_surge(issue),
                "link": issue_link(str(issue["issue_id"])),
            }
        )
    return rows


def lookback_start(week: str, time_zone: str) -> datetime:
    """The first moment whose issues the report reads by first-seen day (the week before, and LOOKBACK_DAYS before
    that); older issues are read too when live, or settled since the week before began."""
    return week_bounds(previous_week(week), time_zone)[0] - timedelta(days=LOOKBACK_DAYS)


def issues_counted(week: str, time_zone: str, issues: list[Issue]) -> list[Issue]:
    """The issues of the two weeks compared (whose audit trails the report reads)."""
    since = week_bounds(previous_week(week), time_zone)[0]
    until = week_bounds(week, time_zone)[1]
    return first_seen_in(issues, since, until)
