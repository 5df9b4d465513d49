"""Recurrence use case, on the issues stream: resolved issues are remembered by their recurrence keys for the
plan's window; a new issue looks its keys up and, when it repeats a resolved one, gets the link and its rule
stored on it, with an audit event (``domain/recurrence.py`` has the rules and the rate).

Safe to repeat (a stream retry): remembering writes the same keys again, and a link is stored once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.plan import ResponsePlan
from chalicelib.domain.recurrence import IssueFacts, RecurrenceLink, find_recurrence, lookup_keys
from chalicelib.services.ports import RecurrenceIndex, SurveyIssues
from chalicelib.services.surveys import issue_changes

SYSTEM_RECURRENCE = "system:recurrence"
DONE = ("resolved", "closed")


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def facts_of(issue: dict[str, Any], mentions: list[dict[str, Any]], at: datetime) -> IssueFacts:
    """An issue's recurrence facts: author and text of its first mention, its products and topic."""
    first = min(mentions, key=lambda m: str(m.get("created_at", ""))) if mentions else {}
    return IssueFacts.of(
        str(issue["issue_id"]),
        at,
        str(first.get("platform", "")),
        first.get("author_id") or first.get("author_handle"),
        [str(p) for p in issue.get("products") or []],
        str(issue.get("topic", "")),
        str(first.get("text", "")),
    )


def link_recurrences(
    records: list[dict[str, Any]], plan: ResponsePlan, issues: SurveyIssues, index: RecurrenceIndex
) -> tuple[Counter[str], list[RecurrenceLink]]:
    window = timedelta(days=plan.recurrence.window_days)
    counts: Counter[str] = Counter()
    linked: list[RecurrenceLink] = []
    for event, new, old in issue_changes(records):
        issue_id = str(new.get("issue_id", ""))
        if not issue_id:
            continue
        if event == "INSERT":
            first_seen = _time(new.get("first_seen"))
            if first_seen is None:
                continue
            facts = facts_of(new, issues.mentions(issue_id), first_seen)
            keys = list(lookup_keys(facts))
            link = find_recurrence(facts, index.lookup(keys), window, plan.dedup.text_similarity) if keys else None
            if link is None:
                counts["new"] += 1
                continue
            audit = AuditEvent(
                issue_id=issue_id,
                at=first_seen,
                type="recurrence",
                actor=SYSTEM_RECURRENCE,
                suffix="recurs",
                details={
                    "recurs_issue_id": link.recurs_issue_id,
                    "rule": link.rule.value,
                    "gap_seconds": link.gap_seconds,
                },
            )
            if index.link(link, audit):
                linked.append(link)
                counts[f"recurs_{link.rule.value}"] += 1
        elif new.get("status") in DONE and (old or {}).get("status") not in DONE:
            resolved_at = _time(new.get("resolved_at")) or _time(new.get("last_seen"))
            if resolved_at is None:
                continue
            facts = facts_of(new, issues.mentions(issue_id), resolved_at)
            keys = list(lookup_keys(facts))
            if keys:
                index.remember(facts, keys, resolved_at + window)
                counts["remembered"] += 1
    return counts, linked
