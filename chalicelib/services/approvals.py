"""Approval use cases: a protocol step asks people (by email), one of them acts (by the link's form), the
approved reply is published. Step Functions waits in between (``.waitForTaskToken``).

* :func:`request_step`: an approval-queue message (from the state machine) becomes one signed link per person,
  emailed once (a failed email is owed to the message's redelivery); earlier attempts' links are retired; the
  issue's audit trail records the request.
* :func:`view`: what a link's page shows. Changes nothing (mail scanners fetch links before people do).
* :func:`act`: the form's POST. Checks the link, consumes it (single use), records who did what, resumes the
  state machine with ``{"outcome", "actor", "comment", "draft", "channels"}`` (a drafting step chooses where the
  reply goes: publicly, privately or both; the other steps send ``[]``, which keeps that choice).
* :func:`publish_reply`: a publish-queue message: the reply goes out on its channels, the issue gets its
  response time, the state machine is resumed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.adapters.approvals_table import PENDING, AlreadyUsed, Approval
from chalicelib.adapters.outbox import SendInProgress
from chalicelib.adapters.plans import bundled_plan
from chalicelib.adapters.triage_table import audit_item
from chalicelib.adapters.workflows import StepCallbackFailed
from chalicelib.domain import links
from chalicelib.domain.dedup import signature_of, similarity
from chalicelib.domain.issues import AuditEvent
from chalicelib.observability import logger
from chalicelib.settings import LINK_TTL_SECONDS

SYSTEM_PROTOCOL = "system:protocol"
# Where a reply can go, in the order they are published and shown.
CHANNELS = ("public_reply", "private_reply")
# The steps that choose the channels (the compiler's CHOOSES_CHANNELS).
CHOOSING_ACTIONS = ("draft", "respond")
CANNED_SIMILARITY = 0.75  # a draft this close to a recent reply reads as a form letter


class StepRequest(BaseModel):
    """The approval-queue message the compiled state machine sends (``protocol_compiler._wait_task``)."""

    model_config = ConfigDict(extra="ignore")

    issue_id: str
    category: str
    protocol: str
    step: str
    action: str
    role: str
    people: list[str] = Field(min_length=1)
    attempt: str
    sla_minutes: int
    outcomes: list[str]
    comment: str = ""
    commented_by: str = ""
    draft: str = ""
    channels: list[str] = Field(default_factory=list)  # drafting steps: the protocol's current choice
    task_token: str
    execution: str


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    issue_id: str
    protocol: str
    channels: list[str]
    draft: str
    approved_by: str = ""
    task_token: str
    execution: str


@dataclass
class ApprovalDeps:
    approvals: Any  # DynamoApprovals
    issues: Any  # DynamoIssues
    email: Any  # SesEmail
    workflows: Any  # StepFunctionsWorkflows
    outbox: Any  # OutboxPublisher
    link_key: str
    base_url: str
    audit_table: str


# -- a step asks people --------------------------------------------------------------------------------------
class StepEmailsOwed(RuntimeError):
    """Some of a step's emails could not be sent now (the others were). The queue message fails, so SQS delivers
    it again and the redelivery sends what is owed; after the queue's last attempt it waits in the dead-letter
    queue, which raises an alert."""


def request_step(message: StepRequest, deps: ApprovalDeps, now: datetime) -> list[str]:
    """Record one link per person (once), then email every person whose email is still owed; returns the links
    this delivery emailed (the local stack prints them).

    Safe to deliver again, at any point: a redelivery re-uses the approvals the first delivery recorded (same ids,
    so the same links), emails only what is not sent yet and finishes the follow-ups if they are not done (each
    idempotent). Each email is claimed per person and step before it is sent, and given back when the send fails;
    while one is owed the message fails, so SQS delivers it again.
    """
    token_ref = links.token_reference(message.task_token)
    people = dict.fromkeys(p.lower() for p in message.people)
    channels = tuple(c for c in message.channels if c in CHANNELS)
    expires = int(now.timestamp()) + max(LINK_TTL_SECONDS, message.sla_minutes * 60 * 2)
    approvals = [Approval(
        approval_id=secrets.token_urlsafe(16), issue_id=message.issue_id, person=person, step=message.step,
        action=message.action, role=message.role, protocol=message.protocol, attempt=message.attempt,
        outcomes=tuple(message.outcomes), draft=message.draft, comment=message.comment,
        commented_by=message.commented_by, status=PENDING, created_at=now.isoformat(), expires_at=expires,
        token_ref=token_ref, channels=channels) for person in people]
    booked = False
    try:
        deps.approvals.record_request(approvals, message.task_token, message.execution)
    except AlreadyUsed:  # a redelivered message: what the first delivery recorded
        recorded = deps.approvals.recorded(message.task_token)
        approvals, booked = recorded.approvals, recorded.booked
        if not approvals:
            return []  # the step was acted on: nobody is owed an email
    # The emails first, so people get their links even while a follow-up keeps failing.
    sent, owed = _email_owed(approvals, message, deps, now)
    if not booked:
        recorded_at = datetime.fromisoformat(approvals[0].created_at)
        deps.approvals.supersede_pending(message.issue_id, message.step, token_ref, recorded_at)
        deps.issues.start_work(message.issue_id, message.category)
        # One key per request (its time and token): a redelivery writes the same event again, not a second one.
        deps.issues.append(AuditEvent(issue_id=message.issue_id, at=recorded_at, type=f"step_{message.attempt}",
                                      actor=SYSTEM_PROTOCOL, suffix=token_ref.removeprefix("token#")[:8], details={
                                          "step": message.step, "action": message.action,
                                          "people": message.people, "sla_minutes": message.sla_minutes}))
        deps.approvals.mark_booked(token_ref, now)
    if owed:
        raise StepEmailsOwed(f"{len(owed)} of {len(approvals)} emails owed: " + "; ".join(owed))
    return sent


def _email_owed(approvals: list[Approval], message: StepRequest, deps: ApprovalDeps,
                now: datetime) -> tuple[list[str], list[str]]:
    """Email each approval not emailed yet, each under its claim: (the links sent, what is still owed)."""
    issue: dict[str, Any] | None = None
    sent, owed = [], []
    for approval in approvals:
        if approval.emailed:
            continue
        try:
            claim = deps.approvals.claim_email(approval, now)
        except SendInProgress:
            owed.append(f"{approval.approval_id}: being sent by another delivery")
            continue
        if claim is None:
            continue  # sent meanwhile, or the link is used or retired: nothing to ask this person now
        if issue is None:
            issue = deps.issues.get(message.issue_id) or {}
        url = deps.base_url + links.link_path(deps.link_key, approval.approval_id, approval.person,
                                              approval.expires_at)
        subject, text, html = step_email(approval, issue, url, message.sla_minutes)
        try:
            deps.email.send(approval.person, subject, text, html)
        except Exception as error:  # noqa: BLE001 - the others still go out; this one is owed
            deps.approvals.emails.give_back(claim)
            logger.warning("approval email failed", extra={"issue_id": approval.issue_id,
                                                           "approval_id": approval.approval_id,
                                                           "error": type(error).__name__})
            owed.append(f"{approval.approval_id}: {type(error).__name__}")
            continue
        deps.approvals.emails.done(claim)
        sent.append(url)
    return sent, owed


ACTION_WORDS = {"draft": "Draft the reply", "review": "Review the reply", "approve": "Approve the reply",
                "respond": "Answer the customer"}


def step_email(approval: Approval, issue: dict[str, Any], url: str, sla_minutes: int) -> tuple[str, str, str]:
    """Subject, text and HTML of a step's email. Every piece of user text is escaped in the HTML."""
    what = ACTION_WORDS.get(approval.action, approval.action)
    urgency = {"reminder": "Reminder: ", "escalated": "Escalated to you: "}.get(approval.attempt, "")
    category = str(issue.get("category", "")).replace("_", " ")
    subject = f"{urgency}{what} [{category}, {issue.get('severity', '')}] {approval.issue_id}"
    description = str(issue.get("description", ""))
    lines = [f"{what} within {sla_minutes} minutes ({approval.role}).", "", description]
    if approval.comment:
        lines += ["", f"Comment from {approval.commented_by}: {approval.comment}"]
    if approval.draft:
        lines += ["", "Current draft:", approval.draft]
    lines += ["", f"Open: {url}", "", "The link is for you alone, works once, and expires."]
    html = (f"<p><strong>{escape(what)}</strong> within {sla_minutes} minutes ({escape(approval.role)}).</p>"
            f"<p>{escape(description)}</p>"
            + (f"<p>Comment from {escape(approval.commented_by)}: {escape(approval.comment)}</p>"
               if approval.comment else "")
            + (f"<p>Current draft:</p><blockquote>{escape(approval.draft)}</blockquote>" if approval.draft else "")
            + f'<p><a href="{escape(url, quote=True)}">Open the {escape(approval.step)} step</a></p>'
            + "<p>The link is for you alone, works once, and expires.</p>")
    return subject, "\n".join(lines), html


