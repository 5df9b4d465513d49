"""The generic webhook on ``/webhooks/generic``, for any source without a module of its own (POST only).

What a sender must send (CONTRACTS.md, "Webhook routes")
- ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(GENERIC_WEBHOOK_SECRET, "<t>." + raw body)>``. Signing the
  timestamp with the body and refusing ``t`` more than 300 s from now bounds replays of a captured request.
  Several ``v1=`` values may be given (e.g. while rotating secrets); one matching is enough.
- One JSON object: ``{"platform", "id", "created_at" (ISO-8601), "text", "author": {"id", "handle", "name",
  "followers", "verified"}, "url"?, "rating"?, "in_reply_to"?, "product"?}``. Unknown fields are ignored so
  senders can add their own; known fields are checked strictly (no conversions: ``"10"`` is not a follower count,
  ``"yes"`` not a boolean, ``1`` not a time) and bounded (:mod:`chalicelib.domain.limits`); a 400 names each bad
  field.

Mapping: ``in_reply_to`` → ``parent_id``; kind is REVIEW when a ``rating`` is given, else REPLY when ``in_reply_to`` is,
else POST.

Identities: a sender names any platform, but the names the built-in modules own (``x``, ``facebook``, ...:
:data:`~chalicelib.domain.limits.BUILT_IN_PLATFORMS`) are kept in the generic namespace as ``generic-<name>``.
A signed generic delivery therefore can never claim or pre-claim an identity (``x#<id>``) or a conversation
(``conv#x#<id>``) that a native, platform-signed delivery owns; forwarded copies (a listening tool relaying
tweets) are still accepted and triaged, beside the native ones.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from chalicelib.domain import limits
from chalicelib.domain.models import MentionKind
from chalicelib.platforms.base import (
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


_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True, and int("²") then fails
_ISO_8601 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


# Strings, never a number or anything else converted to one, of at most so many characters.
IdText = Annotated[StrictStr, Field(max_length=limits.MAX_ID_CHARS)]
RequiredIdText = Annotated[StrictStr, Field(min_length=1, max_length=limits.MAX_ID_CHARS)]
HandleText = Annotated[StrictStr, Field(max_length=limits.MAX_HANDLE_CHARS)]
NameText = Annotated[StrictStr, Field(max_length=limits.MAX_NAME_CHARS)]
UrlText = Annotated[StrictStr, Field(max_length=limits.MAX_URL_CHARS)]
ProductText = Annotated[StrictStr, Field(max_length=limits.MAX_PRODUCT_CHARS)]


class GenericAuthor(BaseModel):
    """Every field the contract lists, required: a source without a name or a follower count sends ``""`` or
    ``0``, so a sender that forgot one hears of it instead of its mentions being stored from "someone"."""

    model_config = ConfigDict(extra="ignore")

    id: RequiredIdText
    handle: HandleText
    name: NameText
    followers: Annotated[StrictInt, Field(ge=0, le=limits.MAX_FOLLOWERS)]
    verified: StrictBool


class GenericMention(BaseModel):
    """The contract body, strict. Bounds mirror :class:`~chalicelib.domain.models.Mention` (both read
    :mod:`chalicelib.domain.limits`) so errors name the sender's own field."""

    model_config = ConfigDict(extra="ignore")

    platform: Annotated[StrictStr, Field(min_length=1, max_length=limits.MAX_PLATFORM_CHARS)]
    id: RequiredIdText
    created_at: datetime
    text: StrictStr  # longer text is clipped by make_mention, as for every platform
    author: GenericAuthor
    url: UrlText | None = None
    rating: (
        Annotated[StrictFloat | StrictInt, Field(ge=limits.MIN_RATING, le=limits.MAX_RATING, allow_inf_nan=False)]
        | None
    ) = None
    in_reply_to: IdText | None = None
    product: ProductText | None = None

    @field_validator("platform", mode="before")
    @classmethod
    def _platform_name(cls, value: Any) -> Any:
        # "Google Play" names the platform google-play, as the offline commands read it
        return limits.platform_name(value) if isinstance(value, str) else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_8601_string(cls, value: Any) -> Any:
        # pydantic would also read epoch numbers and digit strings as times; the contract says ISO-8601.
        if not isinstance(value, str) or not _ISO_8601.match(value):
            raise ValueError("must be an ISO-8601 string such as 2026-11-24T10:00:00Z")
        return value

    @field_validator("created_at")
    @classmethod
    def _in_window(cls, value: datetime) -> datetime:
        return limits.check_created_at(value)


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
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise BadSignature(f"{SIGNATURE_HEADER} must carry t=<unix seconds>")
    if not signatures:
        raise BadSignature(f"{SIGNATURE_HEADER} must carry v1=<hex signature>")
    return timestamp, signatures


def sign(raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    signature = hmac_hex(secret_value(secret, "GENERIC_WEBHOOK_SECRET"), _signed_payload(timestamp, raw_body))
    return {SIGNATURE_HEADER: f"t={timestamp},v1={signature}"}


def kind_of(rating: float | None, in_reply_to: str | None) -> MentionKind:
    """A generic mention's kind: a review when it is rated, a reply when it answers another, else a post."""
    if rating is not None:
        return MentionKind.REVIEW
    return MentionKind.REPLY if in_reply_to else MentionKind.POST


def parse(request: WebhookRequest, received_at: datetime) -> Delivery:
    payload = load_json_object(request.raw_body)
    try:
        body = GenericMention.model_validate(payload)
    except ValidationError as exc:
        raise MalformedPayload(describe_validation_error(exc)) from None
    mention = make_mention(
        "body",
        platform=namespaced(body.platform),
        external_id=body.id,
        kind=kind_of(body.rating, body.in_reply_to),
        author=body.author.model_dump(),
        text=body.text,
        url=body.url,
        rating=body.rating,
        created_at=body.created_at,
        parent_id=body.in_reply_to,
        product=body.product,
    )
    delivery = Delivery(received_at)
    delivery.add(mention, "body")
    return delivery


def namespaced(platform: str) -> str:
    """The platform a generic mention is stored under: a built-in platform's name moves to ``generic-<name>``."""
    return limits.GENERIC_NAMESPACE_PREFIX + platform if platform in limits.BUILT_IN_PLATFORMS else platform
