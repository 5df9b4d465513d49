"""Meta (Facebook Pages, Instagram, Messenger) on the payloads Meta's SDKs publish."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest

from chalicelib.domain.models import MentionEvent, MentionKind
from chalicelib.platforms import meta
from chalicelib.platforms.base import BadSignature, BadVerifyToken, MalformedPayload
from tests.unit.platforms.conftest import NOW, SECRETS, get, post, secret


def parse_sample(webhook_sample, name: str):
    return meta.parse(post(webhook_sample(name)), NOW)


PAGE_ID = 1234567890321  # the Page of Meta's samples: their feed comments and status are the Page's own


def parse_as_customer(webhook_sample, name: str, customer: str = "9000001"):
    """A sample whose author is the Page itself, as a customer (not the Page) would have sent it."""
    payload = json.loads(webhook_sample(name))
    for entry in payload["entry"]:
        for change in entry.get("changes", []):
            value = change["value"]
            if str(value.get("sender_id")) == str(PAGE_ID):
                value["sender_id"] = customer
            if str((value.get("from") or {}).get("id")) == str(PAGE_ID):
                value["from"]["id"] = customer
    return meta.parse(post(json.dumps(payload).encode()), NOW)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# --- Published samples ---------------------------------------------------------------------------


def test_feed_comment_add(webhook_sample):
    delivery = parse_as_customer(webhook_sample, "facebook_page_feed_comment_add.json", customer=str(PAGE_ID + 1))
    [mention] = delivery.mentions
    assert delivery.ignored_events == 0
    assert mention.platform == "facebook"
    assert mention.external_id == "901097836652708_903438993085259"
    assert mention.event is MentionEvent.CREATED
    assert mention.kind is MentionKind.COMMENT
    assert mention.text == "and the next one"
    assert mention.author.id == "1234567890322" and mention.author.name == "Tester"
    assert mention.parent_id == "1234567890321_901097836652708"
    assert mention.thread_id == "1234567890321_901097836652708"
    assert mention.created_at == utc(2015, 12, 3, 9, 30, 3)  # created_time 1449135003
    assert mention.url == "https://www.facebook.com/1234567890321_901097836652708"


@pytest.mark.parametrize(
    ("name", "event", "external_id", "text"),
    [
        (
            "facebook_page_feed_comment_edited.json",
            MentionEvent.EDITED,
            "900728623356296_900744590021366",
            "Let's see the Webhooks in action :D",
        ),
        (
            "facebook_page_feed_comment_hide.json",
            MentionEvent.HIDDEN,
            "900728623356296_900744590021366",
            "and the next one",
        ),
        ("facebook_page_feed_comment_remove.json", MentionEvent.REMOVED, "905578656204626_905579239537901", ""),
    ],
)
def test_feed_comment_verbs(webhook_sample, name, event, external_id, text):
    [mention] = parse_as_customer(webhook_sample, name).mentions
    assert (mention.platform, mention.kind, mention.event) == ("facebook", MentionKind.COMMENT, event)
    assert mention.external_id == external_id
    assert mention.text == text


def test_feed_comment_remove_without_created_time_uses_entry_time(webhook_sample):
    [mention] = parse_sample(webhook_sample, "facebook_page_feed_comment_remove.json").mentions
    assert mention.created_at == utc(2016, 1, 6, 19, 6, 22)  # entry.time 1452107182
    assert mention.author.name == "John Doe"  # from the "from" object, not sender_*


def test_feed_post_add(webhook_sample):
    [mention] = parse_sample(webhook_sample, "facebook_page_feed_post_add.json").mentions
    assert mention.kind is MentionKind.POST and mention.event is MentionEvent.CREATED
    assert mention.external_id == "1234567890321_7293787835232"
    assert mention.text == "Let's check this"
    assert mention.author.id == "8423678347823" and mention.author.name == "John Doe"
    assert mention.parent_id is None
    assert mention.created_at == utc(2016, 2, 5, 21, 17)  # no created_time: entry.time 1454707020


def test_feed_status_add_is_a_post(webhook_sample):
    [mention] = parse_as_customer(webhook_sample, "facebook_page_feed_status_add.json").mentions
    assert mention.kind is MentionKind.POST
    assert mention.external_id == "1234567890321_930145403745849"
    assert mention.text == "This is just a short test message"
    assert mention.created_at == utc(2015, 11, 27, 14, 3, 58)


def test_page_mention_post(webhook_sample):
    [mention] = parse_sample(webhook_sample, "facebook_page_mention_post_add_real.json").mentions
    assert (mention.platform, mention.kind, mention.event) == ("facebook", MentionKind.POST, MentionEvent.CREATED)
    assert mention.external_id == "1234567890321_98722536423179"
    assert mention.text == "A test post message"
    assert mention.created_at == utc(2021, 2, 26, 11, 56, 2)


def test_page_rating_is_a_review_with_stars(webhook_sample):
    [mention] = parse_sample(webhook_sample, "facebook_page_ratings_review_add.json").mentions
    assert mention.kind is MentionKind.REVIEW
    assert mention.external_id == "904801129604590"
    assert mention.rating == 3
    assert mention.text == "Ja ziemlich coole Sache"
    assert mention.author.id == "705955836155788" and mention.author.name == "Tester"
    assert mention.created_at == utc(2018, 9, 19, 15, 5, 12)  # the review's created_time, not entry.time


def test_reaction_is_ignored(webhook_sample):
    delivery = parse_sample(webhook_sample, "facebook_page_feed_reaction_add.json")
    assert delivery.mentions == [] and delivery.ignored_events == 1


def test_batch_of_non_content_fields_counts_each(webhook_sample):
    delivery = parse_sample(webhook_sample, "facebook_page_feed_two_entries_batch.json")
    assert delivery.mentions == [] and delivery.ignored_events == 2


def test_messenger_message(webhook_sample):
    [mention] = parse_sample(webhook_sample, "facebook_messenger_message_basic.json").mentions
    assert (mention.platform, mention.kind) == ("messenger", MentionKind.MESSAGE)
    assert mention.external_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert mention.text == "hello, world!"
    assert mention.author.id == "987654321432"
    assert mention.thread_id == "987654321432"
    assert mention.created_at == datetime.fromtimestamp(1457764197.627, tz=timezone.utc)  # milliseconds


def test_instagram_comment_reply(webhook_sample):
    [mention] = parse_sample(webhook_sample, "instagram_comments.json").mentions
    assert mention.platform == "instagram"
    assert mention.external_id == "123456789"
    assert mention.kind is MentionKind.REPLY  # parent_id present: it answers another comment
    assert mention.text == "This is an example."
    assert mention.author.id == "1234536447" and mention.author.handle == "testuser"
    assert mention.parent_id == "987654321" and mention.thread_id == "76543987"
    assert mention.created_at == utc(2018, 2, 23, 15, 21, 47)


def test_instagram_live_comment(webhook_sample):
    [mention] = parse_sample(webhook_sample, "instagram_live_comments.json").mentions
    assert (mention.platform, mention.kind, mention.external_id) == ("instagram", MentionKind.COMMENT, "123456789")
    assert mention.text == "This is an example."


def test_instagram_mention_carries_only_ids(webhook_sample):
    [mention] = parse_sample(webhook_sample, "instagram_mentions.json").mentions
    assert (mention.platform, mention.kind) == ("instagram", MentionKind.MENTION)
    assert mention.external_id == "17887498072083520"
    assert mention.text == ""
    assert mention.thread_id == "17887498072083520"
    assert mention.created_at == utc(2018, 2, 23, 15, 21, 50)


# --- The signed Messenger sample -----------------------------------------------------------------


def published_signature(webhook_sample) -> dict[str, str]:
    return json.loads(webhook_sample("facebook_messenger_signed_message.signature.json"))


def test_published_messenger_signature_verifies(webhook_sample):
    body = webhook_sample("facebook_messenger_signed_message.json")
    published = published_signature(webhook_sample)
    request = post(body, {published["header"]: published["value"]})
    meta.verify(request, lambda name: published["app_secret"], NOW)
    [mention] = meta.parse(request, NOW).mentions
    assert mention.text == "34wrr3wr" and mention.external_id == "mid.1475942721728:3b9e3646712f9bed52"


def test_published_messenger_signature_fails_on_one_changed_byte(webhook_sample):
    body = bytearray(webhook_sample("facebook_messenger_signed_message.json"))
    published = published_signature(webhook_sample)
    body[body.index(b"34wrr3wr")] ^= 0x01
    with pytest.raises(BadSignature):
        meta.verify(
            post(bytes(body), {published["header"]: published["value"]}), lambda name: published["app_secret"], NOW
        )


# --- Signatures ----------------------------------------------------------------------------------

BODY = b'{"object":"page","entry":[]}'


def test_sha256_header_is_the_contract_one():
    expected = hmac.new(SECRETS["META_APP_SECRET"].encode(), BODY, hashlib.sha256).hexdigest()
    assert meta.sign(BODY, secret, NOW)["X-Hub-Signature-256"] == "sha256=" + expected
    meta.verify(post(BODY, {"X-Hub-Signature-256": "sha256=" + expected}), secret, NOW)


def test_bad_sha256_is_not_rescued_by_a_good_sha1():
    headers = meta.sign(BODY, secret, NOW)
    headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    with pytest.raises(BadSignature, match="X-Hub-Signature-256"):
        meta.verify(post(BODY, headers), secret, NOW)


def test_sha1_digest_in_the_sha256_header_is_refused():
    sha1 = meta.sign(BODY, secret, NOW)["X-Hub-Signature"]
    with pytest.raises(BadSignature):
        meta.verify(post(BODY, {"X-Hub-Signature-256": sha1}), secret, NOW)


def test_missing_signature_names_the_header():
    with pytest.raises(BadSignature, match="missing X-Hub-Signature-256"):
        meta.verify(post(BODY), secret, NOW)


def test_unconfigured_app_secret_refuses_rather_than_signing_with_empty_key():
    headers = {"X-Hub-Signature-256": "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()}
    with pytest.raises(BadSignature):
        meta.verify(post(BODY, headers), lambda name: "", NOW)


# --- Handshake -----------------------------------------------------------------------------------


def hub_query(token: str) -> dict[str, str]:
    return {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}


def test_handshake_echoes_challenge_for_the_right_token():
    response = meta.handshake(get(hub_query(SECRETS["META_VERIFY_TOKEN"])), secret)
    assert response.body == "1158201444" and response.content_type == "text/plain"


def test_handshake_refuses_a_wrong_token_without_echoing_secrets():
    with pytest.raises(BadVerifyToken) as caught:
        meta.handshake(get(hub_query("guess")), secret)
    assert caught.value.status == 403
    assert SECRETS["META_VERIFY_TOKEN"] not in caught.value.message


def test_handshake_with_unset_token_refuses():
    with pytest.raises(BadVerifyToken):
        meta.handshake(get(hub_query("anything")), lambda name: "")


@pytest.mark.parametrize("missing", ["hub.mode", "hub.challenge"])
def test_handshake_missing_parameter_is_400(missing):
    query = hub_query(SECRETS["META_VERIFY_TOKEN"])
    del query[missing]
    with pytest.raises(MalformedPayload, match=f"missing query parameter {missing}"):
        meta.handshake(get(query), secret)


def test_a_missing_verify_token_is_403_whatever_else_is_missing():
    """The contract's 403 bad verify token: checked first, so a caller without it learns nothing more."""
    query = hub_query(SECRETS["META_VERIFY_TOKEN"])
    del query["hub.verify_token"]
    with pytest.raises(BadVerifyToken):
        meta.handshake(get(query), secret)
    del query["hub.mode"]
    with pytest.raises(BadVerifyToken):
        meta.handshake(get(query | {"hub.verify_token": "wrong"}), secret)


