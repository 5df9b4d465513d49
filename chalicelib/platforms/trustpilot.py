"""Trustpilot review webhooks on ``/webhooks/trustpilot`` (POST only).

What Trustpilot sends
- ``POST`` of ``{"events": [{"eventName": "service-review-created", "version": "1", "eventData": {...}}]}`` where
  ``eventData`` is the review: ``id``, ``stars``, ``title``, ``text``, ``createdAt``, ``consumer {id, name, link}``,
  ``link`` (an API URL), ``language``, ``tags``... (consumer e-mails are never included).
- Trustpilot signs nothing: a webhook is configured as just a URL in the business account.

Authentication (our choice)
- HTTP Basic auth carried in that URL (``https://trustpilot:<secret>@host/webhooks/trustpilot``), which clients send
  as ``Authorization: Basic base64(user:secret)``. The user name is free; the password must equal
  ``TRUSTPILOT_WEBHOOK_SECRET`` (constant-time comparison). TLS keeps it secret in transit. It does not bind the
  body the way an HMAC would, so it is only as strong as the URL is private; rotate the secret if it leaks.
- Missing, non-Basic, undecodable or wrong credentials → 401.

Mapping
- ``service-review-created`` / ``-updated`` / ``-deleted`` → CREATED / EDITED / REMOVED review mentions (rating =
  stars). Other event names (product reviews, replies, invitations ...) are acknowledged as ignored events.
- ``url`` is the public review page built from the id: the ``link`` Trustpilot sends points at its API, which needs
  an API key, so it is useless to a person following the link.
"""

from __future__ import annotations

import base64
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
    load_json_object,
    make_mention,
    no_handshake,
    secret_value,
    signatures_match,
    sub_object,
)

NAME = "trustpilot"
SECRET_NAMES = ("TRUSTPILOT_WEBHOOK_SECRET",)

AUTH_HEADER = "Authorization"
DEFAULT_USER = "trustpilot"

_EVENTS = {
    "service-review-created": MentionEvent.CREATED,
    "service-review-updated": MentionEvent.EDITED,
    "service-review-deleted": MentionEvent.REMOVED,
}


def handshake(request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse:
    no_handshake(NAME)


def verify(request: WebhookRequest, secret: SecretLookup, now: datetime) -> None:
    password = _basic_password(request.header(AUTH_HEADER))
    if not signatures_match(secret_value(secret, "TRUSTPILOT_WEBHOOK_SECRET"), password):
        raise BadSignature("Basic credentials are not valid")


def _basic_password(header: str | None) -> str:
    if not header:
        raise BadSignature(f"missing {AUTH_HEADER} header")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise BadSignature(f"{AUTH_HEADER} must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII characters in the header
        raise BadSignature("Basic credentials cannot be decoded") from None
    _user, separator, password = decoded.partition(":")
    if not separator:
        raise BadSignature("Basic credentials must be user:password")
    return password


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    credentials = f"{DEFAULT_USER}:{secret_value(secret, 'TRUSTPILOT_WEBHOOK_SECRET')}".encode()
    return {AUTH_HEADER: "Basic " + base64.b64encode(credentials).decode()}


# --- Parsing -------------------------------------------------------------------------------------


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    payload = load_json_object(request.raw_body)
    events = payload.get("events")
    if not isinstance(events, list):
        raise MalformedPayload("events must be a list")
    delivery = Delivery(received_at)
    for index, event in enumerate(events):
        delivery.add(_review(event, f"events[{index}]", received_at), f"events[{index}]")
    return delivery


def _review(event: Any, where: str, received_at: datetime) -> Mention | None:
    if not isinstance(event, dict):
        raise MalformedPayload(f"{where} must be an object")
    name = event.get("eventName")
    if not isinstance(name, str) or not name:
        raise MalformedPayload(f"{where}.eventName is missing")
    happened = _EVENTS.get(name)
    if happened is None:
        return None
    data = event.get("eventData")
    if not isinstance(data, dict):
        raise MalformedPayload(f"{where}.eventData must be an object")
    review_id = as_id(data.get("id"))
    if review_id is None:
        raise MalformedPayload(f"{where}.eventData.id is missing")
    consumer = sub_object(data, "consumer")
    stars = data.get("stars")
    return make_mention(
        f"{where}.eventData",
        platform="trustpilot",
        external_id=review_id,
        event=happened,
        kind=MentionKind.REVIEW,
        author={"id": as_id(consumer.get("id")), "name": as_text(consumer.get("name")) or None},
        text=as_text(data.get("text")),
        title=as_text(data.get("title")) or None,
        # The number as sent: the model refuses what is out of range (10**400 included) with a 400 naming it.
        rating=stars if isinstance(stars, (int, float)) and not isinstance(stars, bool) else None,
        url=f"https://www.trustpilot.com/reviews/{review_id}",
        created_at=first_datetime(data.get("createdAt"), data.get("updatedAt"), default=received_at),
    )
