"""Alerts: what responders and operators are told on the SNS alerts topic, and when an SLA calls for one.

Pure: no AWS here. ``adapters/alerts.py`` publishes, deduplicates and rate-limits; ``services/monitoring.py``
decides from the stores what to raise.

* Every alert carries the same four SNS message attributes (``severity``, ``category``, ``team``, ``kind``, all
  ``String``) so a subscriber narrows what it receives with an SNS filter policy instead of parsing bodies. An
  alert without a category or team (a dead-letter queue, a digest) says so with :data:`NONE` / :data:`ALL`:
  SNS refuses empty attribute values, and a filter on ``team`` must be able to ask for ``["pr", "all"]``.
* Deduplication is by :attr:`Alert.dedup_key`: one alert per subject and kind, unless a ``scope`` tells apart
  alerts of one kind that are different events (the SLA clock that ran out, the category escalated into).
* The step functions publish ``approval_stuck``/``approval_timed_out``/``publish_timed_out`` themselves (see
  ``protocol_compiler.py``); their kinds are listed here so filter policies have one vocabulary.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.plan import Sla
from chalicelib.domain.text_safety import one_line

NONE = "none"  # no category / team (SNS attribute values cannot be empty)
ALL = "all"  # a digest speaks for every category and team
SUBJECT_MAX = 100  # SNS: at most 100 ASCII characters
MESSAGE_EXCERPT = 300  # deferred alerts keep at most this much text for the digest (400 KB item limit)
LIVE = ("open", "in_progress")


class AlertKind(StrEnum):
    NEW_ISSUE = "new_issue"
    ESCALATED = "escalated"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    APPROVAL_STUCK = "approval_stuck"
    APPROVAL_TIMED_OUT = "approval_timed_out"
    PUBLISH_TIMED_OUT = "publish_timed_out"
    PUBLISH_REFUSED = "publish_refused"  # the platform refused the reply (services/approvals.py)
    SURGE = "surge"
    PLAN_REVIEW_OVERDUE = "plan_review_overdue"  # the quarterly plan review is late (services/upkeep.py)
    DLQ_MESSAGES = "dlq_messages"
    DIGEST = "digest"


SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Alert(BaseModel):
    """One thing someone must know now. ``issue_id`` is the subject: an issue, or e.g. ``<queue>#<hour>``."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    severity: str
    category: str = NONE
    team: str = NONE
    issue_id: str
    subject: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    scope: str = ""  # sets apart alerts of one kind on one subject (an SLA clock, an escalation's category)

    @property
    def dedup_key(self) -> str:
        """``<issue_id>#<kind>`` (``#<scope>`` when scoped): the adapter sends each key at most once."""
        return f"{self.issue_id}#{self.kind.value}" + (f"#{self.scope}" if self.scope else "")


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value or NONE}


def message_attributes(alert: Alert) -> dict[str, dict[str, str]]:
    """SNS ``MessageAttributes``, all ``String``, for subscription filter policies."""
    return {
        "severity": _attribute(alert.severity),
        "category": _attribute(alert.category),
        "team": _attribute(alert.team),
        "kind": _attribute(alert.kind.value),
    }


def subject_line(alert: Alert) -> str:
    """SNS ``Subject``: printable ASCII on one line, at most 100 characters (SNS rejects anything else)."""
    text = alert.subject.encode("ascii", "replace").decode("ascii")
    text = re.sub(r"[^\x20-\x7e]+", " ", text).strip() or alert.kind.value
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3].rstrip() + "..."


def message_body(alert: Alert, at: datetime) -> str:
    """The JSON an email/chat/Lambda subscriber reads: same field names as the protocols' own alerts."""
    return json.dumps(
        {
            "kind": alert.kind.value,
            "severity": alert.severity,
            "category": alert.category,
            "team": alert.team,
            "issue_id": alert.issue_id,
            "subject": alert.subject,
            "message": alert.message,
            "at": _iso(at),
            "details": alert.details,
        },
        default=str,
        ensure_ascii=False,
    )


def compact(alert: Alert) -> str:
    """What a deferred alert keeps for the digest: its fields (the subject whole), the message cut short
    (:func:`message_excerpt`)."""
    fields = alert.model_dump(mode="json")
    fields["message"] = message_excerpt(alert.message)
    return json.dumps(fields, separators=(",", ":"), default=str, ensure_ascii=False)


def message_excerpt(message: str) -> str:
    """At most :data:`MESSAGE_EXCERPT` characters of ``message``, never a fragment of an author's words: a message
    too long is cut before the first quotation it holds (an issue's description quotes its author at the end) and
    between words (a handle or name is never cut in two). Erasure finds an author's words whole and handles and
    names as whole words, so it finds everything a deferred alert keeps; a fragment cut mid-quote it could not."""
    if len(message) <= MESSAGE_EXCERPT:
        return message
    kept = message[:MESSAGE_EXCERPT]
    quote = kept.find('"')
    if quote >= 0:
        return kept[:quote].rstrip()
    if not message[MESSAGE_EXCERPT].isspace() and re.search(r"\s", kept):
        kept = re.sub(r"\S*$", "", kept)  # the cut falls inside a word: drop what is left of it
    return kept.rstrip()


def from_compact(text: str) -> Alert:
    return Alert.model_validate_json(text)


