"""The composition root: the one place that builds adapters from settings and hands them to the use cases.

Each factory builds its adapter once per process (a warm Lambda reuses its clients and lookups) and imports the
adapter only when first called, so ``import app`` stays cheap. Outside tests this is the only module that imports
``chalicelib.adapters``; ``app.py``, the API blueprints, the CLI commands, ``bench/`` and ``tools/`` take what they
need from here.

Every factory is registered by :func:`built_once`, so :func:`reset` forgets all of them (tests switch between moto
backends) without a list kept by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from chalicelib.settings import resources

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.adapters.approvals_table import DynamoApprovals
    from chalicelib.adapters.aws import CombinedReads
    from chalicelib.adapters.email import SesEmail
    from chalicelib.adapters.issues_table import DynamoIssues
    from chalicelib.adapters.outbox import OutboxPublisher
    from chalicelib.adapters.surge_table import DynamoSurgeStore
    from chalicelib.adapters.workflows import StepFunctionsWorkflows
    from chalicelib.domain.models import Mention
    from chalicelib.domain.plan import ResponsePlan
    from chalicelib.services.approvals import ApprovalDeps
    from chalicelib.services.ports import (
        AlertSink,
        DeadLetterQueue,
        DeadLetters,
        LiveIssues,
        MentionQueue,
        MentionRepository,
        OpsTokens,
        PlanStore,
        ProtocolRuns,
        QueueDepths,
        Readiness,
        Redelivery,
        ReplyPublisher,
        StoredAlerts,
        TriageStoreOpeningCrises,
    )
    from chalicelib.services.processor import Pipeline

_T = TypeVar("_T")
_forget: list[Callable[[], None]] = []


def built_once(factory: Callable[[], _T]) -> Callable[[], _T]:
    """``factory``, called at most once per process (until :func:`reset`)."""
    cached = cache(factory)
    _forget.append(cached.cache_clear)
    return cached


def reset() -> None:
    """Tests and the CLI's ``--stage``: forget every adapter, client, resource name and secret built so far."""
    from chalicelib.adapters import aws, secrets

    for forget in _forget:
        forget()
    resources.cache_clear()
    aws.reset_clients()
    secrets.clear_cache()


# -- house block: ingest, triage, plans, alerts, monitoring, secrets -------------------------------------------
def secret(name: str) -> str:
    """A secret by its contract name (environment, else SSM; cached five minutes, so not built once here);
    raises :class:`~chalicelib.services.errors.SecretUnavailable`."""
    from chalicelib.adapters.secrets import get_secret

    return get_secret(name)


def bundled_plan() -> ResponsePlan:
    """The response plan shipped with the code (offline commands, and before any upload)."""
    from chalicelib.adapters.plans import bundled_plan as load

    return load()


@built_once
def mention_queue() -> MentionQueue:
    from chalicelib.adapters.queue import SqsMentionQueue

    return SqsMentionQueue(resources().ingest_queue)


@built_once
def mention_repository() -> MentionRepository:
    from chalicelib.adapters.mentions_table import DynamoMentionRepository

    return DynamoMentionRepository(resources().mentions_table, retention=active_retention)


@built_once
def triage_store() -> TriageStoreOpeningCrises:
    """The triage store (``TriageStore``), which also opens a surge's Crisis (``CrisisIssues``)."""
    from chalicelib.adapters.triage_table import DynamoTriageStore

    return DynamoTriageStore(resources(), retention=active_retention, reads=combined_reads())


@built_once
def combined_reads() -> CombinedReads:
    """One per process, shared by the triage and surge stores: the ingest processor's batch reads its dedup keys
    and its surge history in one ``BatchGetItem``."""
    from chalicelib.adapters.aws import CombinedReads

    return CombinedReads()


@built_once
def plan_store() -> PlanStore:
    from chalicelib.adapters.plans import DynamoPlanStore

    return DynamoPlanStore(resources().plans_table)


@built_once
def alerts() -> AlertSink:
    from chalicelib.adapters.alerts import SnsAlerts

    return SnsAlerts(resources())


@built_once
def issues() -> DynamoIssues:
    """The issues table, shared by the approval use cases and the ops API (one adapter per process)."""
    from chalicelib.adapters.issues_table import DynamoIssues

    return DynamoIssues(resources())


@built_once
def ingest_dead_letters() -> DeadLetterQueue:
    from chalicelib.adapters.queue import SqsDeadLetterQueue

    return SqsDeadLetterQueue(resources().ingest_dlq)


def approval_dead_letters() -> DeadLetterQueue:
    from chalicelib.adapters.queue import SqsDeadLetterQueue

    return SqsDeadLetterQueue(resources().approval_dlq)


def publish_dead_letters() -> DeadLetterQueue:
    from chalicelib.adapters.queue import SqsDeadLetterQueue

    return SqsDeadLetterQueue(resources().publish_dlq)


def pipeline() -> Pipeline:
    """What the ingest queue's handler runs each batch through (its adapters built once)."""
    from chalicelib.services.processor import Pipeline

    return Pipeline(
        mention_repository(),
        triage_store(),
        plan_store(),
        surge_store(),
        dead_letters=ingest_dead_letters(),
        alerts=alerts(),
        complete=mention_completer(),
    )


