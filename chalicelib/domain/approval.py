"""An approval: one person's signed link to one attempt of one protocol step, and the rules of answering it.

Pure. The approvals table (``adapters/approvals_table.py``) stores these; ``services/approvals.py`` runs the use
cases; the page and its form live in ``api/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.channel_length import counting_note, reply_length
from chalicelib.domain.dedup import signature_of, similarity
from chalicelib.domain.protocol_messages import CHANNELS

PENDING, USED, SUPERSEDED = "pending", "used", "superseded"
# The steps that choose the channels (the compiler's CHOOSES_CHANNELS).
CHOOSING_ACTIONS = ("draft", "respond")
# The steps whose people write or edit the reply text.
EDITING_ACTIONS = ("draft", "respond", "review")
PROCEEDING = ("submitted", "edited")  # the outcomes that carry a (new) reply text
CANNED_SIMILARITY = 0.75  # a draft this close to a recent reply reads as a form letter
ACTION_WORDS = {
    "draft": "Draft the reply",
    "review": "Review the reply",
    "approve": "Approve the reply",
    "respond": "Answer the customer",
}


@dataclass(frozen=True)
class Approval:
    approval_id: str
    issue_id: str
    person: str
    step: str
    action: str
    role: str
    protocol: str
    attempt: str
    outcomes: tuple[str, ...]
    draft: str
    comment: str
    commented_by: str
    status: str
    created_at: str
    expires_at: int
    token_ref: str
    channels: tuple[str, ...] = ()  # a drafting step's current choice of reply channels
    emailed: bool = False  # its email went out (as recorded: read back, not written from here)
    due_at: str = ""  # when the run stops waiting for this attempt (ISO-8601; "" on links recorded before)
    escalates_to: tuple[str, ...] = ()  # who gets the step when this attempt times out
    # answered, but the answer has not reached the protocol yet (Step Functions was unreachable): a second POST of
    # the link passes the recorded answer on
    callback_owed: bool = False


@dataclass(frozen=True)
class Recorded:
    """What an earlier delivery of a step request recorded."""

    approvals: list[Approval]
    booked: bool  # the request's follow-ups are done (earlier links retired, issue in progress, audit event)


class Refused(Exception):
    """A link or an answer refused, with the HTTP status the page answers and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Answer:
    """What a person answered on the page (the form, validated)."""

    outcome: str
    comment: str = ""
    draft: str = ""
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """An accepted answer: the text that travels on (``""`` keeps the run's), the channels chosen (``()`` keeps
    the run's) and the audit event's details."""

    draft: str
    channels: tuple[str, ...]
    details: dict[str, Any]


def decide(
    approval: Approval,
    answer: Answer,
    limits: Mapping[str, int | None],
    default_channels: tuple[str, ...] = (),
    platform: str = "",
) -> Decision:
    """The outcome rules of a step. ``limits``: the longest reply each channel of the issue's ``platform`` takes
    (``None``: no stated limit); a reply longer than the limit of a channel it goes to (the ones chosen here, else
    the step's, else the protocol's ``default_channels``), counted as ``platform`` counts, is refused here, before
    the run moves on, not by the platform after the approvals."""
    if answer.outcome not in approval.outcomes:
        raise Refused(
            400, f"'{answer.outcome}' is not an outcome of this step (allowed: {', '.join(approval.outcomes)})"
        )
    if answer.outcome == "rejected" and not answer.comment:
        raise Refused(400, "A rejection needs a comment saying what to change.")
    carries_text = answer.outcome in PROCEEDING
    if carries_text and approval.action in EDITING_ACTIONS and not answer.draft:
        raise Refused(400, "The reply text is empty.")
    chooses = approval.action in CHOOSING_ACTIONS and carries_text
    if chooses and answer.outcome == "submitted" and not answer.channels:
        raise Refused(400, "Choose where the reply goes: publicly, privately or both.")
    draft = answer.draft if carries_text else ""
    channels = tuple(c for c in CHANNELS if c in answer.channels) if chooses else ()
    too_long = over_limit(draft or approval.draft, channels or approval.channels or default_channels, limits, platform)
    if too_long and answer.outcome != "rejected":
        raise Refused(400, too_long)
    details: dict[str, Any] = {
        "step": approval.step,
        "action": approval.action,
        "attempt": approval.attempt,
        "comment": answer.comment,
        "draft": draft,
    }
    if channels:
        details["channels"] = list(channels)
    return Decision(draft=draft, channels=channels, details=details)


def over_limit(
    text: str, channels: tuple[str, ...], limits: Mapping[str, int | None], platform: str = ""
) -> str | None:
    """Why ``text`` is too long for one of ``channels``, or ``None``. The text is measured the way ``platform``
    counts, by the function its publisher checks with before posting (:func:`~chalicelib.domain.channel_length
    .reply_length`; X: links 23, emoji 2), so a reply this page takes is never refused later for its length."""
    length = reply_length(platform, text)
    for channel in channels:
        limit = limits.get(channel)
        if limit is None or length <= limit:
            continue
        how = counting_note(platform)
        return (
            f"The reply is {length} characters{f' ({how})' if how else ''}; a {channel.replace('_', ' ')} "
            f"here takes at most {limit}. Shorten it."
        )
    return None


def time_left(due_at: str, now: datetime) -> str:
    """``"42 min left"``, ``"1 h 05 min left"`` or ``"overdue by 3 min"`` (``""`` when there is no deadline)."""
    if not due_at:
        return ""
    seconds = int((datetime.fromisoformat(due_at) - now).total_seconds())
    minutes = abs(seconds) // 60
    span = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"{span} left" if seconds >= 0 else f"overdue by {span}"


def canned_warning(draft: str, recent: list[dict[str, Any]]) -> str | None:
    """A visible warning when the draft is near-identical to a recent reply (canned replies read as insincere)."""
    mine = signature_of(draft)
    if mine is None:
        return None
    for reply in recent:
        theirs = signature_of(str(reply.get("text", "")))
        if theirs and similarity(mine, theirs) >= CANNED_SIMILARITY:
            return (
                f"This draft is nearly identical to a reply sent on {str(reply.get('published_at', ''))[:10]} "
                f"to {reply.get('recipient') or 'another customer'}. Personalise it: canned replies read as "
                "insincere."
            )
    return None


def similar_replies(issue: Mapping[str, Any], recent: list[dict[str, Any]], limit: int = 3) -> list[dict[str, Any]]:
    """The last replies sent on issues like this one (same category, and a product or the topic in common), so the
    reply can be personal rather than canned. ``recent`` is newest first, each with the ``category``, ``topic``
    and ``products`` of its issue."""
    own = str(issue.get("issue_id", ""))
    wanted = _subjects(issue)
    return [
        reply
        for reply in recent
        if reply.get("issue_id") != own and reply.get("category") == issue.get("category") and wanted & _subjects(reply)
    ][:limit]


def _subjects(item: Mapping[str, Any]) -> set[str]:
    products = item.get("products") or ()
    return {f"product:{p}" for p in (products.split(",") if isinstance(products, str) else products) if p} | (
        {f"topic:{item['topic']}"} if item.get("topic") else set()
    )
