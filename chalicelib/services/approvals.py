"""Approval use cases: a protocol step asks people (by email), one of them acts (by the link's form), the
approved reply is published. Step Functions waits in between (``.waitForTaskToken``).

* :func:`request_step`: an approval-queue message (from the state machine) becomes one signed link per person,
  emailed once (a failed email is owed to the message's redelivery); earlier attempts' links are retired; the
  issue's audit trail records the request.
* :func:`open_link` and :func:`view`: what a link's page shows. Changes nothing (mail scanners fetch links
  before people do).
* :func:`act`: the form's POST. Checks the link, consumes it (single use), records who did what, resumes the
  state machine with a :class:`~chalicelib.domain.protocol_messages.StepCallback`.
* :func:`publish_reply`: a publish-queue message: the reply goes out on each channel once, on the mention's
  platform (or the outbox), the issue gets its first response time from the platform's own timestamp, refusals
  are on the record and alerted, and the state machine is resumed.

The entity and its outcome rules are in ``domain/approval.py``; the email in ``approval_email.py``; the messages in
``domain/protocol_messages.py``. Everything outside is reached through the ports in ``services/ports.py``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import links
from chalicelib.domain.alerts import Alert, AlertKind
from chalicelib.domain.approval import (
    PENDING,
    Answer,
    Approval,
    Refused,
    canned_warning,
    decide,
    similar_replies,
    time_left,
)
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.plan import ResponsePlan
from chalicelib.domain.protocol_messages import (
    CHANNELS,
    PUBLISH_REFUSED_ERROR,
    SYSTEM_PROTOCOL,
    SYSTEM_PUBLISHER,
    PublishCallback,
    PublishRequest,
    StepCallback,
    StepRequest,
)
from chalicelib.domain.publishing import ChannelPost, Next, PublishResult, ReplyTarget
from chalicelib.observability import logger
from chalicelib.services.approval_email import safe_web_link, step_email
from chalicelib.services.errors import AlreadyUsed, SendInProgress, StepCallbackFailed, WorkflowUnavailable
from chalicelib.services.ports import (
    AlertRaiser,
    ApprovalIssues,
    ApprovalStore,
    Mailer,
    ReplyPublisher,
    Workflows,
)
from chalicelib.settings import LINK_TTL_SECONDS

PUBLISH_ALERT_KIND = AlertKind.PUBLISH_REFUSED
LinkRefused = Refused  # the name the api layer catches

__all__ = [
    "ApprovalDeps",
    "LinkRefused",
    "PageData",
    "PublishLater",
    "PublishRequest",
    "StepEmailsOwed",
    "StepRequest",
    "act",
    "open_link",
    "publish_reply",
    "request_step",
    "view",
]


@dataclass
class ApprovalDeps:
    approvals: ApprovalStore
    issues: ApprovalIssues
    email: Mailer
    workflows: Workflows
    publisher: ReplyPublisher
    alerts: AlertRaiser
    plan: ResponsePlan  # the plan the deployed state machines are compiled from (voice, default channels)
    link_key: str
    base_url: str


# -- a step asks people --------------------------------------------------------------------------------------
class StepEmailsOwed(RuntimeError):
    """Some of a step's emails could not be sent now (the others were). The queue message fails, so SQS delivers
    it again and the redelivery sends what is owed; after the queue's last attempt it waits in the dead-letter
    queue, which raises an alert."""


def audience(message: StepRequest, plan: ResponsePlan) -> tuple[list[str], list[str]]:
    """Whom the attempt asks and whom it escalates to, from ``plan``'s teams (the active plan: a team an uploaded
    plan changed applies to the next step at once, where the state machine holds the lists compiled at deploy).
    The compiled lists when ``plan`` has no such step, or the message does not say whom it asks (a run started on a
    definition deployed before it did)."""
    protocol = plan.protocols.get(message.protocol)
    step = next((s for s in protocol.steps if s.name == message.step), None) if protocol else None
    if step is None or message.audience is None:
        return list(message.people), list(message.escalates_to)
    people = plan.step_people(step)
    backup = list(step.backup) or people
    return (backup if message.audience == "backup" else people), (backup if message.escalates_to else [])


def request_step(message: StepRequest, deps: ApprovalDeps, now: datetime) -> list[str]:
    """Record one link per person (once), then email every person whose email is still owed; returns the links
    this delivery emailed (the local stack prints them).

    Safe to deliver again, at any point: a redelivery re-uses the approvals the first delivery recorded (same ids,
    so the same links), emails only what is not sent yet and finishes the follow-ups if they are not done (each
    idempotent). Each email is claimed per person and step before it is sent, and given back when the send fails;
    while one is owed the message fails, so SQS delivers it again.
    """
    token_ref = links.token_reference(message.task_token)
    asked, escalates_to = audience(message, deps.plan)
    people = dict.fromkeys(p.lower() for p in asked)
    channels = tuple(c for c in message.channels if c in CHANNELS)
    expires = int(now.timestamp()) + max(LINK_TTL_SECONDS, message.wait_seconds() * 2)
    due_at = (now + timedelta(seconds=message.wait_seconds())).isoformat()
    approvals = [
        Approval(
            approval_id=secrets.token_urlsafe(16),
            issue_id=message.issue_id,
            person=person,
            step=message.step,
            action=message.action,
            role=message.role,
            protocol=message.protocol,
            attempt=message.attempt,
            outcomes=tuple(message.outcomes),
            draft=message.draft,
            comment=message.comment,
            commented_by=message.commented_by,
            status=PENDING,
            created_at=now.isoformat(),
            expires_at=expires,
            token_ref=token_ref,
            channels=channels,
            due_at=due_at,
            escalates_to=tuple(escalates_to),
        )
        for person in people
    ]
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
        deps.issues.append(
            AuditEvent(
                issue_id=message.issue_id,
                at=recorded_at,
                type=f"step_{message.attempt}",
                actor=SYSTEM_PROTOCOL,
                suffix=token_ref.removeprefix("token#")[:8],
                details={
                    "step": message.step,
                    "action": message.action,
                    "people": message.people,
                    "sla_minutes": message.sla_minutes,
                },
            )
        )
        if message.draft and canned_warning(message.draft, deps.publisher.recent(now)):
            # The step's page will warn that the draft reads like a recent reply (the weekly report counts these).
            deps.issues.append(
                AuditEvent(
                    issue_id=message.issue_id,
                    at=recorded_at,
                    type="canned_warning_raised",
                    actor=SYSTEM_PROTOCOL,
                    suffix=token_ref.removeprefix("token#")[:8],
                    details={"step": message.step},
                )
            )
        deps.approvals.mark_booked(token_ref, now)
    if owed:
        raise StepEmailsOwed(f"{len(owed)} of {len(approvals)} emails owed: " + "; ".join(owed))
    return sent


def _email_owed(
    approvals: list[Approval], message: StepRequest, deps: ApprovalDeps, now: datetime
) -> tuple[list[str], list[str]]:
    """Email each approval not emailed yet, each under its claim: (the links sent, what is still owed)."""
    issue: dict[str, Any] | None = None
    post_url: str | None = None
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
            post_url = _original_post(deps.issues.mentions(message.issue_id))
        url = deps.base_url + links.link_path(deps.link_key, approval.approval_id, approval.person, approval.expires_at)
        email = step_email(
            approval, issue, url, now, _guidance(deps.plan, message.category), post_url, message.sla_minutes
        )
        try:
            deps.email.send(approval.person, email.subject, email.text, email.html)
        except Exception as error:  # noqa: BLE001 - the others still go out; this one is owed
            deps.approvals.email_failed(claim)
            logger.warning(
                "approval email failed",
                extra={
                    "issue_id": approval.issue_id,
                    "approval_id": approval.approval_id,
                    "error": type(error).__name__,
                },
            )
            owed.append(f"{approval.approval_id}: {type(error).__name__}")
            continue
        deps.approvals.email_sent(claim)
        sent.append(url)
    return sent, owed


def _guidance(plan: ResponsePlan, category: str) -> list[str]:
    return plan.voice.guidance(category) if plan.voice else []


def _first_mention(mentions: list[dict[str, Any]]) -> dict[str, Any]:
    """The mention that opened the issue: the one a reply answers (campaigns get one reply, not fifty)."""
    return min(mentions, key=lambda m: str(m.get("created_at", ""))) if mentions else {}


def _original_post(mentions: list[dict[str, Any]]) -> str | None:
    return safe_web_link(_first_mention(mentions).get("url"))


# -- a person opens the link ----------------------------------------------------------------------------------
def open_link(
    approval_id: str, exp: str | None, sig: str | None, deps: ApprovalDeps, now: datetime, answering: bool = False
) -> Approval:
    """The link's approval, or :class:`Refused`. ``answering``: a POST, which may also pass on an answer recorded
    earlier that the protocol did not get (the link is used, its callback owed)."""
    approval = deps.approvals.get(approval_id) if len(approval_id) <= links.MAX_LINK_ID_CHARS else None
    person = approval.person if approval else "nobody"
    # Unknown ids are checked against a signature too, so a guess and a forgery look the same: 403.
    verdict = links.check(deps.link_key, approval_id, person, exp, sig, now.timestamp())
    if approval is None or verdict is links.LinkCheck.TAMPERED or str(approval.expires_at) != str(exp):
        raise Refused(403, "This link is not valid.")
    if verdict is links.LinkCheck.EXPIRED:
        raise Refused(410, "This link has expired.")
    if approval.callback_owed:
        if answering:
            return approval
        raise Refused(
            410,
            "Your answer is recorded, but it has not reached the protocol yet: send the form again from the page "
            "you answered on to pass it on.",
        )
    if approval.status != PENDING:
        raise Refused(
            410,
            "This link was already used, or its step has moved on."
            if approval.status == "used"
            else "This step has moved on (it was reminded or escalated); use the newest email.",
        )
    return approval


@dataclass(frozen=True)
class PageData:
    approval: Approval
    issue: dict[str, Any]
    mentions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    canned_warning: str | None
    channels: tuple[str, ...] = ("public_reply",)  # pre-selected on a drafting step's page
    time_left: str = ""
    post_url: str | None = None
    guidance: list[str] = field(default_factory=list)
    limits: dict[str, int | None] = field(default_factory=dict)  # channel -> longest reply on this platform
    similar: list[dict[str, Any]] = field(default_factory=list)  # the last replies sent on similar issues


def view(approval: Approval, deps: ApprovalDeps, now: datetime) -> PageData:
    issue = deps.issues.get(approval.issue_id) or {}
    mentions = deps.issues.mentions(approval.issue_id)
    recent = deps.publisher.recent(now)
    return PageData(
        approval=approval,
        issue=issue,
        mentions=mentions,
        history=sorted(deps.issues.history(approval.issue_id), key=lambda e: e["sk"]),
        canned_warning=canned_warning(approval.draft, recent) if approval.draft else None,
        channels=approval.channels or default_channels(deps.plan, approval.protocol),
        time_left=time_left(approval.due_at, now),
        post_url=_original_post(mentions),
        guidance=_guidance(deps.plan, str(issue.get("category", ""))),
        limits=_limits(deps, _platform(issue, mentions)),
        similar=similar_replies({**issue, "issue_id": approval.issue_id}, recent),
    )


def default_channels(plan: ResponsePlan, protocol: str) -> tuple[str, ...]:
    """The protocol's ``publish`` list."""
    found = plan.protocols.get(protocol)
    chosen = {channel for channel in (found.publish if found else []) if channel in CHANNELS}
    return tuple(channel for channel in CHANNELS if channel in chosen) or (CHANNELS[0],)


