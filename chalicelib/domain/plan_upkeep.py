"""Keeping a response plan current: the quarterly plan review, the protocols nothing uses any more, the monthly
review reminder each protocol's owners get, and how long personal data is kept.

Pure: the plan and the clock come in, answers go out. The schedules in ``chalicelib/api/upkeep.py`` run the use
cases of ``chalicelib/services/upkeep.py``, which call these; the weekly report shows :func:`review_due` and
:func:`outdated_protocols` too, so the alert and the report never disagree.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.metrics import Durations, MetricsSummary
from chalicelib.domain.plan import ResponsePlan


class PlanVersionMissing(LookupError):
    """404: no such stored plan version."""


class PlanVersionConflict(RuntimeError):
    """409: the change does not fit the versions' state (retiring the active one, a concurrent activation)."""


class ReviewDue(BaseModel):
    """Where the plan's review stands on a day."""

    model_config = ConfigDict(frozen=True)

    reviewed_by: str
    reviewed_on: date
    due_on: date  # the last day the review is still current
    overdue: bool
    days_overdue: int  # 0 when not overdue


def review_due(plan: ResponsePlan, now: datetime | date) -> ReviewDue:
    """The plan's review is overdue once more than ``review.review_every_days`` (90 by default) have passed since
    ``review.reviewed_on`` (a recorded review moves that day: see ``services.upkeep.record_review``)."""
    today = now.astimezone(timezone.utc).date() if isinstance(now, datetime) else now
    review = plan.review
    try:
        due_on = review.reviewed_on + timedelta(days=review.review_every_days)
    except OverflowError:  # a version stored before reviewed_on was bounded (9999-12-31): due past the calendar
        due_on = date.max
    late = (today - due_on).days
    return ReviewDue(
        reviewed_by=review.reviewed_by,
        reviewed_on=review.reviewed_on,
        due_on=due_on,
        overdue=late > 0,
        days_overdue=max(0, late),
    )


def protocol_categories(plan: ResponsePlan, protocol: str) -> list[str]:
    """The categories that run ``protocol`` and open issues (a category that opens none never starts it)."""
    return [
        name for name, category in plan.categories.items() if category.protocol == protocol and category.opens_issue
    ]


def outdated_protocols(plan: ResponsePlan) -> list[str]:
    """The protocols no active category references: candidates to discard (the report flags them)."""
    return [name for name in plan.protocols if not protocol_categories(plan, name)]


def protocol_owners(plan: ResponsePlan, protocol: str) -> list[str]:
    """Who the protocol's monthly reminder goes to: its ``owners``, else the leads of its steps' teams."""
    chosen = plan.protocols[protocol]
    if chosen.owners:
        return list(dict.fromkeys(chosen.owners))
    leads = []
    for step in chosen.steps:
        if step.team:
            team = plan.teams[step.team]
            leads.append(team.lead or team.members[0].email)
    return list(dict.fromkeys(leads))


def previous_month(now: datetime) -> tuple[datetime, datetime, str]:
    """The last full calendar month before ``now`` (UTC): its first instant, the next month's, ``YYYY-MM``."""
    first_of_this = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first_of_last = (first_of_this - timedelta(days=1)).replace(day=1)
    return first_of_last, first_of_this, first_of_last.strftime("%Y-%m")


class StepMonth(BaseModel):
    """One protocol step over the month, from the audit trail (``domain.report.step_cycles``' definition)."""

    cycles: int
    cycle_time: Durations
    timed_out: int  # cycles in which a reminder or an escalation went out
    escalated: int  # cycles handed to the step's backup


class ReminderEmail(BaseModel):
    to: list[str]
    subject: str
    text: str
    html: str


def _share(value: float | None) -> str:
    return "no data" if value is None else f"{value:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def reminder_email(
    plan: ResponsePlan, protocol: str, month: str, figures: MetricsSummary, steps: dict[str, StepMonth]
) -> ReminderEmail:
    """The monthly review reminder of one protocol, with its figures for ``month``: the SLA hit rates, the
    response and resolution times (median, p90) of the issues it ran for, and each step's cycle time and how often
    it timed out. Every piece of plan text is escaped in the HTML part."""
    chosen = plan.protocols[protocol]
    categories = protocol_categories(plan, protocol)
    lines = [
        f"Monthly review of the {chosen.label} protocol ({protocol}), {month}.",
        f"Categories that run it: {', '.join(categories) or 'none (it is outdated: no category references it)'}.",
        f"Issues: {figures.volume.issues}, mentions: {figures.volume.mentions}.",
        f"SLA hit rate, first response: {_share(figures.sla.first_response.rate)} "
        f"(of {figures.sla.first_response.count}); resolution: {_share(figures.sla.resolution.rate)} "
        f"(of {figures.sla.resolution.count}).",
        f"Response time: median {_duration(figures.response_time.median_seconds)}, "
        f"p90 {_duration(figures.response_time.p90_seconds)}.",
        f"Resolution time (cycle): median {_duration(figures.resolution_time.median_seconds)}, "
        f"p90 {_duration(figures.resolution_time.p90_seconds)}.",
        *[
            f"Step {step}: {figures_of.cycles} cycle(s), median {_duration(figures_of.cycle_time.median_seconds)}, "
            f"timed out {figures_of.timed_out}, escalated {figures_of.escalated}."
            for step, figures_of in steps.items()
        ],
        "Step timeouts: "
        + (", ".join(f"{step} {f.timed_out}" for step, f in steps.items() if f.timed_out) or "none")
        + ".",
        "Check that its steps, people and timers still fit; change the plan with `social-response plan upload`.",
    ]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return ReminderEmail(
        to=protocol_owners(plan, protocol),
        subject=f"[{plan.brand}] Monthly review: {chosen.label} ({month})"[:200],
        text="\n".join(lines) + "\n",
        html=f"<html><body>{body}</body></html>",
    )


def expires_at(moment: datetime, days: int) -> int:
    """The DynamoDB TTL value (epoch seconds) of something kept ``days`` after ``moment``."""
    return int((moment + timedelta(days=days)).timestamp())
