"""The webhook edge refuses, with a 4xx, everything that storage or the domain could not take (issue 8).

Each test here reproduced a defect an outside attack found: a 500 on client input, or a 200 for a mention that
could never be stored. The bounds themselves live in :mod:`chalicelib.domain.limits`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import limits
from chalicelib.domain.models import Author, Mention
from chalicelib.platforms import PLATFORMS, generic, meta, trustpilot, x, youtube
from chalicelib.platforms.base import BadSignature, MalformedPayload, PayloadTooLarge, WebhookError
from tests.unit.platforms.conftest import NOW, post, secret

# --- One delivery per platform, with the fields an attacker controls -------------------------------------------


def x_body(
    created_at: str = "Wed Apr 24 10:00:00 +0000 2024", followers: object = 10, tweet_id: str = "42", **user
) -> bytes:
    author = {"id_str": "7", "screen_name": "ann", "name": "Ann", "followers_count": followers, **user}
    return json.dumps(
        {
            "for_user_id": "1",
            "tweet_create_events": [
                {"id_str": tweet_id, "created_at": created_at, "text": "zip broke", "user": author}
            ],
        }
    ).encode()


def meta_body(
    created_time: object = "2024-04-24T10:00:00+0000", post_id: str = "1_2", comment_id: str = "1_3", **value
) -> bytes:
    change = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment_id,
        "post_id": post_id,
        "created_time": created_time,
        "message": "zip broke",
        "from": {"id": "9", "name": "Ann"},
        **value,
    }
    return json.dumps(
        {"object": "page", "entry": [{"id": "1", "time": 1713952800, "changes": [{"field": "feed", "value": change}]}]}
    ).encode()


def youtube_body(
    published: str = "2024-04-24T10:00:00+00:00",
    entries: int = 1,
    title: str = "zip broke",
    declaration: str = '<?xml version="1.0" encoding="UTF-8"?>',
) -> bytes:
    entry = (
        "<entry><id>yt:video:v{i}</id><yt:videoId>v{i}</yt:videoId><yt:channelId>UC1</yt:channelId>"
        f"<title>{title}</title><published>{published}</published></entry>"
    )
    return (
        f'{declaration}<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns="http://www.w3.org/2005/Atom">'
        + "".join(entry.replace("{i}", str(i)) for i in range(entries))
        + "</feed>"
    ).encode()


def trustpilot_body(created_at: str = "2024-04-24T10:00:00.000Z", **data) -> bytes:
    review = {
        "id": "r1",
        "stars": 1,
        "title": "zip",
        "text": "zip broke",
        "createdAt": created_at,
        "consumer": {"id": "c1", "name": "Ann"},
        **data,
    }
    return json.dumps({"events": [{"eventName": "service-review-created", "eventData": review}]}).encode()


def generic_document(**changes) -> dict:
    document = {
        "platform": "reviews",
        "id": "r1",
        "created_at": "2024-04-24T10:00:00Z",
        "text": "zip broke",
        "author": {"id": "a1", "handle": "ann", "name": "Ann", "followers": 10, "verified": False},
    }
    if isinstance(changes.get("author"), dict):  # a change to one author field keeps the others
        changes["author"] = {**document["author"], **changes["author"]}
    return {**document, **changes}


def generic_body(**changes) -> bytes:
    return json.dumps(generic_document(**changes)).encode()


def short_id(value: object) -> str:
    """Test ids that stay readable when a parameter is a whole delivery."""
    return getattr(value, "NAME", None) or (f"{len(value)}B" if isinstance(value, bytes) else str(value)[:24])


def parse(module, body: bytes, now: datetime = NOW):
    """What the webhook does after verifying: sign as the platform would, verify, parse."""
    request = post(body, module.sign(body, secret, now))
    module.verify(request, secret, now)
    return module.parse(request, now)


# --- Defect 1: the X CRC was a signing oracle -------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ids=short_id,
    argvalues=[
        "abc123",
        "challenge-from-x",
        "NzZiOGQ4MDQtOTUxNi00ZDdkLWJkMTEtMjFmOWQ4NjhkYzU5",
        base64.b64encode(b"\xfa" * 32).decode(),
        "a" * limits.MAX_HANDSHAKE_TOKEN_CHARS,
    ],
)
def test_x_crc_still_answers_the_tokens_x_sends(token):
    answer = json.loads(x.handshake(get_query(crc_token=token), secret).body)
    assert answer["response_token"] == x.sign(token.encode(), secret, NOW)[x.SIGNATURE_HEADER]


@pytest.mark.parametrize(
    "token",
    ids=short_id,
    argvalues=[
        x_body().decode(),  # the attack: a whole delivery, to be signed and then POSTed
        '{"for_user_id":"1"}',
        "a b",
        "a" * (limits.MAX_HANDSHAKE_TOKEN_CHARS + 1),
        "tökën",
        "abc\n",
        "<script>",
    ],
)
def test_x_crc_refuses_anything_not_shaped_like_an_x_token(token):
    with pytest.raises(MalformedPayload, match="crc_token"):
        x.handshake(get_query(crc_token=token), secret)


def get_query(**query):
    from tests.unit.platforms.conftest import get

    return get({name.replace("hub_", "hub.", 1): value for name, value in query.items()})


@pytest.mark.parametrize(
    ("module", "query"),
    [
        (meta, {"hub_mode": "subscribe", "hub_verify_token": "meta-verify-token-for-tests", "hub_challenge": "a b"}),
        (
            meta,
            {
                "hub_mode": "subscribe",
                "hub_verify_token": "meta-verify-token-for-tests",
                "hub_challenge": "1" * (limits.MAX_HANDSHAKE_TOKEN_CHARS + 1),
            },
        ),
        (youtube, {"hub_mode": "subscribe", "hub_topic": "t", "hub_challenge": "<script>alert(1)</script>"}),
        (youtube, {"hub_mode": "subscribe", "hub_topic": "t", "hub_challenge": '{"entry": []}'}),
    ],
)
def test_challenge_echoes_only_echo_token_shaped_challenges(module, query):
    with pytest.raises(MalformedPayload, match="hub.challenge"):
        module.handshake(get_query(**query), secret)


# --- Defect 8: 500s on client input --------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", "１２３", "+123", "-1", "0x10", "1.5"])
def test_generic_timestamps_must_be_ascii_digits(timestamp):
    with pytest.raises(BadSignature, match="t=<unix seconds>"):
        generic.verify(post(b"{}", {"X-Signature": f"t={timestamp},v1=00"}), secret, NOW)


@pytest.mark.parametrize("header", ["Basic dHJ1c3RwaWxvdDrDqQ==é", "Basic ünïcödé", "Bäsic abc", "Basic \u2028"])
def test_non_ascii_basic_credentials_are_401(header):
    with pytest.raises(BadSignature):
        trustpilot.verify(post(b"{}", {"Authorization": header}), secret, NOW)


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0" encoding="x-foo"?>',
        '<?xml version="1.0" encoding="utf-32"?>',
        '<?xml version="1.0" encoding="rot13"?>',
    ],
)
def test_youtube_bodies_in_unknown_encodings_are_400(declaration):
    with pytest.raises(MalformedPayload):
        parse(youtube, youtube_body(declaration=declaration))


OUT_OF_RANGE = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "1970-01-01T00:00:00+00:00",
    "1999-12-31T23:59:59+00:00",
]
X_OUT_OF_RANGE = [
    "Fri Dec 31 23:59:59 -1400 9999",
    "Mon Jan 01 00:00:00 +1400 0001",
    "Fri Dec 31 23:59:59 +0000 9999",
    "Thu Jan 01 00:00:00 +0000 1970",
]


@pytest.mark.parametrize(
    "module, body",
    ids=short_id,
    argvalues=[
        *[(meta, meta_body(created_time=value)) for value in OUT_OF_RANGE + [10**30, -1]],
        *[(x, x_body(created_at=value)) for value in X_OUT_OF_RANGE],
        *[(youtube, youtube_body(published=value)) for value in OUT_OF_RANGE],
        *[(trustpilot, trustpilot_body(created_at=value)) for value in OUT_OF_RANGE],
        *[(generic, generic_body(created_at=value)) for value in OUT_OF_RANGE],
    ],
)
def test_times_outside_the_window_are_400_on_every_platform(module, body):
    with pytest.raises(MalformedPayload, match="created_at"):
        parse(module, body)


@pytest.mark.parametrize(
    "module, body",
    ids=short_id,
    argvalues=[
        (meta, meta_body(created_time="2024-05-03T12:00:01+00:00")),
        (x, x_body(created_at="Fri May 03 12:00:01 +0000 2024")),
        (youtube, youtube_body(published="2024-05-03T12:00:01+00:00")),
        (trustpilot, trustpilot_body(created_at="2024-05-03T12:00:01Z")),
        (generic, generic_body(created_at="2024-05-03T12:00:01Z")),
    ],
)
def test_times_more_than_a_day_ahead_of_now_are_400(module, body):
    with pytest.raises(MalformedPayload, match="created_at"):
        parse(module, body)


@pytest.mark.parametrize(
    "module, body",
    ids=short_id,
    argvalues=[
        (meta, meta_body(created_time="2024-05-02T11:59:59+00:00")),
        (x, x_body(created_at="Thu May 02 11:59:59 +0000 2024")),
        (generic, generic_body(created_at="2000-01-01T00:00:00Z")),
        (trustpilot, trustpilot_body(created_at="2015-02-24T00:00:00Z")),  # old reviews still arrive (edits)
    ],
)
def test_times_inside_the_window_are_kept(module, body):
    [mention] = parse(module, body).mentions
    assert limits.EARLIEST <= mention.created_at <= NOW + limits.CLOCK_SKEW


# --- Defect 2: numbers beyond what DynamoDB (38 digits) and the domain take -------------------------------------


@pytest.mark.parametrize(
    "module, body",
    ids=short_id,
    argvalues=[
        (x, x_body(followers=10**40)),
        (x, x_body(followers=limits.MAX_FOLLOWERS + 1)),
        (generic, generic_body(author={"followers": 10**40})),
        (generic, generic_body(author={"followers": limits.MAX_FOLLOWERS + 1})),
    ],
)
def test_follower_counts_beyond_the_bound_are_400(module, body):
    with pytest.raises(MalformedPayload, match="followers"):
        parse(module, body)


def test_the_largest_follower_count_is_kept():
    [mention] = parse(x, x_body(followers=limits.MAX_FOLLOWERS)).mentions
    assert mention.author.followers == limits.MAX_FOLLOWERS


@pytest.mark.parametrize("rating", [float("nan"), float("inf"), 10.01, -0.5, 10**400])
def test_ratings_are_finite_and_in_range(rating):
    with pytest.raises(MalformedPayload, match="rating"):
        parse(generic, generic_body(rating=rating))
    with pytest.raises(MalformedPayload, match="rating"):
        parse(trustpilot, trustpilot_body(stars=rating))


@pytest.mark.parametrize(("rating", "kept"), [(1e-300, 0.0), (4.666666666, 4.67), (10, 10.0)])
def test_ratings_are_kept_to_two_decimals_so_dynamodb_can_hold_them(rating, kept):
    [mention] = parse(generic, generic_body(rating=rating)).mentions
    assert mention.rating == kept


# --- Defect 7: strings beyond what a key or an item can hold ----------------------------------------------------


@pytest.mark.parametrize(
    "module, body, field",
    ids=short_id,
    argvalues=[
        (meta, meta_body(post_id="1_" + "9" * 140_000), "id"),  # the attack: copied into three fields
        (meta, meta_body(comment_id="1_" + "9" * limits.MAX_ID_CHARS), "external_id"),
        (x, x_body(tweet_id="9" * (limits.MAX_ID_CHARS + 1)), "external_id"),
        (x, x_body(screen_name="h" * (limits.MAX_HANDLE_CHARS + 1)), "handle"),
        (x, x_body(name="n" * (limits.MAX_NAME_CHARS + 1)), "name"),
        (youtube, youtube_body(title="t" * (limits.MAX_TITLE_CHARS + 1)), "title"),
        (trustpilot, trustpilot_body(title="t" * (limits.MAX_TITLE_CHARS + 1)), "title"),
        (generic, generic_body(id="i" * (limits.MAX_ID_CHARS + 1)), "id"),
        (generic, generic_body(url="https://e.example/" + "u" * limits.MAX_URL_CHARS), "url"),
        (generic, generic_body(product="p" * (limits.MAX_PRODUCT_CHARS + 1)), "product"),
        (generic, generic_body(in_reply_to="r" * (limits.MAX_ID_CHARS + 1)), "in_reply_to"),
        (generic, generic_body(author={"id": "a" * (limits.MAX_ID_CHARS + 1)}), "author.id"),
    ],
)
def test_oversized_fields_are_400_naming_the_field(module, body, field):
    with pytest.raises(MalformedPayload, match=field):
        parse(module, body)


def test_long_text_is_clipped_not_refused():
    [mention] = parse(generic, generic_body(text="é" * (limits.MAX_TEXT_CHARS + 500))).mentions
    assert len(mention.text) == limits.MAX_TEXT_CHARS


def test_the_largest_mention_the_model_admits_stays_well_under_dynamodbs_item_limit():
    widest = "\U0001f600"  # four bytes in UTF-8: the worst case per character
    mention = Mention(
        platform="p" * limits.MAX_PLATFORM_CHARS,
        external_id=widest * limits.MAX_ID_CHARS,
        author=Author(
            id=widest * limits.MAX_ID_CHARS,
            handle=widest * limits.MAX_HANDLE_CHARS,
            name=widest * limits.MAX_NAME_CHARS,
            followers=limits.MAX_FOLLOWERS,
        ),
        text=widest * limits.MAX_TEXT_CHARS,
        title=widest * limits.MAX_TITLE_CHARS,
        url="u" * limits.MAX_URL_CHARS,
        rating=9.99,
        created_at=NOW,
        parent_id=widest * limits.MAX_ID_CHARS,
        thread_id=widest * limits.MAX_ID_CHARS,
        product=widest * limits.MAX_PRODUCT_CHARS,
    )
    assert len(mention.model_dump_json().encode()) <= limits.MAX_MENTION_BYTES < 400 * 1024 // 2
    assert len(mention.key.encode()) <= 2048  # DynamoDB's partition key limit


# --- Defect 6: the generic webhook claimed built-in platforms' identities ---------------------------------------


@pytest.mark.parametrize("name", sorted(limits.BUILT_IN_PLATFORMS))
def test_a_generic_delivery_never_lands_in_a_built_in_platforms_namespace(name):
    [mention] = parse(generic, generic_body(platform=name, id="569850867899170816")).mentions
    assert mention.platform == f"generic-{name}"
    assert mention.key != f"{name}#569850867899170816"


def test_every_platform_the_modules_produce_is_reserved():
    produced = {
        parse(x, x_body()).mentions[0].platform,
        parse(meta, meta_body()).mentions[0].platform,
        parse(youtube, youtube_body()).mentions[0].platform,
        parse(trustpilot, trustpilot_body()).mentions[0].platform,
        "instagram",
        "messenger",
    }
    assert produced <= limits.BUILT_IN_PLATFORMS and set(PLATFORMS) <= limits.BUILT_IN_PLATFORMS


def test_other_generic_platforms_keep_their_names():
    [mention] = parse(generic, generic_body(platform="reviews")).mentions
    assert mention.key == "reviews#r1"


# --- Defect 9: the generic contract converted types instead of refusing them ------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"author": {"followers": "10"}}, "author.followers"),
        ({"author": {"followers": 10.0}}, "author.followers"),
        ({"author": {"followers": True}}, "author.followers"),
        ({"author": {"verified": "yes"}}, "author.verified"),
        ({"author": {"verified": 1}}, "author.verified"),
        ({"author": {"id": 5}}, "author.id"),
        ({"created_at": 1}, "created_at"),
        ({"created_at": "1714000000"}, "created_at"),
        ({"id": 123}, "id"),
        ({"text": 5}, "text"),
        ({"rating": "4"}, "rating"),
        ({"rating": True}, "rating"),
        ({"in_reply_to": 7}, "in_reply_to"),
    ],
)
def test_the_generic_body_is_strict(change, field):
    with pytest.raises(MalformedPayload, match=field):
        parse(generic, generic_body(**change))


def test_the_generic_body_still_takes_integral_ratings_and_iso_times_with_offsets():
    [mention] = parse(generic, generic_body(rating=4, created_at="2024-04-30T21:05:00+02:00")).mentions
    assert mention.rating == 4.0 and mention.created_at == datetime(2024, 4, 30, 19, 5, tzinfo=timezone.utc)


# --- Defect 9: bounded work per request -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, body",
    ids=short_id,
    argvalues=[
        (youtube, youtube_body(entries=limits.MAX_MENTIONS_PER_DELIVERY + 1)),
        (youtube, youtube_body(entries=2000)),
        (
            trustpilot,
            json.dumps(
                {
                    "events": [
                        json.loads(trustpilot_body(id=f"r{i}"))["events"][0]
                        for i in range(limits.MAX_MENTIONS_PER_DELIVERY + 1)
                    ]
                }
            ).encode(),
        ),
    ],
)
def test_a_delivery_carrying_more_mentions_than_the_cap_is_413(module, body):
    with pytest.raises(PayloadTooLarge, match=str(limits.MAX_MENTIONS_PER_DELIVERY)) as caught:
        parse(module, body)
    assert caught.value.status == 413


def test_a_delivery_at_the_cap_is_taken():
    assert (
        len(parse(youtube, youtube_body(entries=limits.MAX_MENTIONS_PER_DELIVERY)).mentions)
        == limits.MAX_MENTIONS_PER_DELIVERY
    )


def test_every_refusal_here_is_a_client_error():
    assert all(
        issubclass(error, WebhookError) and 400 <= error.status < 500
        for error in (BadSignature, MalformedPayload, PayloadTooLarge)
    )


def test_the_window_is_relative_to_the_requests_clock():
    later = NOW + timedelta(days=30)
    [mention] = parse(generic, generic_body(created_at="2024-05-20T00:00:00Z"), now=later).mentions
    assert mention.created_at == datetime(2024, 5, 20, tzinfo=timezone.utc)
