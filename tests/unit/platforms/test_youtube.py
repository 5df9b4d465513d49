"""YouTube WebSub: Google's documented notification body, plus deletions in the documented tombstone format."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from chalicelib.domain.models import MentionEvent, MentionKind
from chalicelib.platforms import youtube
from chalicelib.platforms.base import BadSignature, MalformedPayload
from tests.unit.platforms.conftest import NOW, SECRETS, get, post, secret

# The deletion notification as the YouTube push-notification guide describes it (not in shared/data).
DELETED = b"""<feed xmlns:at="http://purl.org/atompub/tombstones/1.0" xmlns="http://www.w3.org/2005/Atom">
  <at:deleted-entry ref="yt:video:dQw4w9WgXcQ" when="2024-04-30T08:15:00+00:00">
    <link href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
    <at:by>
      <name>Channel title</name>
      <uri>https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw</uri>
    </at:by>
  </at:deleted-entry>
</feed>"""


def test_documented_video_feed(webhook_sample):
    delivery = youtube.parse(post(webhook_sample("youtube_websub_video_feed.xml")), NOW)
    [mention] = delivery.mentions
    assert delivery.ignored_events == 0
    assert mention.platform == "youtube"
    assert (mention.kind, mention.event) == (MentionKind.VIDEO, MentionEvent.CREATED)
    assert mention.external_id == "VIDEO_ID"
    assert mention.text == "Video title" and mention.title == "Video title"
    assert mention.author.id == "CHANNEL_ID" and mention.author.name == "Channel title"
    assert mention.url == "http://www.youtube.com/watch?v=VIDEO_ID"
    assert mention.created_at == datetime(2015, 3, 6, 21, 40, 57, tzinfo=timezone.utc)


def test_deleted_entry_is_removed():
    [mention] = youtube.parse(post(DELETED), NOW).mentions
    assert (mention.external_id, mention.event, mention.kind) == (
        "dQw4w9WgXcQ",
        MentionEvent.REMOVED,
        MentionKind.VIDEO,
    )
    assert mention.author.id == "UCuAXFkgsw1L7xaCfnd5JJOw"
    assert mention.created_at == datetime(2024, 4, 30, 8, 15, tzinfo=timezone.utc)


def test_channel_id_falls_back_to_author_uri_and_published_to_updated():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xmlns:yt="http://www.youtube.com/xml/schemas/2015">
      <entry><id>yt:video:abc123</id><title>Unboxing</title>
        <author><name>Reviewer</name><uri>https://www.youtube.com/channel/UC42</uri></author>
        <updated>2024-04-01T10:00:00.123456789+00:00</updated></entry></feed>"""
    [mention] = youtube.parse(post(body), NOW).mentions
    assert mention.external_id == "abc123" and mention.author.id == "UC42"
    assert mention.url == "https://www.youtube.com/watch?v=abc123"
    assert mention.created_at == datetime(2024, 4, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)


def test_empty_feed_has_nothing():
    delivery = youtube.parse(post(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'), NOW)
    assert delivery.mentions == [] and delivery.ignored_events == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"<feed><entry>", "not well-formed XML"),
        (b'{"json": true}', "not well-formed XML"),
        (b"<rss><channel/></rss>", "not an Atom <feed>"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title></entry></feed>',
            r"entry\[0\] has no yt:videoId",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="http://purl.org/atompub/tombstones/1.0">'
            b'<at:deleted-entry ref="tag:other" when="2024-01-01T00:00:00Z"/></feed>',
            "deleted-entry",
        ),
    ],
)
def test_malformed_xml_is_400_naming_the_problem(body, problem):
    with pytest.raises(MalformedPayload, match=problem):
        youtube.parse(post(body), NOW)


@pytest.mark.parametrize(
    "attack",
    [
        # Billion laughs: entity expansion bomb.
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>',
        # XXE: external entity reading a local file.
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>',
    ],
)
def test_dtds_and_entities_are_refused(attack):
    with pytest.raises(MalformedPayload, match="DTDs and entities are not accepted"):
        youtube.parse(post(attack), NOW)


# --- Handshake and signature ---------------------------------------------------------------------

TOPIC = "https://www.youtube.com/xml/feeds/videos.xml?channel_id=CHANNEL_ID"


@pytest.mark.parametrize("mode", ["subscribe", "unsubscribe"])
def test_handshake_echoes_the_challenge(mode):
    query = {
        "hub.mode": mode,
        "hub.topic": TOPIC,
        "hub.challenge": "14057211296186473837",
        "hub.lease_seconds": "432000",
    }
    assert youtube.handshake(get(query), secret).body == "14057211296186473837"


def test_handshake_echoes_even_with_a_verify_token():
    query = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c", "hub.verify_token": "whatever"}
    assert youtube.handshake(get(query), secret).body == "c"


def test_denied_notice_is_acknowledged():
    assert youtube.handshake(get({"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": "x"}), secret).body == ""


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"hub.mode": "subscribe", "hub.topic": TOPIC}, "hub.challenge"),
        ({"hub.mode": "publish", "hub.topic": TOPIC, "hub.challenge": "c"}, "hub.mode must be"),
    ],
)
def test_handshake_bad_query_is_400(query, problem):
    with pytest.raises(MalformedPayload, match=problem):
        youtube.handshake(get(query), secret)


@pytest.mark.parametrize("query", [{"hub.challenge": "c1"}, {"hub.mode": "subscribe", "hub.challenge": "c1"}])
def test_the_challenge_is_echoed_without_the_hubs_other_parameters(query):
    """The contract: hub.challenge echo. The hub sends mode and topic too; they are checked when present."""
    assert youtube.handshake(get(query), secret).body == "c1"


def test_signature_is_hex_sha1_of_the_body(webhook_sample):
    body = webhook_sample("youtube_websub_video_feed.xml")
    expected = "sha1=" + hmac.new(SECRETS["YOUTUBE_HUB_SECRET"].encode(), body, hashlib.sha1).hexdigest()
    assert youtube.sign(body, secret, NOW) == {"X-Hub-Signature": expected}
    youtube.verify(post(body, {"X-Hub-Signature": expected}), secret, NOW)


def test_websub_sha256_method_is_accepted_and_unknown_methods_refused():
    body = DELETED
    sha256 = "sha256=" + hmac.new(SECRETS["YOUTUBE_HUB_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    youtube.verify(post(body, {"X-Hub-Signature": sha256}), secret, NOW)
    md5 = "md5=" + hmac.new(SECRETS["YOUTUBE_HUB_SECRET"].encode(), body, hashlib.md5).hexdigest()
    with pytest.raises(BadSignature):
        youtube.verify(post(body, {"X-Hub-Signature": md5}), secret, NOW)
