"""Monitoring use cases: the scheduled checks and the issues-stream rule that raise alerts.

* :func:`check_slas` (every few minutes): warnings and breaches of the first-response and resolution SLAs.
* :func:`check_dead_letter_queues` (every few minutes): messages that failed processing, at most one alert per
  queue per hour (the subject is ``<queue>#<hour>``) while they wait there.
* :func:`send_last_hours_digest` (hourly): the alerts the hourly cap held back in the previous hour, and in every
  hour of the day before whose digest is still owed (a run that failed with its retries).
* :func:`alert_issue_records` (issues table stream): new High Priority / Crisis issues and escalations into them.

Checks are safe to repeat (a scheduled Lambda's retry, two overlapping runs): the alerts adapter sends each event
once. One failing alert does not hide the others: it is logged and the check goes on, then fails at the end so
the run shows up as an error (and the stream's batch is retried); the failed alert is owed, not lost: the retry or
the next check sends it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.alerts import LIVE, NONE, Alert, AlertKind, hour_key, sla_alerts
from chalicelib.domain.plan import ResponsePlan
from chalicelib.services.issue_stream import issue_changes
from chalicelib.services.ports import AlertSink, LiveIssues
from chalicelib.settings import Resources


class CheckFailed(RuntimeError):
    """Some alerts of a check could not be raised (the others were); the scheduler records the failure."""


def _raise_all(alerts: Iterable[Alert], sink: AlertSink | _BreachCounter, now: datetime) -> Counter[str]:
    from chalicelib.observability import logger

    outcomes: Counter[str] = Counter()
    failures = []
    for alert in alerts:
        try:
            outcomes[sink.raise_alert(alert, now)] += 1
        except Exception as error:  # noqa: BLE001 - one bad alert must not silence the rest
            logger.exception("alert failed", extra={"kind": alert.kind.value, "subject_id": alert.issue_id})
            failures.append(f"{alert.dedup_key}: {error}")
    if failures:
        raise CheckFailed(f"{len(failures)} alerts failed: " + "; ".join(failures[:5]))
    return outcomes


def check_slas(now: datetime, issues_reader: LiveIssues, alerts: AlertSink, plan: ResponsePlan) -> Counter[str]:
    """Raise ``sla_warning``/``sla_breach`` for the open and in-progress issues of every category with an SLA."""

    def due() -> Iterable[Alert]:
        for name, category in plan.categories.items():
            if not category.sla:
                continue
            for status in LIVE:
                for issue in issues_reader.with_status(status, name):
                    yield from sla_alerts(issue, now, category.sla, category.label)

    counting = _BreachCounter(alerts)
    try:
        return _raise_all(due(), counting, now)
    finally:
        _emit_sla_breaches(counting.new_breaches)


class _BreachCounter:
    """Passes alerts on, counting the SLA breaches raised for the first time (a repeated check's duplicates are
    not new breaches): the ``SlaBreaches`` metric the template's rate alarm watches."""

    def __init__(self, sink: AlertSink) -> None:
        self.sink, self.new_breaches = sink, 0

    def raise_alert(self, alert: Alert, now: datetime) -> str:
        outcome = self.sink.raise_alert(alert, now)
        if alert.kind is AlertKind.SLA_BREACH and outcome != "duplicate":
            self.new_breaches += 1
        return outcome


def _emit_sla_breaches(count: int) -> None:
    from chalicelib.observability import metrics

    if count:
        metrics.add_metric(name="SlaBreaches", unit="Count", value=count)


DLQ_SEVERITY = "high"
OPERATIONS = "operations"  # category and team of platform alerts (no team of the plan owns the pipeline)


def dead_letter_queues(names: Resources) -> list[str]:
    """Every dead-letter queue of the stage: the three consumed queues', the issues stream's on-failure destination
    and the schedules' (each ``Resources`` field ending in ``_dlq``, so a new one is checked too)."""
    from dataclasses import fields

    return [getattr(names, field.name) for field in fields(names) if field.name.endswith("_dlq")]


def check_dead_letter_queues(
    now: datetime, alerts: AlertSink, names: Resources, queue_depth: Callable[[str], int]
) -> Counter[str]:
    """Raise ``dlq_messages`` for every dead-letter queue holding messages (once per queue per hour);
    ``queue_depth`` is :meth:`~chalicelib.services.ports.QueueDepths.depth` (the composition root's)."""
    hour = hour_key(now)
    found = []
    for queue in dead_letter_queues(names):
        depth = queue_depth(queue)
        if depth > 0:
            found.append(
                Alert(
                    kind=AlertKind.DLQ_MESSAGES,
                    severity=DLQ_SEVERITY,
                    category=OPERATIONS,
                    team=OPERATIONS,
                    issue_id=f"{queue}#{hour}",
                    subject=f"{depth} messages in dead-letter queue {queue}",
                    message=f"{depth} messages failed processing and wait in {queue}. Look at the function's logs, "
                    f"fix the cause, then redrive them to the source queue.",
                    details={"queue": queue, "approximate_messages": depth, "hour": hour},
                )
            )
    return _raise_all(found, alerts, now)


