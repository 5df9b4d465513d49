"""Plans on moto through the ops API (Chalice's test client): a plan whose durations overflow the calendar, or whose
stored document would not read back, is refused before anything is stored; a review is computed before it is
written; an upload retried with the active version's YAML writes nothing; a metrics period before 2000 is a 400."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.settings import resources
from tests.ops_client import call
from tests.plan_texts import PLAN, plan_with

ROUTINE_SLA = "sla: {first_response_minutes: 240, resolution_minutes: 2880}"


def versions(ops) -> dict[int, tuple[str, str]]:
    status, body = call(ops, "get", "/plans")
    assert status == 200
    return {item["version"]: (item["status"], item["uploaded_by"]) for item in body["items"]}


def plan_trail() -> list[str]:
    items = client("dynamodb").query(
        TableName=resources().audit_table,
        KeyConditionExpression="issue_id = :p",
        ExpressionAttributeValues={":p": {"S": "plan"}},
    )["Items"]
    return [item["type"]["S"] for item in items]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        pytest.param(
            plan_with(ROUTINE_SLA, "sla: {first_response_minutes: 240, resolution_minutes: 6000000000}"),
            "categories.routine_response.sla.resolution_minutes",
            id="sla",
        ),
        pytest.param(
            plan_with("author_window_hours: 24", "author_window_hours: 1e12"),
            "dedup.author_window_hours",
            id="dedup-1e12",
        ),
        pytest.param(
            plan_with("author_window_hours: 24", "author_window_hours: .inf"),
            "dedup.author_window_hours",
            id="dedup-inf",
        ),
        pytest.param(
            plan_with("review_every_days: 90", "review_every_days: 3000000"), "review.review_every_days", id="every"
        ),
        pytest.param(plan_with("reviewed_on: 2026-11-01", "reviewed_on: 9999-12-31"), "review", id="reviewed-on"),
    ],
)
def test_a_plan_past_the_calendar_is_refused_by_validate_and_upload_and_nothing_is_stored(ops, text, place):
    for path in ("/plans/validate", "/plans"):
        status, body = call(ops, "post", path, {"yaml": text})
        assert status == 400, (path, body)
        assert place in [problem["place"] for problem in body["problems"]], body
    assert versions(ops) == {}
    assert call(ops, "get", "/metrics/summary")[0] == 200
    assert call(ops, "get", "/issues")[0] == 200


def test_a_plan_whose_stored_document_would_not_read_back_is_refused(ops, monkeypatch):
    """The store reads the JSON it writes (stored=True): an upload it could not read again is a 400, not a version
    every read of the active plan fails on."""
    from chalicelib.domain import plan as plan_module

    parse = plan_module.parse_plan

    def stored_unreadable(document, *, stored=False):
        if stored:
            raise plan_module.PlanError("dedup.author_window_hours: Input should be a valid number")
        return parse(document, stored=stored)

    monkeypatch.setattr(plan_module, "parse_plan", stored_unreadable)
    for path in ("/plans/validate", "/plans"):
        status, body = call(ops, "post", path, {"yaml": PLAN})
        assert status == 400, (path, body)
        assert "would not read back" in body["error"] and "author_window_hours" in body["error"]
    with pytest.raises(plan_module.PlanError, match="would not read back"):
        DynamoPlanStore(resources().plans_table).upload(PLAN, "ana@brand.example")  # the CLI's way
    monkeypatch.undo()
    assert versions(ops) == {}


def _store_past_the_calendar(**review) -> None:
    """Version 1's document as a version stored before the bounds could hold it."""
    dynamodb, key = client("dynamodb"), {"pk": {"S": "plan"}, "sk": {"S": "v00000001"}}
    document = json.loads(dynamodb.get_item(TableName=resources().plans_table, Key=key)["Item"]["document"]["S"])
    document["review"].update(review)
    document["dedup"]["author_window_hours"] = None  # a .inf, as JSON wrote it
    dynamodb.update_item(
        TableName=resources().plans_table,
        Key=key,
        UpdateExpression="SET document = :d",
        ExpressionAttributeValues={":d": {"S": json.dumps(document)}},
    )


def test_a_version_stored_past_the_calendar_is_read_reviewed_once_and_checked(ops):
    assert call(ops, "post", "/plans", {"yaml": PLAN}) == (201, {"version": 1})
    _store_past_the_calendar(review_every_days=3_000_000, reviewed_on="9999-12-31")

    assert call(ops, "get", "/metrics/summary")[0] == 200  # the active plan reads (its windows at their bounds)
    schedule = ops.events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
    ops.lambda_.invoke("check_plan_review", schedule)  # the daily schedule: was OverflowError on every run

    status, body = call(ops, "post", "/plans/1/review", {"note": "q4"})
    assert status == 200, body
    assert body["review"]["due_on"] > body["review"]["reviewed_on"] and not body["review"]["overdue"]
    assert plan_trail().count("plan_reviewed") == 1


def test_an_upload_retried_with_the_active_yaml_answers_that_version_and_writes_nothing(ops):
    assert call(ops, "post", "/plans", {"yaml": PLAN, "uploaded_by": "ana@brand.example"}) == (201, {"version": 1})
    # a retry after a timeout, or the same upload run twice: the first answer again, no second version
    assert call(ops, "post", "/plans", {"yaml": PLAN, "uploaded_by": "ben@brand.example"}) == (201, {"version": 1})
    assert versions(ops) == {1: ("active", "ana@brand.example")}
    assert DynamoPlanStore(resources().plans_table).upload_once(PLAN, "cli") == (1, False)

    changed = plan_with("influencer_followers: 50000", "influencer_followers: 20000")
    assert call(ops, "post", "/plans", {"yaml": changed}) == (201, {"version": 2})
    # the YAML of a version that is no longer active is a new upload: it becomes the active version again
    assert call(ops, "post", "/plans", {"yaml": PLAN}) == (201, {"version": 3})
    assert {v: s for v, (s, _) in versions(ops).items()} == {1: "retired", 2: "retired", 3: "active"}


@pytest.mark.parametrize("query", ["until=0001-01-01", "until=0001-01-07T23:00:00", "until=0001-01-08"])
def test_a_metrics_period_before_2000_is_a_400_naming_until(ops, query):
    assert call(ops, "get", f"/metrics/summary?{query}") == (400, {"error": "until: from 2000-01-01 to tomorrow (UTC)"})
