"""X Account Activity API. No published delivery exists in shared/data, so the payloads here follow X's documented
Account Activity format (v1.1 tweet objects) and carry real tweet texts, ids, handles and times from
``shared/data/airline/Tweets.csv`` (Crowdflower "Twitter US Airline Sentiment", Feb 2015). User ids and follower counts
are not in that data set and are placeholders."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import html
import json
from datetime import datetime, timezone

import pytest

from chalicelib.domain.models import MentionEvent, MentionKind
from chalicelib.platforms import x
from chalicelib.platforms.base import BadSignature, MalformedPayload
from tests.unit.platforms.conftest import NOW, SECRETS, SHARED_DATA, get, post, secret

BRAND_ID = "1000000001"  # the subscribed @VirginAmerica account (placeholder id)


def user(user_id: str, screen_name: str, followers: int = 130, verified: bool = False) -> dict:
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": screen_name.title(),
        "screen_name": screen_name,
        "location": None,
        "url": None,
        "description": None,
        "protected": False,
        "verified": verified,
        "followers_count": followers,
        "friends_count": 200,
        "listed_count": 1,
        "favourites_count": 5,
        "statuses_count": 1000,
        "created_at": "Mon Jun 06 14:04:49 +0000 2011",
        "lang": None,
    }


def tweet(tweet_id: str, text: str, created_at: str, author: dict, **extra) -> dict:
    body = {
        "created_at": created_at,
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "source": '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": int(BRAND_ID),
        "in_reply_to_user_id_str": BRAND_ID,
        "in_reply_to_screen_name": "VirginAmerica",
        "user": author,
        "geo": None,
        "coordinates": None,
        "place": None,
        "contributors": None,
        "is_quote_status": False,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": {
            "hashtags": [],
            "urls": [],
            "symbols": [],
            "user_mentions": [
                {
                    "screen_name": "VirginAmerica",
                    "name": "Virgin America",
                    "id": int(BRAND_ID),
                    "id_str": BRAND_ID,
                    "indices": [0, 14],
                }
            ],
        },
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": "en",
    }
    body.update(extra)
    return body


CAIRDIN = user("2000000001", "cairdin")
JNARDINO = user("2000000002", "jnardino", followers=5400, verified=True)
BRAND = user(BRAND_ID, "VirginAmerica", followers=350000, verified=True)

# Real rows of Tweets.csv (tweet_id, name, tweet_created "2015-02-24 11:35:52 -0800" → X's UTC created_at).
WHAT_HE_SAID = tweet(
    "570306133677760513", "@VirginAmerica What @dhepburn said.", "Tue Feb 24 19:35:52 +0000 2015", CAIRDIN
)
AGGRESSIVE = tweet(
    "570301031407624196",
    "@VirginAmerica it's really aggressive to blast obnoxious \"entertainment\" in your guests' faces &amp; "
    "they have little recourse",
    "Tue Feb 24 19:15:36 +0000 2015",
    JNARDINO,
)


def activity(**events) -> bytes:
    return json.dumps({"for_user_id": BRAND_ID, **events}).encode()


def parse(body: bytes):
    return x.parse(post(body), NOW)


# --- Tweets --------------------------------------------------------------------------------------


def test_tweet_create_event_becomes_an_x_mention():
    [mention] = parse(activity(user_has_blocked=False, tweet_create_events=[WHAT_HE_SAID])).mentions
    assert mention.platform == "x"
    assert mention.external_id == "570306133677760513"
    assert (mention.event, mention.kind) == (MentionEvent.CREATED, MentionKind.POST)
    assert mention.text == "@VirginAmerica What @dhepburn said."
    assert mention.author.id == "2000000001" and mention.author.handle == "cairdin"
    assert mention.author.followers == 130 and mention.author.verified is False
    assert mention.url == "https://x.com/cairdin/status/570306133677760513"
    assert mention.created_at == datetime(2015, 2, 24, 19, 35, 52, tzinfo=timezone.utc)


def test_html_escapes_of_v1_1_text_are_undone():
    [mention] = parse(activity(tweet_create_events=[AGGRESSIVE])).mentions
    assert "faces & they" in mention.text
    assert mention.author.verified is True and mention.author.followers == 5400


def test_extended_tweet_full_text_wins_over_truncated_text():
    full = (
        "@united I need to file a claim for a broken stroller. I filled out a form online and haven't "
        "heard back. What's the process?"
    )
    long_tweet = tweet(
        "570298662653743104",
        full[:137] + "...",
        "Tue Feb 24 19:06:11 +0000 2015",
        CAIRDIN,
        truncated=True,
        extended_tweet={"full_text": full, "display_text_range": [0, len(full)]},
    )
    [mention] = parse(activity(tweet_create_events=[long_tweet])).mentions
    assert mention.text == full


def test_reply_has_parent_and_kind_reply():
    reply = tweet(
        "570282469121007616",
        "@VirginAmerica and it's a really big bad thing about it",
        "Tue Feb 24 18:01:50 +0000 2015",
        CAIRDIN,
        in_reply_to_status_id=570277489848377344,
        in_reply_to_status_id_str="570277489848377344",
    )
    [mention] = parse(activity(tweet_create_events=[reply])).mentions
    assert mention.kind is MentionKind.REPLY and mention.parent_id == "570277489848377344"


def test_quote_tweet_points_at_the_quoted_tweet():
    quote = tweet(
        "570300000000000001",
        "@VirginAmerica this. exactly this.",
        "Tue Feb 24 19:11:30 +0000 2015",
        CAIRDIN,
        is_quote_status=True,
        quoted_status_id=570301031407624196,
        quoted_status_id_str="570301031407624196",
        quoted_status=AGGRESSIVE,
    )
    [mention] = parse(activity(tweet_create_events=[quote])).mentions
    assert mention.parent_id == "570301031407624196" and mention.text == "@VirginAmerica this. exactly this."


def test_own_tweets_and_pure_retweets_are_ignored():
    own = tweet("570300000000000002", "@cairdin We're sorry to hear that.", "Tue Feb 24 19:40:00 +0000 2015", BRAND)
    retweet = tweet(
        "570300000000000003",
        "RT @cairdin: @VirginAmerica What @dhepburn said.",
        "Tue Feb 24 19:41:00 +0000 2015",
        JNARDINO,
        retweeted_status=WHAT_HE_SAID,
    )
    delivery = parse(activity(tweet_create_events=[own, retweet, WHAT_HE_SAID]))
    assert [m.external_id for m in delivery.mentions] == ["570306133677760513"]
    assert delivery.ignored_events == 2


def test_tweet_without_created_at_uses_timestamp_ms():
    no_date = dict(WHAT_HE_SAID, created_at="garbage", timestamp_ms="1424806552000")
    [mention] = parse(activity(tweet_create_events=[no_date])).mentions
    assert mention.created_at == datetime(2015, 2, 24, 19, 35, 52, tzinfo=timezone.utc)


def test_real_airline_tweets_round_trip_their_text():
    path = SHARED_DATA / "airline" / "Tweets.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared is not checked out)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(300), csv.DictReader(handle), strict=False)]
    events = [
        tweet(
            row["tweet_id"],
            row["text"],
            datetime.strptime(row["tweet_created"], "%Y-%m-%d %H:%M:%S %z").strftime("%a %b %d %H:%M:%S %z %Y"),
            user(str(3_000_000_000 + index), row["name"]),
        )
        for index, row in enumerate(rows)
    ]
    # As X sends them: a few per delivery (a delivery may carry at most limits.MAX_MENTIONS_PER_DELIVERY).
    mentions = [
        mention
        for start in range(0, len(events), 50)
        for mention in parse(activity(tweet_create_events=events[start : start + 50])).mentions
    ]
    assert len(mentions) == len(rows)
    for row, mention in zip(rows, mentions, strict=True):
        assert mention.external_id == row["tweet_id"] and mention.author.handle == row["name"]
        # The data set kept the v1.1 text as X sent it (``&amp;``, ``&lt;`` escaped): we deliver it unescaped.
        assert mention.text == html.unescape(row["text"])
        assert mention.created_at == datetime.strptime(row["tweet_created"], "%Y-%m-%d %H:%M:%S %z")


# --- Deletes, DMs, ignored events ----------------------------------------------------------------


def test_tweet_delete_event_is_removed():
    deletion = {"status": {"id": "570306133677760513", "user_id": "2000000001"}, "timestamp_ms": "1424810152000"}
    [mention] = parse(activity(tweet_delete_events=[deletion])).mentions
    assert (mention.platform, mention.external_id, mention.event) == ("x", "570306133677760513", MentionEvent.REMOVED)
    assert mention.author.id == "2000000001"
    assert mention.created_at == datetime(2015, 2, 24, 20, 35, 52, tzinfo=timezone.utc)


def test_direct_message_is_a_message_with_the_sender_profile():
    body = activity(
        direct_message_events=[
            {
                "type": "message_create",
                "id": "954491830116155396",
                "created_timestamp": "1516403560557",
                "message_create": {
                    "target": {"recipient_id": BRAND_ID},
                    "sender_id": "2000000002",
                    "message_data": {
                        "text": "@VirginAmerica my bag never arrived &amp; nobody answers",
                        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                    },
                },
            },
            {
                "type": "message_create",
                "id": "954491830116155397",
                "created_timestamp": "1516403570557",
                "message_create": {
                    "target": {"recipient_id": "2000000002"},
                    "sender_id": BRAND_ID,
                    "message_data": {"text": "Sorry! Please DM your file reference."},
                },
            },
        ],
        users={
            "2000000002": {
                "id": "2000000002",
                "created_timestamp": "1422556069340",
                "name": "Jnardino",
                "screen_name": "jnardino",
                "protected": False,
                "verified": True,
                "followers_count": 5400,
                "friends_count": 200,
                "statuses_count": 1000,
            },
            BRAND_ID: {"id": BRAND_ID, "name": "Virgin America", "screen_name": "VirginAmerica"},
        },
    )
    delivery = parse(body)
    [mention] = delivery.mentions
    assert delivery.ignored_events == 1  # the brand's own answer
    assert (mention.kind, mention.external_id) == (MentionKind.MESSAGE, "954491830116155396")
    assert mention.text == "@VirginAmerica my bag never arrived & nobody answers"
    assert mention.author.handle == "jnardino" and mention.author.followers == 5400
    assert mention.thread_id == "2000000002"
    assert mention.created_at == datetime.fromtimestamp(1516403560.557, tz=timezone.utc)


def test_favorites_follows_and_indicators_are_counted_as_ignored():
    body = activity(
        favorite_events=[
            {
                "id": "a3",
                "created_at": "Mon Mar 26 16:33:26 +0000 2018",
                "timestamp_ms": 1522082006140,
                "favorited_status": WHAT_HE_SAID,
                "user": CAIRDIN,
            }
        ],
        follow_events=[
            {"type": "follow", "created_timestamp": "1517588749178", "target": BRAND, "source": CAIRDIN},
            {"type": "unfollow", "created_timestamp": "1517588749179", "target": BRAND, "source": JNARDINO},
        ],
        direct_message_indicate_typing_events=[
            {"created_timestamp": "1518127183443", "sender_id": "2000000001", "target": {"recipient_id": BRAND_ID}}
        ],
    )
    delivery = parse(body)
    assert delivery.mentions == [] and delivery.ignored_events == 4


def test_user_revoke_event_is_ignored():
    delivery = parse(
        json.dumps(
            {
                "user_event": {
                    "revoke": {
                        "date_time": "2018-05-24T09:48:12+00:00",
                        "target": {"app_id": "13090192"},
                        "source": {"user_id": "63046977"},
                    }
                }
            }
        ).encode()
    )
    assert delivery.mentions == [] and delivery.ignored_events == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b'{"hello": "world"}', "not an Account Activity event"),
        (b'{"for_user_id": "1", "tweet_create_events": {"id_str": "1"}}', "tweet_create_events must be a list"),
        (
            b'{"for_user_id": "1", "tweet_create_events": [{"text": "no id"}]}',
            r"tweet_create_events\[0\].id_str is missing",
        ),
        (
            b'{"for_user_id": "1", "tweet_delete_events": [{"timestamp_ms": "1"}]}',
            r"tweet_delete_events\[0\].status must be",
        ),
        (
            b'{"for_user_id": "1", "direct_message_events": [{"type": "message_create", "id": "5"}]}',
            "message_create must be",
        ),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(body, problem):
    with pytest.raises(MalformedPayload, match=problem):
        parse(body)


# --- CRC and signatures --------------------------------------------------------------------------


def independent_b64_hmac(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def test_crc_response_token_matches_an_independent_computation():
    response = x.handshake(get({"crc_token": "NjM5OTk2MjEyMzk1NTYwNzc1"}), secret)
    assert response.content_type == "application/json"
    expected = "sha256=" + independent_b64_hmac(SECRETS["X_CONSUMER_SECRET"], b"NjM5OTk2MjEyMzk1NTYwNzc1")
    assert json.loads(response.body) == {"response_token": expected}


def test_crc_without_token_is_400():
    with pytest.raises(MalformedPayload, match="crc_token"):
        x.handshake(get({}), secret)


def test_signature_header_is_base64_hmac_of_the_body():
    body = activity(tweet_create_events=[WHAT_HE_SAID])
    expected = "sha256=" + independent_b64_hmac(SECRETS["X_CONSUMER_SECRET"], body)
    assert x.sign(body, secret, NOW) == {"x-twitter-webhooks-signature": expected}
    x.verify(post(body, {"X-Twitter-Webhooks-Signature": expected}), secret, NOW)


def test_hex_instead_of_base64_is_refused():
    body = activity()
    hex_signature = "sha256=" + hmac.new(SECRETS["X_CONSUMER_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(BadSignature):
        x.verify(post(body, {"x-twitter-webhooks-signature": hex_signature}), secret, NOW)
