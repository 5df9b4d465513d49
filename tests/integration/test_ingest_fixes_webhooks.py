"""Ingest fixes end to end through the webhook route, the ingest queue (moto) and the processor."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import client as aws_client
from chalicelib.bootstrap import pipeline
from chalicelib.platforms import PLATFORMS
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources
from tests.helpers import drain_ingest_queue

PAGE = "104000000000001"


@pytest.fixture
def api(aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def deliver(api, secrets: dict, endpoint: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    headers = PLATFORMS[endpoint].sign(body, secrets.__getitem__, datetime.now(timezone.utc))
    answer = api.http.post(f"/webhooks/{endpoint}", body=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 200, answer.body
    event = drain_ingest_queue()
    if event["Records"]:
        assert process_batch(event, pipeline()) == {"batchItemFailures": []}
    return json.loads(answer.body)


def stored(key: str) -> dict | None:
    return aws_client("dynamodb").get_item(TableName=resources().mentions_table, Key={"pk": {"S": key}}).get("Item")


def page_comment(comment_id: str, author: str, text: str, at: int, parent: str | None = None) -> dict:
    value = {
        "item": "comment",
        "verb": "add",
        "post_id": f"{PAGE}_555",
        "comment_id": comment_id,
        "parent_id": parent or f"{PAGE}_555",
        "from": {"id": author, "name": "Aurelle" if author == PAGE else "Ann Customer"},
        "message": text,
        "created_time": at,
    }
    return {"object": "page", "entry": [{"id": PAGE, "time": at, "changes": [{"field": "feed", "value": value}]}]}


def test_the_pages_own_apology_opens_no_second_issue(api, aws):
    at = int(datetime.now(timezone.utc).timestamp()) - 300
    complaint = "My order never arrived, two weeks late. Refund please!"
    apology = "We are so sorry your order never arrived, Ann: we refunded it today."
    assert deliver(api, aws, "meta", page_comment("555_1", "9000001", complaint, at))["accepted"] == 1
    answer = deliver(api, aws, "meta", page_comment("555_2", PAGE, apology, at + 60, parent="555_1"))
    assert answer == {"accepted": 0, "ignored": 1}
    assert stored("facebook#555_1") is not None
    assert stored("facebook#555_2") is None


# -- characters SQS refuses --------------------------------------------------------------------------------------
# SQS takes only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a body (SendMessage docs) and
# answers InvalidMessageContents otherwise. moto does not check it, so this hook applies the documented rule.
NOT_SQS = "[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def refuse_what_sqs_refuses(params, **_):
    import re

    from botocore.exceptions import ClientError

    for entry in params.get("Entries", []):
        if re.search(NOT_SQS, entry["MessageBody"]):
            raise ClientError(
                {"Error": {"Code": "InvalidMessageContents", "Message": "Invalid binary character"}},
                "SendMessageBatch",
            )


def test_noncharacters_in_text_are_replaced_not_a_503_forever(api, aws):
    from chalicelib.platforms import generic

    aws_client("sqs").meta.events.register(
        "before-parameter-build.sqs.SendMessageBatch", refuse_what_sqs_refuses, unique_id="sqs-rule"
    )
    try:
        now = datetime.now(timezone.utc)
        payload = {
            "platform": "forum",
            "id": "f-1",
            "created_at": now.isoformat(),
            "text": "refund please \uffff \ufffe now \U0001f600",
            "author": {"id": "a1", "handle": "ann", "name": "Ann", "followers": 3, "verified": False},
        }
        body = json.dumps(payload).encode()
        assert b"\\uffff" in body  # valid JSON: the escape reads as U+FFFF
        headers = generic.sign(body, aws.__getitem__, now)
        answer = api.http.post("/webhooks/generic", body=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == 200, answer.body
        assert process_batch(drain_ingest_queue(), pipeline()) == {"batchItemFailures": []}
    finally:
        aws_client("sqs").meta.events.unregister("before-parameter-build.sqs.SendMessageBatch", unique_id="sqs-rule")
    item = stored("forum#f-1")
    assert item is not None and item["text"]["S"] == "refund please \ufffd \ufffd now \U0001f600"
