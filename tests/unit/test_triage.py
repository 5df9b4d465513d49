"""Triage on the in-memory store: classification routes, dedup folds, escalation raises, retries write nothing."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory import InMemoryTriageStore
from chalicelib.adapters.plans import BundledPlanSource
from chalicelib.domain.issues import IssueStatus
from chalicelib.services.triage import TriageOutcome, triage_mention
from tests.triage_fixtures import fixed_analyzer, mention


@pytest.fixture
def store() -> InMemoryTriageStore:
    return InMemoryTriageStore()


def triage(store, m):
    return triage_mention(m, store, BundledPlanSource(), fixed_analyzer)


def test_a_complaint_opens_a_routine_issue_routed_to_customer_service(store):
    result = triage(store, mention("1", "The zip on my Cortez jacket broke after a week"))
    assert result.outcome is TriageOutcome.OPENED
    issue = store.issues[result.issue_id]
    assert (issue.category, issue.team, issue.products) == (
        "routine_response",
        "customer_service",
        ("Cortez Denim Jacket",),
    )
    assert issue.assigned_to.endswith("@aurelle.example") and issue.follow_up_required
    assert issue.sla_first_response_due > issue.first_seen
    assert [e.type for e in store.audit] == ["opened"] and store.audit[0].actor == "system:triage"
    assert store.cases == {}


def test_praise_is_stored_without_an_issue(store):
    result = triage(store, mention("1", "Love my new Sol dress, thank you!"))
    assert result.outcome is TriageOutcome.NO_ISSUE and store.issues == {} and "x#1" in store.mentions


def test_a_legal_threat_is_high_priority_with_an_escalation_case(store):
    result = triage(store, mention("1", "Your Alba boots ripped my skin, I will sue"))
    issue = store.issues[result.issue_id]
    assert (issue.category, issue.severity.value, issue.team) == ("high_priority", "critical", "social_media")
    case = store.cases[issue.issue_id]
    assert set(case.stakeholders) == {"social_media", "pr", "management"} and case.protocol == "high_priority"


def test_a_redelivery_writes_nothing(store):
    first = triage(store, mention("1", "The zip broke"))
    again = triage(store, mention("1", "The zip broke"))
    assert again.outcome is TriageOutcome.DUPLICATE
    assert len(store.issues) == 1 and store.issues[first.issue_id].mention_count == 1 and len(store.audit) == 1


def test_the_same_author_on_the_same_product_within_the_window_is_one_issue(store):
    first = triage(store, mention("1", "The zip on my Cortez jacket broke"))
    second = triage(store, mention("2", "Still waiting for a refund for the Cortez jacket", minutes=90))
    other_product = triage(store, mention("3", "And the Alba boots broke too", minutes=95))
    # the window slides from the latest mention (90 min): a day and a half later is a new issue
    next_day = triage(store, mention("4", "Cortez jacket broke again", minutes=90 + 24 * 60 + 1))
    assert second.outcome is TriageOutcome.JOINED and second.issue_id == first.issue_id
    assert other_product.issue_id != first.issue_id
    assert next_day.issue_id not in (first.issue_id, other_product.issue_id)
    issue = store.issues[first.issue_id]
    assert issue.mention_count == 2 and issue.reach == 200


def test_a_reply_in_the_authors_thread_joins_the_authors_issue(store):
    first = triage(store, mention("100", "My parcel never arrived"))
    reply = triage(store, mention("101", "It broke the box too, worst", parent="100", minutes=30))
    stranger = triage(store, mention("102", "Mine never arrived either", author="bo", parent="100", minutes=31))
    assert reply.outcome is TriageOutcome.JOINED and reply.issue_id == first.issue_id
    assert stranger.issue_id != first.issue_id


def test_near_identical_text_from_many_authors_is_one_issue_with_summed_reach(store):
    text = "The Nova sneakers sole broke after two days, this is the worst quality ever"
    results = [
        triage(
            store,
            mention(
                str(i), (f"RT @user{i}: " if i % 2 else "") + text, author=f"a{i}", followers=1000 * (i + 1), minutes=i
            ),
        )
        for i in range(6)
    ]
    assert {r.issue_id for r in results} == {results[0].issue_id}
    issue = store.issues[results[0].issue_id]
    assert issue.mention_count == 6 and issue.reach == sum(1000 * (i + 1) for i in range(6))
    unrelated = triage(store, mention("9", "My parcel never arrived and support never answers", author="z"))
    assert unrelated.issue_id != results[0].issue_id


def test_a_legal_threat_joining_a_routine_issue_escalates_it(store):
    first = triage(store, mention("1", "My Cortez jacket broke"))
    threat = triage(store, mention("2", "Cortez jacket broke again, I will sue you", minutes=10))
    assert threat.outcome is TriageOutcome.ESCALATED and threat.issue_id == first.issue_id
    issue = store.issues[first.issue_id]
    assert (issue.category, issue.severity.value, issue.team) == ("high_priority", "critical", "social_media")
    assert [e.type for e in store.audit] == ["opened", "mention_added", "escalated"]
    assert first.issue_id in store.cases


def test_a_resolved_issue_is_not_reopened_by_a_new_mention(store):
    first = triage(store, mention("1", "My Cortez jacket broke"))
    store.issues[first.issue_id] = store.issues[first.issue_id].model_copy(update={"status": IssueStatus.RESOLVED})
    later = triage(store, mention("2", "My Cortez jacket broke, again", minutes=60))
    assert later.outcome is TriageOutcome.OPENED and later.issue_id != first.issue_id


# -- one mention, several events: the stored copy converges (issue 8, defect 5) ---------------------------------
def _versions():
    from datetime import timedelta

    from chalicelib.domain.models import MentionEvent
    from tests.triage_fixtures import T0, mention

    original = mention("1", "The zip broke")
    first_edit = original.model_copy(
        update={
            "event": MentionEvent.EDITED,
            "text": "The zip broke twice",
            "author": original.author.model_copy(update={"followers": None}),
            "created_at": T0 + timedelta(minutes=3),
        }
    )
    second_edit = first_edit.model_copy(
        update={"text": "The zip broke, refund please", "created_at": T0 + timedelta(minutes=9)}
    )
    unhide = first_edit.model_copy(update={"text": "", "created_at": T0 + timedelta(minutes=30)})
    return original, first_edit, second_edit, unhide


def test_every_arrival_order_settles_on_the_same_content_and_creation_time():
    import itertools

    from chalicelib.domain.dedup import settle
    from tests.triage_fixtures import T0

    results = set()
    for order in itertools.permutations(_versions()):
        stored, version = None, None
        for event in order:
            stored, version = settle(event, stored, version)
        results.add((stored.text, stored.created_at, stored.author.followers, version))
    assert len(results) == 1, results
    ((text, created_at, followers, version),) = results
    assert (text, created_at, followers) == ("The zip broke, refund please", T0, 100)
    assert version.startswith("1#2026-11-20T09:09:00")  # the newest edit's


def test_an_edit_outranks_the_original_even_when_it_carries_the_original_time():
    from chalicelib.domain.dedup import content_version

    original, first_edit, _, _ = _versions()
    assert content_version(first_edit.model_copy(update={"created_at": original.created_at})) > content_version(
        original
    )