DIGEST_CATCH_UP_HOURS = 24  # a run sends every digest still owed this many hours back (the hour items live 7 days)


def send_last_hours_digest(now: datetime, alerts: AlertSink) -> str:
    """The digest of the alerts held back in the hour before ``now``, after every earlier hour's of the last
    :data:`DIGEST_CATCH_UP_HOURS` still owed: a run that failed (and its retries) leaves its hour owed, and the next
    run sends it. Each hour's digest goes out once (its send claim). One hour failing does not hold back the others:
    every hour is tried, then the first failure is raised (the run shows up as an error and the hour stays owed).
    Returns the previous hour's outcome (``sent``, ``duplicate``, ``empty``).
    """
    from chalicelib.observability import logger

    earlier = [hour_key(now - timedelta(hours=back)) for back in range(DIGEST_CATCH_UP_HOURS, 1, -1)]
    failure = None
    for hour in alerts.owed_digests(earlier):  # the hours still owed, in one read
        try:
            if alerts.send_digest(hour, now) == "sent":
                logger.warning("a digest owed from an earlier hour was sent late", extra={"hour": hour})
        except Exception as error:  # noqa: BLE001 - one hour's failure must not hold back the other hours' digests
            logger.exception("digest failed", extra={"hour": hour})
            failure = failure or error
    try:
        outcome = alerts.send_digest(hour_key(now - timedelta(hours=1)), now)
    except Exception:
        if failure is None:
            raise
        logger.exception("digest failed", extra={"hour": hour_key(now - timedelta(hours=1))})
    if failure is not None:
        raise failure
    return outcome


# -- issues stream -------------------------------------------------------------------------------------------
def alert_for_issue_record(record: dict[str, Any], plan: ResponsePlan) -> Alert | None:
    """Pure: ``new_issue`` for a new issue in a category that notifies teams (High Priority, Crisis),
    ``escalated`` for an issue whose category changes into one; ``None`` for everything else."""
    change = next(issue_changes([record]))
    event = change.event
    category_name, before = change.now("category"), change.before("category")
    category = plan.categories.get(category_name or "")
    if category is None or not category.notify or change.now("status") not in LIVE:
        return None
    if event == "INSERT" and (change.now("rule") or "").startswith("surge:"):
        kind, scope = AlertKind.SURGE, ""  # a surge's Crisis: its one alert says what surged
    elif event == "INSERT":
        kind, scope = AlertKind.NEW_ISSUE, ""
    elif event == "MODIFY" and before and before != category_name:  # (needs NEW_AND_OLD_IMAGES)
        kind, scope = AlertKind.ESCALATED, category_name or ""  # routine -> high priority -> crisis: two alerts
    else:
        return None
    issue_id = change.now("issue_id") or ""
    severity = change.now("severity") or "high"
    description = change.now("description") or ""
    teams = ", ".join(plan.teams[team].name for team in category.notify)
    was = plan.categories[before].label if before in plan.categories else before
    headline = {
        AlertKind.NEW_ISSUE: f"New {category.label} issue",
        AlertKind.SURGE: f"Surge: new {category.label} issue",
    }.get(kind, f"Escalated to {category.label}" + (f" from {was}" if was else ""))
    return Alert(
        kind=kind,
        severity=severity,
        category=category_name or NONE,
        team=category.team or NONE,
        issue_id=issue_id,
        scope=scope,
        subject=f"{headline} ({severity}): {description}",
        message=f"{headline}: {issue_id} ({severity}). Teams: {teams}. "
        f"Assigned to {change.now('assigned_to') or 'nobody'}. {description}",
        details={
            "notify": list(category.notify),
            "previous_category": before,
            "protocol": category.protocol,
            "assigned_to": change.now("assigned_to"),
            "sla_first_response_due": change.now("sla_first_response_due"),
        },
    )


def alert_issue_records(
    records: list[dict[str, Any]], plan: ResponsePlan, alerts: AlertSink, now: datetime
) -> Counter[str]:
    """The stream handler's use case: raise the alert of every record that calls for one."""
    return _raise_all((a for r in records if (a := alert_for_issue_record(r, plan))), alerts, now)
