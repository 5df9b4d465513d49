"""The generic webhook: the CONTRACTS.md body and its timestamped ``X-Signature``."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.models import MentionKind
from chalicelib.platforms import generic
from chalicelib.platforms.base import BadSignature, MalformedPayload
from tests.unit.platforms.conftest import NOW, SECRETS, get, post, secret

MENTION = {
    "platform": "reddit",
    "id": "t1_kx9a2b",
    "created_at": "2024-04-30T21:05:00+02:00",
    "text": "My order arrived broken and support is ignoring me",
    "author": {"id": "u_42", "handle": "ann", "name": "Ann", "followers": 120, "verified": False},
    "url": "https://www.reddit.com/r/example/comments/kx9a2b",
    "in_reply_to": "t3_parent",
    "product": "blender-x",
    "sender_specific": {"score": 12},
}


def signature(timestamp: int, body: bytes, key: str = SECRETS["GENERIC_WEBHOOK_SECRET"]) -> str:
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def parse(payload: object):
    return generic.parse(post(json.dumps(payload).encode()), NOW)


def test_contract_body_becomes_a_mention():
    [mention] = parse(MENTION).mentions
    assert (mention.platform, mention.external_id) == ("reddit", "t1_kx9a2b")
    assert mention.kind is MentionKind.REPLY and mention.parent_id == "t3_parent"
    assert mention.text == MENTION["text"] and mention.product == "blender-x"
    assert mention.author.handle == "ann" and mention.author.followers == 120 and mention.author.verified is False
    assert mention.url == MENTION["url"]
    assert mention.created_at == datetime(2024, 4, 30, 19, 5, tzinfo=timezone.utc)


def test_rating_makes_a_review_and_naive_time_is_utc():
    body = {k: v for k, v in MENTION.items() if k != "in_reply_to"} | {
        "rating": 4.5,
        "created_at": "2024-04-30T21:05:00",
    }
    [mention] = parse(body).mentions
    assert mention.kind is MentionKind.REVIEW and mention.rating == 4.5
    assert mention.created_at == datetime(2024, 4, 30, 21, 5, tzinfo=timezone.utc)


AUTHOR = {"id": "a1", "handle": "ann", "name": "Ann", "followers": 0, "verified": False}


def test_minimal_body_is_a_post():
    [mention] = parse(
        {"platform": "forum", "id": "1", "created_at": "2024-01-01T00:00:00Z", "text": "hi", "author": AUTHOR}
    ).mentions
    assert mention.kind is MentionKind.POST and mention.parent_id is None


@pytest.mark.parametrize("field", sorted(AUTHOR))
def test_every_author_field_the_contract_lists_is_required(field):
    author = {k: v for k, v in AUTHOR.items() if k != field}
    with pytest.raises(MalformedPayload, match=f"author.{field}: Field required"):
        parse({"platform": "forum", "id": "1", "created_at": "2024-01-01T00:00:00Z", "text": "hi", "author": author})


@pytest.mark.parametrize(
    ("given", "named"), [("Google Play", "google-play"), ("Reviews", "reviews"), ("app.store", "app-store")]
)
def test_a_platform_is_named_as_the_offline_commands_name_it(given, named):
    body = {"platform": given, "id": "1", "created_at": "2024-01-01T00:00:00Z", "text": "hi", "author": AUTHOR}
    assert parse(body).mentions[0].platform == named


@pytest.mark.parametrize("given", ["", "!!!", "😀"])
def test_a_platform_with_nothing_to_name_it_by_is_refused(given):
    body = {"platform": given, "id": "1", "created_at": "2024-01-01T00:00:00Z", "text": "hi", "author": AUTHOR}
    with pytest.raises(MalformedPayload, match="platform"):
        parse(body)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"author": MENTION["author"] | {"followers": "many"}}, "author.followers: Input should be a valid integer"),
        (
            {"author": MENTION["author"] | {"followers": -1}},
            "author.followers: Input should be greater than or equal to 0",
        ),
        ({"author": MENTION["author"] | {"verified": "perhaps"}}, "author.verified: Input should be a valid boolean"),
        ({"created_at": "last tuesday"}, "created_at: must be an ISO-8601 string"),
        ({"created_at": "2024-13-45T00:00:00Z"}, "created_at: Input should be a valid datetime"),
        ({"platform": "!!!"}, "platform: has no letter or digit to name it by"),
        ({"platform": "ж" * 5000}, "platform: at most 40 characters"),
        ({"rating": 11}, "rating: Input should be less than or equal to 10"),
        ({"text": None}, "text: Input should be a valid string"),
        ({"id": ""}, "id: String should have at least 1 character"),
    ],
)
def test_invalid_fields_are_named(change, message):
    with pytest.raises(MalformedPayload) as caught:
        parse(MENTION | change)
    assert message in caught.value.message


def test_missing_fields_are_all_named_without_echoing_values():
    with pytest.raises(MalformedPayload) as caught:
        parse({"text": "secret-looking text", "author": {"followers": "lots-of-them"}})
    message = caught.value.message
    assert "platform: Field required" in message and "id: Field required" in message
    assert "more" in message  # capped: created_at and author.followers are summarised
    assert "lots-of-them" not in message and "secret-looking" not in message


@pytest.mark.parametrize(("body", "problem"), [(b"{", "not valid JSON"), (b"[]", "JSON object")])
def test_non_object_bodies_are_400(body, problem):
    with pytest.raises(MalformedPayload, match=problem):
        generic.parse(post(body), NOW)


# --- Signature -----------------------------------------------------------------------------------

BODY = json.dumps(MENTION).encode()


def test_sign_produces_the_contract_header():
    assert generic.sign(BODY, secret, NOW) == {"X-Signature": signature(int(NOW.timestamp()), BODY)}


@pytest.mark.parametrize("age", [-299, 0, 299, 300])
def test_timestamps_within_300_seconds_are_accepted(age):
    generic.verify(post(BODY, {"X-Signature": signature(int(NOW.timestamp()) - age, BODY)}), secret, NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_timestamps_beyond_300_seconds_are_refused(age):
    with pytest.raises(BadSignature, match="300 s"):
        generic.verify(post(BODY, {"X-Signature": signature(int(NOW.timestamp()) - age, BODY)}), secret, NOW)


def test_signature_made_with_the_right_secret_for_another_time_fails():
    timestamp = int(NOW.timestamp())
    forged = signature(timestamp - 1000, BODY).replace(f"t={timestamp - 1000}", f"t={timestamp}")
    with pytest.raises(BadSignature, match="does not match"):
        generic.verify(post(BODY, {"X-Signature": forged}), secret, NOW)


def test_any_of_several_v1_values_may_match_during_rotation():
    timestamp = int(NOW.timestamp())
    old = signature(timestamp, BODY, "old-secret").split("v1=")[1]
    header = signature(timestamp, BODY).replace("v1=", f"v1={old},v1=")
    generic.verify(post(BODY, {"X-Signature": header}), secret, NOW)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("v1=abc", "t=<unix seconds>"),
        ("t=yesterday,v1=abc", "t=<unix seconds>"),
        ("t=99999999999999999999,v1=abc", "t=<unix seconds>"),
        (f"t={int(NOW.timestamp())}", "v1=<hex signature>"),
        ("garbage", "t=<unix seconds>"),
    ],
)
def test_unparsable_headers_are_401(header, problem):
    with pytest.raises(BadSignature, match=problem):
        generic.verify(post(BODY, {"X-Signature": header}), secret, NOW)


def test_clock_is_the_callers():
    later = NOW + timedelta(minutes=10)
    with pytest.raises(BadSignature):
        generic.verify(post(BODY, generic.sign(BODY, secret, NOW)), secret, later)


def test_get_is_not_a_handshake():
    with pytest.raises(MalformedPayload, match="no GET handshake"):
        generic.handshake(get({}), secret)


def test_a_refused_platform_is_never_echoed_back():
    body = {
        "platform": "жжж<b>" * 2000,
        "id": "1",
        "created_at": "2024-01-01T00:00:00Z",
        "text": "hi",
        "author": AUTHOR,
    }
    with pytest.raises(MalformedPayload) as refused:
        parse(body)
    assert "ж" not in refused.value.message and len(refused.value.message) < 200


@pytest.mark.parametrize("name", ["shop-", "-shop", "x-", "my_shop", "generic-x"])
def test_a_platform_already_named_as_a_platform_keeps_its_name(name):
    body = {"platform": name, "id": "1", "created_at": "2024-01-01T00:00:00Z", "text": "hi", "author": AUTHOR}
    assert parse(body).mentions[0].platform == name
