"""Trustpilot: the documented service-review webhook body, authenticated with HTTP Basic (our choice)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from chalicelib.domain.models import MentionEvent, MentionKind
from chalicelib.platforms import trustpilot
from chalicelib.platforms.base import BadSignature, MalformedPayload
from tests.unit.platforms.conftest import NOW, SECRETS, get, post, secret


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_documented_review_created(webhook_sample):
    delivery = trustpilot.parse(post(webhook_sample("trustpilot_service_review_created.json")), NOW)
    [mention] = delivery.mentions
    assert mention.platform == "trustpilot"
    assert mention.external_id == "53bffd360000640002975387"
    assert (mention.kind, mention.event) == (MentionKind.REVIEW, MentionEvent.CREATED)
    assert mention.rating == 5
    assert mention.title == "Great service"
    assert mention.text == "Nothing other than excellent customer service."
    assert mention.author.id == "53bffc3900006400017e5db8" and mention.author.name == "Customer"
    assert mention.url == "https://www.trustpilot.com/reviews/53bffd360000640002975387"
    assert mention.created_at == datetime(2017, 5, 20, 9, 34, 44, tzinfo=timezone.utc)


def events(*items: dict) -> bytes:
    return json.dumps({"events": list(items)}).encode()


REVIEW = {
    "id": "r1",
    "stars": 1,
    "title": "Lost parcel",
    "text": "Never arrived.",
    "createdAt": "2024-04-01T10:00:00Z",
    "consumer": {"id": "c1", "name": "Ann"},
}


def test_updated_deleted_and_other_events():
    delivery = trustpilot.parse(
        post(
            events(
                {"eventName": "service-review-updated", "version": "1", "eventData": REVIEW | {"stars": 2}},
                {"eventName": "service-review-deleted", "version": "1", "eventData": {"id": "r1"}},
                {"eventName": "service-review-reply-created", "version": "1", "eventData": {"id": "x"}},
            )
        ),
        NOW,
    )
    updated, deleted = delivery.mentions
    assert (updated.event, updated.rating) == (MentionEvent.EDITED, 2)
    assert (deleted.event, deleted.external_id, deleted.created_at) == (MentionEvent.REMOVED, "r1", NOW)
    assert delivery.ignored_events == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<xml/>", "not valid JSON"),
        (b'{"eventName": "service-review-created"}', "events must be a list"),
        (events({"eventData": REVIEW}), r"events\[0\].eventName is missing"),
        (events({"eventName": "service-review-created"}), r"events\[0\].eventData must be an object"),
        (events({"eventName": "service-review-created", "eventData": {"stars": 5}}), r"eventData.id is missing"),
        (events({"eventName": "service-review-created", "eventData": REVIEW | {"stars": 50}}), "rating"),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(body, problem):
    with pytest.raises(MalformedPayload, match=problem):
        trustpilot.parse(post(body), NOW)


def test_basic_auth_with_any_user_and_the_secret_passes():
    trustpilot.verify(post(b"{}", basic("anyone", SECRETS["TRUSTPILOT_WEBHOOK_SECRET"])), secret, NOW)


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "missing Authorization"),
        ({"Authorization": "Bearer " + SECRETS["TRUSTPILOT_WEBHOOK_SECRET"]}, "Basic scheme"),
        ({"Authorization": "Basic !!!not-base64"}, "cannot be decoded"),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "user:password"),
        (basic("trustpilot", "wrong"), "not valid"),
    ],
)
def test_bad_credentials_are_401(headers, problem):
    with pytest.raises(BadSignature, match=problem) as caught:
        trustpilot.verify(post(b"{}", headers), secret, NOW)
    assert SECRETS["TRUSTPILOT_WEBHOOK_SECRET"] not in caught.value.message


def test_get_is_not_a_handshake():
    with pytest.raises(MalformedPayload, match="no GET handshake"):
        trustpilot.handshake(get({}), secret)
