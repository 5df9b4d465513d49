"""Recurrence: the rules (which resolved issue a new one repeats, by which rule, within the window), the one
definition of the recurrence rate, and the stream use case on in-memory fakes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.recurrence import (
    IssueFacts,
    RecurrenceLink,
    RecurrenceRule,
    find_recurrence,
    lookup_keys,
    recurrence_rate,
)
from chalicelib.services.recurrence import link_recurrences
from tests.fakes import FakeApprovalIssues, FakeRecurrenceIndex
from tests.unit.test_surveys import record

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=30)
TEXT = "the soles of my nova sneakers split after two weeks of light walking"


def facts(
    issue_id: str,
    at: datetime,
    author: str | None = "ana",
    products=("Nova Sneakers",),
    topic: str = "product_quality",
    text: str = TEXT,
) -> IssueFacts:
    return IssueFacts.of(issue_id, at, "x", author, products, topic, text)


def found_for(new: IssueFacts, *resolved: IssueFacts) -> dict[str, IssueFacts]:
    """What the index answers: each of the new issue's keys that a resolved issue had (the last one wins)."""
    index: dict[str, IssueFacts] = {}
    for earlier in resolved:
        index.update(dict.fromkeys(lookup_keys(earlier), earlier))
    return {key: index[key] for key in lookup_keys(new) if key in index}


def test_the_same_author_wins_over_product_and_topic_and_text():
    earlier = facts("iss-a", T0)
    new = facts("iss-b", T0 + timedelta(days=3))
    link = find_recurrence(new, found_for(new, earlier), WINDOW, 0.6)
    assert link == RecurrenceLink("iss-b", "iss-a", RecurrenceRule.SAME_AUTHOR, 3 * 86400)


def test_another_author_on_the_same_product_and_topic_is_a_recurring_problem():
    earlier = facts("iss-a", T0, author="bo", text="nothing alike at all here, about colours and sizes")
    new = facts("iss-b", T0 + timedelta(days=1))
    assert find_recurrence(new, found_for(new, earlier), WINDOW, 0.6).rule is RecurrenceRule.SAME_PRODUCT_TOPIC


def test_near_duplicate_text_links_without_author_or_product_but_a_band_collision_alone_does_not():
    earlier = facts("iss-a", T0, author="bo", products=())
    new = facts("iss-b", T0 + timedelta(days=1), author="cy", products=(), text=TEXT + " again")
    assert find_recurrence(new, found_for(new, earlier), WINDOW, 0.6).rule is RecurrenceRule.NEAR_DUPLICATE
    # The same band keys, but a stored signature that is not alike (what a band collision looks like).
    unlike = IssueFacts(issue_id="iss-a", at=T0, signature=tuple(range(12)))
    colliding = {key: unlike for key in lookup_keys(new) if key.startswith("text#")}
    assert find_recurrence(new, colliding, WINDOW, 0.6) is None


def test_only_issues_resolved_within_the_window_before_the_new_one_count():
    earlier = facts("iss-a", T0)
    assert (
        find_recurrence(facts("iss-b", T0 + timedelta(days=31)), found_for(facts("iss-b", T0), earlier), WINDOW, 0.6)
        is None
    )
    before = facts("iss-b", T0 - timedelta(hours=1))  # opened before that one was resolved: not a recurrence
    assert find_recurrence(before, found_for(before, earlier), WINDOW, 0.6) is None
    assert find_recurrence(earlier, found_for(earlier, earlier), WINDOW, 0.6) is None  # never itself


def test_no_topic_is_no_recurring_problem_and_no_author_is_no_repeat_contact():
    keys = lookup_keys(facts("iss-a", T0, author=None, topic="other", text="short"))
    assert keys == {}


def test_the_recurrence_rate_is_recurred_within_the_window_over_resolved_in_the_period_by_rule_too():
    start, end = T0, T0 + timedelta(days=7)
    resolved = [
        ("a", T0),
        ("b", T0 + timedelta(days=1)),
        ("c", T0 + timedelta(days=2)),
        ("d", T0 + timedelta(days=3)),
        ("outside", T0 + timedelta(days=8)),
    ]
    links = [
        RecurrenceLink("n1", "a", RecurrenceRule.SAME_AUTHOR, 86400),
        RecurrenceLink("n2", "a", RecurrenceRule.SAME_PRODUCT_TOPIC, 2 * 86400),  # a counts once overall
        RecurrenceLink("n3", "b", RecurrenceRule.SAME_PRODUCT_TOPIC, 86400),
        RecurrenceLink("n4", "c", RecurrenceRule.NEAR_DUPLICATE, 86400),
        RecurrenceLink("n5", "d", RecurrenceRule.SAME_AUTHOR, 31 * 86400),  # beyond the window
        RecurrenceLink("n6", "outside", RecurrenceRule.SAME_AUTHOR, 86400),
    ]  # resolved outside the period
    rate = recurrence_rate(resolved, links, start, end, WINDOW)
    assert (rate.resolved, rate.recurred, rate.same_author, rate.same_product_topic, rate.near_duplicate) == (
        4,
        3,
        1,
        2,
        1,
    )
    assert (rate.rate, rate.same_author_rate, rate.same_product_topic_rate) == (0.75, 0.25, 0.5)
    assert recurrence_rate([], links, start, end, WINDOW).rate is None


def test_the_stream_remembers_resolved_issues_and_links_a_new_one_once():
    issues, index, plan = FakeApprovalIssues(), FakeRecurrenceIndex(), bundled_plan()
    mention = {"platform": "x", "author_id": "u-ana", "text": TEXT, "created_at": "2026-11-01"}
    issues.mention_items = {"iss-a": [mention], "iss-b": [{**mention, "created_at": "2026-11-05"}]}
    old = {"issue_id": "iss-a", "status": "in_progress", "topic": "product_quality", "products": ["Nova Sneakers"]}
    resolution = record("MODIFY", {**old, "status": "resolved", "resolved_at": T0.isoformat()}, old)
    opened = record(
        "INSERT",
        {
            "issue_id": "iss-b",
            "status": "open",
            "topic": "delivery",
            "products": [],
            "first_seen": (T0 + timedelta(days=4)).isoformat(),
        },
    )
    counts, linked = link_recurrences([resolution, opened], plan, issues, index)
    assert counts == {"remembered": 1, "recurs_same_author": 1}
    assert linked == [RecurrenceLink("iss-b", "iss-a", RecurrenceRule.SAME_AUTHOR, 4 * 86400)]
    assert index.events[0].type == "recurrence" and index.events[0].details["rule"] == "same_author"
    again, relinked = link_recurrences([resolution, opened], plan, issues, index)  # the stream's retry
    assert relinked == [] and len(index.events) == 1
