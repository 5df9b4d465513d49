"""YouTube push notifications (WebSub / PubSubHubbub) on ``/webhooks/youtube``.

What the hub (``pubsubhubbub.appspot.com``) sends
- Verification of intent: ``GET ?hub.mode=subscribe|unsubscribe&hub.topic=<channel feed>&hub.challenge=C
  [&hub.lease_seconds=N]``; we answer ``C``. A ``hub.mode=denied`` notice carries no challenge and is just
  acknowledged.
- Notifications: ``POST`` of an Atom feed with ``X-Hub-Signature: sha1=<hex HMAC-SHA1(YOUTUBE_HUB_SECRET, body)>``
  (the ``hub.secret`` we gave when subscribing). One ``<entry>`` per uploaded video or title/description change;
  ``<at:deleted-entry ref="yt:video:ID" when="...">`` when a video is deleted.

Choices
- ``hub.verify_token`` is not checked: WebSub 0.4 dropped it and YouTube's hub only echoes it back if the
  subscriber set one, so there is nothing derived from ``YOUTUBE_HUB_SECRET`` to compare it with. Authenticity of
  content rests on the HMAC of every POST; the echo only confirms a subscription someone asked the hub for. The
  residual risk is a third party asking the hub to unsubscribe us; renewing the lease re-subscribes.
- Upload and metadata change look the same on the wire, so every entry is CREATED; ``youtube`` + video id is the
  mention's identity, so a change re-delivers (and refreshes) the same mention instead of creating another.
- XML is parsed with defusedxml and DTDs are refused outright: no external entities, no entity expansion bombs.
  An encoding the parser does not know is a 400, like any other malformed body.
- The challenge is echoed only when token-shaped (:func:`~chalicelib.platforms.base.require_token`): the echo is
  unauthenticated, so it must not serve caller-chosen markup or bodies.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import datetime

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from chalicelib.domain.models import Mention, MentionEvent, MentionKind
from chalicelib.platforms.base import (
    BadSignature,
    Delivery,
    HandshakeResponse,
    MalformedPayload,
    SecretLookup,
    WebhookRequest,
    first_datetime,
    hmac_hex,
    hub_signature_matches,
    make_mention,
    require_token,
    secret_value,
)

NAME = "youtube"
SECRET_NAMES = ("YOUTUBE_HUB_SECRET",)

SIGNATURE_HEADER = "X-Hub-Signature"
# WebSub lets a hub pick any of these; YouTube's hub uses sha1.
_SIGNATURE_METHODS = frozenset({"sha1", "sha256", "sha384", "sha512"})

_ATOM = "{http://www.w3.org/2005/Atom}"
_YT = "{http://www.youtube.com/xml/schemas/2015}"
_TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}"
_VIDEO_REF_PREFIX = "yt:video:"


def handshake(request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse:
    """Echo ``hub.challenge`` (the contract). The hub sends ``hub.mode`` and ``hub.topic`` with it; they are checked
    when present and not required (the challenge is token-shaped, so an echo is no oracle: ``require_token``)."""
    mode = request.query.get("hub.mode")
    if mode == "denied":
        return HandshakeResponse(body="")  # the hub refused our subscription: nothing to prove, just acknowledge
    if mode is not None and mode not in ("subscribe", "unsubscribe"):
        raise MalformedPayload("hub.mode must be subscribe, unsubscribe or denied")
    return HandshakeResponse(body=require_token(request, "hub.challenge"))


def verify(request: WebhookRequest, secret: SecretLookup, now: datetime) -> None:
    given = request.header(SIGNATURE_HEADER)
    if given is None:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header")
    hub_secret = secret_value(secret, "YOUTUBE_HUB_SECRET")
    if not hub_signature_matches(given, hub_secret, request.raw_body, _SIGNATURE_METHODS):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body")


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    return {SIGNATURE_HEADER: "sha1=" + hmac_hex(secret_value(secret, "YOUTUBE_HUB_SECRET"), raw_body, "sha1")}


# --- Parsing -------------------------------------------------------------------------------------


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    feed = _parse_xml(request.raw_body)
    if feed.tag != f"{_ATOM}feed":
        raise MalformedPayload("body is not an Atom <feed>")
    delivery = Delivery(received_at)
    for index, entry in enumerate(feed.findall(f"{_ATOM}entry")):
        delivery.add(_video(entry, f"entry[{index}]", received_at), f"entry[{index}]")
    for index, tombstone in enumerate(feed.findall(f"{_TOMBSTONE}deleted-entry")):
        delivery.add(_deleted_video(tombstone, f"deleted-entry[{index}]", received_at), f"deleted-entry[{index}]")
    return delivery


def _parse_xml(raw_body: bytes) -> ElementTree.Element:
    if not raw_body.strip():
        raise MalformedPayload("body is empty; expected Atom XML")
    try:
        root: ElementTree.Element = SafeElementTree.fromstring(raw_body, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedPayload("body is refused: XML DTDs and entities are not accepted") from None
    except ElementTree.ParseError as exc:
        raise MalformedPayload(f"body is not well-formed XML: {exc}") from None
    except LookupError:  # <?xml encoding="x-foo"?>: a codec Python does not have
        raise MalformedPayload("body is in an unknown character encoding") from None
    except (ValueError, RecursionError):
        raise MalformedPayload("body is not well-formed XML") from None
    return root


def _text(parent: ElementTree.Element, tag: str) -> str | None:
    node = parent.find(tag)
    value = (node.text or "").strip() if node is not None else ""
    return value or None


def _channel_id(uri: str | None) -> str | None:
    """``https://www.youtube.com/channel/<ID>`` → ``<ID>``."""
    if uri and "/channel/" in uri:
        return uri.rsplit("/channel/", 1)[1].strip("/") or None
    return None


