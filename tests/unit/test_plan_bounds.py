"""Bounds on a plan's durations (each is added to a date or a time: past the calendar it overflowed in triage or in
the review check), a plan's document read back as the store reads it, a review computed before it is written, and
the metrics period checked before it is counted back."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.ops import BadQuery
from chalicelib.domain.plan import (
    MAX_REVIEW_EVERY_DAYS,
    MAX_SLA_MINUTES,
    MAX_WINDOW_HOURS,
    PlanError,
    ResponsePlan,
    check_reads_back,
    load_plan_yaml,
    parse_plan,
)
from chalicelib.domain.plan_upkeep import review_due
from chalicelib.services.ops import MetricsQuery, metrics_period
from chalicelib.services.upkeep import ReviewBody, record_review
from tests.plan_texts import plan_with

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
ROUTINE_SLA = "sla: {first_response_minutes: 240, resolution_minutes: 2880}"


def _with_dedup(value: str) -> str:
    return plan_with("author_window_hours: 24", f"author_window_hours: {value}")


def test_the_bundled_plan_is_within_the_bounds_and_reads_back_as_itself():
    plan = bundled_plan()
    check_reads_back(plan)
    assert parse_plan(json.loads(plan.model_dump_json()), stored=True) == plan


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (
            plan_with(ROUTINE_SLA, "sla: {first_response_minutes: 240, resolution_minutes: 6000000000}"),
            "resolution_minutes",
        ),
        (
            plan_with(ROUTINE_SLA, f"sla: {{first_response_minutes: {MAX_SLA_MINUTES + 1}, resolution_minutes: 2880}}"),
            "first",
        ),
        (plan_with("sla_minutes: 240", "sla_minutes: 99999999999"), "sla_minutes"),
        (_with_dedup("1e12"), "author_window_hours"),
        (_with_dedup(".inf"), "author_window_hours"),
        (_with_dedup(".nan"), "author_window_hours"),
        (_with_dedup(str(MAX_WINDOW_HOURS + 1)), "author_window_hours"),
        (plan_with("review_every_days: 90", "review_every_days: 3000000"), "review_every_days"),
        (plan_with("reviewed_on: 2026-11-01", "reviewed_on: 9999-12-31"), "reviewed_on"),
    ],
    ids=[
        "resolution",
        "first-response",
        "step",
        "dedup-1e12",
        "dedup-inf",
        "dedup-nan",
        "dedup-max+1",
        "every",
        "reviewed-on",
    ],
)
def test_a_duration_past_its_bound_is_refused_naming_its_place(text, place):
    with pytest.raises(PlanError, match=re.escape(place)):
        load_plan_yaml(text)


def test_the_bounds_themselves_are_accepted():
    text = plan_with(ROUTINE_SLA, f"sla: {{first_response_minutes: 240, resolution_minutes: {MAX_SLA_MINUTES}}}")
    text = text.replace("review_every_days: 90", f"review_every_days: {MAX_REVIEW_EVERY_DAYS}", 1)
    plan = load_plan_yaml(text.replace("author_window_hours: 24", f"author_window_hours: {MAX_WINDOW_HOURS}", 1))
    assert plan.categories["routine_response"].sla.resolution_minutes == MAX_SLA_MINUTES
    check_reads_back(plan)


def _plan_on(document, today):
    """The plan of ``document`` uploaded on ``today``."""
    return ResponsePlan.model_validate(document, context={"today": today})


def test_a_review_is_refused_after_tomorrow_and_accepted_tomorrow():
    document = bundled_plan().model_dump(mode="json")
    document["review"]["reviewed_on"] = "2026-12-02"
    assert _plan_on(document, today=date(2026, 12, 1)).review.reviewed_on == date(2026, 12, 2)
    document["review"]["reviewed_on"] = "2026-12-03"
    with pytest.raises(ValueError, match="reviewed_on: 2026-12-03 is in the future"):
        _plan_on(document, today=date(2026, 12, 1))


def test_a_version_stored_past_a_bound_reads_at_the_bound():
    """Stored before the bounds: read (triage keeps running) with the bound in place of the value."""
    document = json.loads(bundled_plan().model_dump_json())
    document["dedup"]["author_window_hours"] = None  # a .inf, as the store wrote it
    document["dedup"]["text_window_hours"] = 1e12
    document["categories"]["routine_response"]["sla"]["resolution_minutes"] = 6_000_000_000
    document["review"]["review_every_days"] = 3_000_000
    document["review"]["reviewed_on"] = "9999-12-31"
    plan = parse_plan(document, stored=True)
    assert plan.dedup.author_window_hours == plan.dedup.text_window_hours == MAX_WINDOW_HOURS
    assert plan.categories["routine_response"].sla.resolution_minutes == MAX_SLA_MINUTES
    assert plan.review.review_every_days == MAX_REVIEW_EVERY_DAYS
    due = review_due(plan, NOW)  # was OverflowError: 9999-12-31 + 3650 days
    assert due.due_on == date.max and not due.overdue


class Lifecycle:
    def __init__(self, document):
        self.document, self.writes = document, []

    def get(self, version):
        return {"version": version, "status": "active", "document": self.document}

    def record_review(self, version, reviewed_by, reviewed_on, event):
        self.writes.append((version, reviewed_by, reviewed_on, event.type))


def test_a_review_is_computed_before_it_is_written():
    document = json.loads(bundled_plan().model_dump_json())
    store = Lifecycle(document)
    answer = record_review(1, ReviewBody(note="q4"), "ops", store, NOW)
    assert answer.review.reviewed_on == NOW.date() and len(store.writes) == 1

    del document["teams"]  # a stored document that cannot be read: refused before anything is written
    broken = Lifecycle(document)
    with pytest.raises(PlanError):
        record_review(1, ReviewBody(note="q4"), "ops", broken, NOW)
    assert broken.writes == []


@pytest.mark.parametrize("query", [{"until": "0001-01-01"}, {"until": "0001-01-07T23:00:00"}, {"until": "0001-01-08"}])
def test_a_metrics_period_before_2000_is_refused_naming_until(query):
    with pytest.raises(BadQuery, match="^until: from 2000-01-01"):
        metrics_period(MetricsQuery.model_validate(query), NOW)


def test_a_plan_names_platforms_as_the_webhooks_store_them():
    from chalicelib.domain.plan import Condition, KnownAccount

    account = KnownAccount(platform="Google Play", handle="@nova", kind="partner")
    assert (
        account.platform == "google-play" and KnownAccount(platform="any", handle="a", kind="partner").platform == "any"
    )
    assert Condition(platform_in=["Google Play", "x", "shop-"]).platform_in == ["google-play", "x", "shop-"]
    plan = load_plan_yaml(
        plan_with("{platform: any, handle: nordicthreads", "{platform: Google Play, handle: nordicthreads")
    )
    assert plan.known_account("google-play", "@NordicThreads") is not None
