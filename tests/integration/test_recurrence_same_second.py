"""Recurrence when the author writes again in the second their issue was resolved (in-process moto).

A platform dates a post to the second (X's ``created_at`` reads ``Mon Nov 30 21:18:06 +0000 2026``), and a new
issue's ``first_seen`` is its first mention's platform time; the resolution time is the state machine's
``$$.State.EnteredTime``, to the millisecond. A post written at 21:18:06.700 after a resolution at 21:18:06.490
is first seen at 21:18:06, "before" the resolution, and was not linked: what made ``make run``'s follow-up (and
its e2e test) miss the recurrence whenever the follow-up went out within the second of the resolution.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.recurrence_table import DynamoRecurrence
from chalicelib.services.recurrence import link_recurrences
from chalicelib.settings import resources
from tests.integration.test_recurrence import new_records, open_issue, resolve
from tests.triage_fixtures import T0


def resolved_first(author: str) -> tuple[str, datetime, list[dict]]:
    """An issue of ``author`` opened at T0 and resolved at T0 + 3 min 0.49 s (as Step Functions' EnteredTime has
    it), remembered from the stream; the stream records read so far."""
    names = resources()
    seen: list[dict] = []
    first = open_issue(f"{author}-1", "My Nova Sneakers broke after a week", author, 0)
    resolved_at = T0 + timedelta(minutes=3, milliseconds=490)
    resolve(first, resolved_at)
    plan = DynamoPlanStore(names.plans_table).active()[0]
    assert link_recurrences(new_records(seen), plan, DynamoIssues(names), DynamoRecurrence(names))[0]["remembered"]
    return first, resolved_at, seen


def links_of_the_next_issue(author: str, minutes: float, seen: list[dict]) -> tuple[str, list]:
    names = resources()
    issue_id = open_issue(f"{author}-2", "Package never arrived, two weeks late", author, minutes)
    plan = DynamoPlanStore(names.plans_table).active()[0]
    _, linked = link_recurrences(new_records(seen), plan, DynamoIssues(names), DynamoRecurrence(names))
    return issue_id, linked


def test_a_post_dated_to_the_second_of_the_resolution_recurs(aws):
    first, resolved_at, seen = resolved_first("dee")
    # Written in the second of the resolution, after it: X dates it 09:03:00, 0.49 s "before" the resolution.
    again, linked = links_of_the_next_issue("dee", 3, seen)
    issues = DynamoIssues(resources())
    assert datetime.fromisoformat((issues.get(again) or {})["first_seen"]) < resolved_at
    assert [(link.issue_id, link.recurs_issue_id, link.rule.value, link.gap_seconds) for link in linked] == [
        (again, first, "same_author", 0)
    ]
    stored = issues.get(again) or {}
    assert (stored["recurs_issue_id"], stored["recurrence_rule"], int(stored["recurrence_gap_seconds"])) == (
        first,
        "same_author",
        0,
    )


def test_a_post_dated_a_second_before_the_resolution_does_not_recur(aws):
    _, _, seen = resolved_first("eve")
    # Written while the issue was still open (09:02:59, the resolution came at 09:03:00.49): no recurrence of it.
    before, linked = links_of_the_next_issue("eve", 3 - 1 / 60, seen)
    assert linked == [] and "recurs_issue_id" not in (DynamoIssues(resources()).get(before) or {})