def _platform(issue: dict[str, Any], mentions: list[dict[str, Any]]) -> str:
    """The platform the reply goes out on: the first mention's."""
    return str(_first_mention(mentions).get("platform") or issue.get("platform") or "")


def _limits(deps: ApprovalDeps, platform: str) -> dict[str, int | None]:
    return {channel: deps.publisher.length_limit(platform, channel) for channel in CHANNELS}


# -- a person acts --------------------------------------------------------------------------------------------
def act(approval: Approval, answer: Answer, deps: ApprovalDeps, now: datetime) -> str:
    """Consume the link and resume the protocol. Returns the outcome recorded. A link whose answer is recorded but
    did not reach the protocol passes that answer on (the first answer stands: it is on the audit trail)."""
    if approval.callback_owed:
        return _pass_on_owed(approval, deps, now)[0]
    issue = deps.issues.get(approval.issue_id) or {}
    platform = _platform(issue, deps.issues.mentions(approval.issue_id))
    decision = decide(
        approval, answer, _limits(deps, platform), default_channels(deps.plan, approval.protocol), platform
    )
    event = AuditEvent(
        issue_id=approval.issue_id,
        at=now,
        type=f"step_{answer.outcome}",
        actor=approval.person,
        details=decision.details,
    )
    callback = StepCallback(
        outcome=answer.outcome,
        actor=approval.person,
        comment=answer.comment,
        draft=decision.draft,
        channels=list(decision.channels),
    ).model_dump()
    try:
        token = deps.approvals.consume(approval, event, callback, now)
    except AlreadyUsed as used:
        raise Refused(410, "This link was already used, or its step has moved on.") from used
    proceeding_text = decision.draft or (approval.draft if answer.outcome == "approved" else "")
    if proceeding_text and canned_warning(proceeding_text, deps.publisher.recent(now)):
        # Sent on despite the warning: on the record (the weekly report counts these).
        deps.issues.append(
            AuditEvent(
                issue_id=approval.issue_id,
                at=now,
                type="canned_warning_overridden",
                actor=approval.person,
                details={"step": approval.step},
            )
        )
    _pass_on(approval, token, callback, deps, now)
    return answer.outcome


