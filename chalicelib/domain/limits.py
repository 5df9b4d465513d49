"""Every bound on what the system accepts, in one place: what storage and the domain can take, and no more.

The input models (:class:`~chalicelib.domain.models.Mention`, the generic webhook's body) and the platform modules
read their limits from here, so a value that could not be stored, or would break a later step, is refused as a 400
at the webhook edge instead of being answered 200 and lost behind the queue. The README's contract table lists them.

Why these numbers
- Ids become parts of DynamoDB keys (``<platform>#<id>``, ``conv#<platform>#<id>``, ``author#<platform>#<id>#...``).
  A partition key holds at most 2048 bytes and a sort key 1024: 256 characters is at most 1024 bytes of UTF-8,
  and far above any platform's real ids (Instagram's message ids, the longest seen, are about 150).
- Numbers: DynamoDB stores at most 38 significant digits (boto3's decoder raises on more). Follower counts are
  bounded far below that, above the largest real account (a few hundred million); ratings are stars.
- Times: the domain adds SLA and escalation durations to ``created_at`` and subtracts surge windows from it, so a
  year 1 or year 9999 would overflow there. The absolute window below is what the model accepts (offline tools
  replay historic data within it); the webhook edge also refuses a time more than :data:`CLOCK_SKEW` after its
  request's clock, since nothing is posted in the future.
- Size: the widest mention these bounds admit (every field full of 4-byte characters) is under
  :data:`MAX_MENTION_BYTES`, far below DynamoDB's 400 KB item and one SQS message (256 KiB).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_PLATFORM_CHARS = 40
PLATFORM_PATTERN = r"^[a-z0-9_\-]+$"
_NOT_IN_A_PLATFORM_NAME = re.compile(r"[^a-z0-9_\-]+")
_PLATFORM = re.compile(PLATFORM_PATTERN)
MAX_ID_CHARS = 256
"""``external_id``, ``parent_id``, ``thread_id``, ``author.id`` (and the generic ``id``, ``in_reply_to``)."""
MAX_HANDLE_CHARS = 256
MAX_NAME_CHARS = 256
MAX_TITLE_CHARS = 1_000
MAX_PRODUCT_CHARS = 256
MAX_URL_CHARS = 2_048
MAX_TEXT_CHARS = 20_000
"""Longer text is clipped at the edge, not refused: a very long post is still a mention worth seeing."""

MAX_FOLLOWERS = 10_000_000_000
MIN_RATING = 0.0
MAX_RATING = 10.0
RATING_DECIMALS = 2
"""Ratings are kept to two decimals, so every rating in range is a number DynamoDB can hold (1e-300 is not)."""

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(days=1)
"""How far after the request's clock a ``created_at`` may be (platform clocks and time zones mislabelled)."""

MAX_WEBHOOK_BYTES = 256 * 1024
"""A body above this is refused with 413 before any parsing; a platform delivery is far smaller (256 KiB leaves room
for a large batched Meta delivery)."""
MAX_MENTIONS_PER_DELIVERY = 100
"""Fan-out cap: a delivery with more mentions is refused with 413, so one request's work stays bounded (each
mention is one queue message); real platforms send one to a few per delivery."""

MAX_HANDSHAKE_TOKEN_CHARS = 128
HANDSHAKE_TOKEN_PATTERN = r"^[A-Za-z0-9+/=_\-.~]+$"
"""What a handshake may echo or sign: short, URL- and base64-safe characters. No JSON, markup or whitespace can
match, so no answer can be replayed as a delivery body (X's CRC signs its token with the delivery key)."""

BUILT_IN_PLATFORMS = frozenset({"meta", "facebook", "instagram", "messenger", "x", "youtube", "trustpilot", "generic"})
"""Platform names the built-in modules own (route names and the platforms they produce). A generic delivery naming
one is kept in its own namespace, ``generic-<name>``, so it can never claim or pre-claim a native identity."""
GENERIC_NAMESPACE_PREFIX = "generic-"

MAX_MENTION_BYTES = (
    4 * (MAX_TEXT_CHARS + MAX_TITLE_CHARS + 5 * MAX_ID_CHARS + MAX_HANDLE_CHARS + MAX_NAME_CHARS + MAX_PRODUCT_CHARS)
    + MAX_URL_CHARS
    + MAX_PLATFORM_CHARS
    + 1_024
)
"""The widest mention's JSON (4 bytes per character, plus field names and small values): about 97 KB."""


WINDOW_MESSAGE = f"must be a time from {EARLIEST.date()} to before {LATEST.date()}"


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is taken as UTC); a time UTC cannot represent raises ``ValueError``."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        raise ValueError(WINDOW_MESSAGE) from None


def check_created_at(value: datetime) -> datetime:
    """The absolute window every mention's time lies in, as a ``ValueError`` naming it."""
    value = utc(value)
    if not EARLIEST <= value < LATEST:
        raise ValueError(WINDOW_MESSAGE)
    return value


def check_not_ahead(value: datetime, now: datetime) -> None:
    """At the edge: nothing is posted later than the request's clock (plus :data:`CLOCK_SKEW`)."""
    if value > now + CLOCK_SKEW:
        raise ValueError(f"must not be more than {CLOCK_SKEW.days} day after now")


def platform_name(value: Any) -> str:
    """A sender's ``platform`` as a platform name (``[a-z0-9_-]``), as the generic webhook and the offline
    commands, ``erase`` and a plan's platforms all read it: a name already (``shop-``) is kept; ``"My Shop"`` ->
    ``my-shop``, ``"Google Play"`` -> ``google-play``, ``"Trustpilot"`` -> ``trustpilot``. A value that is not a
    string, longer than :data:`MAX_PLATFORM_CHARS`, or with no letter or digit to name it by raises ``ValueError``."""
    # the messages never repeat the value: it is a sender's, and may be as long as the body
    if not isinstance(value, str):
        raise ValueError("not a name (a string)")
    if len(value) > MAX_PLATFORM_CHARS:
        raise ValueError(f"at most {MAX_PLATFORM_CHARS} characters")
    if _PLATFORM.match(value):  # a name already: kept as it is, so no sender's stored identities move
        return value
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    name = _NOT_IN_A_PLATFORM_NAME.sub("-", ascii_text).strip("-")
    if not name:
        raise ValueError("has no letter or digit to name it by")
    return name
