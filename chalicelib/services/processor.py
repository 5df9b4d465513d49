"""The ingest queue's batch handler: one record at a time, failures reported per record.

With ``ReportBatchItemFailures`` on the event source mapping, Lambda (and the local worker) deletes the records
that succeeded and retries only the failed ones; after ``MAX_RECEIVE_COUNT`` tries SQS moves them to the DLQ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.domain.classification import Classification
from chalicelib.domain.models import Mention, MentionEvent
from chalicelib.domain.signals import TextSignals, analyze_one
from chalicelib.domain.surge import Observation, keys_for
from chalicelib.observability import logger, metrics
from chalicelib.services.ingest import record_mention
from chalicelib.services.ports import (
    AlertRaiser,
    AlertSink,
    DeadLetterQueue,
    MentionRepository,
    PlanSource,
    Redelivery,
    SurgeStore,
    TriageStore,
    TriageStoreOpeningCrises,
)
from chalicelib.services.surges import count_surges, prefetch_surges
from chalicelib.services.triage import BatchKeyReads, TriageOutcome, batch_lookups, classify_batch, triage_mention

if TYPE_CHECKING:
    from chalicelib.services.approvals import ApprovalDeps


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Pipeline:
    """The adapters a batch needs: new mentions go through triage (and surge counting), edits and removals to
    the repository."""

    repository: MentionRepository
    triage: TriageStoreOpeningCrises
    plans: PlanSource
    surges: SurgeStore | None = None  # None switches surge detection off
    analyze: Callable[[str], TextSignals] = analyze_one  # the text model (tests pass a fixed one)
    dead_letters: DeadLetterQueue | None = None  # None: a poison record fails and waits for SQS's redrive
    alerts: AlertSink | None = None  # told when a poison record is set aside
    clock: Callable[[], datetime] = _utc_now
    # Fills in what a webhook leaves out before triage (an Instagram @mention's words, read from the Graph API);
    # raises when it cannot now, which fails the record so SQS delivers it again.
    complete: Callable[[Mention, datetime], Mention] | None = None


def observation_of(mention: Mention, classification: Classification) -> Observation:
    """What a triaged mention counts for surges: its product's, topic's and (a complaint) the brand's keys."""
    c = classification
    keys = keys_for(product=c.products[0] if c.products else None, topic=c.topic, complaint=c.complaint)
    return Observation(at=mention.created_at.timestamp(), mention=mention.key, keys=tuple(keys))


def handle_record(
    record: SQSRecord,
    pipeline: Pipeline,
    observations: list[Observation] | None = None,
    triage: TriageStore | None = None,
    parsed: dict[str, tuple[str, Mention]] | None = None,
) -> str:
    """One record; ``triage``: the store triage reads and commits through (the batch's kept key reads);
    ``parsed``: the batch's records parsed already, by message id (with the body each was parsed from)."""
    body, mention = (parsed or {}).get(record.message_id, (None, None))
    if mention is None or body != record.body:
        mention = completed(Mention.model_validate_json(record.body), pipeline)
    store = triage or pipeline.triage
    result = None
    if mention.event is MentionEvent.CREATED:
        result = triage_mention(mention, store, pipeline.plans, pipeline.analyze)
    elif mention.event is MentionEvent.EDITED:
        stored = pipeline.repository.apply_edit(mention)
        if stored is not None and stored.awaits_triage:  # the edit overtook its original, or it never came
            result = triage_mention(mention, store, pipeline.plans, pipeline.analyze, prior=stored)
    else:
        record_mention(mention, pipeline.repository)
    if result is None:
        outcome = mention.event.value
    else:
        outcome = result.outcome.value
        logger.debug(
            "mention triaged",
            extra={
                "mention": mention.key,
                "outcome": outcome,
                "issue_id": result.issue_id,
                "category": result.classification.category,
            },
        )
        # A duplicate is not counted: a mention is counted once, by the invocation that stored it. One that dies
        # between storing its batch and counting it (a Lambda timeout) loses that batch's counts, as its
        # redelivery finds only duplicates: at most once, as counting a redelivered duplicate could count a batch
        # twice (whether the first invocation got to count is not known) and fire a surge on nothing.
        if observations is not None and result.outcome is not TriageOutcome.DUPLICATE:
            observations.append(observation_of(mention, result.classification))
    metrics.add_metric(name=f"Mention_{outcome}", unit="Count", value=1)
    return outcome


# -- poison records ------------------------------------------------------------------------------------------
# The one place that decides whether a failure is worth a retry. Permanent: the record itself is at fault, so
# every retry fails the same way (SQS would redeliver it MAX_RECEIVE_COUNT times, 10 minutes, before its DLQ):
# it goes to the DLQ on its first failure. Everything else (throttling, 5xx, timeouts, a race lost five times)
# is transient: the record fails and SQS retries it.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # pydantic's ValidationError (the message is not a Mention), bad values in our own code
    ArithmeticError,  # OverflowError (a date past year 9999 once a deadline is added), decimal's errors
)
PERMANENT_AWS_CODES = frozenset({"ValidationException"})  # an item over 400 KB, a number DynamoDB refuses
PERMANENT_TRANSACTION_REASONS = frozenset({"ValidationError"})  # the same, inside a transaction


