"""Bad input never gets a 5xx: real payloads, mutated (fields dropped, types changed, junk), correctly signed."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import client
from chalicelib.bootstrap import pipeline
from chalicelib.platforms import PLATFORMS
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources
from tests.helpers import drain_ingest_queue

SAMPLES = {
    "meta": [
        "facebook_page_feed_comment_add.json",
        "instagram_comments.json",
        "facebook_page_ratings_review_add.json",
        "facebook_messenger_message_basic.json",
    ],
    "trustpilot": ["trustpilot_service_review_created.json"],
}
GENERIC = {
    "platform": "reviews",
    "id": "r1",
    "created_at": "2026-11-20T10:00:00Z",
    "text": "Seams split",
    "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10, "verified": False},
    "rating": 2,
    "product": "Lina Trench Coat",
    "in_reply_to": "r0",
    "url": "https://example.com/r1",
}
JUNK = [None, "", "x" * 5000, -1, 10**30, 3.5, True, [], {}, [1, "a"], {"nested": {"deep": [None]}}, "2026-13-45"]


def mutate(value, rng: random.Random):
    """One random edit somewhere in a JSON document."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        action = rng.random()
        if action < 0.3:
            value.pop(key)
        elif action < 0.6:
            value[key] = rng.choice(JUNK)
        else:
            value[key] = mutate(value[key], rng)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        value[index] = mutate(value[index], rng) if rng.random() < 0.6 else rng.choice(JUNK)
    else:
        return rng.choice(JUNK)
    return value


@pytest.fixture
def api(aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def test_mutated_signed_deliveries_get_200_or_a_4xx_never_a_5xx(api, aws, shared_data):
    rng = random.Random(20261124)
    documents = [("generic", GENERIC)] + [
        (endpoint, json.loads((shared_data / "webhooks" / name).read_text()))
        for endpoint, names in SAMPLES.items()
        for name in names
    ]
    statuses = []
    for round_ in range(240):
        endpoint, original = documents[round_ % len(documents)]
        document = copy.deepcopy(original)
        for _ in range(rng.randint(1, 4)):
            document = mutate(document, rng)
        body = json.dumps(document).encode() if rng.random() < 0.9 else bytes(rng.randrange(256) for _ in range(64))
        headers = PLATFORMS[endpoint].sign(body, aws.__getitem__, datetime.now(timezone.utc))
        answer = api.http.post(
            f"/webhooks/{endpoint}", body=body, headers={"Content-Type": "application/json", **headers}
        )
        assert answer.status_code < 500, (endpoint, body[:300], answer.body[:300])
        if answer.status_code != 200:
            assert json.loads(answer.body)["error"]
        statuses.append(answer.status_code)
    assert {200, 400} <= set(statuses)  # both kinds really happened
    # and what was accepted is processed: every queued mention triaged, none failing, none set aside on the
    # dead-letter queue (a record triage cannot process goes there and is no batch item failure either)
    queued = drain_ingest_queue()
    assert queued["Records"] and process_batch(queued, pipeline()) == {"batchItemFailures": []}
    sqs = client("sqs")
    dead = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=resources().ingest_dlq)["QueueUrl"])
    assert dead.get("Messages", []) == []