@built_once
def mention_completer() -> Callable[[Mention, datetime], Mention] | None:
    """Instagram @mentions' words, read from the Graph API before triage when Instagram is switched on
    (``PUBLISH_TO_PLATFORMS``, with the publisher's credentials); None otherwise (no publisher import)."""
    import os

    if "instagram" not in os.environ.get("PUBLISH_TO_PLATFORMS", ""):
        return None
    from chalicelib.adapters.publishers import instagram_mention_completer

    return instagram_mention_completer()


@built_once
def live_issues() -> LiveIssues:
    from chalicelib.adapters.alerts import DynamoLiveIssues

    return DynamoLiveIssues(resources())


@built_once
def queue_depths() -> QueueDepths:
    from chalicelib.adapters.alerts import SqsQueueDepths

    return SqsQueueDepths()


def protocol_runs() -> ProtocolRuns:
    """Step Functions, as the issues stream starts protocols (the same adapter as :func:`workflows`)."""
    return workflows()


@built_once
def stored_alerts() -> StoredAlerts:
    from chalicelib.adapters.ops_reads import StoredAlerts as DynamoStoredAlerts

    return DynamoStoredAlerts(resources())


@built_once
def dead_letters() -> DeadLetters:
    from chalicelib.adapters.ops_reads import DeadLetters as SqsDeadLetters

    return SqsDeadLetters(resources())


@built_once
def readiness() -> Readiness:
    from chalicelib.adapters.aws import AwsReadiness

    return AwsReadiness()


# -- surges (surge engineer's block) --------------------------------------------------------------------------
@built_once
def surge_store() -> DynamoSurgeStore:
    from chalicelib.adapters.surge_table import DynamoSurgeStore

    return DynamoSurgeStore(resources().surges_table, reads=combined_reads())


# -- approvals and publishing (approvals engineer's block) ----------------------------------------------------
@built_once
def approvals() -> DynamoApprovals:
    from chalicelib.adapters.approvals_table import DynamoApprovals

    return DynamoApprovals(resources().approvals_table, resources().audit_table)


@built_once
def mailer() -> SesEmail:
    from chalicelib.adapters.email import SesEmail
    from chalicelib.settings import sender_email

    return SesEmail(sender_email())


@built_once
def workflows() -> StepFunctionsWorkflows:
    from chalicelib.adapters.workflows import StepFunctionsWorkflows

    return StepFunctionsWorkflows()


@built_once
def outbox() -> OutboxPublisher:
    from chalicelib.adapters.outbox import OutboxPublisher

    return OutboxPublisher(resources().outbox_table)


@built_once
def reply_publisher() -> ReplyPublisher:
    """Replies go to the platforms listed in ``PUBLISH_TO_PLATFORMS`` (none by default, so ``make run`` and the
    tests need no credentials), each exactly once under a claim; to the outbox for every other platform."""
    from chalicelib.adapters.publish_claims import DynamoPublishClaims
    from chalicelib.adapters.publishers import (
        ExactlyOncePublisher,
        RoutedPublisher,
        build_publishers,
        enabled_platforms,
    )

    platforms = enabled_platforms()
    once = (
        ExactlyOncePublisher(build_publishers(platforms), DynamoPublishClaims(resources().publish_claims_table))
        if platforms
        else None
    )
    return RoutedPublisher(outbox(), once)


@built_once
def redelivery() -> Redelivery:
    from chalicelib.adapters.redelivery import SqsRedelivery

    return SqsRedelivery()


def approval_deps() -> ApprovalDeps:
    """The approval use cases' adapters (each built once) and the link signing key (looked up each time:
    Powertools caches it for five minutes, so a rotated key takes effect without a redeploy)."""
    from chalicelib.adapters.secrets import get_secret
    from chalicelib.services.approvals import ApprovalDeps
    from chalicelib.settings import public_base_url

    return ApprovalDeps(
        approvals=approvals(),
        issues=issues(),
        email=mailer(),
        workflows=workflows(),
        publisher=reply_publisher(),
        alerts=alerts(),
        plan=plan_store().active()[0],  # the active plan: its teams, voice and channels apply at once
        link_key=get_secret("LINK_SIGNING_KEY"),
        base_url=public_base_url(),
    )


# -- ops API (ops engineer's block) ---------------------------------------------------------------------------
def ops_issues() -> DynamoIssues:
    """The ops API's issues: the same adapter as :func:`issues`."""
    return issues()


@built_once
def ops_tokens() -> OpsTokens:
    from chalicelib.adapters.ops_tokens import DynamoOpsTokens

    return DynamoOpsTokens(resources().ops_tokens_table)


# -- plan upkeep, regrouping, erasure (ops engineer's block) ----------------------------------------------------
if TYPE_CHECKING:
    from chalicelib.adapters.erasure import DynamoErasure
    from chalicelib.adapters.issue_regroup import DynamoIssueRegrouping
    from chalicelib.adapters.plan_lifecycle import DynamoPlanLifecycle, OnceMailer
    from chalicelib.domain.plan import Retention


