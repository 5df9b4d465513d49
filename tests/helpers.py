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


def wait_for_queue(queue_name: str, timeout: float = 25.0) -> dict[str, Any]:
    """Wait until the queue has messages (a state machine running in moto's threads sends them), as one event."""
    import time

    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            return sqs_event(messages, arn, "us-east-1")
        time.sleep(0.2)
    raise AssertionError(f"no message on {queue_name} within {timeout} s")


def drain_stream(table_name: str) -> list[dict[str, Any]]:
    """Every record so far on a table's stream, as Lambda's stream event source mapping would pass them."""
    dynamodb, streams = client("dynamodb"), client("dynamodbstreams")
    stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            records += [{**r, "eventSourceARN": stream_arn} for r in answer["Records"]]
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return records


class Clock:
    """A clock a test moves by hand (``clock.now += 60``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def batch_get_keys_requested() -> list[list[str]]:
    """A hook on the shared DynamoDB client: the partition keys (``pk``) each BatchGetItem asks for, in order."""
    from chalicelib.adapters.aws import client

    asked: list[list[str]] = []

    def record(params, **_kwargs):
        for request in params["RequestItems"].values():
            asked.append([key["pk"]["S"] for key in request["Keys"]])

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.BatchGetItem", record)
    return asked


DEPLOYED_API = "https://abc123.execute-api.us-east-1.amazonaws.com/api"  # a stage served under a path, as deployed


def form_target(page_html: str, page_url: str) -> str:
    """Where a browser sends the page's form: its action resolved against the page's URL."""
    import html
    import re
    from urllib.parse import urljoin

    action = re.search(r"""<form[^>]* action=(?:'([^']*)'|"([^"]*)")""", page_html)
    assert action, "the page has no form"
    return urljoin(page_url, html.unescape(action.group(1) or action.group(2) or ""))