def _pass_on_owed(approval: Approval, deps: ApprovalDeps, now: datetime) -> tuple[str, bool]:
    """Pass on the link's recorded answer: its outcome, and whether this call gave it to the protocol (False: the
    protocol had it already, from an earlier call that could not clear the owed mark)."""
    owed = deps.approvals.owed_callback(approval)
    if owed is None:  # another POST of the link passed it on meanwhile
        raise Refused(410, "This link was already used, or its step has moved on.")
    token, callback = owed
    return str(callback["outcome"]), _pass_on(approval, token, callback, deps, now, again=True)


def _pass_on(
    approval: Approval, token: str, callback: dict[str, Any], deps: ApprovalDeps, now: datetime, again: bool = False
) -> bool:
    """Resume the protocol with the recorded answer; nothing is owed once it has it. ``again``: a second try (of an
    answer recorded as owed), which Step Functions refuses as done when an earlier try reached it. True when this
    call resumed the protocol, False when it had the answer already."""
    try:
        deps.workflows.resume(token, callback)
    except WorkflowUnavailable as unavailable:
        # The answer is recorded and owed: the link's next POST passes it on (the step's timer is the net).
        raise Refused(503, _UNAVAILABLE) from unavailable
    except StepCallbackFailed as failed:
        if again and _answer_arrived(approval, token, callback, deps):
            return False  # an earlier try (a POST beside this one, or one that could not clear the mark) resumed it
        # Consumed but too late: the step timed out and moved on meanwhile. Say so, on the record too.
        deps.approvals.mark_callback_failed(approval, str(failed))
        deps.issues.append(
            AuditEvent(
                issue_id=approval.issue_id,
                at=now,
                type="step_too_late",
                actor=approval.person,
                details={"step": approval.step, "reason": str(failed)},
            )
        )
        raise Refused(
            409,
            "This step had already moved on (it timed out and was escalated, or the issue was closed); "
            "your answer is recorded on the issue but did not change the protocol.",
        ) from failed
    _delivered(approval, deps)
    return True


