"""X edits end to end (review G), through the webhook route, the real queue and the table on moto: an edited post
is one mention holding the edit's text (not a second mention and a duplicate issue), and the deletion of its first
id removes it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import client as aws_client
from chalicelib.bootstrap import pipeline
from chalicelib.platforms import PLATFORMS
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources
from tests.helpers import drain_ingest_queue

BRAND_ID, AUTHOR_ID = "1000000001", "2000000001"
ORIGINAL_ID, EDIT_ID = "1900000000000000001", "1900000000000000002"


@pytest.fixture
def api(aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def _deliver(api, secrets: dict, **events) -> None:
    body = json.dumps({"for_user_id": BRAND_ID, **events}).encode()
    headers = PLATFORMS["x"].sign(body, secrets.__getitem__, datetime.now(timezone.utc))
    answer = api.http.post("/webhooks/x", body=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 200, answer.body
    assert process_batch(drain_ingest_queue(), pipeline()) == {"batchItemFailures": []}


def _tweet(tweet_id: str, text: str, at: datetime, chain: list[str]) -> dict:
    return {
        "created_at": at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id_str": tweet_id,
        "text": text,
        "user": {"id_str": AUTHOR_ID, "screen_name": "cairdin", "followers_count": 130},
        "edit_history": {"initial_tweet_id": chain[0], "edit_tweet_ids": chain},
    }


def _items(table: str) -> list[dict]:
    return aws_client("dynamodb").scan(TableName=table)["Items"]


def test_an_edited_post_is_one_mention_with_the_edit_and_its_deletion_removes_it(api, aws):
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=20)
    original = _tweet(ORIGINAL_ID, "@VirginAmerica my bag is late", at, [ORIGINAL_ID])
    edited = _tweet(
        EDIT_ID, "@VirginAmerica my bag is late, 3 days now", at + timedelta(minutes=5), [ORIGINAL_ID, EDIT_ID]
    )
    _deliver(api, aws, tweet_create_events=[original])
    _deliver(api, aws, tweet_create_events=[edited])

    [item] = _items(resources().mentions_table)
    assert item["pk"]["S"] == f"x#{ORIGINAL_ID}"
    assert item["text"]["S"] == "@VirginAmerica my bag is late, 3 days now"
    assert item["url"]["S"] == f"https://x.com/cairdin/status/{EDIT_ID}"
    assert len(_items(resources().issues_table)) == 1

    deletion = {"status": {"id_str": ORIGINAL_ID, "user_id_str": AUTHOR_ID}, "timestamp_ms": str(int(at.timestamp()))}
    _deliver(api, aws, tweet_delete_events=[deletion])
    [item] = _items(resources().mentions_table)
    assert item["status"]["S"] == "removed"


def test_an_edit_delivered_before_its_original_is_triaged_once(api, aws):
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=20)
    edited = _tweet(
        EDIT_ID, "@VirginAmerica my bag is lost, 3 days now", at + timedelta(minutes=5), [ORIGINAL_ID, EDIT_ID]
    )
    _deliver(api, aws, tweet_create_events=[edited])
    _deliver(api, aws, tweet_create_events=[_tweet(ORIGINAL_ID, "@VirginAmerica my bag is late", at, [ORIGINAL_ID])])

    [item] = _items(resources().mentions_table)
    assert item["pk"]["S"] == f"x#{ORIGINAL_ID}" and item["text"]["S"] == "@VirginAmerica my bag is lost, 3 days now"
    assert len(_items(resources().issues_table)) == 1
