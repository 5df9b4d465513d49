"""GET /issues with no time window lists every issue of all time (review E), on moto: 2015 issues posted as
history and this fixture's 20 Nov 2026 ones, newest activity first, paged by a signed cursor; filters, status,
day and assignee listings as before."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

from tests.integration.test_ops_api import DAYS, api, get, pages_of  # noqa: F401 - the api fixture
from tests.triage_fixtures import T0, fixed_analyzer, mention

HISTORY = [  # tweets from 2015, as a historical import posts them
    ("h-1", "My 2015 parcel never arrived", "fay", datetime(2015, 3, 2, 10, 0, tzinfo=timezone.utc)),
    ("h-2", "The 2015 strap broke", "gus", datetime(2015, 6, 9, 11, 0, tzinfo=timezone.utc)),
    ("h-3", "Refund still missing since 2015", "hal", datetime(2015, 9, 30, 12, 0, tzinfo=timezone.utc)),
]


def post_history() -> list[str]:
    from chalicelib.adapters.plans import DynamoPlanStore
    from chalicelib.adapters.triage_table import DynamoTriageStore
    from chalicelib.services.triage import triage_mention
    from chalicelib.settings import resources

    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    return [
        triage_mention(
            mention(mid, text, author=who, minutes=(at - T0).total_seconds() / 60), store, plans, fixed_analyzer
        ).issue_id
        for mid, text, who, at in HISTORY
    ]


def test_a_listing_without_since_or_until_shows_every_issue_of_all_time_newest_first(api):  # noqa: F811
    old = post_history()
    status, page = get(api, "/issues")
    assert status == 200, page
    newest_first = api.issue_ids[::-1] + old[::-1]  # a minute apart on 20 Nov 2026; then 2015, newest first
    assert [i["issue_id"] for i in page["items"]] == newest_first and page["next_cursor"] is None
    assert [i["last_seen"] for i in page["items"]] == sorted((i["last_seen"] for i in page["items"]), reverse=True)
    for limit in (1, 2, 3, 7):
        assert pages_of(api, "", limit) == newest_first, limit
    # the same filters as ever, over all time
    routine = [i for i in newest_first if i != api.issue_ids[4]]  # the legal threat is High Priority
    assert pages_of(api, "category=routine_response", 2) == routine
    assert pages_of(api, "q=2015", 1) == old[::-1]
    assert pages_of(api, "platform=x", 3) == newest_first
    assert get(api, "/issues?platform=facebook")[1]["items"] == []
    # a window applies when asked, as before: 20 Nov 2026 only, or 2015 only
    assert sorted(pages_of(api, DAYS, 2)) == sorted(api.issue_ids)
    assert sorted(pages_of(api, "since=2015-03-01&until=2015-03-03", 2)) == [old[0]]
    assert {i["issue_id"] for i in get(api, "/issues?status=open")[1]["items"]} == set(newest_first)


def test_every_status_is_listed_once_and_the_cursor_refuses_tampering_and_other_listings(api):  # noqa: F811
    headers = {**api.admin, "Content-Type": "application/json"}
    for issue_id, wanted in ((api.issue_ids[0], "in_progress"), (api.issue_ids[1], "resolved")):
        answer = api.http.patch(f"/issues/{issue_id}", body=json.dumps({"status": wanted}), headers=headers)
        assert answer.status_code == 200, answer.body
    assert pages_of(api, "", 2) == api.issue_ids[::-1]  # the status moved its partition, not its place
    assert [i["issue_id"] for i in get(api, "/issues?status=resolved")[1]["items"]] == [api.issue_ids[1]]
    cursor = get(api, "/issues?limit=2")[1]["next_cursor"]
    body, sig = cursor.split(".")
    status, error = get(api, f"/issues?limit=2&cursor={body}.{'0' * len(sig)}")
    assert status == 400 and "cursor" in error["error"]
    status, error = get(api, "/issues?" + urlencode({"category": "routine_response", "cursor": cursor}))
    assert status == 400 and "other filters" in error["error"]
    status_cursor = get(api, "/issues?status=open&limit=1")[1]["next_cursor"]
    assert get(api, "/issues?" + urlencode({"cursor": status_cursor}))[0] == 400
    day_cursor = get(api, f"/issues?{DAYS}&limit=1")[1]["next_cursor"]
    assert get(api, "/issues?" + urlencode({"cursor": day_cursor}))[0] == 400
    status, error = get(api, "/issues?category=nope")
    assert status == 400 and "category" in error["error"]


def test_the_openapi_document_says_a_listing_without_a_window_covers_all_time(api):  # noqa: F811
    doc = get(api, "/openapi.json")[1]
    route = doc["paths"]["/issues"]["get"]
    text = json.dumps(route)
    assert "all time" in text and "7 days" not in text and "6 days before until; with neither" in text
