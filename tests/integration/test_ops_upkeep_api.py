"""Merge, split and plan upkeep over the ops API (Chalice's test client on moto), each on the audit trail with the
token's name; the upkeep schedules' use cases on moto (the overdue alert, the monthly reminder emails, once)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.ops_tokens import DynamoOpsTokens
from chalicelib.adapters.plans import DEFAULT_PLAN
from chalicelib.domain.ops import Role
from chalicelib.settings import resources
from tests.integration.test_ops_api import api  # noqa: F401 - the fixture: five issues, an admin client

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def responder(api):  # noqa: F811
    token, _ = DynamoOpsTokens(resources().ops_tokens_table).create(
        "rui.responder", Role.RESPONDER, 30, datetime.now(timezone.utc)
    )
    return {"Authorization": f"Bearer {token}", **JSON}


def post(api, path, body, headers):  # noqa: F811
    answer = api.http.post(path, body=json.dumps(body), headers=headers)
    return answer.status_code, json.loads(answer.body or b"null"), answer.headers


def detail(api, issue_id):  # noqa: F811
    return json.loads(api.http.get(f"/issues/{issue_id}", headers=api.admin).body)


def test_merge_folds_a_duplicate_in_once_and_refuses_what_makes_no_sense(api, responder):  # noqa: F811
    keep, duplicate, other = api.issue_ids[:3]
    status, merged, headers = post(api, f"/issues/{keep}/merge", {"from_issue": duplicate}, responder)
    assert status == 200 and merged["mention_count"] == 2 and headers["ETag"] == f'"v{merged["version"]}"'
    kept = detail(api, keep)
    assert {m["pk"] for m in kept["mentions"]} == {"x#o-1", "x#o-2"}
    assert [(e["type"], e["actor"]) for e in kept["history"] if e["type"] == "merged"] == [("merged", "rui.responder")]
    gone = detail(api, duplicate)
    assert gone["issue"]["status"] == "closed" and gone["mentions"] == []
    assert any(e["type"] == "merged_into" and e["details"]["into"] == keep for e in gone["history"])

    again = post(api, f"/issues/{keep}/merge", {"from_issue": duplicate}, responder)
    assert again[0] == 200 and again[1]["version"] == merged["version"]  # a repeat changes nothing
    assert post(api, f"/issues/{keep}/merge", {"from_issue": keep}, responder)[0] == 400
    assert post(api, f"/issues/{other}/merge", {"from_issue": duplicate}, responder)[0] == 409  # merged already
    assert post(api, f"/issues/{keep}/merge", {"from_issue": "iss-nope"}, responder)[0] == 404
    assert post(api, f"/issues/{keep}/merge", {"into": other}, responder)[0] == 400
    stale = post(api, f"/issues/{keep}/merge", {"from_issue": other}, {**responder, "If-Match": '"v0"'})
    assert stale[0] == 412 and "error" in stale[1]
    viewer, _ = DynamoOpsTokens(resources().ops_tokens_table).create("vic", Role.VIEWER, 30, datetime.now(timezone.utc))
    assert post(api, f"/issues/{keep}/merge", {"from_issue": other}, {"Authorization": f"Bearer {viewer}"})[0] == 403


def test_split_opens_an_issue_for_one_mention_once(api, responder):  # noqa: F811
    keep, duplicate = api.issue_ids[:2]
    post(api, f"/issues/{keep}/merge", {"from_issue": duplicate}, responder)
    status, opened, _ = post(api, f"/issues/{keep}/split", {"mention": "x#o-2"}, responder)
    assert status == 201 and opened["mention_count"] == 1 and opened["issue_id"] not in (keep, duplicate)
    assert opened["status"] == "open" and opened["category"] == detail(api, keep)["issue"]["category"]
    new = detail(api, opened["issue_id"])
    assert [m["pk"] for m in new["mentions"]] == ["x#o-2"]
    assert new["history"][0]["details"]["split_from"] == keep and new["history"][0]["actor"] == "rui.responder"
    kept = detail(api, keep)
    assert kept["issue"]["mention_count"] == 1 and any(e["type"] == "split" for e in kept["history"])

    repeat = post(api, f"/issues/{keep}/split", {"mention": "x#o-2"}, responder)
    assert repeat[0] == 409 and opened["issue_id"] in repeat[1]["error"]
    assert post(api, f"/issues/{keep}/split", {"mention": "x#o-1"}, responder)[0] == 409  # its only mention
    assert post(api, f"/issues/{keep}/split", {"mention": "x#none"}, responder)[0] == 404
    assert post(api, f"/issues/{keep}/split", {"mention": "not a key"}, responder)[0] == 400


def plan_trail() -> list[dict]:
    items = client("dynamodb").query(
        TableName=resources().audit_table,
        KeyConditionExpression="issue_id = :p",
        ExpressionAttributeValues={":p": {"S": "plan"}},
    )["Items"]
    return [{"type": i["type"]["S"], "actor": i["actor"]["S"], "details": json.loads(i["details"]["S"])} for i in items]


def test_plans_activate_retire_and_review_keep_retired_versions_readable(api):  # noqa: F811
    admin = {**api.admin, **JSON}
    text = DEFAULT_PLAN.read_text()
    assert post(api, "/plans", {"yaml": text}, admin)[0] == 201
    assert post(api, "/plans", {"yaml": text.replace("brand: Aurelle", "brand: Aurelle Two")}, admin)[0] == 201
    versions = {v["version"]: v["status"] for v in json.loads(api.http.get("/plans", headers=api.admin).body)["items"]}
    assert versions == {1: "retired", 2: "active"}

    status, done, _ = post(api, "/plans/1/activate", {}, admin)
    assert status == 200 and done == {"version": 1, "status": "active", "changed": True, "replaced": 2, "review": None}
    assert post(api, "/plans/1/activate", {}, admin)[1]["changed"] is False
    retired = json.loads(api.http.get("/plans/2", headers=api.admin).body)
    assert retired["status"] == "retired" and "brand: Aurelle Two" in retired["yaml"]  # still readable
    assert post(api, "/plans/1/retire", {}, admin)[0] == 409  # the active one
    assert post(api, "/plans/2/retire", {}, admin)[1]["changed"] is False
    assert post(api, "/plans/9/activate", {}, admin)[0] == 404

    status, reviewed, _ = post(
        api,
        "/plans/1/review",
        {"reviewed_by": "head@aurelle.example", "reviewed_on": "2026-11-20", "note": "SLAs kept"},
        admin,
    )
    assert status == 200 and reviewed["review"]["reviewed_on"] == "2026-11-20"
    assert reviewed["review"]["due_on"] == "2027-02-18" and reviewed["review"]["overdue"] is False
    shown = json.loads(api.http.get("/plans/1", headers=api.admin).body)
    assert (shown["reviewed_by"], shown["reviewed_on"]) == ("head@aurelle.example", "2026-11-20")
    assert post(api, "/plans/1/review", {"reviewed_on": "2999-01-01"}, admin)[0] == 400
    assert post(api, "/plans/1/review", {"colour": "red"}, admin)[0] == 400

    trail = plan_trail()
    assert [e["type"] for e in trail].count("plan_activated") == 1 and all(e["actor"] == "admin" for e in trail)
    assert {"plan_activated", "plan_reviewed"} <= {e["type"] for e in trail}
    assert next(e for e in trail if e["type"] == "plan_reviewed")["details"]["note"] == "SLAs kept"


def test_the_upkeep_schedules_alert_an_overdue_plan_and_email_each_owner_once(aws):
    from chalicelib import bootstrap
    from chalicelib.adapters.plans import bundled_plan
    from chalicelib.domain.plan import parse_plan
    from chalicelib.services.upkeep import check_plan_review, send_review_reminders

    document = bundled_plan().model_dump(mode="json")
    document["review"]["reviewed_on"] = "2026-01-01"
    stale = parse_plan(document)
    now = datetime(2026, 12, 1, 7, tzinfo=timezone.utc)
    assert check_plan_review(stale, 4, bootstrap.alerts(), now)["alert"] == "sent"
    assert check_plan_review(stale, 4, bootstrap.alerts(), now)["alert"] == "duplicate"

    sent = send_review_reminders(stale, bootstrap.issues(), bootstrap.reminder_mailer(), now)
    assert sent["routine"] == 1 and all(count >= 1 for count in sent.values())
    assert set(send_review_reminders(stale, bootstrap.issues(), bootstrap.reminder_mailer(), now).values()) == {0}
    from moto.backends import get_backend

    messages = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    reminders = [m for m in messages if "Monthly review" in str(getattr(m, "subject", ""))]
    assert len(reminders) == sum(sent.values())
    assert any("cs-lead@aurelle.example" in m.destinations["ToAddresses"] for m in reminders)


def test_a_stored_version_whose_protocol_is_not_deployed_is_not_activated(api):  # noqa: F811
    """A rollback past a redeploy: the old version runs a protocol no state machine has. Activating it is a 409
    naming it (its issues' protocols would never start); the active plan stays."""
    from chalicelib.adapters.plans import DynamoPlanStore

    admin = {**api.admin, **JSON}
    bundled = DEFAULT_PLAN.read_text()
    old = bundled.replace("protocol: routine\n", "protocol: routine_old\n").replace(
        "\n  routine:\n    label:", "\n  routine_old:\n    label:"
    )
    assert "routine_old:" in old
    DynamoPlanStore(resources().plans_table).upload(old, "earlier@aurelle.example")  # stored before the redeploy
    assert post(api, "/plans", {"yaml": bundled}, admin)[0] == 201
    status, refused, _ = post(api, "/plans/1/activate", {}, admin)
    assert status == 409 and "routine_old" in refused["error"]
    versions = {v["version"]: v["status"] for v in json.loads(api.http.get("/plans", headers=api.admin).body)["items"]}
    assert versions == {1: "retired", 2: "active"}
