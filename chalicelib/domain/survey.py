"""Satisfaction surveys: after a resolved issue's reply is out, its author is asked how it went.

Pure rules, no AWS:

* **When**: :func:`ready_for_survey`: the issue is resolved (or closed) *and* a reply was published
  (``first_response_at``), and was not both before. The plan's category says whether to ask at all, how long after
  (``delay_minutes``), with which words and for how long the link stays open (``window_days``, 14 by default).
* **Where**: :func:`choose_channel`: the first of the plan's channels that the mention's platform allows
  (:data:`PLATFORM_CHANNELS`): a private reply where the platform has one, else a line under the public reply,
  or an email when the author's address is known.
* **The link**: :func:`link_path`: ``/surveys/<survey id>?exp=<unix s>&sig=<hex HMAC-SHA256>``, signed with
  ``LINK_SIGNING_KEY`` over the survey id, the author and the expiry (``domain.links``' signature, with a
  ``survey:`` prefix on the id so an approval link's signature never opens a survey). The survey id is random (128
  bits), never the issue id; single use is the store's conditional write.
* **Scoring**: a rating 1 to 5; :func:`satisfied` is 4 or 5; a survey not answered before its link expires is
  recorded as :data:`UNANSWERED`.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from html import escape
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import links
from chalicelib.domain.plan import SurveySettings
from chalicelib.domain.text_safety import one_line

RATINGS = (1, 2, 3, 4, 5)
SATISFIED_FROM = 4  # 4 and 5 are satisfied (the usual CSAT top-two-box)
MAX_COMMENT_CHARS = 2000
SYSTEM_SURVEYS = "system:surveys"

# Outcomes recorded on the issue (``satisfaction``).
SATISFIED, DISSATISFIED, UNANSWERED = "satisfied", "dissatisfied", "unanswered"

PRIVATE_REPLY, PUBLIC_REPLY, EMAIL = "private_reply", "public_reply", "email"
# What each platform lets a brand use to ask the author after the fact. Private first where one exists.
# * X: a DM (``POST /2/dm_conversations/with/:participant_id/messages``) when the author accepts DMs from the brand;
#   else a reply under the brand's public reply.
# * Facebook and Instagram: ONE private reply per comment, within 7 days of it. When the response already used it,
#   the survey goes as a public reply line instead (:func:`choose_channel`'s ``private_used``).
# * YouTube: no private messages: a reply in the comment thread.
# * Trustpilot: the brand's reply to a review is public and single: a line in it; no private channel.
# * email: an email (the author's address is the mention's author id).
# * generic/other sources: a public reply where the source has one; email when the author's address is known.
PLATFORM_CHANNELS: dict[str, tuple[str, ...]] = {
    "x": (PRIVATE_REPLY, PUBLIC_REPLY),
    "facebook": (PRIVATE_REPLY, PUBLIC_REPLY),
    "instagram": (PRIVATE_REPLY, PUBLIC_REPLY),
    "youtube": (PUBLIC_REPLY,),
    "trustpilot": (PUBLIC_REPLY,),
    "email": (EMAIL,),  # a mention that came by email is answered by email
}
ONE_PRIVATE_REPLY = ("facebook", "instagram")  # Meta: one private reply per comment
ONE_PUBLIC_REPLY = ("trustpilot",)  # a review has one brand reply: posting again replaces it


def reply_with_line(reply: str, line: str) -> str:
    """The brand's single public reply with the survey's line added under it (Trustpilot: the line is posted as
    the whole reply again, so the published answer must stay in it)."""
    return f"{reply.rstrip()}\n\n{line}"


OTHER_PLATFORMS = (PUBLIC_REPLY,)


class SurveyStatus(StrEnum):
    OWED = "owed"  # scheduled, not sent yet (due at ``due_at``)
    SENT = "sent"  # the author was asked; the link is open until ``expires_at``
    ANSWERED = "answered"
    UNANSWERED = "unanswered"  # the link expired without an answer
    UNDELIVERABLE = "undeliverable"  # the platform refused it for good (a closed window, a rule): never sent


class Survey(BaseModel):
    """One question to one author about one issue."""

    model_config = ConfigDict(frozen=True)

    survey_id: str
    issue_id: str
    category: str
    team: str = ""
    platform: str
    author: str  # the author's identity on the platform: ``<platform>#<author id or handle>``
    recipient: str = ""  # how the author is addressed (handle or name), for display
    reply_to: str = ""  # the mention the survey answers (its platform id)
    channel: str
    contact: str | None = None  # an email address, for the email channel only
    question: str
    message: str
    created_at: datetime
    due_at: datetime
    expires_at: int  # unix seconds: the link's expiry, part of its signature
    status: SurveyStatus = SurveyStatus.OWED
    rating: int | None = None
    comment: str = ""
    answered_at: datetime | None = None


class SurveyUndeliverable(Exception):
    """The survey's channel refused it for good (e.g. Meta's 7-day private-reply window has closed): it is not
    retried."""


class SurveyClosed(Exception):
    """The survey cannot take an answer (answered already, expired, never sent): the store refuses the write."""


class SurveyAnswer(BaseModel):
    """The survey form: a rating 1 to 5 and an optional comment."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


def new_survey_id() -> str:
    return secrets.token_urlsafe(16)


