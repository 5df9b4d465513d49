"""Property: whatever a correctly signed delivery carries, a platform module answers with a mention list or a
:class:`~chalicelib.platforms.base.WebhookError` (a 4xx), never another exception (a 500), and every mention it
returns is within the edge's bounds (so it can be queued and stored).

Each platform's delivery is a template whose every leaf hypothesis may keep or replace with arbitrary JSON (huge
and negative numbers, NaN and infinities, non-ASCII and over-long strings, nested junk); YouTube's Atom gets
arbitrary text in every element and arbitrary XML declarations.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import limits
from chalicelib.platforms import generic, meta, trustpilot, x, youtube
from chalicelib.platforms.base import WebhookError
from tests.unit.platforms.conftest import NOW, post, secret
from tests.unit.platforms.test_edge_bounds import generic_document, youtube_body

SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, database=None)

# The values that broke the edge before (issue 8) are drawn most often; anything else JSON can carry, too.
edge_numbers = st.sampled_from([10**40, -1, 0, 2**63, limits.MAX_FOLLOWERS + 1, float("nan"), float("inf"), 1e-300])
edge_times = st.sampled_from(
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59Z",
        "Fri Dec 31 23:59:59 -1400 9999",
        "Mon Jan 01 00:00:00 +1400 0001",
        "2099-01-01T00:00:00Z",
        "²",
        "1" * 25,
        "1714000000000",
        10**30,
        253402300799,
    ]
)
edge_strings = st.sampled_from(["", "x" * (limits.MAX_NAME_CHARS + 1), "9" * (limits.MAX_ID_CHARS + 1), "\u2028"])
junk_scalars = st.one_of(
    edge_numbers,
    edge_times,
    edge_times,
    edge_strings,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
)
junk = st.recursive(
    junk_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``document`` (containers included) a mutation may replace."""
    found = [prefix] if prefix else []
    children = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    for key, value in children:
        found += _paths(value, prefix + (key,))
    return found


def _replaced(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)
    return copy


def holes(template: Any) -> st.SearchStrategy[Any]:
    """``template`` with one to three of its places (a leaf or a whole object) replaced by junk."""
    paths = _paths(template)

    def mutate(edits: list[tuple[int, Any]]) -> Any:
        document = template
        for index, value in edits:
            path = paths[index % len(paths)]
            try:
                document = _replaced(document, path, value)
            except (KeyError, IndexError, TypeError):  # an earlier edit replaced this place's parent
                pass
        return document

    return st.lists(st.tuples(st.integers(min_value=0, max_value=len(paths) - 1), junk), min_size=1, max_size=3).map(
        mutate
    )


