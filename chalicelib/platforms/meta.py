"""Meta webhooks: Facebook Pages, Instagram and Messenger, all on ``/webhooks/meta``.

What Meta sends
- Subscription handshake: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``; we echo the challenge
  (a number) when the token equals ``META_VERIFY_TOKEN``, and only when it is token-shaped (no markup, no JSON).
- Deliveries: ``POST`` with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(META_APP_SECRET, raw body)>`` (and the
  legacy ``X-Hub-Signature: sha1=...``). The body is ``{"object": "page"|"instagram", "entry": [...]}``; each entry
  carries ``changes`` (``field`` = feed, mention, ratings, comments, mentions, live_comments, ...) or ``messaging``
  (Messenger / Instagram Direct). Meta batches: one delivery may hold many entries and many changes.

Choices
- Lenient with what we have not seen (an unknown ``object`` or ``field``, reactions, page-settings changes such as
  ``parking``): acknowledged and counted in ``ignored_events`` so Meta does not retry them forever.
- Strict with what is broken (not JSON, no ``entry`` list, a content item without its id): 400 naming the path, so
  the problem is visible instead of silently dropping mentions.
- Platforms: page feed/mention/ratings → ``facebook``; page messaging → ``messenger``; anything under
  ``object: instagram`` → ``instagram``.
- The brand's own words are not mentions. Meta sends the Page's own posts and comments on its feed (our published
  replies, survey lines) with the Page as author: ``from.id``/``sender_id`` equal to the entry's ``id`` (the Page
  id). Likewise an Instagram comment whose ``from.id`` is the entry's ``id`` (the brand's Instagram account). Their
  creations and edits are counted as ignored events, as X drops the subscribed account's own posts
  (``for_user_id``) and Messenger its echoes; a removal or hide is still passed on (it changes nothing we never
  stored, and its ``from`` need not be the item's author).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Mention, MentionEvent, MentionKind
from chalicelib.platforms.base import (
    BadSignature,
    BadVerifyToken,
    Delivery,
    HandshakeResponse,
    MalformedPayload,
    SecretLookup,
    WebhookRequest,
    as_id,
    as_text,
    first_datetime,
    hmac_hex,
    hub_signature_matches,
    load_json_object,
    make_mention,
    require_query,
    require_token,
    secret_value,
    signatures_match,
    sub_object,
)

NAME = "meta"
SECRET_NAMES = ("META_APP_SECRET", "META_VERIFY_TOKEN")

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"

_VERBS = {
    "add": MentionEvent.CREATED,
    "edited": MentionEvent.EDITED,
    "remove": MentionEvent.REMOVED,
    "hide": MentionEvent.HIDDEN,
    # Visible again: the stored copy must stop being "hidden", and an edit is the update that carries that.
    "unhide": MentionEvent.EDITED,
}

_ITEM_KINDS = {
    "comment": MentionKind.COMMENT,
    "post": MentionKind.POST,
    "status": MentionKind.POST,
    "photo": MentionKind.POST,
    "video": MentionKind.POST,
    "share": MentionKind.POST,
    "rating": MentionKind.REVIEW,
}
"""Content items. Everything else (reaction, like, event, ...) is an ignored event."""

_ChangeHandler = Callable[[dict[str, Any], str, datetime, str | None], Mention | None]
"""``(value, where in the payload, default time, the entry's id: the Page or Instagram account it is about)``."""

_OWN_CONTENT_VERBS = frozenset({"add", "edited"})
"""Verbs whose ``from`` is the item's author: when that is the Page itself, the item is the brand's own."""

_PAGE_CONTENT_FIELDS = frozenset({"feed", "mention", "ratings"})
_INSTAGRAM_COMMENT_FIELDS = frozenset({"comments", "live_comments"})


# --- Handshake and signature ---------------------------------------------------------------------


def handshake(request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse:
    # The verify token first: a missing or wrong one is a 403 whatever else the request lacks (the contract's "bad
    # verify token"), so nothing about the endpoint is told to a caller who does not hold it.
    token = request.query.get("hub.verify_token") or ""
    expected = secret("META_VERIFY_TOKEN")
    # An unset META_VERIFY_TOKEN is "" and never matches, nor does an empty token.
    if not token or not expected or not signatures_match(expected, token):
        raise BadVerifyToken("hub.verify_token is missing or does not match")
    (mode,) = require_query(request, "hub.mode")
    challenge = require_token(request, "hub.challenge")
    if mode != "subscribe":
        raise MalformedPayload("hub.mode must be subscribe")
    return HandshakeResponse(body=challenge)


def verify(request: WebhookRequest, secret: SecretLookup, now: datetime) -> None:
    app_secret = secret_value(secret, "META_APP_SECRET")
    body = request.raw_body
    sha256 = request.header(SIGNATURE_HEADER)
    if sha256 is not None:
        # When the SHA-256 header is there it alone decides: no falling back to the weaker SHA-1 one.
        if not hub_signature_matches(sha256, app_secret, body, frozenset({"sha256"})):
            raise BadSignature(f"{SIGNATURE_HEADER} does not match the body")
        return
    # Meta still sends the legacy SHA-1 header beside the SHA-256 one, and the only signed delivery Meta's SDKs
    # publish (messenger4j's) carries just the SHA-1 form; accepting it keeps those genuine deliveries working.
    # HMAC-SHA1 remains unforgeable without the app secret (SHA-1 collisions do not break HMAC).
    legacy = request.header(LEGACY_SIGNATURE_HEADER)
    if legacy is None:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header")
    if not hub_signature_matches(legacy, app_secret, body, frozenset({"sha1"})):
        raise BadSignature(f"{LEGACY_SIGNATURE_HEADER} does not match the body")


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    app_secret = secret_value(secret, "META_APP_SECRET")
    return {
        SIGNATURE_HEADER: "sha256=" + hmac_hex(app_secret, raw_body, "sha256"),
        LEGACY_SIGNATURE_HEADER: "sha1=" + hmac_hex(app_secret, raw_body, "sha1"),
    }


# --- Parsing -------------------------------------------------------------------------------------


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    payload = load_json_object(request.raw_body)
    obj = payload.get("object")
    if not isinstance(obj, str) or not obj:
        raise MalformedPayload('object must be a string such as "page" or "instagram"')
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry must be a list")
    delivery = Delivery(received_at)
    for index, entry in enumerate(entries):
        _parse_entry(obj, entry, f"entry[{index}]", received_at, delivery)
    return delivery


def _parse_entry(obj: str, entry: Any, where: str, received_at: datetime, delivery: Delivery) -> None:
    if not isinstance(entry, dict):
        raise MalformedPayload(f"{where} must be an object")
    changes = _optional_list(entry, "changes", where)
    messaging = _optional_list(entry, "messaging", where)
    if changes is None and messaging is None:
        delivery.ignored_events += 1  # e.g. Messenger "standby" (handover protocol): nothing for us
        return
    default_time = first_datetime(entry.get("time"), default=received_at)
    owner_id = as_id(entry.get("id"))  # the Page (object page) or Instagram account (object instagram)
    for index, change in enumerate(changes or []):
        change_where = f"{where}.changes[{index}]"
        delivery.add(_parse_change(obj, change, change_where, default_time, owner_id), change_where)
    for index, event in enumerate(messaging or []):
        event_where = f"{where}.messaging[{index}]"
        delivery.add(_parse_messaging(obj, event, event_where, default_time), event_where)


def _optional_list(container: dict[str, Any], key: str, where: str) -> list[Any] | None:
    value = container.get(key)
    if value is not None and not isinstance(value, list):
        raise MalformedPayload(f"{where}.{key} must be a list")
    return value


def _parse_change(
    obj: str, change: Any, where: str, default_time: datetime, owner_id: str | None = None
) -> Mention | None:
    if not isinstance(change, dict):
        raise MalformedPayload(f"{where} must be an object")
    field = change.get("field")
    if not isinstance(field, str) or not field:
        raise MalformedPayload(f"{where}.field is missing")
    handler = _change_handler(obj, field)
    if handler is None:
        return None
    value = change.get("value")
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}.value must be an object for field {field}")
    return handler(value, f"{where}.value", default_time, owner_id)


def _change_handler(obj: str, field: str) -> _ChangeHandler | None:
    if obj == "page" and field in _PAGE_CONTENT_FIELDS:
        return _page_item
    if obj == "instagram" and field in _INSTAGRAM_COMMENT_FIELDS:
        return _instagram_comment
    if obj == "instagram" and field == "mentions":
        return _instagram_mention
    return None


def _page_item(value: dict[str, Any], where: str, default_time: datetime, page_id: str | None) -> Mention | None:
    """A feed, mention or ratings change: ``{"item": ..., "verb": ..., ids, message, from/sender_*}``."""
    item = as_text(value.get("item"))
    kind = _ITEM_KINDS.get(item)
    verb = as_text(value.get("verb"))
    event = _VERBS.get(verb)
    if kind is None or event is None:
        return None  # reactions, likes, unknown verbs: not content
    author = _page_author(value)
    if page_id and author["id"] == page_id and verb in _OWN_CONTENT_VERBS:
        return None  # the Page's own post or comment (our reply, a survey line): not a mention of the brand
    post_id = as_id(value.get("post_id"))
    id_key = _id_key(item, kind)
    external_id = as_id(value.get(id_key))
    if external_id is None:
        raise MalformedPayload(f"{where}.{id_key} is missing for a {item}")
    parent_id = None
    if kind is MentionKind.COMMENT:
        parent_id = as_id(value.get("parent_id")) or as_id(value.get("open_graph_story_id")) or post_id
        # A comment whose parent is another comment (not the post) is a reply in a thread.
        if parent_id and post_id and parent_id != post_id:
            kind = MentionKind.REPLY
    return make_mention(
        where,
        platform="facebook",
        external_id=external_id,
        event=event,
        kind=kind,
        author=author,
        text=as_text(value.get("message")) or as_text(value.get("review_text")),
        rating=_rating(value.get("rating")),
        url=f"https://www.facebook.com/{post_id}" if post_id else None,
        created_at=first_datetime(value.get("created_time"), default=default_time),
        parent_id=parent_id,
        thread_id=post_id,
    )


def _id_key(item: str, kind: MentionKind) -> str:
    if kind is MentionKind.COMMENT:
        return "comment_id"
    if item == "rating":
        return "open_graph_story_id"  # a page review has no post id; its story id is its identity
    return "post_id"


def _page_author(value: dict[str, Any]) -> dict[str, Any]:
    """Meta names the author ``from``, ``sender_id``/``sender_name`` or ``reviewer_id``/``reviewer_name``."""
    sender = sub_object(value, "from")
    return {
        "id": as_id(sender.get("id")) or as_id(value.get("sender_id")) or as_id(value.get("reviewer_id")),
        "name": as_text(sender.get("name"))
        or as_text(value.get("sender_name"))
        or as_text(value.get("reviewer_name"))
        or None,
    }


def _rating(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 10:
        return float(value)
    return None  # Meta's newer "recommendations" carry only POSITIVE/NEGATIVE: no star rating to report


def _instagram_comment(
    value: dict[str, Any], where: str, default_time: datetime, account_id: str | None
) -> Mention | None:
    """``comments`` / ``live_comments``: ``{"id", "text", "from": {"id", "username"}, "media": {"id"}, "parent_id"?}``.

    ``parent_id`` is only present when the comment answers another comment. A comment from the account itself
    (``from.id`` is the entry's id) is the brand's own reply: ignored.
    """
    external_id = as_id(value.get("id"))
    if external_id is None:
        raise MalformedPayload(f"{where}.id is missing")
    sender = sub_object(value, "from")
    if account_id and as_id(sender.get("id")) == account_id:
        return None
    media = sub_object(value, "media")
    parent_id = as_id(value.get("parent_id"))
    media_id = as_id(media.get("id"))
    return make_mention(
        where,
        platform="instagram",
        external_id=external_id,
        kind=MentionKind.REPLY if parent_id else MentionKind.COMMENT,
        author={"id": as_id(sender.get("id")), "handle": as_text(sender.get("username")) or None},
        text=as_text(value.get("text")),
        created_at=default_time,  # Instagram sends no per-comment timestamp; the entry time is the best we have
        parent_id=parent_id or media_id,
        thread_id=media_id,
    )


def _instagram_mention(
    value: dict[str, Any], where: str, default_time: datetime, account_id: str | None = None
) -> Mention:
    """``mentions``: only ids (``comment_id`` and/or ``media_id``), no words: with Instagram switched on, the
    processor reads them from the Graph API before triage (``adapters.publishers.instagram.InstagramMentionReader``)."""
    comment_id = as_id(value.get("comment_id"))
    media_id = as_id(value.get("media_id"))
    external_id = comment_id or media_id
    if external_id is None:
        raise MalformedPayload(f"{where} has neither comment_id nor media_id")
    return make_mention(
        where,
        platform="instagram",
        external_id=external_id,
        kind=MentionKind.MENTION,
        text="",
        created_at=default_time,
        # A comment's mention hangs off its media; a caption's mention is the media itself (the reader of its words,
        # ``adapters.publishers.instagram``, tells them apart by this).
        parent_id=media_id if comment_id else None,
        thread_id=media_id,
    )


def _parse_messaging(obj: str, event: Any, where: str, default_time: datetime) -> Mention | None:
    """A Messenger / Instagram Direct event; only incoming messages (new, edited, unsent) are mentions."""
    if not isinstance(event, dict):
        raise MalformedPayload(f"{where} must be an object")
    message = event.get("message")
    edit = event.get("message_edit")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # our own page's outgoing message, echoed back
        body, key = message, "message"
        happened = MentionEvent.REMOVED if message.get("is_deleted") else MentionEvent.CREATED
    elif isinstance(edit, dict):
        body, key, happened = edit, "message_edit", MentionEvent.EDITED
    else:
        return None  # delivery/read receipts, postbacks, reactions, opt-ins ...
    mid = as_id(body.get("mid"))
    if mid is None:
        raise MalformedPayload(f"{where}.{key}.mid is missing")
    sender = sub_object(event, "sender")
    sender_id = as_id(sender.get("id"))
    reply_to = sub_object(body, "reply_to")
    return make_mention(
        where,
        platform="instagram" if obj == "instagram" else "messenger",
        external_id=mid,
        event=happened,
        kind=MentionKind.MESSAGE,
        author={"id": sender_id},
        text=as_text(body.get("text")),
        created_at=first_datetime(event.get("timestamp"), default=default_time),
        parent_id=as_id(reply_to.get("mid")),
        # Webhooks carry no conversation id; the sender's page-scoped id identifies the conversation.
        thread_id=sender_id,
    )