def satisfied(rating: int) -> bool:
    return rating >= SATISFIED_FROM


def outcome(rating: int | None) -> str:
    """What the issue records: ``satisfied`` (4-5), ``dissatisfied`` (1-3), ``unanswered`` (no rating)."""
    if rating is None:
        return UNANSWERED
    return SATISFIED if satisfied(rating) else DISSATISFIED


def satisfaction_score(ratings: list[int | None]) -> tuple[float | None, float | None]:
    """(CSAT: the share of answered surveys rated 4-5, response rate: the share answered); None without data."""
    answered = [r for r in ratings if r is not None]
    csat = sum(satisfied(r) for r in answered) / len(answered) if answered else None
    return csat, (len(answered) / len(ratings) if ratings else None)


# -- when, where ---------------------------------------------------------------------------------------------
DONE_STATUSES = ("resolved", "closed")


def _done(image: dict[str, Any]) -> bool:
    return image.get("status") in DONE_STATUSES and bool(image.get("first_response_at"))


def ready_for_survey(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """An issue image (plain values) that just became resolved-with-a-published-reply."""
    return _done(new) and not (old is not None and _done(old))


def choose_channel(platform: str, settings: SurveySettings, contact: str | None, private_used: bool) -> str | None:
    """The first of the plan's channels the platform allows; None when none is possible (no survey then)."""
    allowed = PLATFORM_CHANNELS.get(platform, OTHER_PLATFORMS)
    for channel in settings.channels:
        if channel == EMAIL:
            if contact:
                return EMAIL
            continue  # no address: no email, whatever the platform
        if channel == PRIVATE_REPLY and platform in ONE_PRIVATE_REPLY and private_used:
            continue
        if channel in allowed:
            return channel
    return None


def schedule(
    survey_id: str,
    issue: dict[str, Any],
    mention: dict[str, Any],
    settings: SurveySettings,
    channel: str,
    contact: str | None,
    now: datetime,
) -> Survey:
    """The survey to send for a resolved issue: due ``delay_minutes`` from now, open ``window_days`` after that."""
    platform = str(mention.get("platform") or issue.get("platform") or "")
    author = str(mention.get("author_id") or mention.get("author_handle") or mention.get("author_name") or "")
    due = now + timedelta(minutes=settings.delay_minutes)
    return Survey(
        survey_id=survey_id,
        issue_id=str(issue["issue_id"]),
        category=str(issue.get("category", "")),
        team=str(issue.get("team") or ""),
        platform=platform,
        author=f"{platform}#{author}",
        recipient=str(mention.get("author_handle") or mention.get("author_name") or ""),
        reply_to=str(mention.get("external_id") or ""),
        channel=channel,
        contact=contact,
        question=settings.question,
        message=settings.message,
        created_at=now,
        due_at=due,
        expires_at=int((due + timedelta(days=settings.window_days)).timestamp()),
    )


# One @, a local part and a dotted domain of the characters an address holds: what SES takes (``a@b@c`` is not).
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def email_address(mention: dict[str, Any]) -> str | None:
    """The author's address when the mention came by email (its author id is the address), else None."""
    candidate = str(mention.get("author_id") or "")
    return candidate if ADDRESS.fullmatch(candidate) else None


# -- the link ------------------------------------------------------------------------------------------------
def _signed_id(survey_id: str) -> str:
    return f"survey:{survey_id}"


def link_path(key: str, survey_id: str, author: str, expires_at: int) -> str:
    query = urlencode({"exp": expires_at, "sig": links.signature(key, _signed_id(survey_id), author, expires_at)})
    return f"/surveys/{survey_id}?{query}"


def check_link(
    key: str, survey_id: str, author: str, expires_at: str | int | None, given: str | None, now: float
) -> links.LinkCheck:
    """Constant-time signature check, then the expiry (``links.check``)."""
    return links.check(key, _signed_id(survey_id), author, expires_at, given, now)


# -- the invitation ------------------------------------------------------------------------------------------
def invitation(survey: Survey, url: str, brand: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the invitation (a message for a reply or DM is the plain text). Every
    piece of text from the plan or the author is escaped in the HTML."""
    subject = f"{brand}: {survey.question}"
    greeting = f"Hi {one_line(survey.recipient)}," if survey.recipient else "Hi,"  # an author's name: one line
    expires = datetime.fromtimestamp(survey.expires_at).date().isoformat()
    text = "\n".join(
        [greeting, "", survey.message, survey.question, "", url, "", f"(one answer; the link works until {expires})"]
    )
    html = (
        f"<p>{escape(greeting)}</p><p>{escape(survey.message)}</p><p><strong>{escape(survey.question)}</strong>"
        f'</p><p><a href="{escape(url, quote=True)}">Rate our answer, 1 to 5</a></p>'
        f"<p>One answer; the link works until {escape(expires)}.</p>"
    )
    return subject, text, html


def short_message(survey: Survey, url: str) -> str:
    """The text of a survey sent as a reply or DM: the plan's words and the link, nothing else."""
    who = f"@{one_line(survey.recipient).lstrip('@')} " if survey.channel == PUBLIC_REPLY and survey.recipient else ""
    return f"{who}{survey.message} {survey.question} {url}"