# -- a person opens the link ----------------------------------------------------------------------------------
class LinkRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def open_link(approval_id: str, exp: str | None, sig: str | None, deps: ApprovalDeps, now: datetime) -> Approval:
    approval = deps.approvals.get(approval_id)
    person = approval.person if approval else "nobody"
    # Unknown ids are checked against a signature too, so a guess and a forgery look the same: 403.
    verdict = links.check(deps.link_key, approval_id, person, exp, sig, now.timestamp())
    if approval is None or verdict is links.LinkCheck.TAMPERED or str(approval.expires_at) != str(exp):
        raise LinkRefused(403, "This link is not valid.")
    if verdict is links.LinkCheck.EXPIRED:
        raise LinkRefused(410, "This link has expired.")
    if approval.status != PENDING:
        raise LinkRefused(410, "This link was already used, or its step has moved on." if approval.status == "used"
                          else "This step has moved on (it was reminded or escalated); use the newest email.")
    return approval


@dataclass(frozen=True)
class PageData:
    approval: Approval
    issue: dict[str, Any]
    mentions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    canned_warning: str | None
    channels: tuple[str, ...] = ("public_reply",)  # pre-selected on a drafting step's page


def view(approval: Approval, deps: ApprovalDeps, now: datetime) -> PageData:
    issue = deps.issues.get(approval.issue_id) or {}
    return PageData(approval=approval, issue=issue, mentions=deps.issues.mentions(approval.issue_id),
                    history=sorted(deps.issues.history(approval.issue_id), key=lambda e: e["sk"]),
                    canned_warning=canned_warning(approval.draft, deps.outbox.recent(now)) if approval.draft else None,
                    channels=approval.channels or default_channels(approval.protocol))