def is_permanent(error: BaseException) -> bool:
    if isinstance(error, PERMANENT_ERRORS):
        return True
    response = getattr(error, "response", None)  # botocore's ClientError, without importing botocore here
    if not isinstance(response, dict):
        return False
    if response.get("Error", {}).get("Code") in PERMANENT_AWS_CODES:
        return True
    reasons = {reason.get("Code") for reason in response.get("CancellationReasons") or []}
    return bool(reasons & PERMANENT_TRANSACTION_REASONS)


def failure_summary(error: BaseException) -> str:
    """What failed, without the record's content (pydantic and our own messages may quote it)."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            return (
                "invalid message: "
                + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors(include_input=False))[
                    :300
                ]
            )
        except TypeError:
            pass
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        reasons = [r.get("Code") for r in response.get("CancellationReasons") or [] if r.get("Code") != "None"]
        return f"{response.get('Error', {}).get('Code', 'ClientError')}" + (
            f" ({', '.join(reasons)})" if reasons else ""
        )
    return type(error).__name__


def set_aside_poison(
    handler: Callable[[SQSRecord], Any],
    dead_letters: DeadLetterQueue | None,
    alerts: AlertRaiser | None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Callable[[SQSRecord], Any]:
    """``handler``, with records that fail permanently moved to ``dead_letters`` at once (and an alert on
    ``alerts``) and reported as processed; transient failures still fail the record for SQS to retry."""

    def handle(record: SQSRecord) -> Any:
        try:
            return handler(record)
        except Exception as error:
            if dead_letters is None or not is_permanent(error):
                raise
            reason = failure_summary(error)
            dead_letters.send(record.body, reason=reason, message_id=record.message_id)
            logger.warning(
                "poison record set aside in the dead-letter queue",
                extra={"message_id": record.message_id, "reason": reason},
            )
            metrics.add_metric(name="PoisonRecords", unit="Count", value=1)
            _alert_poison(alerts, clock(), dead_letters.queue_name, record.message_id, reason)
            return "dead_lettered"

    return handle


def _alert_poison(alerts: AlertRaiser | None, now: datetime, queue: str, message_id: str, reason: str) -> None:
    from chalicelib.domain.alerts import Alert, AlertKind, hour_key
    from chalicelib.services.monitoring import DLQ_SEVERITY, OPERATIONS

    if alerts is None:
        return
    # One per queue and hour (the scope keeps it apart from the scheduled DLQ check's): the first poison record
    # of the hour is told at once; the DLQ's depth says how many followed.
    alert = Alert(
        kind=AlertKind.DLQ_MESSAGES,
        severity=DLQ_SEVERITY,
        category=OPERATIONS,
        team=OPERATIONS,
        issue_id=f"{queue}#{hour_key(now)}",
        scope="poison",
        subject=f"A message was set aside in dead-letter queue {queue}",
        message=f"Message {message_id} cannot be processed ({reason}); no retry can fix it, so it was moved "
        f"to {queue} on its first failure. Fix the cause, then redrive it to the source queue.",
        details={"queue": queue, "message_id": message_id, "reason": reason},
    )
    try:
        alerts.raise_alert(alert, now)
    except Exception:  # noqa: BLE001 - the record is safe in the DLQ, and the scheduled DLQ check alerts too
        logger.exception("poison alert failed", extra={"message_id": message_id})


def run_batch(event: dict[str, Any], record_handler: Callable[[SQSRecord], Any]) -> dict[str, Any]:
    """Any SQS batch, one record at a time, failures reported per record (``batchItemFailures``)."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
    )


def process_batch(event: dict[str, Any], pipeline: Pipeline) -> dict[str, Any]:
    """The ingest queue's batch through ``pipeline`` (the composition root's :func:`chalicelib.bootstrap.pipeline`).

    The dedup keys of the batch's new mentions are read in one call first (:class:`BatchKeyReads`), and the
    history their surge counting will evaluate comes with it (:func:`prefetch_surges`); each text is analyzed once a
    batch, for that read and for its triage."""
    observations: list[Observation] = []
    pipeline = replace(pipeline, analyze=functools.lru_cache(maxsize=None)(pipeline.analyze))
    keys = BatchKeyReads(pipeline.triage)
    parsed = _parse_records(event, pipeline)
    _prefetch([mention for _, mention in parsed.values()], keys, pipeline)
    result = run_batch(
        event,
        set_aside_poison(
            lambda record: handle_record(record, pipeline, observations, keys, parsed),
            pipeline.dead_letters,
            pipeline.alerts,
            pipeline.clock,
        ),
    )
    if pipeline.surges is not None and observations:
        count_surges(
            observations, pipeline.surges, pipeline.triage, pipeline.plans, pipeline.clock().timestamp(), is_permanent
        )
    return result


