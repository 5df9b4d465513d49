"""The ingestion use cases on in-memory fakes: what is stored, what is refused, what is only counted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.models import Mention, MentionEvent
from chalicelib.platforms import generic
from chalicelib.platforms.base import BadSignature, PayloadTooLarge, WebhookRequest
from chalicelib.services.ingest import accept_delivery, record_mention
from chalicelib.services.ports import StoreOutcome
from chalicelib.settings import MAX_WEBHOOK_BYTES
from tests.fakes import FakeMentionQueue, FakeMentionRepository

SECRETS = {"GENERIC_WEBHOOK_SECRET": "s3cret-for-tests"}
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _request(body: bytes, at: datetime = NOW) -> WebhookRequest:
    headers = {k.lower(): v for k, v in generic.sign(body, SECRETS.__getitem__, at).items()}
    return WebhookRequest("POST", headers, {}, body)


def _body(**changes) -> bytes:
    body = {
        "platform": "reviews",
        "id": "r1",
        "created_at": "2026-11-24T11:00:00Z",
        "text": "Zip broke",
        "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10, "verified": False},
    }
    return json.dumps({**body, **changes}).encode()


def test_a_signed_delivery_is_queued_as_mentions():
    queue = FakeMentionQueue()
    accepted = accept_delivery(generic, _request(_body()), SECRETS.__getitem__, queue, NOW)
    assert accepted.queued == 1 and queue.sent[0].key == "reviews#r1" and queue.sent[0].text == "Zip broke"


def test_an_old_signature_or_an_oversized_body_queues_nothing():
    queue = FakeMentionQueue()
    with pytest.raises(BadSignature):
        accept_delivery(generic, _request(_body(), NOW - timedelta(seconds=301)), SECRETS.__getitem__, queue, NOW)
    with pytest.raises(PayloadTooLarge):
        accept_delivery(generic, _request(b" " * (MAX_WEBHOOK_BYTES + 1)), SECRETS.__getitem__, queue, NOW)
    assert queue.sent == []


def _mention(event=MentionEvent.CREATED, text="Zip broke") -> Mention:
    return Mention(platform="x", external_id="1", event=event, text=text, created_at=NOW)


def test_record_mention_stores_once_edits_and_marks():
    repository = FakeMentionRepository()
    assert record_mention(_mention(), repository) is StoreOutcome.STORED
    assert record_mention(_mention(), repository) is StoreOutcome.DUPLICATE
    assert record_mention(_mention(MentionEvent.EDITED, "Zip broke again"), repository) is StoreOutcome.EDITED
    assert repository.get("x", "1")["text"] == "Zip broke again"
    assert record_mention(_mention(MentionEvent.HIDDEN), repository) is StoreOutcome.HIDDEN
    assert repository.get("x", "1")["status"] == "hidden"
    assert len(repository.items) == 1
