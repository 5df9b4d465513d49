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
from chalicelib.services.triage import PlanSource, TriageStore, triage_mention


@dataclass(frozen=True)
class Pipeline:
    """The adapters a batch needs: new mentions go through triage, edits and removals to the repository."""

    repository: MentionRepository
    triage: TriageStore
    plans: PlanSource

    @classmethod
    def on_aws(cls) -> "Pipeline":
        from chalicelib.api import dependencies

        return cls(dependencies.mention_repository(), dependencies.triage_store(), dependencies.plan_store())


def handle_record(record: SQSRecord, pipeline: Pipeline) -> str:
    mention = Mention.model_validate_json(record.body)
    if mention.event is MentionEvent.CREATED:
        result = triage_mention(mention, pipeline.triage, pipeline.plans, analyze_one)
        outcome = result.outcome.value
        logger.debug("mention triaged", extra={"mention": mention.key, "outcome": outcome,
                                               "issue_id": result.issue_id,
                                               "category": result.classification.category})
    else:
        outcome = record_mention(mention, pipeline.repository).value
    metrics.add_metric(name=f"Mention_{outcome}", unit="Count", value=1)
    return outcome


def run_batch(event: dict[str, Any], record_handler) -> dict[str, Any]:
    """Any SQS batch, one record at a time, failures reported per record (``batchItemFailures``)."""
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS))


def process_batch(event: dict[str, Any], pipeline: Pipeline | None = None) -> dict[str, Any]:
    pipeline = pipeline or Pipeline.on_aws()
    return run_batch(event, lambda record: handle_record(record, pipeline))


def process_approval_requests(event: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime, timezone

    from chalicelib.api.dependencies import approval_deps
    from chalicelib.services.approvals import StepRequest, request_step

    def handle(record: SQSRecord) -> int:
        links = request_step(StepRequest.model_validate_json(record.body), approval_deps(),
                             datetime.now(timezone.utc))
        metrics.add_metric(name="ApprovalEmailsSent", unit="Count", value=len(links))
        return len(links)

    return run_batch(event, handle)


def process_publish_requests(event: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime, timezone

    from chalicelib.api.dependencies import approval_deps
    from chalicelib.services.approvals import PublishRequest, publish_reply

    def handle(record: SQSRecord) -> int:
        sent = publish_reply(PublishRequest.model_validate_json(record.body), approval_deps(),
                             datetime.now(timezone.utc))
        metrics.add_metric(name="RepliesPublished", unit="Count", value=len(sent))
        return len(sent)

    return run_batch(event, handle)
