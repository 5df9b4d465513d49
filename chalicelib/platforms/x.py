"""X (Twitter) Account Activity API webhooks on ``/webhooks/x``.

What X sends
- Challenge-Response Check: ``GET ?crc_token=T``, at registration and then about hourly; we answer
  ``{"response_token": "sha256=<base64 HMAC-SHA256(X_CONSUMER_SECRET, T)>"}``. A wrong answer disables the webhook.
  That answer is exactly the signature a delivery of body ``T`` carries, so only tokens of the shape X sends are
  answered (:func:`~chalicelib.platforms.base.require_token`: short, base64 characters): none of them is a JSON
  object, so no answer can be replayed as a delivery.
- Deliveries: ``POST`` with ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(X_CONSUMER_SECRET, raw body)>``.
  The body is one JSON object for one subscribed account: ``{"for_user_id": ..., "<kind>_events": [...]}`` with
  ``tweet_create_events`` (v1.1 tweet objects), ``tweet_delete_events``, ``direct_message_events`` (plus a ``users``
  map of the people involved), ``favorite_events``, ``follow_events``, ``block_events``, ... .

Choices
- Tweets → ``x`` mentions (replies: kind REPLY with ``parent_id``); deletions → REMOVED; direct messages → MESSAGE.
- Edits: X gives every edit a new post id and names the chain in ``edit_history`` (``initial_tweet_id``,
  ``edit_tweet_ids``; v2 objects: ``edit_history_tweet_ids``, oldest first). A post whose chain starts at another id
  is an EDITED event of the mention that first id made (its text, time and link are the edit's), so an edit is
  neither a second mention nor left behind when the original id is deleted. X deletes a whole chain when any of it
  is deleted; a deletion event names only one id, so it is the deletion naming the first id that removes the mention.
- Not mentions, counted as ignored: likes, follows, blocks, mutes, typing/read indicators, pure retweets (they add
  no words of their own), and anything authored by the subscribed account itself (``for_user_id``): those are the
  brand's own posts and answers, not what people say about it.
- v1.1 HTML-escapes ``&``, ``<`` and ``>`` in tweet text; we unescape so the text reads as the author wrote it.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Mention, MentionEvent, MentionKind
from chalicelib.platforms.base import (
    BadSignature,
    Delivery,
    HandshakeResponse,
    MalformedPayload,
    SecretLookup,
    WebhookRequest,
    as_id,
    as_text,
    first_datetime,
    hmac_b64,
    load_json_object,
    make_mention,
    require_token,
    secret_value,
    signatures_match,
    sub_object,
)

NAME = "x"
SECRET_NAMES = ("X_CONSUMER_SECRET",)

SIGNATURE_HEADER = "x-twitter-webhooks-signature"

_TWEET_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
_HANDLED = frozenset({"tweet_create_events", "tweet_delete_events", "direct_message_events"})


def _signature(consumer_secret: str, message: bytes) -> str:
    return "sha256=" + hmac_b64(consumer_secret, message, "sha256")


def handshake(request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse:
    crc_token = require_token(request, "crc_token")
    response_token = _signature(secret_value(secret, "X_CONSUMER_SECRET"), crc_token.encode())
    return HandshakeResponse(body=json.dumps({"response_token": response_token}), content_type="application/json")


def verify(request: WebhookRequest, secret: SecretLookup, now: datetime) -> None:
    given = request.header(SIGNATURE_HEADER)
    if given is None:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header")
    if not signatures_match(_signature(secret_value(secret, "X_CONSUMER_SECRET"), request.raw_body), given):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body")


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    return {SIGNATURE_HEADER: _signature(secret_value(secret, "X_CONSUMER_SECRET"), raw_body)}


# --- Parsing -------------------------------------------------------------------------------------


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    payload = load_json_object(request.raw_body)
    event_keys = [key for key in payload if key.endswith("_events") or key == "user_event"]
    if "for_user_id" not in payload and not event_keys:
        raise MalformedPayload("not an Account Activity event: no for_user_id and no *_events list")
    owner = as_id(payload.get("for_user_id"))
    delivery = Delivery(received_at)
    for index, tweet in enumerate(_event_list(payload, "tweet_create_events")):
        where = f"tweet_create_events[{index}]"
        delivery.add(_tweet(tweet, where, owner, received_at), where)
    for index, deletion in enumerate(_event_list(payload, "tweet_delete_events")):
        where = f"tweet_delete_events[{index}]"
        delivery.add(_deletion(deletion, where, owner, received_at), where)
    users = sub_object(payload, "users")
    for index, message in enumerate(_event_list(payload, "direct_message_events")):
        where = f"direct_message_events[{index}]"
        delivery.add(_direct_message(message, where, owner, users, received_at), where)
    for key in event_keys:
        if key not in _HANDLED:  # favorites, follows, blocks, mutes, typing, read receipts, revokes ...
            value = payload[key]
            delivery.ignored_events += len(value) if isinstance(value, list) else 1
    return delivery


def _event_list(payload: dict[str, Any], key: str) -> list[Any]:
    value = payload.get(key, [])
    if not isinstance(value, list):
        raise MalformedPayload(f"{key} must be a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be an object")
    return value


def _id_of(obj: dict[str, Any]) -> str | None:
    """v1.1 objects carry ``id_str`` because ``id`` overflows JavaScript numbers; prefer it."""
    return as_id(obj.get("id_str")) or as_id(obj.get("id"))


def _tweet(tweet: Any, where: str, owner: str | None, received_at: datetime) -> Mention | None:
    tweet = _object(tweet, where)
    tweet_id = _id_of(tweet)
    if tweet_id is None:
        raise MalformedPayload(f"{where}.id_str is missing")
    user = sub_object(tweet, "user")
    author = _author(user)
    if (owner and author["id"] == owner) or isinstance(tweet.get("retweeted_status"), dict):
        return None
    reply_to = as_id(tweet.get("in_reply_to_status_id_str")) or as_id(tweet.get("in_reply_to_status_id"))
    quoted = sub_object(tweet, "quoted_status")
    quoted_id = as_id(tweet.get("quoted_status_id_str")) or _id_of(quoted)
    initial_id = _initial_id(tweet)
    edited = initial_id is not None and initial_id != tweet_id
    return make_mention(
        where,
        platform="x",
        # An edit is a new post id; the mention stays the one its first version made (and the link shows this one).
        external_id=initial_id if edited else tweet_id,
        event=MentionEvent.EDITED if edited else MentionEvent.CREATED,
        kind=MentionKind.REPLY if reply_to else MentionKind.POST,
        author=author,
        text=html.unescape(_tweet_text(tweet)),
        url=_tweet_url(author["handle"], tweet_id),
        created_at=_tweet_time(tweet, received_at),
        # A quote tweet answers the quoted one just as a reply answers its parent.
        parent_id=reply_to or quoted_id,
    )


def _initial_id(tweet: dict[str, Any]) -> str | None:
    """The first id of the post's edit chain (oldest first): ``edit_history.initial_tweet_id``, else the first of its
    ``edit_tweet_ids``, in v1.1 objects; the first of ``edit_history_tweet_ids`` in v2 ones. None without them (read
    leniently, like every optional object: a malformed history leaves the post as its own mention)."""
    history = sub_object(tweet, "edit_history")
    initial = as_id(history.get("initial_tweet_id"))
    if initial is not None:
        return initial
    chain = history.get("edit_tweet_ids", tweet.get("edit_history_tweet_ids"))
    return as_id(chain[0]) if isinstance(chain, list) and chain else None


def _tweet_text(tweet: dict[str, Any]) -> str:
    """Tweets over 140 characters keep the full text in ``extended_tweet``; ``text`` is then truncated."""
    extended = sub_object(tweet, "extended_tweet")
    return as_text(extended.get("full_text")) or as_text(tweet.get("full_text")) or as_text(tweet.get("text"))


def _tweet_time(tweet: dict[str, Any], received_at: datetime) -> datetime:
    created = tweet.get("created_at")
    if isinstance(created, str):
        try:
            return datetime.strptime(created, _TWEET_TIME_FORMAT)
        except ValueError:
            pass  # fall back to the other clocks below
    return first_datetime(tweet.get("timestamp_ms"), created, default=received_at)


def _tweet_url(handle: str | None, tweet_id: str) -> str:
    return f"https://x.com/{handle}/status/{tweet_id}" if handle else f"https://x.com/i/web/status/{tweet_id}"


def _author(user: dict[str, Any]) -> dict[str, Any]:
    """The author's fields; :func:`make_mention` validates them, so an out-of-bounds one is a 400 naming it."""
    followers = user.get("followers_count")
    verified = user.get("verified")
    return {
        "id": _id_of(user),
        "handle": as_text(user.get("screen_name")) or None,
        "name": as_text(user.get("name")) or None,
        "followers": followers
        if isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0
        else None,
        "verified": verified if isinstance(verified, bool) else None,
    }


