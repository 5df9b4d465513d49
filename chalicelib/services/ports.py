"""The interfaces the use cases need from the outside world (Cosmic Python's 'ports').

Adapters in ``chalicelib/adapters`` implement them on AWS; ``tests/fakes.py`` implements them in memory for the
services' unit tests. The errors a port raises (``AlreadyUsed``, ``SendInProgress``, ``StateConflict`` ...) are
declared in :mod:`chalicelib.services.errors`, beside them, so services catch them without importing an adapter;
``SurveyClosed`` and ``SurveyUndeliverable`` are the domain's (:mod:`chalicelib.domain.survey`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from chalicelib.domain.models import Mention

if TYPE_CHECKING:
    from datetime import date, datetime

    from chalicelib.domain.alerts import Alert
    from chalicelib.domain.approval import Approval, Recorded
    from chalicelib.domain.dedup import KeyClaim
    from chalicelib.domain.erasure import ErasureNeedles
    from chalicelib.domain.issues import AuditEvent, EscalationCase, Issue
    from chalicelib.domain.ops import Role
    from chalicelib.domain.plan import ResponsePlan
    from chalicelib.domain.publishing import ChannelPost, Claim, PublishResult, ReplyTarget
    from chalicelib.domain.recurrence import IssueFacts, RecurrenceLink
    from chalicelib.domain.report import ReportFiles, WeeklyReport
    from chalicelib.domain.surge import Observation, SurgeState
    from chalicelib.domain.survey import Survey, SurveyAnswer
    from chalicelib.domain.triage import StoredMention, TriageChange


# ---- house block: ingest, triage, plans, alerts, monitoring, ops tokens (chalicelib/bootstrap.py builds them) ----
class StoreOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    EDITED = "edited"
    REMOVED = "removed"
    HIDDEN = "hidden"


class MentionRepository(Protocol):
    """The mentions table (``adapters/mentions_table.py``)."""

    def add(self, mention: Mention) -> bool:
        """Store a new mention; ``False`` (and no write) when its identity is already stored."""

    def apply_edit(self, mention: Mention) -> StoredMention:
        """Replace the content of a mention with its edited version (stores it if it was never seen); what is
        stored under its identity now."""

    def mark(self, platform: str, external_id: str, status: str) -> None:
        """Set the visibility status (``removed``, ``hidden``) of a mention, known or not yet seen."""

    def get(self, platform: str, external_id: str) -> dict[str, Any] | None:
        """The stored record, or ``None``."""


class MentionQueue(Protocol):
    """The ingest queue (``adapters/queue.py``); raises :class:`~chalicelib.services.errors.QueueSendError`."""

    def send(self, mentions: Iterable[Mention]) -> int:
        """Enqueue mentions for processing; returns how many were sent."""


class DeadLetterQueue(Protocol):
    """Where a record no retry can fix is set aside at once (``adapters/queue.py``)."""

    queue_name: str

    def send(self, body: str, *, reason: str, message_id: str) -> None:
        """Keep ``body`` with why it failed and the id it came with."""


class TriageStore(Protocol):
    """Mentions, issues, dedup keys, audit and escalation cases, written together (``adapters/triage_table.py``,
    ``adapters/memory.py``)."""

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        """The live or expired claims of these dedup keys (consistent read)."""

    def commit(self, change: TriageChange) -> None:
        """Write the whole change atomically; raise DuplicateMention, ArrivedOutOfOrder (when what is stored is
        not ``change.prior``), ClaimConflict or IssueUnavailable (``services/errors.py``)."""


class PlanSource(Protocol):
    def active(self) -> tuple[ResponsePlan, int]:
        """The active plan and its version."""


class PlanStore(PlanSource, Protocol):
    """Versioned response plans (``adapters/plans.py``); ``upload`` raises
    :class:`~chalicelib.services.errors.PlanConflict`."""

    def upload(self, plan_yaml: str, uploaded_by: str) -> int:
        """Store the next version and make it the active one; its number."""

    def versions(self) -> list[dict[str, Any]]:
        """Every stored version with its status."""


class AlertSink(Protocol):
    """SNS alerts with an hourly cap and a digest of what the cap held back (``adapters/alerts.py``)."""

    def raise_alert(self, alert: Alert, now: datetime) -> str:
        """Publish ``alert`` once (a repeat is recognised); what happened: sent, duplicate or held."""

    def send_digest(self, hour: str, now: datetime) -> str:
        """The alerts the cap held back in ``hour``, in one message (once)."""

    def owed_digests(self, hours: list[str]) -> list[str]:
        """Those of ``hours`` whose digest is still owed (held-back alerts, not sent), oldest first."""


class LiveIssues(Protocol):
    """The issues still being worked on, by status and category (``adapters/alerts.py``)."""

    def with_status(self, status: str, category: str) -> Iterable[dict[str, Any]]:
        """Each live issue of this status and category."""


class QueueDepths(Protocol):
    """How many messages wait in a queue (``adapters/alerts.py``)."""

    def depth(self, queue_name: str) -> int:
        """Messages visible in ``queue_name`` now."""


class ProtocolRuns(Protocol):
    """Starting an issue's protocol (``adapters/workflows.py``)."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> bool:
        """Start one execution named ``name``; ``False`` when one of that name already ran (idempotent)."""

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop a running execution (an escalated issue's earlier protocol); nothing when it has ended."""


class Readiness(Protocol):
    """Whether the stage's resources answer (``adapters/aws.py``), for ``GET /health``."""

    def table_problem(self, tables: list[str]) -> str | None:
        """The first table that is not active, said in words; ``None`` when all are."""

    def queue_problem(self, queues: list[str]) -> str | None:
        """The first queue that does not exist, said in words; ``None`` when all do."""


class OpsTokens(Protocol):
    """Bearer tokens of the ops API and their rate limits (``adapters/ops_tokens.py``)."""

    def find(self, token: str, now: datetime) -> dict[str, Any] | None:
        """The live token's record, or ``None``."""

    def create(self, name: str, role: Role, days: int, now: datetime) -> tuple[str, dict[str, Any]]:
        """A new token (its secret, answered once) and its record."""

    def list(self) -> list[dict[str, Any]]:
        """Every token's record, without secrets."""

    def revoke(self, name: str | None = None, token_id: str | None = None) -> int:
        """Revoke by name or id; how many were revoked."""

    def take(self, caller: str, window: int, limit: int) -> bool:
        """One request of ``caller`` in the current window; ``False`` past ``limit``."""


class StoredAlerts(Protocol):
    """The alerts raised so far, newest first (``adapters/ops_reads.py``)."""

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` alerts."""


class DeadLetters(Protocol):
    """The dead-letter queues, read and redriven (``adapters/ops_reads.py``)."""

    @property
    def sources(self) -> dict[str, str | None]:
        """Each dead-letter queue and the queue its messages are redriven to."""

    def peek(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` messages of ``queue``, left in place."""

    def redrive(self, queue: str, message_id: str | None) -> int:
        """Move one message (or all) back to its source queue; how many moved."""


class AssignedIssue(NamedTuple):
    """An assigned issue as a backfill reads it: who it is assigned to and its person-index key as stored."""

    issue_id: str
    assigned_to: str
    assignee_shard: str | None  # None: written before the key existed


class AssignedPage(NamedTuple):
    """One page of one segment of a parallel scan of the issues."""

    issues: list[AssignedIssue]  # the assigned ones among those read
    scanned: int  # every item read, assigned or not
    next_start: dict[str, Any] | None  # where the segment's next page starts; None at its end


class AssigneeShardBackfill(Protocol):
    """The issues table, for setting ``assignee_shard`` on issues written before it (``adapters/issues_table.py``)."""

    def assigned_page(self, segment: int, segments: int, start: dict[str, Any] | None) -> AssignedPage:
        """The next page of segment ``segment`` (of ``segments``, 0-based) of a scan of every issue, from ``start``
        (None: the segment's beginning). Segments are disjoint and together cover the table, so each can be read
        by its own worker."""

    def set_assignee_shard(self, issue_id: str, assigned_to: str, value: str) -> bool:
        """Set the issue's ``assignee_shard`` to ``value`` if it is still assigned to ``assigned_to``; ``False``
        (nothing written) when it has been reassigned, unassigned or removed since it was read."""


# ---- ops engineer's block: plan upkeep and erasure --------------------------------------------------------------
class PlanLifecycle(Protocol):
    """Stored plan versions after upload (``adapters/plan_lifecycle.py``); each change writes its audit event."""

    def get(self, version: int) -> dict | None: ...

    def active_version(self) -> int | None: ...

    def activate(self, version: int, event: AuditEvent) -> int | None:
        """The version it replaced (0: none), or None when it was active already."""

    def retire(self, version: int, event: AuditEvent) -> bool: ...

    def record_review(self, version: int, reviewed_by: str, reviewed_on: date, event: AuditEvent) -> None: ...


class AlertRaiser(Protocol):
    def raise_alert(self, alert: Alert, now: datetime) -> str: ...


class ReminderMailer(Protocol):
    def send_once(self, key: str, to: str, subject: str, text: str, html: str, now: datetime) -> bool:
        """Email unless ``key`` was sent already (a re-run of a schedule sends nothing twice); True when sent."""


class IssueHistories(Protocol):
    def first_seen_between(self, first_day: str, last_day: str) -> list[dict]: ...

    def history(self, issue_id: str) -> list[dict]: ...


class ErasureStore(Protocol):
    """Every table that may hold an author's personal data (``adapters/erasure.py``)."""

    def author_mentions(self, platform: str, author_id: str) -> list[dict]:
        """The author's stored mentions not yet erased: ``key``, ``text``, ``handle``, ``name``, ``issue_id``."""

    def redact_everywhere(self, needles: ErasureNeedles, keep_partition: str) -> dict[str, int]:
        """Redact (or delete, where the author is part of an item's key) every trace of ``needles`` in every
        table but the mentions themselves; the audit events under ``keep_partition`` are left as they are.
        Items changed per table."""

    def redact_reports(self, needles: ErasureNeedles) -> int:
        """Reports already written that name the author, redacted (their earlier versions gone); files changed."""

    def erase_mentions(self, keys: list[str], erased_at: datetime) -> int: ...

    def record(self, events: list[AuditEvent]) -> None: ...


# ---- surveys & recurrence engineer's block (services/surveys.py, services/recurrence.py) ----------------------
class SurveyIssues(Protocol):
    """What the survey and recurrence use cases read of an issue (``DynamoIssues`` has these)."""

    def get(self, issue_id: str) -> dict | None: ...

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict]: ...

    def history(self, issue_id: str) -> list[dict]: ...

    def append(self, event: AuditEvent) -> None: ...


class SurveyStore(Protocol):
    """Surveys, once per issue, each sent once (``adapters/surveys_table.py``)."""

    def schedule(self, survey: Survey) -> bool:
        """Record the issue's survey, owed at ``due_at``; False (and no write) when the issue has one already."""

    def get(self, survey_id: str) -> Survey | None: ...

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """(phase, survey id) of what is due: ``send`` (owed, due), ``close`` (sent, link expired, unanswered),
        ``notify`` (answered, its event not published yet)."""

    def claim_send(self, survey_id: str, now: datetime) -> object | None:
        """Own the survey's send; None when there is nothing to send now (sent already, or another delivery holds
        a live claim: it sends it, or its lease ends and the next run does)."""

    def sent(self, claim: object, at: datetime) -> None:
        """The survey went out: its link is open until it expires."""

    def give_back(self, claim: object) -> None:
        """The send failed: owed again (the next run or redelivery sends it)."""

    def undeliverable(self, claim: object, at: datetime) -> None:
        """The channel refused the survey for good: never sent, not retried."""

    def record_answer(self, survey: Survey, answer: SurveyAnswer, at: datetime, event: AuditEvent) -> None:
        """In one transaction: the survey answered (only if it is open: sent, unanswered, unexpired), the rating on
        the issue, the audit event, and the answer's event owed to subscribers. Raises ``SurveyClosed`` otherwise."""

    def record_unanswered(self, survey: Survey, event: AuditEvent) -> bool:
        """An expired, unanswered survey: recorded as unanswered on the survey and the issue (once)."""


class SurveySender(Protocol):
    def send(self, survey: Survey, mention: dict, subject: str, text: str, html: str, now: datetime) -> str:
        """Ask the author on the survey's channel (private reply, public reply line or email) about ``mention``
        (the one the issue's reply answered); an id of what was sent. Raises ``SurveyUndeliverable`` when the
        channel refuses it for good, anything else when it could not be sent now (the claim is given back)."""


class SurveyNotices(Protocol):
    def announce(self, survey: Survey, now: datetime) -> str:
        """Tell subscribers (SNS) that the survey was answered: ``sent`` or ``duplicate``; raises on failure (owed,
        the next run publishes it)."""


class RecurrenceIndex(Protocol):
    """Resolved issues by their recurrence keys, and the links stored on issues (``adapters/recurrence_table.py``)."""

    def remember(self, facts: IssueFacts, keys: list[str], until: datetime) -> None:
        """Point each key at this resolved issue until ``until`` (the end of its recurrence window)."""

    def lookup(self, keys: list[str]) -> dict[str, IssueFacts]:
        """The resolved issue each existing key points at."""

    def link(self, link: RecurrenceLink, event: AuditEvent) -> bool:
        """Store the link and its rule on the issue with its audit event, once; False when it has one already."""


# ---- approvals engineer's block: approvals, mail, workflows, publishing ------------------------------------------
class ApprovalStore(Protocol):
    """Approval links and the task tokens they unlock (``adapters/approvals_table.py``)."""

    def record_request(self, approvals: list[Approval], task_token: str, execution: str) -> None:
        """Record a step request's approvals once; :class:`AlreadyUsed` when this token was recorded before."""

    def recorded(self, task_token: str) -> Recorded: ...

    def mark_booked(self, token_ref: str, now: datetime) -> None: ...

    def claim_email(self, approval: Approval, now: datetime) -> Any:
        """Own the sending of an approval's email: the claim (opaque to the use cases), ``None`` when there is
        nothing to send; :class:`SendInProgress` while another delivery holds it."""

    def email_sent(self, claim: Any) -> None: ...

    def email_failed(self, claim: Any) -> None:
        """Give the claim back: the redelivered request sends it."""

    def get(self, approval_id: str) -> Approval | None: ...

    def supersede_pending(self, issue_id: str, step: str, keep_token_ref: str, recorded_at: datetime) -> int: ...

    def consume(self, approval: Approval, event: AuditEvent, callback: dict[str, Any], now: datetime) -> str:
        """Mark the link and its token used, append ``event`` and record ``callback`` as owed to the protocol,
        together; the task token. :class:`AlreadyUsed`."""

    def owed_callback(self, approval: Approval) -> tuple[str, dict[str, Any]] | None:
        """The task token and the callback recorded with the link's answer and not yet passed on (None: none)."""

    def owed_since(self, before: datetime) -> list[Approval]:
        """The approvals whose answer was recorded before ``before`` and is still owed to the protocol."""

    def callback_delivered(self, approval: Approval) -> None:
        """The protocol has the answer: nothing is owed any more."""

    def execution_of(self, approval: Approval) -> str:
        """The run whose step asked for the approval (its execution ARN, as the step's request carried it)."""

    def mark_callback_failed(self, approval: Approval, reason: str) -> None:
        """The protocol no longer waits for the answer: recorded, and nothing is owed any more."""


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> str:
        """A multipart email (the text part beside the HTML); the message id."""


class Workflows(Protocol):
    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        """``send_task_success``; :class:`StepCallbackFailed` when the step no longer waits for the token,
        :class:`WorkflowUnavailable` when Step Functions cannot take it now."""

    def fail(self, task_token: str, error: str, cause: str) -> None:
        """``send_task_failure``; :class:`StepCallbackFailed` likewise."""

    def ended(self, execution: str) -> str | None:
        """How the run ended (``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``), None while it runs or unknown."""

    def answered_with(self, execution: str, task_token: str, output: dict[str, Any]) -> bool | None:
        """Whether the run's task that waited for ``task_token`` finished with ``output`` (read from the run's
        history, for a callback Step Functions refused as already done): True, it did; False, it ended otherwise
        (timed out, failed, the run ended without it) or the run never waited for that token; None when it cannot
        be told now (Step Functions unreachable, or the history still shows the task waiting)."""


class ApprovalIssues(Protocol):
    """What the approval use cases read and write on an issue (``adapters/issues_table.py``)."""

    def get(self, issue_id: str) -> dict[str, Any] | None: ...

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def history(self, issue_id: str) -> list[dict[str, Any]]: ...

    def start_work(self, issue_id: str, category: str) -> None: ...

    def append(self, event: AuditEvent) -> None: ...

    def record_response(self, issue_id: str, at: datetime) -> None:
        """The first published reply (the platform's time): ``first_response_at`` and the response time, once."""


class ReplyPublisher(Protocol):
    """Where an approved reply goes, chosen by the mention's platform: the platform's API (exactly once, see
    ``adapters/publishers/once.py``) or, locally and for platforms not switched on, the outbox table. Every reply
    that goes out is also kept as a sent reply (the outbox table), for the responder's page."""

    def publish(self, post: ChannelPost, now: datetime) -> PublishResult:
        """Never raises for what the platform or the network does: the result says what to do next."""

    def length_limit(self, platform: str, channel: str) -> int | None:
        """The longest reply the platform's channel takes (``None``: no stated limit)."""

    def recent(self, now: datetime) -> list[dict[str, Any]]:
        """Replies sent in the last days, newest first (``text``, ``issue_id``, ``category``, ``topic``,
        ``products``, ``recipient``, ``published_at``)."""

    def replies_for(self, issue_id: str) -> list[dict[str, Any]]:
        """The replies sent on an issue, newest first (``text``, ``channel``, ``approved_by``, ``published_at``),
        the system's own posts (a survey's line) included."""


class PlatformPublisher(Protocol):
    """One platform's posting API (``chalicelib/adapters/publishers/<platform>.py``). Methods never raise for
    anything the platform or the network does: they answer a :class:`PublishResult`."""

    platform: str

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the platform offers (``public_reply``, ``private_reply``)."""

    def length_limit(self, channel: str) -> int | None:
        """The longest reply the channel takes (the platform's own counting), or ``None`` if it states none."""

    def check(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        """The platform's rules, before posting: ``None`` when the reply may go, else the refusal (FINAL), or a
        RETRY/ALERT when a rule needed a look-up that failed."""

    def post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        """Post once (no retry inside beyond one token refresh)."""

    def find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        """Read-back: the brand's reply to ``target`` on ``channel`` posted at or after ``since`` (a DONE result),
        ``None`` when there is none (or the platform offers no way to look), or a RETRY/ALERT when looking failed."""


class PublishClaims(Protocol):
    """The claim store (``chalicelib/adapters/publish_claims.py``: a DynamoDB table keyed by ``claim_id``)."""

    def begin(self, claim_id: str, request: ChannelPost, now: datetime, lease_seconds: int) -> Claim:
        """Conditional put of an ``attempting`` claim; when one exists, answer it as it stands (no write)."""

    def take_over(self, claim: Claim, request: ChannelPost, now: datetime, lease_seconds: int) -> Claim | None:
        """Start the next attempt on a RELEASED/UNCERTAIN (or lease-expired) claim, or on one another run SETTLED
        (a Meta private reply that never went out); ``None`` if another worker did so first (conditional on
        ``claim.token``)."""

    def record_published(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        """The platform's id and timestamp, conditional on still holding the claim."""

    def settle(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        """A FINAL/ALERT outcome without a post: later deliveries answer it without calling the platform."""

    def release(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        """A RETRY outcome: the claim goes back (UNCERTAIN when ``result.ambiguous``), locked until ``retry_at``."""


# ---- report engineer's block: the weekly report (services/reports.py) -------------------------------------------
class ReportIssues(Protocol):
    """Issues by the day they were first seen, the live and recently settled ones whatever day they were first
    seen, and an issue's audit trail (``DynamoIssues`` has all three)."""

    def first_seen_between(self, first_day: str, last_day: str) -> list[dict]: ...

    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict]:
        """The issues of ``categories`` live now (open, in progress), and those resolved or closed on UTC day
        ``since_day`` (``YYYY-MM-DD``) or after, whatever day they were first seen (full items, in no order)."""

    def history(self, issue_id: str) -> list[dict]: ...


class ReportStore(Protocol):
    """The private report bucket (``adapters/report_store.py``)."""

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Write ``key`` (overwriting what is there: a re-run of a week replaces its files)."""

    def exists(self, key: str) -> bool: ...

    def files(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""

    def link(self, key: str, seconds: int) -> str:
        """A presigned GET of ``key``, valid ``seconds``."""


class ReportSender(Protocol):
    """Email and SNS, each claimed once per key (``adapters/report_sender.py``)."""

    def email_once(
        self, key: str, to: str, subject: str, text: str, html: str, inline: dict[str, bytes], now: datetime
    ) -> bool:
        """Email ``html`` with ``inline`` images (Content-ID -> PNG) unless ``key`` was sent; True when sent now."""

    def announce_once(self, key: str, subject: str, message: str, now: datetime) -> bool:
        """Publish on the alerts topic unless ``key`` was published; True when published now."""


class LinkUses(Protocol):
    """The single use of emailed links that open something read-only (``adapters/link_uses.py``)."""

    def used(self, key: str) -> bool:
        """Whether the link named ``key`` was used (a strongly consistent read)."""

    def use_once(self, key: str, expires_at: int, now: datetime) -> bool:
        """Use the link named ``key``: True the first time, False ever after (a conditional write); the record is
        kept until the link's expiry ``expires_at`` (unix seconds) has passed."""


class ReportRenderer(Protocol):
    """HTML with PNG charts, JSON and CSV (``adapters/report_render.py``: matplotlib, imported only there)."""

    def render(self, report: WeeklyReport, rows: list[dict], api_base_url: str) -> ReportFiles: ...


class Redelivery(Protocol):
    def delay(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Deliver a failed queue message again no sooner than ``seconds`` from now (best effort)."""


# ---- surge engineer's block: surge counting and the Crisis it opens (services/surges.py) ------------------------
class SurgeHistoryView(Protocol):
    """What one read of the surge store returned, per key."""

    def day_items(self, key: str) -> list[dict[str, Any]]:
        """The key's counters as ``{"day": "YYYY-MM-DD", "h13": n, "f157": n, ...}`` records (shards summed)."""

    def mentions(self, key: str, limit: int = 100) -> list[str]:
        """The mentions counted under ``key`` lately, newest first (what a Crisis links)."""

    def data_start(self) -> float | None:
        """When counting began (the detector's warm-up), if the days read say."""

    def state(self, key: str) -> tuple[SurgeState, int, str | None]:
        """The key's surge state, its version (0: never written) and the Crisis it belongs to."""


class SurgeStore(Protocol):
    """Surge counters and states (``adapters/surge_table.py``; ``tests/fakes.py`` in memory)."""

    def add(self, observations: list[Observation]) -> int:
        """Count a batch (atomic adds, safe to retry: a batch is counted once); returns the writes made."""

    def prefetch(self, keys: list[str], days: list[str], hours: list[str], at: float | None = None) -> None:
        """What the batch's :meth:`read` will ask for, said before its counts are added: a store may read it with
        another adapter's read, count the batch into its copies, and answer :meth:`read` from them."""

    def read(self, keys: list[str], days: list[str], hours: list[str], at: float | None = None) -> SurgeHistoryView:
        """The day items (hourly counts), the hour items (5-minute counts, linked mentions) and the keys' states.

        With ``at`` (the evaluation's event time), a day item's hourly counts are given for the hours before ``at``'s
        hour only, and may come from a copy a few minutes old (the hour of ``at`` is in the hour items' 5-minute
        counts); a baseline reads nothing later."""

    def save_state(self, key: str, state: SurgeState, expected_version: int, issue_id: str | None = None) -> int:
        """Write ``key``'s new state if its version is still ``expected_version``; else :class:`StateConflict`."""


class CrisisIssues(Protocol):
    """Where a surge's Crisis is opened and widened (the triage store)."""

    def open_issue(
        self, issue: Issue, audit: list[AuditEvent], case: EscalationCase | None, linked_mentions: list[str]
    ) -> bool:
        """Issue, audit and case at once; ``False`` (nothing written) when the issue exists already."""

    def append_audit(self, event: AuditEvent) -> None:
        """Store the event under its sort key (time, type, suffix): an event appended again with the same key
        replaces itself, so a caller that names its events deterministically can retry without doubling them."""

    def first_existing(self, issue_ids: list[str]) -> str | None:
        """The first of ``issue_ids`` (in their order) that names a stored issue, or ``None`` (one strongly
        consistent read of at most 100 ids)."""


class ActivePlan(Protocol):
    def active(self) -> tuple[ResponsePlan, int]:
        """The active response plan and its version."""


# ---- house block, continued: ports that join two above (defined last: a Protocol's bases must exist) --------------
class TriageStoreOpeningCrises(TriageStore, CrisisIssues, Protocol):
    """The triage store as the ingest pipeline uses it: triage each mention, and open or widen a surge's Crisis."""
