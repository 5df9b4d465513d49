"""The ops API on in-process moto through Chalice's test client: tokens and roles, listings by each index with
filters and cursors, one issue with its trail, and the OpenAPI document covering every ops route."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.ops_tokens import DynamoOpsTokens
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.ops import Role
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention

TEXTS = [  # five issues: routine complaints from five people, one legal threat (High Priority)
    ("o-1", "My parcel never arrived", "ana"),
    ("o-2", "The strap of my Luna tote broke after a week", "ben"),
    ("o-3", "Still waiting for my refund", "cam"),
    ("o-4", "My order is late again", "dee"),
    ("o-5", "Your Alba boots burned my skin, I will sue", "eve"),
]
DAYS = "since=2026-11-19&until=2026-11-21"  # the fixtures' mentions are from 20 Nov 2026


@pytest.fixture
def api(aws):
    import app

    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    ids = [triage_mention(mention(mid, text, author=who, minutes=i), store, plans, fixed_analyzer).issue_id
           for i, (mid, text, who) in enumerate(TEXTS)]
    assert len(set(ids)) == len(TEXTS)
    with Client(app.app, stage_name="test") as client:
        client.admin = {"Authorization": f"Bearer {aws['OPS_ADMIN_TOKEN']}"}
        client.issue_ids = ids
        yield client


def get(api, path: str, headers: dict | None = None):
    answer = api.http.get(path, headers=headers if headers is not None else api.admin)
    return answer.status_code, json.loads(answer.body or b"null")


def test_no_token_or_an_unknown_one_is_401_and_a_token_without_the_role_is_403(api):
    status, body = get(api, "/issues", headers={})
    assert status == 401 and "Bearer" in body["error"]
    assert api.http.get("/issues").headers["WWW-Authenticate"].startswith("Bearer")
    assert get(api, "/issues", headers={"Authorization": "Bearer not-a-token"})[0] == 401
    assert get(api, "/issues", headers={"Authorization": "Basic " + "x" * 20})[0] == 401
    tokens = DynamoOpsTokens(resources().ops_tokens_table)
    now = datetime.now(timezone.utc)
    reporter = tokens.create("weekly-report", [Role.REPORTS_READ], 30, now)
    status, body = get(api, "/issues", headers={"Authorization": f"Bearer {reporter}"})
    assert status == 403 and "issues:read" in body["error"]
    reader = tokens.create("ops-dashboard", [Role.ISSUES_READ], 30, now)
    assert get(api, f"/issues?{DAYS}", headers={"Authorization": f"Bearer {reader}"})[0] == 200
    assert tokens.revoke("ops-dashboard") == 1
    assert get(api, "/issues", headers={"Authorization": f"Bearer {reader}"})[0] == 401


def test_listings_by_day_by_status_and_category_and_by_assignee(api):
    status, page = get(api, f"/issues?{DAYS}")
    assert status == 200 and {i["issue_id"] for i in page["items"]} == set(api.issue_ids)
    assert page["next_cursor"] is None
    assert all(set(i) >= {"issue_id", "category", "severity", "status", "team", "mention_count", "first_seen"}
               for i in page["items"])

    status, page = get(api, "/issues?status=open&category=high_priority")
    assert status == 200 and [i["issue_id"] for i in page["items"]] == [api.issue_ids[4]]
    routine = get(api, "/issues?status=open&category=routine_response")[1]["items"]
    assert {i["issue_id"] for i in routine} == set(api.issue_ids[:4])
    assert {i["issue_id"] for i in get(api, "/issues?status=open")[1]["items"]} == set(api.issue_ids)
    assert get(api, "/issues?status=resolved")[1]["items"] == []
    severity = page["items"][0]["severity"]
    severe = get(api, f"/issues?{DAYS}&severity={severity}")[1]["items"]
    assert api.issue_ids[4] in {i["issue_id"] for i in severe} and {i["severity"] for i in severe} == {severity}
    assert len(severe) < len(TEXTS)  # the routine ones are not as severe

    assignee = next(i for i in page["items"])["assigned_to"]
    if assignee:  # the plan assigns High Priority to a named lead
        mine = get(api, f"/issues?assignee={assignee}")[1]["items"]
        assert api.issue_ids[4] in {i["issue_id"] for i in mine}


def test_cursors_walk_every_issue_once_and_refuse_tampering(api):
    seen, cursor, pages = [], None, 0
    while True:
        status, page = get(api, f"/issues?{DAYS}&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(page["items"]) <= 2
        seen += [i["issue_id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(api.issue_ids) and pages >= 3
    first = get(api, f"/issues?{DAYS}&limit=2")[1]["next_cursor"]
    body, sig = first.split(".")
    assert get(api, f"/issues?{DAYS}&limit=2&cursor={body}.{'0' * len(sig)}")[0] == 400
    status, error = get(api, f"/issues?since=2026-11-01&until=2026-11-21&limit=2&cursor={first}")
    assert status == 400 and "other filters" in error["error"]  # a cursor from another listing


@pytest.mark.parametrize("query, named", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("status=lost", "status"),
    ("since=yesterday", "since"), ("since=2026-11-21&until=2026-11-01", "since"), ("colour=red", "colour"),
    ("status=open&category=nope", "category"), ("severity=apocalyptic", "severity"),
])
def test_bad_parameters_are_400_naming_them(api, query, named):
    status, body = get(api, f"/issues?{query}")
    assert status == 400 and named in body["error"]


@pytest.mark.parametrize("query, named", [
    ("until=0001-01-01", "until"), ("since=9999-12-31", "since"), ("since=0001-01-01&until=0001-01-02", "since"),
    ("until=9999-12-31", "until"), ("since=1999-12-31&until=2000-01-02", "since"),
])
def test_days_outside_the_window_are_400_naming_them_never_a_500(api, query, named):
    status, body = get(api, f"/issues?{query}")
    assert status == 400 and named in body["error"], body


def test_a_validly_signed_cursor_with_a_bad_position_or_start_key_is_a_400_never_a_500(api, aws):
    from chalicelib.domain.ops import IssueQuery, encode_cursor, seal

    key = aws["LINK_SIGNING_KEY"]
    query = IssueQuery(since="2026-11-19", until="2026-11-21", limit=2)
    genuine = get(api, f"/issues?{DAYS}&limit=2")[1]["next_cursor"]
    assert get(api, f"/issues?{DAYS}&limit=2&cursor={genuine}")[0] == 200
    day = {"issue_id": {"S": "iss-1"}, "first_seen_day": {"S": "2026-11-21"}, "first_seen": {"S": "2026-11-21T09"}}
    forged = [seal(key, b"not json"), seal(key, b"[1, 2]"), seal(key, b"\xff\xfe"), seal(key, b"{}")]
    forged += [encode_cursor(key, query, position, day) for position in (-1, 3, 10**9, "0", True, None, 1.5)]
    forged += [encode_cursor(key, query, 0, start) for start in (
        "iss-1", [day], {"junk": {"S": "x"}}, {**day, "issue_id": {"N": "1"}}, {**day, "issue_id": {"S": ""}},
        {**day, "first_seen_day": {"S": "2026-11-20"}},  # the key of another partition than the cursor's
        {**day, "extra": {"S": "x"}}, {k: v for k, v in day.items() if k != "first_seen"},
        {**day, "first_seen": {"S": "x" * 5000}}, {**day, "first_seen": {"S": "x", "N": "1"}})]
    for cursor in forged:
        status, body = get(api, f"/issues?{DAYS}&limit=2&cursor={cursor}")
        assert status == 400 and "cursor" in body["error"], (cursor, body)


def test_one_issue_with_its_mentions_and_trail(api):
    issue_id = api.issue_ids[4]
    status, detail = get(api, f"/issues/{issue_id}")
    assert status == 200 and detail["issue"]["issue_id"] == issue_id
    assert [m["external_id"] for m in detail["mentions"]] == ["o-5"]
    assert detail["history"][0]["type"] == "opened" and detail["history"][0]["actor"]
    assert get(api, "/issues/no-such-issue")[0] == 404
    assert get(api, "/issues/" + "x" * 200)[0] == 400
    assert get(api, f"/issues/{issue_id}", headers={})[0] == 401


def test_the_openapi_document_covers_every_ops_route(api):
    import app

    status, doc = get(api, "/openapi.json", headers={})
    assert status == 200 and doc["openapi"].startswith("3.")
    ops_routes = {path for path in app.app.routes if path == "/issues" or path.startswith("/issues/")
                  or path == "/openapi.json"}
    assert ops_routes == {"/issues", "/issues/{issue_id}", "/openapi.json"}
    assert ops_routes <= set(doc["paths"])
    documented = {p["name"] for p in doc["paths"]["/issues"]["get"]["parameters"]}
    assert documented == {"status", "category", "assignee", "severity", "team", "since", "until", "limit", "cursor"}
    for answer in ("200", "400", "401", "403"):
        assert answer in doc["paths"]["/issues"]["get"]["responses"]
    refs = list(_refs(doc))
    assert refs and all(ref.split("/")[-1] in doc["components"]["schemas"] for ref in refs)
    from openapi_spec_validator import validate  # an independent validator of OpenAPI 3.1

    validate(doc)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