_UNAVAILABLE = (
    "Your answer is recorded, but the protocol could not be reached just now. Send the form again in a minute to "
    "pass it on; nothing is recorded twice."
)


def _answer_arrived(approval: Approval, token: str, callback: dict[str, Any], deps: ApprovalDeps) -> bool:
    """An owed answer whose callback Step Functions refused (the token is done): did this answer finish the step?
    An earlier try may have reached the protocol and then not cleared the owed mark (the mark's write failed, or
    that try is still between the two). Asked of the run's history, not concluded from the mark; the mark is
    cleared when it did. :class:`Refused` (503) while the run cannot be asked: the answer stays owed."""
    if deps.approvals.owed_callback(approval) is None:
        return True  # a POST beside this one passed it on and cleared the mark
    arrived = deps.workflows.answered_with(deps.approvals.execution_of(approval), token, callback)
    if arrived is None:
        raise Refused(503, _UNAVAILABLE)
    if arrived:
        _delivered(approval, deps)
    return arrived


def _delivered(approval: Approval, deps: ApprovalDeps) -> None:
    """Clear the owed mark of an answer the protocol has. A failed write is not the approver's concern (their answer
    took effect): it is logged, and the schedule's pass-on finds the answer already taken and clears the mark."""
    try:
        deps.approvals.callback_delivered(approval)
    except Exception as error:  # noqa: BLE001 - the protocol has the answer; only the bookkeeping is behind
        logger.warning(
            "answer passed on, owed mark not cleared",
            extra={"issue_id": approval.issue_id, "approval_id": approval.approval_id, "error": type(error).__name__},
        )