def active_retention() -> Retention:
    """How long raw mentions and dedup keys are kept: the active plan's (cached by the plan store)."""
    return plan_store().active()[0].retention


@built_once
def issue_regrouping() -> DynamoIssueRegrouping:
    """Merging and splitting issues (the ops API)."""
    from chalicelib.adapters.issue_regroup import DynamoIssueRegrouping

    return DynamoIssueRegrouping(resources())


@built_once
def plan_lifecycle() -> DynamoPlanLifecycle:
    """Activating, retiring and reviewing stored plan versions (API and CLI)."""
    from chalicelib.adapters.plan_lifecycle import DynamoPlanLifecycle

    return DynamoPlanLifecycle(resources().plans_table, resources().audit_table)


@built_once
def reminder_mailer() -> OnceMailer:
    """The monthly review reminders: SES, each claimed once in the alerts table."""
    from chalicelib.adapters.email import SesEmail
    from chalicelib.adapters.plan_lifecycle import OnceMailer
    from chalicelib.settings import sender_email

    return OnceMailer(resources().alerts_table, SesEmail(sender_email()))


@built_once
def erasure_store() -> DynamoErasure:
    """Right to erasure over every table of the stage."""
    from chalicelib.adapters.erasure import DynamoErasure

    return DynamoErasure(resources())


# -- surveys and recurrence (surveys engineer's block) --------------------------------------------------------
if TYPE_CHECKING:
    from chalicelib.adapters.recurrence_table import DynamoRecurrence
    from chalicelib.adapters.survey_senders import SurveyChannels
    from chalicelib.adapters.surveys_table import DynamoSurveys, SnsSurveyNotices
    from chalicelib.services.surveys import SurveyDeps


@built_once
def survey_store() -> DynamoSurveys:
    from chalicelib.adapters.surveys_table import DynamoSurveys

    return DynamoSurveys(resources())


@built_once
def survey_sender() -> SurveyChannels:
    """Email (SES) when the author's address is known; otherwise a reply through the reply publisher (the platform
    exactly once where it is switched on, the outbox locally)."""
    from chalicelib.adapters.survey_senders import ReplySurveySender, SesSurveySender, SurveyChannels

    return SurveyChannels(SesSurveySender(mailer()), ReplySurveySender(reply_publisher()))


@built_once
def survey_notices() -> SnsSurveyNotices:
    from chalicelib.adapters.surveys_table import SnsSurveyNotices

    return SnsSurveyNotices(resources())


@built_once
def recurrence_index() -> DynamoRecurrence:
    from chalicelib.adapters.recurrence_table import DynamoRecurrence

    return DynamoRecurrence(resources())


def survey_deps() -> SurveyDeps:
    """The survey use cases' adapters, the link signing key (looked up each time, as for approvals) and the base
    of the links."""
    from chalicelib.adapters.secrets import get_secret
    from chalicelib.services.surveys import SurveyDeps
    from chalicelib.settings import public_base_url

    return SurveyDeps(
        surveys=survey_store(),
        issues=issues(),
        sender=survey_sender(),
        notices=survey_notices(),
        link_key=get_secret("LINK_SIGNING_KEY"),
        base_url=public_base_url(),
    )


# -- weekly report (report engineer's block) ------------------------------------------------------------------
if TYPE_CHECKING:
    from chalicelib.adapters.report_sender import SesSnsReportSender
    from chalicelib.adapters.report_store import S3ReportStore
    from chalicelib.services.reports import ReportDeps, ReportLinkDeps


@built_once
def report_store() -> S3ReportStore:
    from chalicelib.adapters.report_store import S3ReportStore
    from chalicelib.settings import report_bucket

    return S3ReportStore(report_bucket())


@built_once
def report_sender() -> SesSnsReportSender:
    from chalicelib.adapters.report_sender import SesSnsReportSender
    from chalicelib.settings import sender_email

    return SesSnsReportSender(resources(), sender_email())


def report_deps() -> ReportDeps:
    """The report use cases' adapters and the active plan (read each time: its report block says when and to
    whom). The renderer's module imports matplotlib only when it draws."""
    from chalicelib.adapters.report_render import MatplotlibReportRenderer
    from chalicelib.services.reports import ReportDeps
    from chalicelib.settings import public_base_url

    plan, version = plan_store().active()
    return ReportDeps(
        issues=issues(),
        store=report_store(),
        sender=report_sender(),
        renderer=MatplotlibReportRenderer(),
        plan=plan,
        link_key=secret("LINK_SIGNING_KEY"),
        plan_version=version,
        api_base_url=public_base_url(),
    )


def report_link_deps() -> ReportLinkDeps:
    """What a recipient's emailed report link needs: the stored reports, the links' single use, the signing key."""
    from chalicelib.adapters.link_uses import DynamoLinkUses
    from chalicelib.services.reports import ReportLinkDeps

    return ReportLinkDeps(
        store=report_store(), uses=DynamoLinkUses(resources().alerts_table), link_key=secret("LINK_SIGNING_KEY")
    )
