"""The domain's nouns, in plain pydantic: no boto3 here.

A :class:`Mention` is one post, comment, review or message about the brand, as every platform
module normalizes it. Storage shapes live in the adapters; HTTP shapes live in the API layer.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    """Who wrote it, with whatever reach the platform tells us."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool | None = None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class Mention(BaseModel):
    """One platform item about the brand, normalized.

    ``platform`` + ``external_id`` is its identity: a re-delivery of the same item is the same mention.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")
    external_id: str = Field(min_length=1, max_length=200)
    event: MentionEvent = MentionEvent.CREATED
    kind: MentionKind = MentionKind.POST
    author: Author = Field(default_factory=Author)
    text: str = Field(default="", max_length=20_000)
    title: str | None = None
    rating: float | None = Field(default=None, ge=0, le=10)
    url: str | None = None
    created_at: datetime
    parent_id: str | None = None
    thread_id: str | None = None
    product: str | None = None

    _normalize_created_at = field_validator("created_at")(_utc)

    @property
    def key(self) -> str:
        """The identity used for storage and deduplication."""
        return f"{self.platform}#{self.external_id}"