X_TEMPLATE = {
    "for_user_id": "1",
    "tweet_create_events": [
        {
            "id_str": "42",
            "created_at": "Wed Apr 24 10:00:00 +0000 2024",
            "text": "zip broke",
            "timestamp_ms": "1713952800000",
            "in_reply_to_status_id_str": "41",
            "extended_tweet": {"full_text": "zip broke, twice"},
            "user": {"id_str": "7", "screen_name": "ann", "name": "Ann", "followers_count": 10, "verified": False},
        }
    ],
    "tweet_delete_events": [{"status": {"id": "40", "user_id": "7"}, "timestamp_ms": "1713952800000"}],
    "direct_message_events": [
        {
            "type": "message_create",
            "id": "m1",
            "created_timestamp": "1713952800000",
            "message_create": {"sender_id": "7", "message_data": {"text": "hello"}},
        }
    ],
    "users": {"7": {"id_str": "7", "screen_name": "ann", "followers_count": 10}},
}
META_TEMPLATE = {
    "object": "page",
    "entry": [
        {
            "id": "1",
            "time": 1713952800,
            "changes": [
                {
                    "field": "feed",
                    "value": {
                        "item": "comment",
                        "verb": "add",
                        "comment_id": "1_3",
                        "post_id": "1_2",
                        "parent_id": "1_2",
                        "created_time": 1713952800,
                        "message": "zip broke",
                        "from": {"id": "9", "name": "Ann"},
                    },
                },
                {
                    "field": "ratings",
                    "value": {
                        "item": "rating",
                        "verb": "add",
                        "open_graph_story_id": "5",
                        "rating": 4,
                        "review_text": "fine",
                        "reviewer_id": "9",
                        "created_time": "2024-04-24T10:00:00",
                    },
                },
            ],
            "messaging": [
                {
                    "sender": {"id": "9"},
                    "timestamp": 1713952800000,
                    "message": {"mid": "m.1", "text": "hi", "reply_to": {"mid": "m.0"}},
                }
            ],
        }
    ],
}
INSTAGRAM_TEMPLATE = {
    "object": "instagram",
    "entry": [
        {
            "id": "1",
            "time": 1713952800,
            "changes": [
                {
                    "field": "comments",
                    "value": {
                        "id": "c1",
                        "text": "zip",
                        "from": {"id": "9", "username": "ann"},
                        "media": {"id": "m1"},
                        "parent_id": "c0",
                    },
                },
                {"field": "mentions", "value": {"comment_id": "c2", "media_id": "m2"}},
            ],
        }
    ],
}
TRUSTPILOT_TEMPLATE = {
    "events": [
        {
            "eventName": "service-review-created",
            "eventData": {
                "id": "r1",
                "stars": 1,
                "title": "zip",
                "text": "zip broke",
                "createdAt": "2024-04-24T10:00:00.000Z",
                "consumer": {"id": "c1", "name": "Ann"},
            },
        }
    ]
}


def outcome(module, body: bytes) -> None:
    request = post(body, module.sign(body, secret, NOW))
    try:
        module.verify(request, secret, NOW)
        delivery = module.parse(request, NOW)
    except WebhookError as refusal:
        assert 400 <= refusal.status < 500 and refusal.message
        return
    assert len(delivery.mentions) <= limits.MAX_MENTIONS_PER_DELIVERY
    for mention in delivery.mentions:
        assert limits.EARLIEST <= mention.created_at <= NOW + limits.CLOCK_SKEW
        assert len(mention.model_dump_json().encode()) <= limits.MAX_MENTION_BYTES
        if mention.author.followers is not None:
            assert 0 <= mention.author.followers <= limits.MAX_FOLLOWERS


@SETTINGS
@given(document=holes(X_TEMPLATE))
def test_x_deliveries(document):
    outcome(x, json.dumps(document).encode())


@SETTINGS
@given(document=st.one_of(holes(META_TEMPLATE), holes(INSTAGRAM_TEMPLATE)))
def test_meta_deliveries(document):
    outcome(meta, json.dumps(document).encode())


@SETTINGS
@given(document=holes(TRUSTPILOT_TEMPLATE))
def test_trustpilot_deliveries(document):
    outcome(trustpilot, json.dumps(document).encode())


@SETTINGS
@given(document=holes(generic_document(rating=4, url="https://e.example/r1", in_reply_to="r0", product="Lina")))
def test_generic_deliveries(document):
    outcome(generic, json.dumps(document).encode())


@SETTINGS
@given(
    published=st.one_of(st.text(max_size=40), st.sampled_from(["9999-12-31T23:59:59-14:00", "1714000000"])),
    title=st.text(max_size=60),
    declaration=st.one_of(
        st.just(""),
        st.sampled_from(
            ["x-foo", "utf-16", "utf-32", "latin-1", "ascii", "rot13", "utf-8-sig", "idna", "punycode"]
        ).map(lambda name: f'<?xml version="1.0" encoding="{name}"?>'),
    ),
)
def test_youtube_deliveries(published, title, declaration):
    body = youtube_body(published=escape(published), title=escape(title), declaration=declaration)
    outcome(youtube, body)


@SETTINGS
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_on_every_platform(body):
    for module in (x, meta, youtube, trustpilot, generic):
        outcome(module, body)
