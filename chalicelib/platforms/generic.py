"""The generic webhook on ``/webhooks/generic``, for any source without a module of its own (POST only).

What a sender must send (CONTRACTS.md, "Webhook routes")
- ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(GENERIC_WEBHOOK_SECRET, "<t>." + raw body)>``. Signing the
  timestamp with the body and refusing ``t`` more than 300 s from now bounds replays of a captured request.
  Several ``v1=`` values may be given (e.g. while rotating secrets); one matching is enough.
- One JSON object: ``{"platform", "id", "created_at" (ISO-8601), "text", "author": {"id", "handle", "name",
  "followers", "verified"}, "url"?, "rating"?, "in_reply_to"?, "product"?}``. Unknown fields are ignored so
  senders can add their own; known fields are type-checked and a 400 names each bad field.

Mapping: ``in_reply_to`` → ``parent_id``; kind is REVIEW when a ``rating`` is given, else REPLY when ``in_reply_to`` is,
else POST.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.models import Author, MentionKind
from chalicelib.platforms.base import (
    MAX_TEXT,
    BadSignature,
    Delivery,
    HandshakeResponse,
    MalformedPayload,
    SecretLookup,
    WebhookRequest,
    describe_validation_error,
    hmac_hex,
    load_json_object,
    make_mention,
    no_handshake,
    secret_value,
)

NAME = "generic"
SECRET_NAMES = ("GENERIC_WEBHOOK_SECRET",)

SIGNATURE_HEADER = "X-Signature"
TOLERANCE_SECONDS = 300


class GenericAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool | None = None


class GenericMention(BaseModel):
    """The contract body. Limits mirror :class:`~chalicelib.domain.models.Mention` so errors name the sender's field."""

    model_config = ConfigDict(extra="ignore")

    platform: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")
    id: str = Field(min_length=1, max_length=200)
    created_at: datetime
    text: str = Field(max_length=MAX_TEXT)
    author: GenericAuthor
    url: str | None = None
    rating: float | None = Field(default=None, ge=0, le=10)
    in_reply_to: str | None = None
    product: str | None = None


def handshake(request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse:
    no_handshake(NAME)


def _signed_payload(timestamp: str, raw_body: bytes) -> bytes:
    return timestamp.encode() + b"." + raw_body


def verify(request: WebhookRequest, secret: SecretLookup, now: datetime) -> None:
    header = request.header(SIGNATURE_HEADER)
    if not header:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header")
    timestamp, signatures = _parse_signature_header(header)
    if abs(now.timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
        raise BadSignature(f"{SIGNATURE_HEADER} timestamp is more than {TOLERANCE_SECONDS} s from now")
    expected = hmac_hex(secret_value(secret, "GENERIC_WEBHOOK_SECRET"), _signed_payload(timestamp, request.raw_body))
    # Compare against every candidate without stopping early, so timing does not reveal which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.lower().encode())
    if not matched:
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body")


def _parse_signature_header(header: str) -> tuple[str, list[str]]:
    """``t=1700000000,v1=ab12...`` → (``"1700000000"``, [``"ab12..."``])."""
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value.strip()
        elif key == "v1" and value.strip():
            signatures.append(value.strip())
    if timestamp is None or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature(f"{SIGNATURE_HEADER} must carry t=<unix seconds>")
    if not signatures:
        raise BadSignature(f"{SIGNATURE_HEADER} must carry v1=<hex signature>")
    return timestamp, signatures


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    signature = hmac_hex(secret_value(secret, "GENERIC_WEBHOOK_SECRET"), _signed_payload(timestamp, raw_body))
    return {SIGNATURE_HEADER: f"t={timestamp},v1={signature}"}


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    payload = load_json_object(request.raw_body)
    try:
        body = GenericMention.model_validate(payload)
    except ValidationError as exc:
        raise MalformedPayload(describe_validation_error(exc)) from None
    if body.rating is not None:
        kind = MentionKind.REVIEW
    elif body.in_reply_to:
        kind = MentionKind.REPLY
    else:
        kind = MentionKind.POST
    mention = make_mention(
        "body",
        platform=body.platform,
        external_id=body.id,
        kind=kind,
        author=Author(**body.author.model_dump()),
        text=body.text,
        url=body.url,
        rating=body.rating,
        created_at=body.created_at,
        parent_id=body.in_reply_to,
        product=body.product,
    )
    return Delivery(mentions=[mention])