# -- answers owed to the protocol -----------------------------------------------------------------------------
OWED_GRACE = timedelta(minutes=2)  # an answer younger than this may still be passing on in its own request


def pass_on_owed_answers(deps: ApprovalDeps, now: datetime, grace: timedelta = OWED_GRACE) -> dict[str, int]:
    """The schedule's net for answers recorded but not passed on (Step Functions refused the callback, or the
    function ended before it was made), so an answer given never waits for its person to send the form again while
    the step's timer runs towards escalation. Answers younger than ``grace`` are left to their own request. Stops at
    the first refusal to take a callback: Step Functions is still unavailable, and the next run tries again. A callback
    Step Functions refuses as done is "too late" only when the run's history shows its step ended without this answer;
    one it shows taken (an earlier try that could not clear the owed mark) is cleared, counted passed on elsewhere."""
    done = {"passed_on": 0, "too_late": 0, "passed_on_elsewhere": 0, "still_unavailable": 0}
    for approval in deps.approvals.owed_since(now - grace):
        try:
            _, passed_on = _pass_on_owed(approval, deps, now)
        except Refused as refused:
            kind = {503: "still_unavailable", 409: "too_late"}.get(refused.status, "passed_on_elsewhere")
            done[kind] += 1
            if kind == "still_unavailable":
                break
        else:
            done["passed_on" if passed_on else "passed_on_elsewhere"] += 1
    return done