def hour_key(now: datetime) -> str:
    """``YYYY-MM-DDTHH`` in UTC: the bucket of the hourly cap and digest."""
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


def previous_hour(now: datetime) -> str:
    return hour_key(now - timedelta(hours=1))


_DIGEST_FIELDS = {"kind", "severity", "category", "team", "issue_id", "subject"}  # a digest stays far below 256 KB


def digest_alert(hour: str, deferred: list[Alert], dropped: int = 0, listed: int = 200) -> Alert:
    """One message for an hour's deferred alerts: counts by kind, then one line each (most severe first), every
    line break or other whitespace run in an alert's fields folded to a space (:func:`one_line`)."""
    ordered = sorted(deferred, key=lambda a: -SEVERITY_RANK.get(a.severity, 0))
    counts: dict[str, int] = {}
    for alert in deferred:
        counts[alert.kind.value] = counts.get(alert.kind.value, 0) + 1
    total = len(deferred) + dropped
    lines = [
        f"{total} alerts held back in {hour}:00 UTC (hourly cap reached): "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    ]
    # one line each, whatever an alert's fields hold: a subject quotes an issue's description (an author's words)
    lines += [
        one_line(f"- [{a.severity}] {a.kind.value} {a.category} {a.issue_id}: {a.subject}") for a in ordered[:listed]
    ]
    if len(ordered) > listed or dropped:
        lines.append(f"... and {len(ordered) - min(len(ordered), listed) + dropped} more")
    severity = ordered[0].severity if ordered else "low"
    return Alert(
        kind=AlertKind.DIGEST,
        severity=severity,
        category=ALL,
        team=ALL,
        issue_id=f"hour#{hour}",
        subject=f"Alert digest {hour}:00 UTC: {total} held back",
        message="\n".join(lines),
        details={
            "hour": hour,
            "counts": counts,
            "dropped": dropped,
            "alerts": [a.model_dump(mode="json", include=_DIGEST_FIELDS) for a in ordered[:listed]],
        },
    )


# -- SLAs ---------------------------------------------------------------------------------------------------
WARNING_SHARE = 0.2  # warn when 20% of the SLA window is left ...
WARNING_MIN = timedelta(minutes=5)  # ... but never less than 5 minutes ahead


def warning_lead(window: timedelta) -> timedelta:
    """How long before a due time the warning goes out: a share of the window, at least :data:`WARNING_MIN`."""
    return max(WARNING_MIN, window * WARNING_SHARE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def sla_state(due: datetime, window: timedelta, now: datetime) -> AlertKind | None:
    """``sla_breach`` once due, ``sla_warning`` within the lead before it, else nothing."""
    if now >= due:
        return AlertKind.SLA_BREACH
    if now >= due - warning_lead(window):
        return AlertKind.SLA_WARNING
    return None


def sla_alerts(issue: dict[str, Any], now: datetime, sla: Sla | None = None, label: str = "") -> list[Alert]:
    """The SLA alerts an issue (a plain item of the issues table) calls for now.

    Two clocks: first response (until ``first_response_at`` is set) and resolution (while the issue is open or
    in progress). Each clock gives at most its most urgent state; dedup makes every (issue, kind, clock) go out
    once, so a warning is followed by one breach and nothing more. The window comes from the category's SLA
    when given, else from the due time and ``first_seen`` (a plan changed since the issue opened).
    """
    if issue.get("status") not in LIVE:
        return []
    first_seen = _when(issue.get("first_seen"))
    clocks = []
    if not issue.get("first_response_at"):
        minutes = sla.first_response_minutes if sla else None
        clocks.append(("first_response", "first response", _when(issue.get("sla_first_response_due")), minutes))
    minutes = sla.resolution_minutes if sla else None
    clocks.append(("resolution", "resolution", _when(issue.get("sla_resolution_due")), minutes))
    out = []
    for clock, words, due, minutes in clocks:
        if due is None:
            continue
        window = timedelta(minutes=minutes) if minutes else (due - first_seen if first_seen else timedelta(0))
        kind = sla_state(due, window, now)
        if kind is None:
            continue
        out.append(_sla_alert(issue, kind, clock, words, due, now, label))
    return out


def _sla_alert(
    issue: dict[str, Any], kind: AlertKind, clock: str, words: str, due: datetime, now: datetime, label: str
) -> Alert:
    issue_id = str(issue.get("issue_id", ""))
    category = str(issue.get("category") or NONE)
    minutes = int(abs((due - now).total_seconds()) // 60)
    when = f"overdue by {minutes} min" if kind is AlertKind.SLA_BREACH else f"due in {minutes} min"
    verb = "breached" if kind is AlertKind.SLA_BREACH else "due soon"
    description = str(issue.get("description", ""))
    return Alert(
        kind=kind,
        severity=str(issue.get("severity") or "medium"),
        category=category,
        team=str(issue.get("team") or NONE),
        issue_id=issue_id,
        scope=clock,
        subject=f"SLA {words} {verb}: {label or category} {issue_id}",
        message=f"{words.capitalize()} for {issue_id} ({label or category}) {when} (due {_iso(due)}). "
        f"Assigned to {issue.get('assigned_to') or 'nobody'}. {description}",
        details={
            "clock": clock,
            "due": _iso(due),
            "status": issue.get("status"),
            "assigned_to": issue.get("assigned_to"),
        },
    )
