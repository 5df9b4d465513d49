"""The ingest queue's batch handler: one record at a time, failures reported per record.

With ``ReportBatchItemFailures`` on the event source mapping, Lambda (and the local worker) deletes the records
that succeeded and retries only the failed ones; after ``MAX_RECEIVE_COUNT`` tries SQS moves them to the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.domain.models import Mention
from chalicelib.observability import logger, metrics
from chalicelib.services.ingest import record_mention
from chalicelib.services.ports import MentionRepository


def handle_record(record: SQSRecord, repository: MentionRepository) -> str:
    mention = Mention.model_validate_json(record.body)
    outcome = record_mention(mention, repository)
    metrics.add_metric(name=f"Mention_{outcome.value}", unit="Count", value=1)
    logger.debug("mention recorded", extra={"mention": mention.key, "outcome": outcome.value})
    return outcome.value


def process_batch(event: dict[str, Any], repository: MentionRepository | None = None) -> dict[str, Any]:
    if repository is None:
        from chalicelib.api.dependencies import mention_repository

        repository = mention_repository()
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=lambda record: handle_record(record, repository),
                                    processor=processor)