def test_handshake_other_mode_is_400():
    query = hub_query(SECRETS["META_VERIFY_TOKEN"]) | {"hub.mode": "unsubscribe"}
    with pytest.raises(MalformedPayload, match=r"hub\.mode"):
        meta.handshake(get(query), secret)


# --- Shapes --------------------------------------------------------------------------------------


def parse_json(payload: object):
    return meta.parse(post(json.dumps(payload).encode()), NOW)


def feed_change(value: dict, field: str = "feed") -> dict:
    return {"object": "page", "entry": [{"id": "1", "time": 1700000000, "changes": [{"field": field, "value": value}]}]}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"object": "page"}', "entry must be a list"),
        (b'{"object": "page", "entry": {"id": "1"}}', "entry must be a list"),
        (b'{"entry": []}', "object must be a string"),
        (b'{"object": "page", "entry": ["x"]}', r"entry\[0\] must be an object"),
        (b'{"object": "page", "entry": [{"changes": {}}]}', r"entry\[0\].changes must be a list"),
        (b'{"object": "page", "entry": [{"changes": [{"value": {}}]}]}', r"entry\[0\].changes\[0\].field is missing"),
        (b'{"object": "page", "entry": [{"changes": [{"field": "feed", "value": 3}]}]}', "value must be an object"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_structurally_broken_bodies_are_400_naming_the_problem(body, problem):
    with pytest.raises(MalformedPayload, match=problem):
        meta.parse(post(body), NOW)


def test_comment_without_its_id_is_400_naming_the_path():
    with pytest.raises(MalformedPayload, match=r"entry\[0\].changes\[0\].value.comment_id is missing"):
        parse_json(feed_change({"item": "comment", "verb": "add", "post_id": "1_2", "message": "hi"}))


def test_unknown_field_object_and_verb_are_ignored_not_errors():
    delivery = parse_json(
        {
            "object": "page",
            "entry": [
                {"id": "1", "time": 1, "changes": [{"field": "brand_new_field", "value": {"anything": 1}}]},
                {"id": "1", "time": 1, "changes": [{"field": "feed", "value": {"item": "post", "verb": "pin"}}]},
                {"id": "1", "time": 1, "standby": [{"sender": {"id": "2"}}]},
            ],
        }
    )
    assert delivery.mentions == [] and delivery.ignored_events == 3
    assert (
        parse_json(
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}
        ).ignored_events
        == 1
    )


