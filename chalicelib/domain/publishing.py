"""Publishing a reply on a platform, as data: where a reply can go, what one publish asks (:class:`ChannelPost`),
what it came to (:class:`PublishResult`, with :class:`Next` saying what the caller does) and the claim that makes
each post happen once (:class:`Claim`). Pure: the publishers and the claim store are adapters behind the ports in
``services/ports.py``.

None of the platforms' posting APIs takes an idempotency key, so "exactly once toward the outside world" is built
from three parts: a conditional *claim* written before the post, the post itself, and a *read-back* through the
platform's API when an earlier attempt may have posted (it timed out after sending, or the platform answered 5xx).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from chalicelib.domain.protocol_messages import PRIVATE_REPLY, PUBLIC_REPLY

__all__ = ["PRIVATE_REPLY", "PUBLIC_REPLY"]  # re-exported: publishers name channels from here

_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_LEADING_HANDLES = re.compile(r"^(?:[@＠]\w+[\s,:]*)+")
_SPACE = re.compile(r"\s+")


def reply_fingerprint(text: str) -> str:
    """What stays of a reply's text whatever the platform does to it on the way: HTML entities read (X escapes
    ``&``, ``<``, ``>``), NFC, every link one placeholder (X wraps each in a t.co link; others shorten or decorate
    them), leading ``@handles`` dropped (a platform may add or hide a reply's mentions), spaces collapsed, case
    folded."""
    text = unicodedata.normalize("NFC", html.unescape(text or ""))
    text = _LINK.sub(" <link> ", text)
    text = _SPACE.sub(" ", text).strip()
    text = _LEADING_HANDLES.sub("", text).strip()
    return text.casefold()


def is_our_reply(found_text: str | None, our_text: str) -> bool:
    """Whether a reply a read-back found is the one this claim posts (its text, as the platform shows it), not any
    other post of the brand on the same target (the approved reply beside a survey line, a person's answer).

    A read-back that took the brand's *any* reply for its own recorded a post that never went out."""
    ours = reply_fingerprint(our_text)
    return bool(ours) and reply_fingerprint(found_text or "") == ours


class Next(StrEnum):
    """What the caller does with a publish result."""

    DONE = "done"  # the reply is on the platform: audit "published", record the response time
    RETRY = "retry"  # nothing final happened: try again at ``retry_at`` (redeliver the queue message then)
    ALERT = "alert"  # people must act (token revoked, permission missing): audit event + alert, no retry
    FINAL = "final"  # refused for good (a platform rule, duplicate, deleted, window closed): audit + alert


class Reason(StrEnum):
    """Why a result is what it is: stable codes for audit events, alerts and dashboards."""

    PUBLISHED = "published"
    FOUND_BY_READ_BACK = "found_by_read_back"  # an earlier attempt had posted; the platform shows it
    ALREADY_REPLIED = "already_replied"  # the platform says this item was already answered
    RATE_LIMITED = "rate_limited"
    PLATFORM_UNAVAILABLE = "platform_unavailable"  # 5xx
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    IN_FLIGHT = "in_flight"  # another worker holds the claim right now
    TOKEN_REVOKED = "token_revoked"
    PERMISSION_MISSING = "permission_missing"
    NOT_CONFIGURED = "not_configured"  # a credential or a brand account id is missing
    DUPLICATE_CONTENT = "duplicate_content"
    TARGET_GONE = "target_gone"  # the post/comment/review was deleted or is not visible
    WINDOW_CLOSED = "window_closed"  # Meta: private replies only within 7 days
    ONE_PRIVATE_REPLY = "one_private_reply"  # Meta: one private reply per comment
    NOT_MENTIONED = "not_mentioned"  # X self-serve tiers: the author must mention/quote the brand
    TOO_LONG = "too_long"
    CHANNEL_UNSUPPORTED = "channel_unsupported"
    PLATFORM_UNSUPPORTED = "platform_unsupported"
    REJECTED = "rejected"  # any other 4xx the platform explains in ``detail``


@dataclass(frozen=True)
class PublishResult:
    """One publish's outcome. ``platform_id``/``published_at`` are the platform's own (its clock when it gives
    one). ``ambiguous``: the request may have reached the platform (timeout after sending, 5xx), so the next attempt
    reads back before posting. ``repeat``: this answer was stored by an earlier delivery of the same request, so the
    caller records nothing twice."""

    next: Next
    reason: Reason
    detail: str = ""
    platform_id: str | None = None
    published_at: datetime | None = None
    retry_at: datetime | None = None
    ambiguous: bool = False
    repeat: bool = False
    http_status: int | None = None

    @property
    def alert(self) -> bool:
        """Whether people must hear about it (an alert beside the audit event)."""
        return self.next in (Next.ALERT, Next.FINAL)

    def as_repeat(self) -> PublishResult:
        return replace(self, repeat=True)

    def to_dict(self) -> dict[str, Any]:
        """For audit event details and the claim record."""
        out: dict[str, Any] = {"next": self.next.value, "reason": self.reason.value}
        for name in ("detail", "platform_id", "http_status"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("published_at", "retry_at"):
            if getattr(self, name):
                out[name] = getattr(self, name).astimezone(timezone.utc).isoformat()
        return out


def done(platform_id: str | None, published_at: datetime | None, reason: Reason = Reason.PUBLISHED) -> PublishResult:
    return PublishResult(Next.DONE, reason, platform_id=platform_id, published_at=published_at)


def final(reason: Reason, detail: str, status: int | None = None) -> PublishResult:
    return PublishResult(Next.FINAL, reason, detail=detail, http_status=status)


def alert(reason: Reason, detail: str, status: int | None = None) -> PublishResult:
    return PublishResult(Next.ALERT, reason, detail=detail, http_status=status)


def retry(
    reason: Reason, retry_at: datetime, detail: str = "", ambiguous: bool = False, status: int | None = None
) -> PublishResult:
    return PublishResult(Next.RETRY, reason, detail=detail, retry_at=retry_at, ambiguous=ambiguous, http_status=status)


@dataclass(frozen=True)
class ReplyTarget:
    """The mention a reply answers, as the mentions table stores it (``platform``, ``external_id``, ``kind``,
    ``author_id``, ``author_handle``, ``text``, ``created_at``, ``parent_id``, ``thread_id``)."""

    platform: str
    external_id: str
    kind: str = "post"
    author_id: str | None = None
    author_handle: str | None = None
    text: str = ""
    created_at: datetime | None = None
    parent_id: str | None = None
    thread_id: str | None = None

    @classmethod
    def from_mention(cls, mention: dict[str, Any]) -> ReplyTarget:
        created = mention.get("created_at")
        when = None
        if isinstance(created, datetime):
            when = created
        elif isinstance(created, str) and created:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return cls(
            platform=str(mention.get("platform", "")),
            external_id=str(mention.get("external_id", "")),
            kind=str(mention.get("kind") or "post"),
            author_id=mention.get("author_id") or None,
            author_handle=mention.get("author_handle") or None,
            text=str(mention.get("text") or ""),
            created_at=when,
            parent_id=mention.get("parent_id") or None,
            thread_id=mention.get("thread_id") or None,
        )


@dataclass(frozen=True)
class ChannelPost:
    """One reply on one channel, as the approved protocol run asks for it. ``run`` names the run (its execution):
    with the channel it identifies the post, so a redelivered message finds its claim instead of posting twice."""

    issue_id: str
    run: str
    channel: str
    text: str
    approved_by: str
    target: ReplyTarget
    # The issue's subject, kept with the sent reply so responders on similar issues see it.
    category: str = ""
    topic: str = ""
    products: tuple[str, ...] = ()


class ClaimStatus(StrEnum):
    NEW = "new"  # this call wrote the claim: post
    PUBLISHED = "published"  # posted earlier: answer the stored result
    SETTLED = "settled"  # ended earlier without a post (FINAL/ALERT): answer the stored result
    BUSY = "busy"  # another worker is posting under a live lease
    RELEASED = "released"  # an earlier attempt certainly did not post: post again
    UNCERTAIN = "uncertain"  # an earlier attempt may have posted (timeout, 5xx, crash): read back, then post


@dataclass(frozen=True)
class Claim:
    claim_id: str
    status: ClaimStatus
    token: int  # the attempt number: every later write is conditional on it (fencing)
    first_attempt_at: datetime  # read-back looks for posts from here on
    run: str
    lease_until: datetime | None = None
    result: PublishResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