# -- the reply goes out ---------------------------------------------------------------------------------------
class PublishLater(RuntimeError):
    """A channel could not be published now (a rate limit, the platform down, a timeout): the queue message
    fails and is delivered again at ``retry_at`` (the reset the platform named), when the claim lets it try."""

    def __init__(self, retry_at: datetime, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.retry_at = retry_at


def _run_event(message: PublishRequest, kind: str, at: datetime, details: dict[str, Any]) -> AuditEvent:
    """A publish outcome on the issue's trail, keyed by the run: a redelivery writes the same event again."""
    return AuditEvent(
        issue_id=message.issue_id,
        at=at,
        type=kind,
        actor=SYSTEM_PROTOCOL,
        suffix=hashlib.sha256(message.execution.encode()).hexdigest()[:8],
        details=details,
    )


def publish_reply(message: PublishRequest, deps: ApprovalDeps, now: datetime) -> list[str]:
    """Post the reply on each channel once, record it, resume the run; returns the posts' ids.

    Safe to deliver again: each channel's post is claimed before it is sent, so a redelivery finds the post (or
    the refusal) instead of repeating it, and the record is written again the same (the first post's time, one
    audit key), so a delivery that failed after posting still leaves the issue's record complete. A channel that
    must wait (a rate limit, a timeout) fails the message with :class:`PublishLater` after the others are
    recorded; a refused channel (a platform rule, a revoked token) is audited and alerted, never retried.
    """
    ended = deps.workflows.ended(message.execution)
    if ended == "SUCCEEDED":
        return []  # a redelivery after the reply went out and the run resolved: nothing more to do or record
    if ended:
        # The run gave up meanwhile (its Publish step timed out while a rate limit's reset was awaited, or the issue
        # was closed): it alerted that nothing went out, and people may have answered another way. Posting now
        # could send the customer a second reply.
        deps.issues.append(
            _run_event(
                message,
                "publish_skipped",
                now,
                {"channels": list(message.channels), "reason": "the protocol had ended before it could post"},
            )
        )
        logger.warning("publish skipped: the protocol had ended", extra={"issue_id": message.issue_id})
        return []
    issue = deps.issues.get(message.issue_id) or {}
    mention = _first_mention(deps.issues.mentions(message.issue_id))
    target = ReplyTarget.from_mention(mention) if mention else ReplyTarget(str(issue.get("platform", "")), "")
    results: dict[str, PublishResult] = {}
    for channel in message.channels:
        post = ChannelPost(
            issue_id=message.issue_id,
            run=message.execution,
            channel=channel,
            text=message.draft,
            approved_by=message.approved_by,
            target=target,
            category=str(issue.get("category", "")),
            topic=str(issue.get("topic", "")),
            products=tuple(issue.get("products") or ()),
        )
        results[channel] = deps.publisher.publish(post, now)
    published = {channel: r for channel, r in results.items() if r.next is Next.DONE}
    refused = {channel: r for channel, r in results.items() if r.next in (Next.ALERT, Next.FINAL)}
    waiting = {channel: r for channel, r in results.items() if r.next is Next.RETRY}
    posts = [str(r.platform_id or "") for r in published.values()]
    if published:
        first = min(r.published_at or now for r in published.values())
        deps.issues.record_response(message.issue_id, first)
        deps.issues.append(
            _run_event(
                message,
                "published",
                first,
                {
                    "channels": list(published),
                    "platform": target.platform,
                    "posts": posts,
                    "approved_by": message.approved_by,
                },
            )
        )
    for channel, result in refused.items():
        _record_refusal(message, issue, target, channel, result, deps, now)
    if waiting:
        retry_at = min(r.retry_at or now for r in waiting.values())
        logger.info(
            "publish waits",
            extra={
                "issue_id": message.issue_id,
                "retry_at": retry_at.isoformat(),
                "reasons": [r.reason.value for r in waiting.values()],
            },
        )
        raise PublishLater(retry_at, [f"{channel}: {r.reason.value}" for channel, r in waiting.items()])
    not_out = [f"{channel}: {r.reason.value}" for channel, r in refused.items()]
    if not results:  # nothing chosen to publish on: the issue must not resolve as if a reply went out
        not_out = ["no channel was chosen to publish on"]
        deps.issues.append(_run_event(message, "publish_refused", now, {"reason": not_out[0]}))
    try:
        if published:
            deps.workflows.resume(
                message.task_token, PublishCallback(published=len(published), posts=posts, refused=not_out).model_dump()
            )
        else:
            deps.workflows.fail(message.task_token, PUBLISH_REFUSED_ERROR, "; ".join(not_out))
    except StepCallbackFailed:
        # The earlier delivery already resumed the run (or it timed out): the reply is out (or refused) either
        # way, and retrying this message could not change that.
        logger.warning("publish callback refused", extra={"issue_id": message.issue_id})
    return posts


def _record_refusal(
    message: PublishRequest,
    issue: dict[str, Any],
    target: ReplyTarget,
    channel: str,
    result: PublishResult,
    deps: ApprovalDeps,
    now: datetime,
) -> None:
    """A channel that will not go out: on the issue's trail (once: a redelivery answers the stored refusal as a
    repeat) and alerted (the alert is keyed by issue, channel and reason, so a redelivery never sends it twice)."""
    details = {"channel": channel, "platform": target.platform, **result.to_dict()}
    if not result.repeat:
        deps.issues.append(
            AuditEvent(
                issue_id=message.issue_id,
                at=now,
                type="publish_refused" if result.next is Next.FINAL else "publish_failed",
                actor=SYSTEM_PUBLISHER,
                suffix=hashlib.sha256(f"{message.execution}|{channel}".encode()).hexdigest()[:8],
                details=details,
            )
        )
    where = f"{target.platform or 'the platform'} ({channel.replace('_', ' ')})"
    deps.alerts.raise_alert(
        Alert(
            kind=PUBLISH_ALERT_KIND,
            severity="critical" if result.next is Next.ALERT else "high",
            category=str(issue.get("category") or "none"),
            team=str(issue.get("team") or "none"),
            issue_id=message.issue_id,
            subject=f"Reply not published on {where}: {result.reason.value}",
            message=f"Issue {message.issue_id}: the approved reply was not published on {where}. {result.detail}",
            details=details,
            scope=f"{channel}:{result.reason.value}",
        ),
        now,
    )