def test_batched_delivery_yields_every_mention_in_order():
    payload = {
        "object": "page",
        "entry": [
            {
                "id": "1",
                "time": 1700000000,
                "changes": [
                    {"field": "feed", "value": {"item": "post", "verb": "add", "post_id": "1_10", "message": "first"}},
                    {"field": "feed", "value": {"item": "like", "verb": "add", "post_id": "1_10"}},
                ],
            },
            {
                "id": "1",
                "time": 1700000001,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "post_id": "1_10",
                            "comment_id": "10_20",
                            "parent_id": "1_10",
                            "message": "second",
                            "created_time": 1700000001,
                        },
                    },
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "post_id": "1_10",
                            "comment_id": "10_21",
                            "parent_id": "10_20",
                            "message": "third",
                        },
                    },
                ],
            },
        ],
    }
    delivery = parse_json(payload)
    assert [m.text for m in delivery.mentions] == ["first", "second", "third"]
    assert [m.kind for m in delivery.mentions] == [MentionKind.POST, MentionKind.COMMENT, MentionKind.REPLY]
    assert delivery.mentions[2].parent_id == "10_20" and delivery.mentions[2].thread_id == "1_10"
    assert delivery.ignored_events == 1


def test_photo_video_share_are_posts_and_unhide_is_an_edit():
    for item in ("photo", "video", "share"):
        [mention] = parse_json(feed_change({"item": item, "verb": "add", "post_id": "1_5"})).mentions
        assert mention.kind is MentionKind.POST
    [mention] = parse_json(
        feed_change({"item": "comment", "verb": "unhide", "post_id": "1_5", "comment_id": "5_6"})
    ).mentions
    assert mention.event is MentionEvent.EDITED