def _deletion(deletion: Any, where: str, owner: str | None, received_at: datetime) -> Mention | None:
    """``{"status": {"id": ..., "user_id": ...}, "timestamp_ms": ...}``: the tweet is gone, only ids remain."""
    deletion = _object(deletion, where)
    status = _object(deletion.get("status"), f"{where}.status")
    tweet_id = _id_of(status)
    if tweet_id is None:
        raise MalformedPayload(f"{where}.status.id is missing")
    user_id = as_id(status.get("user_id_str")) or as_id(status.get("user_id"))
    if owner and user_id == owner:
        return None  # the brand deleting its own tweet: we never stored it
    return make_mention(
        where,
        platform="x",
        external_id=tweet_id,
        event=MentionEvent.REMOVED,
        author={"id": user_id},
        created_at=first_datetime(deletion.get("timestamp_ms"), default=received_at),
    )


def _direct_message(
    message: Any, where: str, owner: str | None, users: dict[str, Any], received_at: datetime
) -> Mention | None:
    """``{"type": "message_create", "id", "created_timestamp", "message_create": {"sender_id", "message_data"}}``."""
    message = _object(message, where)
    if message.get("type") != "message_create":
        return None
    message_id = as_id(message.get("id"))
    if message_id is None:
        raise MalformedPayload(f"{where}.id is missing")
    create = _object(message.get("message_create"), f"{where}.message_create")
    sender_id = as_id(create.get("sender_id"))
    if owner and sender_id == owner:
        return None  # the brand's own outgoing message
    data = sub_object(create, "message_data")
    # The ``users`` map beside the events holds each participant's profile; fall back to the bare id.
    profile = sub_object(users, sender_id) if sender_id else {}
    return make_mention(
        where,
        platform="x",
        external_id=message_id,
        kind=MentionKind.MESSAGE,
        author=_author(profile or {"id_str": sender_id}),
        text=html.unescape(as_text(data.get("text"))),
        created_at=first_datetime(message.get("created_timestamp"), default=received_at),
        thread_id=sender_id,  # a DM conversation is identified by the other participant
    )
