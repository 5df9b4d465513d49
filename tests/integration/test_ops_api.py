"""The ops API on in-process moto through Chalice's test client: tokens and roles, listings by each index with
filters and cursors, one issue with its trail, and the OpenAPI document covering every ops route."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.ops_tokens import DynamoOpsTokens
from chalicelib.domain.ops import Role
from chalicelib.settings import resources
from tests.triage_fixtures import triaged_issue_ids

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

    ids = triaged_issue_ids(TEXTS)
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
    viewer, _ = tokens.create("weekly-report", Role.VIEWER, 30, now)
    answer = api.http.patch(
        f"/issues/{api.issue_ids[0]}",
        body=json.dumps({"status": "in_progress"}),
        headers={"Authorization": f"Bearer {viewer}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 403 and "responder" in json.loads(answer.body)["error"]
    reader, _ = tokens.create("ops-dashboard", Role.VIEWER, 30, now)
    assert get(api, f"/issues?{DAYS}", headers={"Authorization": f"Bearer {reader}"})[0] == 200
    assert tokens.revoke("ops-dashboard") == 1
    assert get(api, "/issues", headers={"Authorization": f"Bearer {reader}"})[0] == 401


def test_listings_by_day_by_status_and_category_and_by_assignee(api):
    status, page = get(api, f"/issues?{DAYS}")
    assert status == 200 and {i["issue_id"] for i in page["items"]} == set(api.issue_ids)
    assert page["next_cursor"] is None
    assert all(
        set(i) >= {"issue_id", "category", "severity", "status", "team", "mention_count", "first_seen"}
        for i in page["items"]
    )

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


def pages_of(api, query: str, limit: int) -> list[str]:
    seen, cursor = [], None
    while True:
        status, page = get(api, f"/issues?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(page["items"]) <= limit, page
        seen += [i["issue_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_listings_read_every_shard_newest_first_on_dynamodb(api):
    """Issues in several write shards of one partition are listed as from one partition: newest first by the
    index's sort key, each once, whatever the page size."""
    from chalicelib.adapters.aws import client
    from chalicelib.domain.index_shards import STATUS_CATEGORY_SHARDS, first_seen_day, index_shard, status_category

    names = resources()
    routine = api.issue_ids[:4]  # first seen a minute apart, oldest first
    for issue_id in routine:  # the ops API's status change writes the issue's own shard
        answer = api.http.patch(
            f"/issues/{issue_id}",
            body=json.dumps({"status": "in_progress"}),
            headers={**api.admin, "Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.body
    stored = {
        issue_id: client("dynamodb").get_item(TableName=names.issues_table, Key={"issue_id": {"S": issue_id}})["Item"]
        for issue_id in api.issue_ids
    }
    for issue_id in routine:
        assert stored[issue_id]["status_category"]["S"] == status_category("in_progress", "routine_response", issue_id)
    assert {index_shard(i, STATUS_CATEGORY_SHARDS) for i in routine} != {0}  # random ids: all in 0 one run in 65,536
    newest_first = routine[::-1]
    for limit in (1, 2, 3, 25):
        assert pages_of(api, "status=in_progress&category=routine_response", limit) == newest_first
    # the day's partition too, each issue in its shard as the writers put it
    for issue_id, item in stored.items():
        day = first_seen_day(datetime.fromisoformat(item["first_seen"]["S"]), issue_id)
        client("dynamodb").update_item(
            TableName=names.issues_table,
            Key={"issue_id": {"S": issue_id}},
            UpdateExpression="SET first_seen_day = :d",
            ExpressionAttributeValues={":d": {"S": day}},
        )
    for limit in (1, 2, 25):
        assert pages_of(api, DAYS, limit) == api.issue_ids[::-1]
    # the metrics read every shard of every day too
    status, summary = get(api, "/metrics/summary?since=2026-11-19&until=2026-11-22")
    assert status == 200 and summary["volume"]["issues"] == len(api.issue_ids), summary


def test_a_persons_issues_are_listed_over_every_assignee_shard_and_leave_it_when_unassigned(api):
    """The ops API writes ``assignee_shard`` with ``assigned_to`` (the address itself stays plain) and removes it
    with it; the person's listing reads every shard, newest first by last_seen, each issue once at any page size."""
    from chalicelib.adapters.aws import client
    from chalicelib.domain.index_shards import ASSIGNEE_SHARDS, assignee_shard, index_shard

    names = resources()
    person = "ana@example.com"
    for issue_id in api.issue_ids:
        status, changed, _ = send(api, "PATCH", f"/issues/{issue_id}", {"assigned_to": person})
        assert status == 200 and changed["assigned_to"] == person

    def stored(issue_id: str) -> dict:
        return client("dynamodb").get_item(TableName=names.issues_table, Key={"issue_id": {"S": issue_id}})["Item"]

    for issue_id in api.issue_ids:
        item = stored(issue_id)
        assert item["assigned_to"]["S"] == person
        assert item["assignee_shard"]["S"] == assignee_shard(person, issue_id)
    assert ASSIGNEE_SHARDS > 1 and {index_shard(i, ASSIGNEE_SHARDS) for i in api.issue_ids} != {0}
    newest_first = api.issue_ids[::-1]  # first (and last) seen a minute apart, oldest first
    for limit in (1, 2, 3, 25):
        assert pages_of(api, f"assignee={person}", limit) == newest_first

    status, changed, _ = send(api, "PATCH", f"/issues/{api.issue_ids[2]}", {"assigned_to": None})
    assert status == 200 and changed["assigned_to"] is None
    assert "assignee_shard" not in stored(api.issue_ids[2])
    assert pages_of(api, f"assignee={person}", 2) == [i for i in newest_first if i != api.issue_ids[2]]


def test_a_persons_listing_never_shows_an_address_that_ends_like_a_shard_key(api):
    """``ana@example.com`` in shard 5 and ``ana@example.com#5`` in shard 0 share the index key
    ``ana@example.com#5``: each person's listing still shows only their own issues."""
    from urllib.parse import quote

    from chalicelib.adapters.aws import client
    from chalicelib.domain.index_shards import ASSIGNEE_SHARDS, assignee_shard, index_shard

    table = resources().issues_table
    template = client("dynamodb").get_item(TableName=table, Key={"issue_id": {"S": api.issue_ids[0]}})["Item"]
    # two issues whose ids land in shard 0 and in another shard (ids chosen, so the case never depends on chance)
    candidates = (f"iss-20261120T090000-lookalike{n}" for n in range(1000))
    in_shard_0 = next(i for i in candidates if index_shard(i, ASSIGNEE_SHARDS) == 0)
    sharded = next(i for i in candidates if index_shard(i, ASSIGNEE_SHARDS) >= 1)
    person = "ana@example.com"
    lookalike = f"{person}#{index_shard(sharded, ASSIGNEE_SHARDS)}"
    for issue_id, assigned in ((sharded, person), (in_shard_0, lookalike)):
        item = {**template, "issue_id": {"S": issue_id}, "assigned_to": {"S": assigned}}
        item["assignee_shard"] = {"S": assignee_shard(assigned, issue_id)}
        client("dynamodb").put_item(TableName=table, Item=item)
    assert assignee_shard(person, sharded) == assignee_shard(lookalike, in_shard_0)  # one partition
    assert [i["issue_id"] for i in get(api, f"/issues?assignee={quote(person)}")[1]["items"]] == [sharded]
    assert [i["issue_id"] for i in get(api, f"/issues?assignee={quote(lookalike)}")[1]["items"]] == [in_shard_0]


@pytest.mark.parametrize(
    "query, named",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("since=yesterday", "since"),
        ("since=2026-11-21&until=2026-11-01", "since"),
        ("colour=red", "colour"),
        ("status=open&category=nope", "category"),
        ("severity=apocalyptic", "severity"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, query, named):
    status, body = get(api, f"/issues?{query}")
    assert status == 400 and named in body["error"]


@pytest.mark.parametrize(
    "query, named",
    [
        ("until=0001-01-01", "until"),
        ("since=9999-12-31", "since"),
        ("since=0001-01-01&until=0001-01-02", "since"),
        ("until=9999-12-31", "until"),
        ("since=1999-12-31&until=2000-01-02", "since"),
    ],
)
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
    forged += [
        encode_cursor(key, query, 0, start)
        for start in (
            "iss-1",
            [day],
            {"junk": {"S": "x"}},
            {**day, "issue_id": {"N": "1"}},
            {**day, "issue_id": {"S": ""}},
            {**day, "first_seen_day": {"S": "2026-11-20"}},  # the key of another partition than the cursor's
            {**day, "extra": {"S": "x"}},
            {k: v for k, v in day.items() if k != "first_seen"},
            {**day, "first_seen": {"S": "x" * 5000}},
            {**day, "first_seen": {"S": "x", "N": "1"}},
        )
    ]
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


def test_a_trail_past_a_query_page_is_shown_whole_newest_write_included(api):
    """A busy issue's trail passes DynamoDB's 1 MB Query page: every event is read, the newest too."""
    from datetime import timedelta

    from chalicelib.adapters.aws import client
    from chalicelib.adapters.triage_table import audit_item
    from chalicelib.domain.issues import AuditEvent

    issue_id = api.issue_ids[0]
    start = datetime(2026, 11, 21, tzinfo=timezone.utc)
    for i in range(300):  # 300 notes of 4,000 characters: about 1.2 MB
        note = AuditEvent(
            issue_id=issue_id,
            at=start + timedelta(minutes=i),
            type="note",
            actor="ana@aurelle.example",
            details={"text": f"note {i:03d} " + "x" * 3990},
        )
        client("dynamodb").put_item(TableName=resources().audit_table, Item=audit_item(note))
    status, detail = get(api, f"/issues/{issue_id}")
    notes = [event for event in detail["history"] if event["type"] == "note"]
    assert status == 200 and len(notes) == 300 and notes[-1]["details"]["text"].startswith("note 299")


def test_the_openapi_document_covers_every_ops_route(api):
    import app

    status, doc = get(api, "/openapi.json", headers={})
    assert status == 200 and doc["openapi"].startswith("3.")
    from chalicelib.api.auth import ROLE_ATTRIBUTE

    ops_routes = {
        (path, method.lower())
        for path, methods in app.app.routes.items()
        for method, entry in methods.items()
        if hasattr(entry.view_function, ROLE_ATTRIBUTE)
    }
    assert {("/issues", "get"), ("/issues/{issue_id}", "patch"), ("/tokens", "post")} <= ops_routes
    assert ops_routes == {(path, method) for path, methods in doc["paths"].items() for method in methods}
    documented = {p["name"] for p in doc["paths"]["/issues"]["get"]["parameters"]}
    assert documented == {
        "status",
        "category",
        "assignee",
        "severity",
        "team",
        "since",
        "until",
        "limit",
        "cursor",
        "platform",
        "product",
        "q",
        "follow_up_required",
    }
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


def send(api, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
    sent = {"Content-Type": "application/json", **(headers if headers is not None else api.admin)}
    answer = getattr(api.http, method.lower())(path, body=raw if raw is not None else json.dumps(body), headers=sent)
    return answer.status_code, json.loads(answer.body or b"null"), answer.headers


def test_a_body_within_its_fields_limits_is_taken_however_its_text_is_escaped(api):
    """json.dumps escapes every non-ASCII character (the CLI sends bodies so): 4,000 emoji are 48 KB of JSON."""
    issue = api.issue_ids[0]
    for text in ("\U0001f600" * 4000, "\u0436" * 4000):  # the note's limit: 4,000 characters
        assert send(api, "POST", f"/issues/{issue}/notes", {"text": text})[0] == 201
    status, refused, _ = send(api, "POST", f"/issues/{issue}/notes", {"text": "\u0436" * 4001})
    assert status == 400 and "text" in refused["error"]
    status, refused, _ = send(api, "POST", f"/issues/{issue}/notes", raw=b'{"text": "' + b"x" * 200_000 + b'"}')
    assert status == 400 and "bytes" in refused["error"]  # past anything a valid note can be: refused unread
    assert send(api, "PATCH", f"/issues/{issue}", {"resolution_note": "\u65e5" * 4000})[0] == 200


def test_an_admin_creates_lists_and_revokes_tokens_and_roles_rank(api):
    status, created, _ = send(api, "POST", "/tokens", {"name": "ana.responder", "role": "responder"})
    assert status == 201 and created["token"] and created["role"] == "responder"
    responder = {"Authorization": f"Bearer {created['token']}"}
    status, listed = get(api, "/tokens")
    assert status == 200 and [t["name"] for t in listed["items"]] == ["ana.responder"]
    assert "token" not in listed["items"][0] and created["token"] not in json.dumps(listed)
    assert get(api, f"/issues?{DAYS}", headers=responder)[0] == 200  # a responder also reads
    assert get(api, "/tokens", headers=responder)[0] == 403  # but manages no tokens
    assert send(api, "POST", "/tokens", {"name": "x", "role": "admin"}, headers=responder)[0] == 403
    for bad, named in (
        ({"name": "x"}, "role"),
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "a  b", "role": "viewer"}, "name"),
        ({"name": " admin", "role": "viewer"}, "name"),
        ({"name": "ana\n", "role": "viewer"}, "name"),
        ({"name": "x", "role": "viewer", "extra": 1}, "extra"),
        ({"name": "admin", "role": "viewer"}, "reserved"),  # the admin token's actor on the audit trail
        ({"name": "Admin", "role": "viewer"}, "reserved"),
        ({"name": "system:protocol", "role": "responder"}, "reserved"),  # the automation's
    ):
        status, error, _ = send(api, "POST", "/tokens", bad)
        assert status == 400 and named in error["error"], bad
    assert send(api, "POST", "/tokens", raw=b"{not json")[0] == 400
    status, spaced, _ = send(api, "POST", "/tokens", {"name": "Carol R", "role": "viewer"})  # a person's name
    assert status == 201 and spaced["name"] == "Carol R"
    status, revoked, _ = send(api, "DELETE", f"/tokens/{created['token_id']}")
    assert status == 200 and revoked == {"revoked": created["token_id"]}
    assert get(api, f"/issues?{DAYS}", headers=responder)[0] == 401
    assert send(api, "DELETE", f"/tokens/{created['token_id']}")[0] == 404
    assert send(api, "DELETE", "/tokens/zz")[0] == 400


def test_a_responder_assigns_notes_resolves_and_the_trail_names_them(api):
    _, created, _ = send(api, "POST", "/tokens", {"name": "ana.responder", "role": "responder"})
    ana = {"Authorization": f"Bearer {created['token']}"}
    issue = api.issue_ids[0]
    answer = api.http.get(f"/issues/{issue}", headers=ana)
    version = answer.headers["ETag"]
    assert answer.status_code == 200 and version == '"v0"'

    status, changed, headers = send(
        api, "PATCH", f"/issues/{issue}", {"assigned_to": "ana@example.com"}, headers={**ana, "If-Match": version}
    )
    assert status == 200 and changed["assigned_to"] == "ana@example.com" and headers["ETag"] == '"v1"'
    status, error, _ = send(
        api, "PATCH", f"/issues/{issue}", {"follow_up_required": True}, headers={**ana, "If-Match": version}
    )
    assert status == 412 and "version 1" in error["error"]  # stale: written meanwhile
    assert send(api, "POST", f"/issues/{issue}/notes", {"text": "Called the customer"}, headers=ana)[0] == 201
    status, changed, _ = send(
        api, "PATCH", f"/issues/{issue}", {"status": "resolved", "resolution_note": "Refunded"}, headers=ana
    )
    assert status == 200 and changed["status"] == "resolved" and changed["resolved_at"]
    assert changed["resolution_note"] == "Refunded"
    status, error, _ = send(api, "PATCH", f"/issues/{issue}", {"status": "open"}, headers=ana)
    assert status == 409 and "resolved cannot become open" in error["error"]
    assert send(api, "POST", f"/issues/{issue}/satisfaction", {"score": 4, "channel": "phone"}, headers=ana)[0] == 201

    detail = get(api, f"/issues/{issue}")[1]
    mine = [(e["type"], e["actor"]) for e in detail["history"] if e["actor"] == "ana.responder"]
    assert mine == [
        ("assigned", "ana.responder"),
        ("note", "ana.responder"),
        ("resolved", "ana.responder"),
        ("resolution_noted", "ana.responder"),
        ("satisfaction_recorded", "ana.responder"),
    ]
    assert detail["issue"]["satisfaction_score"] == 4
    assert detail["issue"]["version"] == 4  # one per write, not per field
    assert [i["issue_id"] for i in get(api, "/issues?assignee=ana@example.com")[1]["items"]] == [issue]
    assert [i["issue_id"] for i in get(api, "/issues?status=resolved")[1]["items"]] == [issue]


@pytest.mark.parametrize(
    "body, named",
    [
        ({}, "at least one"),
        ({"status": "lost"}, "status"),
        ({"status": None}, "status"),
        ({"colour": 1}, "colour"),
        ({"assigned_to": ""}, "assigned_to"),
        ({"follow_up_required": "maybe"}, "follow_up_required"),
        ([], "body"),
    ],
)
def test_bad_patches_are_400_naming_the_field_and_change_nothing(api, body, named):
    issue = api.issue_ids[1]
    status, error, _ = send(api, "PATCH", f"/issues/{issue}", body)
    assert status == 400 and named in error["error"], error
    assert get(api, f"/issues/{issue}")[1]["issue"]["version"] == 0


def test_writes_to_a_missing_issue_are_404_and_a_bad_if_match_400(api):
    assert send(api, "PATCH", "/issues/iss-none", {"status": "closed"})[0] == 404
    assert send(api, "POST", "/issues/iss-none/notes", {"text": "x"})[0] == 404
    status, error, _ = send(
        api,
        "PATCH",
        f"/issues/{api.issue_ids[1]}",
        {"status": "closed"},
        headers={**api.admin, "If-Match": "yesterday"},
    )
    assert status == 400 and "If-Match" in error["error"]
    assert send(api, "POST", f"/issues/{api.issue_ids[1]}/satisfaction", {"score": 6})[0] == 400


def test_list_filters_platform_product_text_and_follow_up(api):
    everything = get(api, f"/issues?{DAYS}")[1]["items"]
    platform = everything[0]["platform"]
    assert {i["platform"] for i in get(api, f"/issues?{DAYS}&platform={platform}")[1]["items"]} == {platform}
    assert [i["issue_id"] for i in get(api, f"/issues?{DAYS}&q=refund")[1]["items"]] == [api.issue_ids[2]]
    assert get(api, f"/issues?{DAYS}&q=nothing-like-this")[1]["items"] == []
    flagged = {i["issue_id"] for i in everything if i["follow_up_required"]}
    assert {i["issue_id"] for i in get(api, f"/issues?{DAYS}&follow_up_required=true")[1]["items"]} == flagged
    with_product = [i for i in everything if i["products"]]
    if with_product:
        product = with_product[0]["products"][0]
        found = get(api, f"/issues?{DAYS}&product={product}")[1]["items"]
        assert found and all(product in i["products"] for i in found)
    assert get(api, f"/issues?{DAYS}&follow_up_required=perhaps")[0] == 400


def test_metrics_summary_counts_and_says_null_where_there_is_no_data(api):
    status, summary = get(api, "/metrics/summary?since=2026-11-19&until=2026-11-22")
    assert status == 200 and summary["volume"]["issues"] == len(TEXTS)
    assert summary["csat"] == {"count": 0, "satisfied_share": None, "mean_score": None}
    assert summary["recurrence"] == {"count": 0, "rate": None}
    assert summary["response_time"]["count"] == 0 and summary["response_time"]["median_seconds"] is None
    # the SLAs of 20 Nov are long past without a response: every one applied is missed
    assert summary["sla"]["first_response"]["count"] > 0 and summary["sla"]["first_response"]["rate"] == 0
    send(api, "POST", f"/issues/{api.issue_ids[0]}/satisfaction", {"score": 5})
    send(api, "POST", f"/issues/{api.issue_ids[1]}/satisfaction", {"score": 2})
    summary = get(api, "/metrics/summary?since=2026-11-19&until=2026-11-22")[1]
    assert summary["csat"] == {"count": 2, "satisfied_share": 0.5, "mean_score": 3.5}
    assert get(api, "/metrics/summary?since=2026-11-22&until=2026-11-19")[0] == 400
    assert get(api, "/metrics/summary?since=2026-01-01&until=2026-11-22")[0] == 400
    assert get(api, "/metrics/summary?colour=red")[0] == 400
    # times whose UTC falls outside datetime's range: refused as out of the window, not an OverflowError
    for edge in ("until=9999-12-31T23:59:59-14:00", "since=0001-01-01T00:00:00%2B14:00"):
        status, refused = get(api, f"/metrics/summary?{edge}")
        assert status == 400 and "from 2000-01-01 to tomorrow" in refused["error"]
    assert get(api, "/metrics/summary", headers={})[0] == 401


def test_a_token_past_its_rate_limit_is_429_with_retry_after_and_others_are_not(api, monkeypatch):
    monkeypatch.setenv("OPS_RATE_LIMIT_PER_MINUTE", "3")
    _, created, _ = send(api, "POST", "/tokens", {"name": "busy", "role": "viewer"})
    busy = {"Authorization": f"Bearer {created['token']}"}
    statuses = [api.http.get("/metrics/summary", headers=busy) for _ in range(4)]
    if statuses[-1].status_code != 429:  # a minute turned meanwhile: the next requests fill the new one
        statuses = [api.http.get("/metrics/summary", headers=busy) for _ in range(4)]
    assert [a.status_code for a in statuses][-1] == 429
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
    assert "rate limit" in json.loads(statuses[-1].body)["error"]
    assert api.http.get("/metrics/summary", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_plans_list_validate_every_problem_and_upload(api):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "chalicelib/plans/default.yaml").read_text()
    status, checked, _ = send(api, "POST", "/plans/validate", {"yaml": text})
    assert status == 200 and checked["valid"] and checked["categories"] >= 1
    broken = text.replace("default_category: no_action", "default_category: nothing") + "\ninfluencer_followers: -1\n"
    status, refused, _ = send(api, "POST", "/plans/validate", {"yaml": broken})
    assert status == 400 and {p["place"] for p in refused["problems"]} == {"default_category", "influencer_followers"}
    assert all(p["line"] > 1 for p in refused["problems"]) and "2 problem(s)" in refused["error"]
    before = get(api, "/plans")[1]["items"]
    assert send(api, "POST", "/plans", {"yaml": broken})[0] == 400 and get(api, "/plans")[1]["items"] == before
    for unreadable in ("[" * 3000 + "]" * 3000, "brand: " + "9" * 5000):  # PyYAML raises outside YAMLError
        status, refused, _ = send(api, "POST", "/plans/validate", {"yaml": unreadable})
        assert status == 400 and [p["place"] for p in refused["problems"]] == ["plan"]
        assert send(api, "POST", "/plans", {"yaml": unreadable})[0] == 400
    commented = text + ("# " + "x" * 98 + "\n") * 400  # 40 KB: well past 16 KiB, well within the plan's limit
    assert send(api, "POST", "/plans/validate", {"yaml": commented})[0] == 200
    status, uploaded, _ = send(api, "POST", "/plans", {"yaml": text})
    assert status == 201 and get(api, f"/plans/{uploaded['version']}")[1]["uploaded_by"] == "admin"
    assert get(api, "/plans/999")[0] == 404 and get(api, "/plans/x")[0] == 400
    _, viewer, _ = send(api, "POST", "/tokens", {"name": "v", "role": "viewer"})
    assert send(api, "POST", "/plans", {"yaml": text}, headers={"Authorization": f"Bearer {viewer['token']}"})[0] == 403


def test_dead_letters_are_listed_redacted_and_redriven_once(api):
    from chalicelib.adapters.aws import client

    names = resources()
    sqs = client("sqs")
    dlq = sqs.get_queue_url(QueueName=names.ingest_dlq)["QueueUrl"]
    secret = "my home address is 1 Main St"
    for n in range(3):
        sqs.send_message(
            QueueUrl=dlq, MessageBody=json.dumps({"platform": "x", "external_id": f"e{n}", "text": secret})
        )
    status, listed = get(api, "/dead-letters")
    assert status == 200 and secret not in json.dumps(listed)
    ingest = next(q for q in listed["items"] if q["queue"] == names.ingest_dlq)
    assert sorted(m["ids"]["external_id"] for m in ingest["messages"]) == ["e0", "e1", "e2"]
    one = ingest["messages"][0]["message_id"]
    status, moved, _ = send(api, "POST", "/dead-letters/redrive", {"queue": names.ingest_dlq, "message_id": one})
    assert status == 200 and moved["moved"] == 1
    assert send(api, "POST", "/dead-letters/redrive", {"queue": names.ingest_dlq, "message_id": one})[0] == 404
    status, moved, _ = send(api, "POST", "/dead-letters/redrive", {"queue": names.ingest_dlq})
    assert status == 200 and moved["moved"] == 2
    assert send(api, "POST", "/dead-letters/redrive", {"queue": names.schedule_dlq})[0] == 409
    assert send(api, "POST", "/dead-letters/redrive", {"queue": "elsewhere"})[0] == 404
    assert get(api, "/alerts")[0] == 200 and get(api, "/alerts?limit=0")[0] == 400


def test_closing_records_when_so_the_sla_clock_stops_and_reopening_clears_it(api):
    from chalicelib.adapters.issues_table import DynamoIssues

    issue = api.issue_ids[1]
    assert send(api, "PATCH", f"/issues/{issue}", {"status": "closed"})[0] == 200
    closed = DynamoIssues(resources()).get(issue)
    assert closed["status"] == "closed" and datetime.fromisoformat(closed["closed_at"]) <= datetime.now(timezone.utc)
    assert send(api, "PATCH", f"/issues/{issue}", {"status": "in_progress"})[0] == 200
    assert "closed_at" not in DynamoIssues(resources()).get(issue)


def test_an_answers_own_headers_never_carry_over_to_the_next_answer(api):
    """A 401's WWW-Authenticate and an issue's ETag belong to that answer only (they were added to a shared dict)."""
    assert api.http.get("/issues", headers={}).headers.get("WWW-Authenticate")
    issue = api.issue_ids[0]
    assert api.http.get(f"/issues/{issue}", headers=api.admin).headers.get("ETag")
    for path in ("/health", "/tokens", f"/issues?{DAYS}"):
        headers = api.http.get(path, headers=api.admin).headers
        assert "WWW-Authenticate" not in headers and "ETag" not in headers, (path, headers)


def test_metrics_summary_gives_the_weekly_reports_recurrence_for_the_same_week(api):
    """Resolved in W47: A (first seen that week) and C (first seen the week before); B, first seen in W48, recurs A.
    The any-rule recurrence of the week is 1 of 2, in /metrics/summary as in the report (it read only the issues
    first seen in the period: 0 of 1)."""
    import boto3

    from chalicelib import bootstrap
    from chalicelib.domain.index_shards import first_seen_day
    from chalicelib.services.reports import build_report

    def put(**item):
        item["first_seen_day"] = first_seen_day(datetime.fromisoformat(item["first_seen"]), item["issue_id"])
        boto3.resource("dynamodb").Table(resources().issues_table).put_item(Item=item)

    common = {"category": "routine_response", "mention_count": 1}
    put(
        issue_id="iss-A",
        first_seen="2026-11-16T10:00:00+00:00",
        resolved_at="2026-11-18T10:00:00+00:00",
        status="resolved",
        status_category="resolved#routine_response",
        **common,
    )
    put(
        issue_id="iss-C",
        first_seen="2026-11-12T10:00:00+00:00",
        resolved_at="2026-11-17T10:00:00+00:00",
        status="resolved",
        status_category="resolved#routine_response",
        **common,
    )
    put(
        issue_id="iss-B",
        first_seen="2026-11-24T10:00:00+00:00",
        status="open",
        status_category="open#routine_response",
        recurs_issue_id="iss-A",
        recurrence_rule="same_author",
        recurrence_gap_seconds=6 * 86400,
        **common,
    )
    status, summary = get(api, "/metrics/summary?since=2026-11-16T00:00:00Z&until=2026-11-23T00:00:00Z")
    report, _ = build_report("2026-W47", bootstrap.report_deps(), datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
    assert status == 200 and summary["recurrence_by_kind"]["any_rule"] == {"count": 2, "rate": 0.5}
    assert summary["recurrence_by_kind"]["any_rule"] == report.recurrence.any_rule.this_week.model_dump()