def _video(entry: ElementTree.Element, where: str, received_at: datetime) -> Mention:
    video_id = _text(entry, f"{_YT}videoId") or _strip_ref(_text(entry, f"{_ATOM}id"))
    if video_id is None:
        raise MalformedPayload(f"{where} has no yt:videoId")
    author = entry.find(f"{_ATOM}author")
    author_uri = _text(author, f"{_ATOM}uri") if author is not None else None
    title = _text(entry, f"{_ATOM}title")
    link = entry.find(f"{_ATOM}link[@rel='alternate']")
    return make_mention(
        where,
        platform="youtube",
        external_id=video_id,
        kind=MentionKind.VIDEO,
        author={
            "id": _text(entry, f"{_YT}channelId") or _channel_id(author_uri),
            "name": _text(author, f"{_ATOM}name") if author is not None else None,
        },
        text=title or "",  # the feed has no description; the title is all the words there are
        title=title,
        url=(link.get("href") if link is not None else None) or f"https://www.youtube.com/watch?v={video_id}",
        created_at=first_datetime(
            _text(entry, f"{_ATOM}published"), _text(entry, f"{_ATOM}updated"), default=received_at
        ),
    )


def _strip_ref(ref: str | None) -> str | None:
    if ref and ref.startswith(_VIDEO_REF_PREFIX):
        return ref[len(_VIDEO_REF_PREFIX) :] or None
    return None


def _deleted_video(tombstone: ElementTree.Element, where: str, received_at: datetime) -> Mention:
    """``<at:deleted-entry ref="yt:video:ID" when="..."><at:by><name/><uri/></at:by></at:deleted-entry>``."""
    video_id = _strip_ref(tombstone.get("ref"))
    if video_id is None:
        raise MalformedPayload(f'{where} has no ref="yt:video:..."')
    by = tombstone.find(f"{_TOMBSTONE}by")
    return make_mention(
        where,
        platform="youtube",
        external_id=video_id,
        event=MentionEvent.REMOVED,
        kind=MentionKind.VIDEO,
        author={
            "id": _channel_id(_text(by, f"{_ATOM}uri")) if by is not None else None,
            "name": _text(by, f"{_ATOM}name") if by is not None else None,
        },
        url=f"https://www.youtube.com/watch?v={video_id}",
        created_at=first_datetime(tombstone.get("when"), default=received_at),
    )
