"""The domain's nouns, in plain pydantic: no boto3 here.

A :class:`Mention` is one post, comment, review or message about the brand, as every platform
module normalizes it. Storage shapes live in the adapters; HTTP shapes live in the API layer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain import limits


class MentionEvent(StrEnum):
    """What happened to the mention on its platform."""

    CREATED = "created"
    EDITED = "edited"
    REMOVED = "removed"
    HIDDEN = "hidden"


class MentionKind(StrEnum):
    """What sort of content the mention is."""

    POST = "post"
    COMMENT = "comment"
    REPLY = "reply"
    REVIEW = "review"
    MESSAGE = "message"
    VIDEO = "video"
    MENTION = "mention"


class Author(BaseModel):
    """Who wrote it, with whatever reach the platform tells us. Bounds: :mod:`chalicelib.domain.limits`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(default=None, max_length=limits.MAX_ID_CHARS)
    handle: str | None = Field(default=None, max_length=limits.MAX_HANDLE_CHARS)
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_CHARS)
    followers: int | None = Field(default=None, ge=0, le=limits.MAX_FOLLOWERS)
    verified: bool | None = None


class Mention(BaseModel):
    """One platform item about the brand, normalized.

    ``platform`` + ``external_id`` is its identity: a re-delivery of the same item is the same mention.
    Every field is bounded by what storage and the domain take (:mod:`chalicelib.domain.limits`), so a Mention
    that validates can be queued, stored and triaged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str = Field(min_length=1, max_length=limits.MAX_PLATFORM_CHARS, pattern=limits.PLATFORM_PATTERN)
    external_id: str = Field(min_length=1, max_length=limits.MAX_ID_CHARS)
    event: MentionEvent = MentionEvent.CREATED
    kind: MentionKind = MentionKind.POST
    author: Author = Field(default_factory=Author)
    text: str = Field(default="", max_length=limits.MAX_TEXT_CHARS)
    title: str | None = Field(default=None, max_length=limits.MAX_TITLE_CHARS)
    rating: float | None = Field(default=None, ge=limits.MIN_RATING, le=limits.MAX_RATING, allow_inf_nan=False)
    url: str | None = Field(default=None, max_length=limits.MAX_URL_CHARS)
    created_at: datetime
    parent_id: str | None = Field(default=None, max_length=limits.MAX_ID_CHARS)
    thread_id: str | None = Field(default=None, max_length=limits.MAX_ID_CHARS)
    product: str | None = Field(default=None, max_length=limits.MAX_PRODUCT_CHARS)

    _check_created_at = field_validator("created_at")(limits.check_created_at)

    @field_validator("rating")
    @classmethod
    def _round_rating(cls, value: float | None) -> float | None:
        return None if value is None else round(value, limits.RATING_DECIMALS)

    @property
    def key(self) -> str:
        """The identity used for storage and deduplication."""
        return f"{self.platform}#{self.external_id}"