def default_channels(protocol: str) -> tuple[str, ...]:
    """The protocol's ``publish`` list, from the bundled plan the deployed state machines are compiled from."""
    found = bundled_plan().protocols.get(protocol)
    chosen = {channel for channel in (found.publish if found else []) if channel in CHANNELS}
    return tuple(channel for channel in CHANNELS if channel in chosen) or (CHANNELS[0],)


def canned_warning(draft: str, recent: list[dict[str, Any]]) -> str | None:
    """A visible warning when the draft is near-identical to a recent reply (canned replies read as insincere)."""
    mine = signature_of(draft)
    if mine is None:
        return None
    for reply in recent:
        theirs = signature_of(str(reply.get("text", "")))
        if theirs and similarity(mine, theirs) >= CANNED_SIMILARITY:
            return (f"This draft is nearly identical to a reply sent on {str(reply.get('published_at', ''))[:10]} "
                    f"to {reply.get('recipient') or 'another customer'}. Personalise it: canned replies read as "
                    "insincere.")
    return None


# -- a person acts --------------------------------------------------------------------------------------------
class ActForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    outcome: Literal["submitted", "approved", "rejected", "edited"]
    comment: str = Field(default="", max_length=4000)
    draft: str = Field(default="", max_length=5000)
    # One form field (the page's form handler keeps a field's first value): "public_reply", "private_reply" or
    # both, comma-separated. Deduplicated and put in CHANNELS order.
    channels: list[Literal["public_reply", "private_reply"]] = Field(default_factory=list)

    @field_validator("channels", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("channels")
    @classmethod
    def _in_order(cls, value: list[str]) -> list[str]:
        return [channel for channel in CHANNELS if channel in value]


def act(approval: Approval, form: ActForm, deps: ApprovalDeps, now: datetime) -> str:
    """Consume the link and resume the protocol. Returns the outcome recorded."""
    if form.outcome not in approval.outcomes:
        raise LinkRefused(400, f"'{form.outcome}' is not an outcome of this step "
                               f"(allowed: {', '.join(approval.outcomes)})")
    if form.outcome == "rejected" and not form.comment:
        raise LinkRefused(400, "A rejection needs a comment saying what to change.")
    if form.outcome in ("submitted", "edited") and approval.action in ("draft", "respond", "review") \
            and not form.draft:
        raise LinkRefused(400, "The reply text is empty.")
    chooses = approval.action in CHOOSING_ACTIONS and form.outcome in ("submitted", "edited")
    if chooses and form.outcome == "submitted" and not form.channels:
        raise LinkRefused(400, "Choose where the reply goes: publicly, privately or both.")
    draft = form.draft if form.outcome in ("submitted", "edited") else ""
    channels = form.channels if chooses else []  # [] keeps the protocol's current choice
    details: dict[str, Any] = {"step": approval.step, "action": approval.action, "attempt": approval.attempt,
                               "comment": form.comment, "draft": draft}
    if channels:
        details["channels"] = channels
    event = AuditEvent(issue_id=approval.issue_id, at=now, type=f"step_{form.outcome}", actor=approval.person,
                       details=details)
    try:
        token = deps.approvals.consume(approval, audit_item(event), deps.audit_table, now)
    except AlreadyUsed as used:
        raise LinkRefused(410, "This link was already used, or its step has moved on.") from used
    try:
        deps.workflows.resume(token, {"outcome": form.outcome, "actor": approval.person, "comment": form.comment,
                                      "draft": draft, "channels": channels})
    except StepCallbackFailed as failed:
        # Consumed but too late: the step timed out and moved on meanwhile. Say so, on the record too.
        deps.approvals.mark_callback_failed(approval, str(failed))
        deps.issues.append(AuditEvent(issue_id=approval.issue_id, at=now, type="step_too_late",
                                      actor=approval.person, details={"step": approval.step, "reason": str(failed)}))
        raise LinkRefused(409, "This step had already moved on (it timed out and was escalated); "
                               "your answer is recorded on the issue but did not change the protocol.") from failed
    return form.outcome


# -- the reply goes out ---------------------------------------------------------------------------------------
def publish_reply(message: PublishRequest, deps: ApprovalDeps, now: datetime) -> list[str]:
    """Post the reply on each channel once, record it, resume the run. Safe to deliver again: the posts are
    found, not repeated, and the record is written again the same (the first post's time, one audit key), so a
    delivery that failed after posting still leaves the issue's record complete."""
    mentions = deps.issues.mentions(message.issue_id)
    # Answer the first mention of the issue (the one that opened it); campaigns get one reply, not fifty.
    target = min(mentions, key=lambda m: m.get("created_at", "")) if mentions else {}
    posted = [deps.outbox.publish(message.issue_id, target, channel, message.draft, message.approved_by, now,
                                  run=message.execution) for channel in message.channels]
    sent = [post.outbox_id for post in posted]
    if posted:
        first = min(post.published_at for post in posted)
        deps.issues.record_response(message.issue_id, first)
        deps.issues.append(AuditEvent(issue_id=message.issue_id, at=first, type="published", actor=SYSTEM_PROTOCOL,
                                      suffix=hashlib.sha256(message.execution.encode()).hexdigest()[:8],
                                      details={"channels": message.channels, "outbox": sent,
                                               "approved_by": message.approved_by}))
    try:
        deps.workflows.resume(message.task_token, {"published": len(sent), "outbox": sent})
    except StepCallbackFailed:
        # The earlier delivery already resumed the run (or it timed out): the reply is out either way, and
        # retrying this message could not change that.
        logger.warning("publish callback refused", extra={"issue_id": message.issue_id})
    return sent
