"""The ingest queue's batch handler: one record at a time, failures reported per record.

With ``ReportBatchItemFailures`` on the event source mapping, Lambda (and the local worker) deletes the records
that succeeded and retries only the failed ones; after ``MAX_RECEIVE_COUNT`` tries SQS moves them to the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.domain.models import Mention, MentionEvent
from chalicelib.domain.signals import analyze_one
from chalicelib.observability import logger, metrics
from chalicelib.services.ingest import record_mention
from chalicelib.services.ports import MentionRepository
from chalicelib.adapters.surge_table import Observation
from chalicelib.domain.surge import SurgeAlert, keys_for
from chalicelib.services.surges import observe_batch
from chalicelib.services.triage import PlanSource, TriageOutcome, TriageStore, triage_mention


@dataclass(frozen=True)
class Pipeline:
    """The adapters a batch needs: new mentions go through triage (and surge counting), edits and removals to
    the repository."""

    repository: MentionRepository
    triage: TriageStore
    plans: PlanSource
    surges: Any = None  # DynamoSurgeStore; None switches surge detection off
    analyze: Any = analyze_one  # the text model (tests pass a fixed one)

    @classmethod
    def on_aws(cls) -> "Pipeline":
        from chalicelib.api import dependencies

        return cls(dependencies.mention_repository(), dependencies.triage_store(), dependencies.plan_store(),
                   dependencies.surge_store())


def handle_record(record: SQSRecord, pipeline: Pipeline, observations: list[Observation] | None = None) -> str:
    mention = Mention.model_validate_json(record.body)
    if mention.event is MentionEvent.CREATED:
        result = triage_mention(mention, pipeline.triage, pipeline.plans, pipeline.analyze)
        outcome = result.outcome.value
        logger.debug("mention triaged", extra={"mention": mention.key, "outcome": outcome,
                                               "issue_id": result.issue_id,
                                               "category": result.classification.category})
        if observations is not None and result.outcome is not TriageOutcome.DUPLICATE:
            c = result.classification
            keys = keys_for(product=c.products[0] if c.products else None, topic=c.topic, complaint=c.complaint)
            observations.append(Observation(at=mention.created_at.timestamp(), mention=mention.key, keys=tuple(keys)))
    else:
        outcome = record_mention(mention, pipeline.repository).value
    metrics.add_metric(name=f"Mention_{outcome}", unit="Count", value=1)
    return outcome


def open_crisis(alert: SurgeAlert, linked: list[str], pipeline: Pipeline) -> str:
    """A surge's Crisis issue, linking the mentions counted; the issues stream starts its protocol and alerts."""
    from datetime import datetime, timezone

    from chalicelib.domain.issues import AuditEvent, crisis_issue, escalation_case_for, new_issue_id

    plan, version = pipeline.plans.active()
    detected = datetime.fromtimestamp(alert.detected_at, tz=timezone.utc)
    issue = crisis_issue(alert.key, alert.count, alert.baseline,
                         datetime.fromtimestamp(alert.window_start, tz=timezone.utc), detected, plan, version,
                         new_issue_id(detected))
    audit = [AuditEvent(issue_id=issue.issue_id, at=datetime.now(timezone.utc), type="surge_detected",
                        actor="system:surge", details={**alert.to_json(), "linked_mentions": len(linked)})]
    pipeline.triage.open_issue(issue, audit, escalation_case_for(issue, plan, detected), linked)
    metrics.add_metric(name="SurgesDetected", unit="Count", value=1)
    logger.info("surge opened a crisis", extra={"issue_id": issue.issue_id, **alert.to_json()})
    return issue.issue_id


def join_crisis(issue_id: str, alert: SurgeAlert, pipeline: Pipeline) -> None:
    """Another key of the same surge fired: on the Crisis's record, not a second Crisis."""
    from datetime import datetime, timezone

    from chalicelib.domain.issues import AuditEvent

    pipeline.triage.append_audit(AuditEvent(issue_id=issue_id, at=datetime.now(timezone.utc), type="surge_widened",
                                            actor="system:surge", details=alert.to_json()))


def run_batch(event: dict[str, Any], record_handler) -> dict[str, Any]:
    """Any SQS batch, one record at a time, failures reported per record (``batchItemFailures``)."""
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS))


def process_batch(event: dict[str, Any], pipeline: Pipeline | None = None) -> dict[str, Any]:
    pipeline = pipeline or Pipeline.on_aws()
    observations: list[Observation] = []
    result = run_batch(event, lambda record: handle_record(record, pipeline, observations))
    if pipeline.surges is not None and observations:
        try:
            observe_batch(observations, pipeline.surges, lambda alert, linked: open_crisis(alert, linked, pipeline),
                          lambda issue_id, alert: join_crisis(issue_id, alert, pipeline))
        except Exception:  # noqa: BLE001 - the mentions are stored; a missed count must not redeliver them
            logger.exception("surge detection failed for this batch")
            metrics.add_metric(name="SurgeDetectionFailed", unit="Count", value=1)
    return result


def _approval_use_case(message_model, use_case, metric: str):
    """A record handler that parses the queue message into ``message_model`` and runs ``use_case`` on it."""
    from datetime import datetime, timezone

    from chalicelib.api.dependencies import approval_deps

    def handle(record: SQSRecord) -> int:
        done = use_case(message_model.model_validate_json(record.body), approval_deps(), datetime.now(timezone.utc))
        metrics.add_metric(name=metric, unit="Count", value=len(done))
        return len(done)

    return handle


def process_approval_requests(event: dict[str, Any]) -> dict[str, Any]:
    """A protocol step asks people: one signed link per person, emailed."""
    from chalicelib.services.approvals import StepRequest, request_step

    return run_batch(event, _approval_use_case(StepRequest, request_step, "ApprovalEmailsSent"))


def process_publish_requests(event: dict[str, Any]) -> dict[str, Any]:
    """An approved reply goes out on its channels."""
    from chalicelib.services.approvals import PublishRequest, publish_reply

    return run_batch(event, _approval_use_case(PublishRequest, publish_reply, "RepliesPublished"))
