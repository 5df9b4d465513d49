"""Webhook routes through Chalice's test client, on moto: real payloads in, queue and table checked.

Every mention-bearing delivery in ../shared/data/webhooks is signed as its platform signs it, POSTed, processed
off the real queue and found in DynamoDB; each class of bad input is refused with the right 4xx and leaves the
queue empty.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import client as aws_client
from chalicelib.bootstrap import pipeline
from chalicelib.platforms import PLATFORMS
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources, secret_parameter_name
from tests.helpers import drain_ingest_queue

# sample file -> (endpoint, content type, identities expected in the table afterwards)
SAMPLES = {
    "facebook_page_feed_post_add.json": ("meta", "application/json", {"facebook#1234567890321_7293787835232"}),
    "facebook_page_mention_post_add_real.json": ("meta", "application/json", {"facebook#1234567890321_98722536423179"}),
    "facebook_page_ratings_review_add.json": ("meta", "application/json", {"facebook#904801129604590"}),
    "facebook_messenger_message_basic.json": (
        "meta",
        "application/json",
        {"messenger#mid.1457764197618:41d102a3e1ae206a38"},
    ),
    "instagram_comments.json": ("meta", "application/json", {"instagram#123456789"}),
    "instagram_live_comments.json": ("meta", "application/json", {"instagram#123456789"}),
    "instagram_mentions.json": ("meta", "application/json", {"instagram#17887498072083520"}),
    "youtube_websub_video_feed.xml": ("youtube", "application/atom+xml", {"youtube#VIDEO_ID"}),
    "trustpilot_service_review_created.json": (
        "trustpilot",
        "application/json",
        {"trustpilot#53bffd360000640002975387"},
    ),
}
NOT_MENTIONS = [
    "facebook_page_feed_reaction_add.json",
    "facebook_page_feed_two_entries_batch.json",
    # Written by the Page itself (the author is the entry's Page id): the brand's own words, not mentions.
    "facebook_page_feed_comment_add.json",
    "facebook_page_feed_status_add.json",
    "facebook_page_feed_comment_edited.json",
]


@pytest.fixture
def api(aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def _post(api, endpoint: str, body: bytes, secrets: dict, content_type: str = "application/json", **extra):
    headers = PLATFORMS[endpoint].sign(body, secrets.__getitem__, datetime.now(timezone.utc))
    return api.http.post(f"/webhooks/{endpoint}", body=body, headers={"Content-Type": content_type, **headers, **extra})


def _queued() -> int:
    return len(drain_ingest_queue()["Records"])


def _stored_keys() -> set[str]:
    items = aws_client("dynamodb").scan(TableName=resources().mentions_table)["Items"]
    return {item["pk"]["S"] for item in items}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_real_delivery_is_accepted_and_stored(api, aws, shared_data, sample):
    endpoint, content_type, expected = SAMPLES[sample]
    body = (shared_data / "webhooks" / sample).read_bytes()

    answer = _post(api, endpoint, body, aws, content_type)

    assert answer.status_code == 200, answer.body
    assert json.loads(answer.body)["accepted"] == len(expected)
    assert process_batch(drain_ingest_queue(), pipeline()) == {"batchItemFailures": []}
    assert _stored_keys() == expected


@pytest.mark.parametrize("sample", NOT_MENTIONS)
def test_non_mention_events_are_acknowledged_and_counted_not_stored(api, aws, shared_data, sample):
    answer = _post(api, "meta", (shared_data / "webhooks" / sample).read_bytes(), aws)
    assert answer.status_code == 200
    assert json.loads(answer.body) == {"accepted": 0, "ignored": json.loads(answer.body)["ignored"]}
    assert json.loads(answer.body)["ignored"] >= 1
    assert _queued() == 0


def test_a_repeat_delivery_answers_200_and_stores_once(api, aws, shared_data):
    body = (shared_data / "webhooks" / "trustpilot_service_review_created.json").read_bytes()
    assert _post(api, "trustpilot", body, aws).status_code == 200
    assert _post(api, "trustpilot", body, aws).status_code == 200
    process_batch(drain_ingest_queue(), pipeline())
    assert _stored_keys() == {"trustpilot#53bffd360000640002975387"}


def test_the_published_signed_messenger_sample_verifies(api, aws, shared_data, monkeypatch):
    signature = json.loads((shared_data / "webhooks" / "facebook_messenger_signed_message.signature.json").read_text())
    body = (shared_data / "webhooks" / signature["body_file"]).read_bytes()
    monkeypatch.setenv("META_APP_SECRET", signature["app_secret"])

    answer = api.http.post(
        "/webhooks/meta",
        body=body,
        headers={"Content-Type": "application/json", signature["header"]: signature["value"]},
    )
    forged = api.http.post(
        "/webhooks/meta",
        body=body.replace(b"34wrr3wr", b"34wrr3wX"),
        headers={"Content-Type": "application/json", signature["header"]: signature["value"]},
    )

    assert answer.status_code == 200 and json.loads(answer.body)["accepted"] == 1
    assert forged.status_code == 401
    assert _queued() == 1


def test_meta_handshake_echoes_the_challenge_only_for_the_right_token(api, aws):
    good = api.http.get(
        f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={aws['META_VERIFY_TOKEN']}&hub.challenge=1158201444"
    )
    bad = api.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444")
    assert (good.status_code, good.body) == (200, b"1158201444")
    assert bad.status_code == 403 and "error" in json.loads(bad.body)


def test_x_crc_answers_the_response_token_x_expects(api, aws):
    answer = api.http.get("/webhooks/x?crc_token=abc123")
    digest = hmac.new(aws["X_CONSUMER_SECRET"].encode(), b"abc123", hashlib.sha256).digest()
    assert answer.status_code == 200
    assert json.loads(answer.body) == {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def test_youtube_websub_challenge_is_echoed(api, aws):
    answer = api.http.get("/webhooks/youtube?hub.mode=subscribe&hub.topic=t&hub.challenge=ch-42")
    assert (answer.status_code, answer.body) == (200, b"ch-42")


def _generic_body(**changes) -> bytes:
    body = {
        "platform": "reviews",
        "id": "r1",
        "created_at": "2026-11-20T10:00:00Z",
        "text": "Seams split",
        "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10, "verified": False},
    }
    if isinstance(changes.get("author"), dict):  # a change to one author field keeps the others
        changes["author"] = {**body["author"], **changes["author"]}
    body.update(changes)
    return json.dumps(body).encode()


def test_bad_input_is_refused_with_the_right_status_and_nothing_is_queued(api, aws):
    body = _generic_body()
    now = int(datetime.now(timezone.utc).timestamp())
    stale_mac = hmac.new(
        aws["GENERIC_WEBHOOK_SECRET"].encode(), f"{now - 301}.".encode() + body, hashlib.sha256
    ).hexdigest()
    cases = {
        "missing signature": (
            api.http.post("/webhooks/generic", body=body, headers={"Content-Type": "application/json"}),
            401,
        ),
        "forged signature": (
            api.http.post(
                "/webhooks/generic",
                body=body,
                headers={"Content-Type": "application/json", "X-Signature": f"t={now},v1={'0' * 64}"},
            ),
            401,
        ),
        "stale timestamp": (
            api.http.post(
                "/webhooks/generic",
                body=body,
                headers={"Content-Type": "application/json", "X-Signature": f"t={now - 301},v1={stale_mac}"},
            ),
            401,
        ),
        "not JSON": (_post(api, "generic", b"{not json", aws), 400),
        "unknown shape": (_post(api, "meta", b'{"hello": "world"}', aws), 400),
        "wrong field type": (_post(api, "generic", _generic_body(author={"followers": "many"}), aws), 400),
        "too large": (_post(api, "generic", _generic_body(text="x" * 300_000), aws), 413),
        "unknown platform": (
            api.http.post("/webhooks/myspace", body=body, headers={"Content-Type": "application/json"}),
            404,
        ),
    }
    for name, (answer, status) in cases.items():
        assert answer.status_code == status, (name, answer.body)
        assert json.loads(answer.body)["error"], name
    assert "followers" in json.loads(cases["wrong field type"][0].body)["error"]
    assert _queued() == 0


def test_a_missing_secret_is_our_problem_not_the_clients(api, aws):
    aws_client("ssm").delete_parameter(Name=secret_parameter_name("TRUSTPILOT_WEBHOOK_SECRET"))
    credentials = base64.b64encode(b"trustpilot:whatever").decode()
    answer = api.http.post(
        "/webhooks/trustpilot",
        body=b"{}",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
    )
    assert answer.status_code == 503 and "not configured" in json.loads(answer.body)["error"]


def test_a_queue_that_refuses_is_a_json_503_so_the_platform_redelivers(api, aws):
    """SQS failing past the SDK's retries is our side being down: 503 with an error, never a bare 500."""
    from botocore.exceptions import ClientError

    def refuse(**_):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "SendMessageBatch")

    body = json.dumps(
        {
            "platform": "reviews",
            "id": "r-503",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": "The zip broke",
            "author": {"id": "a1", "handle": "a", "name": "A", "followers": 1, "verified": False},
        }
    ).encode()
    events = aws_client("sqs").meta.events
    events.register("before-call.sqs.SendMessageBatch", refuse)
    try:
        answer = _post(api, "generic", body, aws)
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", refuse)
    assert answer.status_code == 503 and "retry" in json.loads(answer.body)["error"]
    assert _post(api, "generic", body, aws).status_code == 200 and _queued() == 1
