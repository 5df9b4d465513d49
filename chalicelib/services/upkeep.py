"""Plan upkeep use cases: activate, retire and review a stored plan version (each an audit event under ``plan``),
the quarterly review check (an overdue plan alerts on SNS) and the monthly review reminder each protocol's owners
get with that protocol's figures for the month.

Figures come from :mod:`chalicelib.domain.metrics` (the same code as ``GET /metrics/summary`` and the weekly
report); the ports are in :mod:`chalicelib.services.ports` (ops engineer's block).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.alerts import Alert, AlertKind
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.metrics import durations, summarize
from chalicelib.domain.plan import ResponsePlan, parse_plan
from chalicelib.domain.plan_upkeep import (
    PlanVersionConflict,
    PlanVersionMissing,
    ReviewDue,
    StepMonth,
    outdated_protocols,
    previous_month,
    protocol_categories,
    reminder_email,
    review_due,
)
from chalicelib.domain.report import step_cycles
from chalicelib.domain.text_safety import subject_line
from chalicelib.services.ports import AlertRaiser, IssueHistories, PlanLifecycle, ReminderMailer

PLAN_TRAIL = "plan"  # the audit trail's partition for plan events

__all__ = [
    "PlanVersionConflict",
    "PlanVersionMissing",
    "activate_version",
    "retire_version",
    "record_review",
    "check_plan_review",
    "send_review_reminders",
    "ReviewBody",
    "PlanChange",
]


class ReviewBody(BaseModel):
    """``POST /plans/{version}/review``: a review of the plan was held."""

    model_config = ConfigDict(extra="forbid")

    reviewed_by: str | None = Field(
        None,
        min_length=1,
        max_length=254,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="who reviewed it (default: the token's name)",
    )
    reviewed_on: date | None = Field(None, description="the day of the review (default: today, UTC); not in the future")
    note: str | None = Field(None, max_length=2000, description="what was decided")


class PlanChange(BaseModel):
    version: int
    status: str
    changed: bool = Field(description="false when the version was already so (a repeat changes nothing)")
    replaced: int | None = Field(default=None, description="activate: the version that was active before")
    review: ReviewDue | None = None


def _event(kind: str, actor: str, now: datetime, **details: Any) -> AuditEvent:
    return AuditEvent(issue_id=PLAN_TRAIL, at=now, type=kind, actor=actor, details=details)


def activate_version(version: int, actor: str, plans: PlanLifecycle, now: datetime) -> PlanChange:
    """Make a stored version the active plan; :class:`PlanVersionConflict` when its categories run a protocol the
    deployed state machines do not have as it says (a rollback past a redeploy): its issues' protocols would never
    start."""
    from chalicelib.services.plan_check import deployed_plan, undeployed_protocols

    stored = plans.get(version)
    if stored is not None:
        problems = undeployed_protocols(parse_plan(stored["document"], stored=True), deployed_plan())
        if problems:
            listed = "; ".join(f"{place}: {problem}" for place, problem in problems)
            raise PlanVersionConflict(f"version {version} cannot be activated: {listed}")
    previous = plans.active_version()
    replaced = plans.activate(version, _event("plan_activated", actor, now, version=version, replaced=previous))
    return PlanChange(
        version=version, status="active", changed=replaced is not None, replaced=replaced if replaced else None
    )


def retire_version(version: int, actor: str, plans: PlanLifecycle, now: datetime) -> PlanChange:
    changed = plans.retire(version, _event("plan_retired", actor, now, version=version))
    return PlanChange(version=version, status="retired", changed=changed)


def record_review(version: int, review: ReviewBody, actor: str, plans: PlanLifecycle, now: datetime) -> PlanChange:
    """The plan was reviewed: its review block moves to that day (so it is not overdue), and the audit trail
    keeps who recorded it, who reviewed and what was decided."""
    from chalicelib.domain.plan import parse_plan

    day = review.reviewed_on or now.date()
    if day > now.date() + timedelta(days=1):
        raise ValueError("reviewed_on: not in the future")
    reviewer = review.reviewed_by or actor
    found = plans.get(version)
    if found is None:
        raise PlanVersionMissing(f"no plan version {version}")
    # Everything that can fail comes before the write: once the event is written a retry would write another.
    document = {
        **found["document"],
        "review": {**found["document"]["review"], "reviewed_by": reviewer, "reviewed_on": day.isoformat()},
    }
    due = review_due(parse_plan(document, stored=True), now)
    plans.record_review(
        version,
        reviewer,
        day,
        _event(
            "plan_reviewed",
            actor,
            now,
            version=version,
            reviewed_by=reviewer,
            reviewed_on=day.isoformat(),
            **({"note": review.note} if review.note else {}),
        ),
    )
    return PlanChange(version=version, status=str(found["status"]), changed=True, review=due)


def check_plan_review(plan: ResponsePlan, version: int, alerts: AlertRaiser, now: datetime) -> dict[str, Any]:
    """The quarterly review check (a schedule): an overdue plan raises one alert per version and due day (the
    alert store sends each key once, so the daily schedule does not repeat it), naming outdated protocols too."""
    due = review_due(plan, now)
    outdated = outdated_protocols(plan)
    outcome = "current"
    if due.overdue:
        outcome = alerts.raise_alert(
            Alert(
                kind=AlertKind.PLAN_REVIEW_OVERDUE,
                severity="medium",
                issue_id=f"plan#v{version}",
                scope=due.due_on.isoformat(),
                subject=f"Response plan v{version} review overdue by {due.days_overdue} days",
                message=(
                    f"The response plan (version {version}) was last reviewed on {due.reviewed_on} by "
                    f"{due.reviewed_by}; it was due by {due.due_on}. Review it and record the review with "
                    f"`social-response plan review {version}`."
                    + (f" Outdated protocols (no category uses them): {', '.join(outdated)}." if outdated else "")
                ),
                details={"version": version, "due_on": due.due_on.isoformat(), "outdated_protocols": outdated},
            ),
            now,
        )
    return {
        "version": version,
        "overdue": due.overdue,
        "days_overdue": due.days_overdue,
        "alert": outcome,
        "outdated_protocols": outdated,
    }


def send_review_reminders(
    plan: ResponsePlan, issues: IssueHistories, mailer: ReminderMailer, now: datetime
) -> dict[str, int]:
    """The monthly review reminder (a schedule, on the 1st): each protocol's owners get that protocol's figures
    for the last full month. Returns how many emails went out per protocol."""
    since, until, month = previous_month(now)
    last_day = (until - timedelta(days=1)).date().isoformat()
    issues_of_month = issues.first_seen_between(since.date().isoformat(), last_day)
    sent: dict[str, int] = {}
    for protocol in plan.protocols:
        categories = set(protocol_categories(plan, protocol))
        chosen = [issue for issue in issues_of_month if issue.get("category") in categories]
        figures = summarize(
            chosen,
            since,
            until,
            now,
            hours=plan.team_hours(),
            recurrence_window=timedelta(days=plan.recurrence.window_days),
        )
        histories = {str(issue["issue_id"]): issues.history(str(issue["issue_id"])) for issue in chosen}
        cycles = step_cycles(chosen, histories, dict.fromkeys(categories, protocol))
        steps = {
            step: StepMonth(
                cycles=len(found.seconds),
                cycle_time=durations(found.seconds),
                timed_out=len(found.timed_out),
                escalated=len(found.escalated),
            )
            for (_, step), found in sorted(cycles.items())
        }
        email = reminder_email(plan, protocol, month, figures, steps)
        sent[protocol] = sum(
            mailer.send_once(
                f"reminder#{month}#{protocol}#{person}",
                person,
                subject_line(email.subject),
                email.text,
                email.html,
                now,
            )
            for person in email.to
        )
    return sent
