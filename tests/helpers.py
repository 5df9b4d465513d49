"""Small helpers shared by integration and end-to-end tests."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.settings import resources
from infra.local.worker import sqs_event


def drain_ingest_queue() -> dict[str, Any]:
    """Receive every message on the ingest queue as one Lambda SQS event (what the event source mapping does)."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=resources().ingest_queue)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs_event(messages, arn, "us-east-1")