def test_messenger_echo_receipts_edits_and_instagram_dms():
    payload = {
        "object": "page",
        "entry": [
            {
                "id": "9",
                "time": 1700000000000,
                "messaging": [
                    {
                        "sender": {"id": "9"},
                        "recipient": {"id": "5"},
                        "timestamp": 1700000000000,
                        "message": {"mid": "m_echo", "is_echo": True, "text": "our answer"},
                    },
                    {
                        "sender": {"id": "5"},
                        "recipient": {"id": "9"},
                        "timestamp": 1700000000000,
                        "delivery": {"mids": ["m_1"], "watermark": 1700000000000},
                    },
                    {
                        "sender": {"id": "5"},
                        "recipient": {"id": "9"},
                        "timestamp": 1700000001000,
                        "message_edit": {"mid": "m_1", "text": "fixed typo", "num_edit": 1},
                    },
                    {
                        "sender": {"id": "5"},
                        "recipient": {"id": "9"},
                        "timestamp": 1700000002000,
                        "message": {"mid": "m_2", "text": "and another", "reply_to": {"mid": "m_1"}},
                    },
                ],
            }
        ],
    }
    delivery = parse_json(payload)
    assert delivery.ignored_events == 2
    edited, reply = delivery.mentions
    assert (edited.event, edited.external_id, edited.text) == (MentionEvent.EDITED, "m_1", "fixed typo")
    assert reply.parent_id == "m_1" and reply.platform == "messenger"

    instagram = parse_json(
        {
            "object": "instagram",
            "entry": [
                {
                    "id": "0",
                    "time": 1,
                    "messaging": [
                        {
                            "sender": {"id": "5"},
                            "recipient": {"id": "0"},
                            "timestamp": 1700000000000,
                            "message": {"mid": "ig_m", "is_deleted": True},
                        }
                    ],
                }
            ],
        }
    )
    [unsent] = instagram.mentions
    assert (unsent.platform, unsent.kind, unsent.event) == ("instagram", MentionKind.MESSAGE, MentionEvent.REMOVED)


def test_message_without_mid_is_400():
    with pytest.raises(MalformedPayload, match=r"messaging\[0\].message.mid is missing"):
        parse_json({"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "message": {"text": "x"}}]}]})


def test_bad_value_in_a_mention_field_is_400_not_a_crash():
    with pytest.raises(MalformedPayload, match=r"entry\[0\].changes\[0\].value"):
        parse_json(feed_change({"item": "post", "verb": "add", "post_id": "x" * 500, "message": "long id"}))


def test_over_long_text_is_clipped():
    [mention] = parse_json(
        feed_change({"item": "post", "verb": "add", "post_id": "1_2", "message": "a" * 30_000})
    ).mentions
    assert len(mention.text) == 20_000


def test_rating_outside_range_is_dropped_not_fatal():
    value = {"item": "rating", "verb": "add", "open_graph_story_id": 7, "rating": 99, "review_text": "odd"}
    [mention] = parse_json(feed_change(value, "ratings")).mentions
    assert mention.rating is None and mention.kind is MentionKind.REVIEW
