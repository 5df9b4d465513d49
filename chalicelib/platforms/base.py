"""What every platform module offers, and the errors a webhook may answer with.

A platform module is pure: it gets the raw request and a way to look up secrets, and returns
:class:`~chalicelib.domain.models.Mention` objects. It never touches AWS, so it is unit-tested on the
platforms' own published payloads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NoReturn, Protocol

from pydantic import ValidationError

from chalicelib.domain import limits
from chalicelib.domain.models import Mention
from chalicelib.domain.validation import describe_validation_error

SecretLookup = Callable[[str], str]
"""Resolves a secret by its contract name (``META_APP_SECRET`` ...)."""


class WebhookError(Exception):
    """A refusal that is the client's fault: answered with ``status`` and ``{"error": message}``."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPayload(WebhookError):
    status = 400


class BadSignature(WebhookError):
    status = 401


class BadVerifyToken(WebhookError):
    status = 403


class PayloadTooLarge(WebhookError):
    status = 413


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of an HTTP request a platform module may look at. Header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw_body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @classmethod
    def build(
        cls,
        method: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        raw_body: bytes = b"",
    ) -> WebhookRequest:
        """A request with header names lower-cased, as :meth:`header` expects them."""
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        return cls(method=method.upper(), headers=lowered, query=dict(query or {}), raw_body=raw_body)


@dataclass(frozen=True)
class HandshakeResponse:
    """The answer to a platform's subscription handshake (a GET)."""

    body: str
    content_type: str = "text/plain"


@dataclass
class Delivery:
    """What one verified webhook delivery carried, collected with :meth:`add` so the edge's rules hold for all."""

    received_at: datetime
    """The request's clock: no mention may be dated more than :data:`~chalicelib.domain.limits.CLOCK_SKEW` after it."""
    mentions: list[Mention] = field(default_factory=list)
    ignored_events: int = 0
    """Events that are not mentions (reactions, page settings ...): acknowledged and counted, not stored."""

    def add(self, mention: Mention | None, where: str) -> None:
        """Take ``mention`` (``None``: an event that is not a mention, counted as ignored).

        Refuses (413) the mention past the fan-out cap, so a delivery's work is bounded before it is queued, and
        (400) one dated in the future, which would move time-based windows (surges, SLAs) for everything else.
        """
        if mention is None:
            self.ignored_events += 1
            return
        if len(self.mentions) >= limits.MAX_MENTIONS_PER_DELIVERY:
            raise PayloadTooLarge(
                f"a delivery may carry at most {limits.MAX_MENTIONS_PER_DELIVERY} mentions; "
                f"this one carries more (from {where} on)"
            )
        try:
            limits.check_not_ahead(mention.created_at, self.received_at)
        except ValueError as exc:
            raise MalformedPayload(f"{where}: created_at: {exc}") from None
        self.mentions.append(mention)


def hmac_hex(secret: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, digest)).hexdigest()


def signatures_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison; ``None`` or empty never matches."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def from_epoch(value: int | float | str) -> datetime:
    """Platforms send seconds or milliseconds since the epoch; tell them apart by size."""
    number = float(value)
    if number > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=timezone.utc)


_TOO_LATE = datetime.max.replace(tzinfo=timezone.utc)
_TOO_EARLY = datetime.min.replace(tzinfo=timezone.utc)
_EPOCH_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: "²".isdigit() is True, and float("²") then fails


# --- What a platform module is ------------------------------------------------------------------


class PlatformModule(Protocol):
    """The interface every module in :mod:`chalicelib.platforms` offers (modules satisfy it structurally)."""

    NAME: str
    SECRET_NAMES: tuple[str, ...]

    def handshake(self, request: WebhookRequest, secret: SecretLookup) -> HandshakeResponse: ...

    def verify(self, request: WebhookRequest, secret: SecretLookup, now: datetime) -> None: ...

    def parse(self, request: WebhookRequest, received_at: datetime) -> Delivery: ...

    def sign(self, raw_body: bytes, secret: SecretLookup, now: datetime) -> dict[str, str]: ...


# --- Secrets and signatures ----------------------------------------------------------------------


def secret_value(secret: SecretLookup, name: str) -> str:
    """The secret, refusing to work with an empty one.

    An empty HMAC key is a key everyone knows: signing with it would let anybody forge deliveries, so an
    unconfigured secret fails closed as a refused signature (the message names no secret value).
    """
    value = secret(name)
    if not value:
        raise BadSignature("signature cannot be verified")
    return value


def hmac_b64(secret: str, message: bytes, digest: str = "sha256") -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, getattr(hashlib, digest)).digest()).decode()