def completed(mention: Mention, pipeline: Pipeline) -> Mention:
    """The mention with what its webhook left out filled in (``Pipeline.complete``)."""
    return pipeline.complete(mention, pipeline.clock()) if pipeline.complete is not None else mention


def _parse_records(event: dict[str, Any], pipeline: Pipeline) -> dict[str, tuple[str, Mention]]:
    """The batch's mentions by message id, each parsed (and completed) once for the key read and its triage. A
    record that does not parse or cannot be completed now is left out: its own handling tries again and fails (the
    poison path, or SQS's retry)."""
    parsed = {}
    for record in event.get("Records", []):
        try:
            parsed[record["messageId"]] = (
                record["body"],
                completed(Mention.model_validate_json(record["body"]), pipeline),
            )
        except Exception:  # noqa: BLE001 - the record's own handling raises it, and fails only that record
            continue
    return parsed


def _prefetch(parsed: list[Mention], keys: BatchKeyReads, pipeline: Pipeline) -> None:
    """Read the keys the batch's new mentions could join through, and the surge history their counting will
    evaluate, in one read. Best effort: what it fails to read, each mention's own triage and the surge count read
    as they would have."""
    mentions = [mention for mention in parsed if mention.event is MentionEvent.CREATED]
    try:
        classified = classify_batch(mentions, pipeline.plans, pipeline.analyze) if mentions else []
    except Exception as error:  # noqa: BLE001 - each mention's triage classifies (and fails) on its own
        # the error's kind only: its message may quote what an author wrote
        logger.warning("the batch could not be classified at once", extra={"error": type(error).__name__})
        classified = []
    if pipeline.surges is not None:
        try:  # a batch with nothing to count still forgets the last batch's copies
            observations = [observation_of(mention, classification) for mention, classification in classified]
            prefetch_surges(observations, pipeline.surges, pipeline.plans, pipeline.clock().timestamp())
        except Exception as error:  # noqa: BLE001 - the surge count reads on its own
            logger.warning("the batch's surge history could not be prefetched", extra={"error": type(error).__name__})
    if not classified:
        return
    try:
        keys.prefetch(batch_lookups(classified, pipeline.plans))
    except Exception as error:  # noqa: BLE001 - each mention's triage reads (and fails, and is retried) on its own
        logger.warning("the batch's dedup keys could not be read at once", extra={"error": type(error).__name__})


def _approval_use_case(message_model, use_case, metric: str, deps: ApprovalDeps, redelivery: Redelivery | None = None):
    """A record handler that parses the queue message into ``message_model`` and runs ``use_case`` on it. A
    publish that must wait (:class:`~chalicelib.services.approvals.PublishLater`) fails its record and asks SQS
    to deliver it again no sooner than the platform said (a rate limit's reset), instead of the queue's timeout."""
    from chalicelib.services.approvals import PublishLater

    def handle(record: SQSRecord) -> int:
        now = datetime.now(timezone.utc)
        try:
            done = use_case(message_model.model_validate_json(record.body), deps, now)
        except PublishLater as later:
            if redelivery is not None:
                redelivery.delay(
                    record.event_source_arn, record.receipt_handle, int((later.retry_at - now).total_seconds()) + 1
                )
            raise
        metrics.add_metric(name=metric, unit="Count", value=len(done))
        return len(done)

    return handle


def process_approval_requests(
    event: dict[str, Any], deps: ApprovalDeps, dead_letters: DeadLetterQueue | None = None
) -> dict[str, Any]:
    """A protocol step asks people: one signed link per person, emailed (``deps``: the composition root's
    :func:`chalicelib.bootstrap.approval_deps`). A message no retry can fix goes to ``dead_letters`` at once."""
    from chalicelib.services.approvals import StepRequest, request_step

    handler = _approval_use_case(StepRequest, request_step, "ApprovalEmailsSent", deps)
    return run_batch(event, set_aside_poison(handler, dead_letters, deps.alerts))


def process_publish_requests(
    event: dict[str, Any], deps: ApprovalDeps, redelivery: Redelivery, dead_letters: DeadLetterQueue | None = None
) -> dict[str, Any]:
    """An approved reply goes out on its channels; a message that must wait comes back through ``redelivery``;
    one no retry can fix goes to ``dead_letters`` at once."""
    from chalicelib.services.approvals import PublishRequest, publish_reply

    handler = _approval_use_case(PublishRequest, publish_reply, "RepliesPublished", deps, redelivery)
    return run_batch(event, set_aside_poison(handler, dead_letters, deps.alerts))
