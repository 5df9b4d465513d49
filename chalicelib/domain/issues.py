"""Issues, their audit trail and escalation cases: the records responders work in.

An issue folds one or many mentions (see ``dedup.py``); every change to it appends an :class:`AuditEvent` with
its actor and time; High Priority and Crisis issues also get an :class:`EscalationCase` for PR and management.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.classification import Classification

# the index keys every writer of an issue writes, re-exported where the writers have always found them
from chalicelib.domain.index_shards import first_seen_day as first_seen_day
from chalicelib.domain.index_shards import status_category as status_category
from chalicelib.domain.models import Mention
from chalicelib.domain.plan import SEVERITY_ORDER, ResponsePlan, Severity
from chalicelib.domain.text_safety import one_line

SYSTEM_TRIAGE = "system:triage"


class IssueStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


LIVE_STATUSES = (IssueStatus.OPEN, IssueStatus.IN_PROGRESS)


class Issue(BaseModel):
    model_config = ConfigDict(frozen=True)

    issue_id: str
    description: str
    category: str
    severity: Severity
    status: IssueStatus = IssueStatus.OPEN
    team: str | None
    assigned_to: str | None
    follow_up_required: bool
    response_time_seconds: int | None = None
    first_response_at: datetime | None = None
    mention_count: int = 1
    reach: int = 0
    first_seen: datetime
    last_seen: datetime
    topic: str
    products: tuple[str, ...] = ()
    platform: str
    rule: str | None
    plan_version: int
    sla_first_response_due: datetime | None = None
    sla_resolution_due: datetime | None = None
    escalation_case: bool = False

    @property
    def severity_rank(self) -> int:
        return SEVERITY_ORDER[self.severity]


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    issue_id: str
    at: datetime
    type: str  # opened, mention_added, escalated, assigned, status_changed, step_*, resolved ...
    actor: str
    details: dict[str, Any] = Field(default_factory=dict)
    suffix: str = Field(default_factory=lambda: secrets.token_hex(4))

    @property
    def sort_key(self) -> str:
        # Time first so a query returns the trail in order; the suffix keeps two events of one instant apart.
        return f"{self.at.isoformat()}#{self.type}#{self.suffix}"


class EscalationCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    issue_id: str
    category: str
    severity: Severity
    stakeholders: tuple[str, ...]  # teams told and involved
    protocol: str | None
    status: str = "open"
    opened_at: datetime
    summary: str


def new_issue_id(at: datetime) -> str:
    """Sortable by time, unguessable: ``iss-20261124T101500-3f9a1c2b``."""
    return f"iss-{at.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"


def crisis_issue_id(key: str, window_start: datetime) -> str:
    """A surge's Crisis is named by its key and window, so opening it again (a retried batch) finds the same issue
    instead of opening a second one."""
    digest = hashlib.sha256(f"{key}|{window_start.isoformat()}".encode()).hexdigest()[:8]
    return f"iss-{window_start.strftime('%Y%m%dT%H%M%S')}-{digest}"


def earlier_crisis_issue_ids(key: str, window_start: datetime, within: timedelta, step: timedelta) -> list[str]:
    """The names the key's Crisis would have had for each window starting up to ``within`` before this one (on the
    detector's ``step``), newest first: a surge detected again after its state was lost finds the Crisis it
    already opened under one of them."""
    count = int(within / step)
    return [crisis_issue_id(key, window_start - step * n) for n in range(1, count + 1)]


def assignee(plan: ResponsePlan, team: str | None, issue_id: str) -> str | None:
    """A stable round robin over the team (no shared counter to contend on): the same issue, the same person."""
    if not team:
        return None
    members = plan.teams[team].members
    return members[zlib.crc32(issue_id.encode()) % len(members)].email


def describe(mention: Mention, classification: Classification, plan: ResponsePlan) -> str:
    label = plan.categories[classification.category].label
    subject = classification.products[0] if classification.products else classification.topic.replace("_", " ")
    # one line each: the description heads plain-text emails and alert subjects, where a line break in a product,
    # a name or the text could forge a line
    subject = one_line(subject)
    author = one_line(mention.author.handle or mention.author.name or "someone") or "someone"
    excerpt = one_line(mention.text)[:160]
    return f'{label}: {subject} on {mention.platform} from {author}: "{excerpt}"'


def open_issue(
    mention: Mention, classification: Classification, plan: ResponsePlan, plan_version: int, issue_id: str
) -> Issue:
    category = plan.categories[classification.category]
    first_seen = mention.created_at
    sla = category.sla
    return Issue(
        issue_id=issue_id,
        description=describe(mention, classification, plan),
        category=classification.category,
        severity=classification.severity,
        team=classification.team,
        assigned_to=assignee(plan, classification.team, issue_id),
        follow_up_required=classification.follow_up_required,
        reach=mention.author.followers or 0,
        first_seen=first_seen,
        last_seen=first_seen,
        topic=classification.topic,
        products=classification.products,
        platform=mention.platform,
        rule=classification.rule,
        plan_version=plan_version,
        sla_first_response_due=first_seen + timedelta(minutes=sla.first_response_minutes) if sla else None,
        sla_resolution_due=first_seen + timedelta(minutes=sla.resolution_minutes) if sla else None,
        escalation_case=category.escalation_case,
    )


def escalation_case_for(issue: Issue, plan: ResponsePlan, at: datetime) -> EscalationCase | None:
    category = plan.categories[issue.category]
    if not category.escalation_case:
        return None
    stakeholders = tuple(dict.fromkeys([t for t in (category.team, *category.notify) if t]))
    return EscalationCase(
        issue_id=issue.issue_id,
        category=issue.category,
        severity=issue.severity,
        stakeholders=stakeholders,
        protocol=category.protocol,
        opened_at=at,
        summary=issue.description,
    )


def outranks(classification: Classification, category: str, severity_rank: int, plan: ResponsePlan) -> bool:
    """Does a new mention call for more than the issue it joins has? (e.g. a legal threat in a routine thread)"""
    new_escalates = plan.categories[classification.category].escalation_case
    old_escalates = plan.categories[category].escalation_case if category in plan.categories else False
    return (new_escalates and not old_escalates) or (
        new_escalates == old_escalates and SEVERITY_ORDER[classification.severity] > severity_rank
    )


def crisis_issue(
    key: str,
    count: int,
    expected: float,
    window_start: datetime,
    detected_at: datetime,
    plan: ResponsePlan,
    plan_version: int,
    issue_id: str,
) -> Issue:
    """The issue a surge opens: the plan's surge category, critical, for its team, on the category's SLA."""
    category_name = plan.surge_category
    category = plan.categories[category_name]
    kind, _, name = key.partition(":")
    subject = {
        "product": f"complaints about {name}",
        "topic": f"{name.replace('_', ' ')} complaints",
        "brand": "mentions of the brand",
    }.get(kind, key)
    sla = category.sla
    return Issue(
        issue_id=issue_id,
        category=category_name,
        severity=Severity.CRITICAL,
        team=category.team,
        description=(
            f"{category.label}: a surge of {subject}: {count} since {window_start:%H:%M} UTC, {expected:.1f} expected"
        ),
        assigned_to=assignee(plan, category.team, issue_id),
        follow_up_required=True,
        mention_count=count,
        first_seen=window_start,
        last_seen=detected_at,
        topic=name if kind == "topic" else "other",
        products=(name,) if kind == "product" else (),
        platform="many",
        rule=f"surge:{key}",
        plan_version=plan_version,
        sla_first_response_due=detected_at + timedelta(minutes=sla.first_response_minutes) if sla else None,
        sla_resolution_due=detected_at + timedelta(minutes=sla.resolution_minutes) if sla else None,
        escalation_case=category.escalation_case,
    )