def hub_signature_matches(header: str | None, secret: str, body: bytes, methods: frozenset[str]) -> bool:
    """Checks a PubSubHubbub-style ``<method>=<hex HMAC>`` header (Meta, WebSub).

    ``methods`` lists the hash names the caller accepts for this header; anything else never matches.
    """
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    method = method.strip().lower()
    if method not in methods:
        return False
    return signatures_match(hmac_hex(secret, body, method), given.lower())


# --- Handshakes ----------------------------------------------------------------------------------


def require_query(request: WebhookRequest, *names: str) -> list[str]:
    """The named query parameters, in order; a missing or empty one is a 400 naming it."""
    values = []
    for name in names:
        value = request.query.get(name)
        if not value:
            raise MalformedPayload(f"missing query parameter {name}")
        values.append(value)
    return values


_HANDSHAKE_TOKEN = re.compile(limits.HANDSHAKE_TOKEN_PATTERN)


def require_token(request: WebhookRequest, name: str) -> str:
    """A handshake's challenge or token, which the answer echoes or signs: only the short shape platforms send.

    Nothing else may be answered: a caller-chosen value signed with a delivery key (X's CRC) would be a valid
    delivery signature, and an echoed one is content we would serve. No JSON, markup or space can match.
    """
    (value,) = require_query(request, name)
    if len(value) > limits.MAX_HANDSHAKE_TOKEN_CHARS or not _HANDSHAKE_TOKEN.fullmatch(value):
        raise MalformedPayload(f"{name} must be 1 to {limits.MAX_HANDSHAKE_TOKEN_CHARS} letters, digits or +/=_-.~")
    return value


def no_handshake(platform: str) -> NoReturn:
    """For platforms that never send a GET: answer it as a client error, not a crash."""
    raise MalformedPayload(f"{platform} webhooks have no GET handshake; send a signed POST")


# --- Payload helpers -----------------------------------------------------------------------------


def load_json(raw_body: bytes) -> Any:
    """The body as JSON, or a 400 saying why not (never the body itself)."""
    if not raw_body.strip():
        raise MalformedPayload("body is empty; expected JSON")
    try:
        return json.loads(raw_body)
    except RecursionError:  # absurdly deep nesting: a client problem, not a 500
        raise MalformedPayload("body is not valid JSON: nested too deeply") from None
    except UnicodeDecodeError:
        raise MalformedPayload("body is not valid JSON: not UTF-8") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "cannot be decoded"
        raise MalformedPayload(f"body is not valid JSON: {reason}") from None


def load_json_object(raw_body: bytes) -> dict[str, Any]:
    data = load_json(raw_body)
    if not isinstance(data, dict):
        raise MalformedPayload(f"body must be a JSON object, got {type(data).__name__}")
    return data


def as_id(value: Any) -> str | None:
    """Platform ids arrive as strings or as JSON numbers (Meta mixes both): normalize to a string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def sub_object(container: dict[str, Any], key: str) -> dict[str, Any]:
    """``container[key]`` when it is a JSON object, else ``{}``: optional nested objects are read leniently."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def to_datetime(value: Any) -> datetime | None:
    """Epoch seconds/milliseconds (number or digit string) or an ISO-8601 string, in UTC; ``None`` if neither.

    A time beyond what ``datetime`` holds in UTC (epoch 1e30, ``9999-12-31T23:59:59-14:00``) reads as the extreme
    it points at, so the mention's time window refuses it (a 400) instead of the overflow surfacing as a 500.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and _EPOCH_DIGITS.fullmatch(value.strip())):
        try:
            return from_epoch(value)
        except (ValueError, OverflowError, OSError):  # NaN, infinities, beyond year 9999
            return _TOO_LATE if float(value) > 0 else _TOO_EARLY
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        try:
            return limits.utc(parsed)
        except ValueError:
            return _TOO_LATE if parsed.year > 1 else _TOO_EARLY
    return None


def first_datetime(*values: Any, default: datetime) -> datetime:
    """The first value that reads as a time; platforms omit timestamps, so ``default`` is the receipt time."""
    for value in values:
        parsed = to_datetime(value)
        if parsed is not None:
            return parsed
    return default


def make_mention(where: str, **fields: Any) -> Mention:
    """A :class:`Mention`, or a 400 naming ``where`` in the payload the bad value came from.

    ``author`` may be given as a dict, so its bounds (followers ...) are refused with the same message.
    Over-long text is clipped rather than refused: a very long post is still a mention worth seeing.
    """
    text = fields.get("text")
    if isinstance(text, str) and len(text) > limits.MAX_TEXT_CHARS:
        fields["text"] = text[: limits.MAX_TEXT_CHARS]
    try:
        return Mention(**fields)
    except ValidationError as exc:
        raise MalformedPayload(f"{where}: {describe_validation_error(exc)}") from None
