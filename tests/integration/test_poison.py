"""Poison records are found fast, and never cost the batch's other work (issue 8), on moto.

A record that fails for a reason no retry can fix goes to the ingest DLQ on its first failure, with an alert,
and is reported processed; a transient failure (throttling) still fails only that record for SQS to retry; the
other records of the batch are stored and counted for surges whatever happens to one of them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.domain.models import Author, Mention, MentionKind
from chalicelib.services import processor
from chalicelib.services.processor import Pipeline, is_permanent, process_batch
from chalicelib.settings import resources
from infra.local.worker import sqs_event
from tests.triage_fixtures import fixed_analyzer

NOW = datetime.now(timezone.utc).replace(microsecond=0)
INGEST_ARN = "arn:aws:sqs:us-east-1:123456789012:social-response-test-ingest"


def _mention(external_id: str, text: str = "The zip on my Cortez jacket broke", at: datetime | None = None) -> Mention:
    return Mention(
        platform="facebook",
        external_id=external_id,
        kind=MentionKind.COMMENT,
        author=Author(id=f"a-{external_id}", name="Ana", followers=10),
        text=text,
        created_at=at or NOW - timedelta(minutes=5),
    )


def _event(bodies: list[str]) -> dict:
    return sqs_event(
        [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body} for i, body in enumerate(bodies)],
        INGEST_ARN,
        "us-east-1",
    )


@pytest.fixture
def alerts_reader(aws) -> str:
    """A queue subscribed to the alerts topic: what operators would receive."""
    sqs, sns = client("sqs"), client("sns")
    reader = sqs.create_queue(QueueName="ops-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=reader, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=resources().alerts_topic)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return reader


@pytest.fixture
def pipeline(aws) -> Pipeline:
    on_aws = bootstrap.pipeline()
    return Pipeline(
        on_aws.repository,
        on_aws.triage,
        on_aws.plans,
        on_aws.surges,
        analyze=fixed_analyzer,
        dead_letters=on_aws.dead_letters,
        alerts=on_aws.alerts,
    )


def _dead_letters() -> list[dict]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=resources().ingest_dlq)["QueueUrl"]
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def _alerts(reader: str) -> list[dict]:
    return (
        client("sqs")
        .receive_message(QueueUrl=reader, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


def _count(table: str) -> int:
    return client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


def test_a_message_that_is_not_a_mention_goes_to_the_dlq_at_its_first_failure_with_an_alert(pipeline, alerts_reader):
    poison = '{"platform": "x", "author": {"followers": "many"}}'
    result = process_batch(_event([_mention("good").model_dump_json(), poison]), pipeline)

    assert result == {"batchItemFailures": []}  # nothing left for SQS to retry five times
    dead = _dead_letters()
    assert [m["Body"] for m in dead] == [poison]
    failure = dead[0]["MessageAttributes"]["failure"]["StringValue"]
    assert failure.startswith("invalid message") and "many" not in failure  # what failed, not the content
    assert dead[0]["MessageAttributes"]["source_message_id"]["StringValue"] == "m1"
    alerts = _alerts(alerts_reader)
    assert [a["MessageAttributes"]["kind"]["StringValue"] for a in alerts] == ["dlq_messages"]
    assert resources().ingest_dlq in alerts[0]["Body"] and "m1" in alerts[0]["Body"]
    assert bootstrap.mention_repository().get("facebook", "good") is not None

    process_batch(_event(['{"not": "a mention"}']), pipeline)  # a second one in the hour: DLQ, no alert storm
    assert len(_dead_letters()) == 1 and _alerts(alerts_reader) == []


def test_a_complaint_dated_year_9999_is_set_aside_whole_not_retried_for_ten_minutes(pipeline, alerts_reader):
    body = json.loads(_mention("late").model_dump_json())
    # Refused by the Mention model's date bounds, or, without them, when opening its issue adds an SLA to it
    # (OverflowError): either way a failure no retry fixes.
    body["created_at"] = "9999-12-31T23:59:59+00:00"
    result = process_batch(_event([json.dumps(body)]), pipeline)

    assert result == {"batchItemFailures": []}
    assert len(_dead_letters()) == 1
    assert _count(resources().mentions_table) == 0 and _count(resources().issues_table) == 0  # nothing half-written
    assert len(_alerts(alerts_reader)) == 1


def _throttle_transactions_of(key: str):
    """DynamoDB throttles the transactions that write ``key`` (a botocore hook at the AWS boundary)."""

    def hook(params, **_):
        if key in json.dumps(params.get("TransactItems", [])):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "TransactWriteItems",
            )

    return hook


def test_one_bad_record_never_costs_the_batchs_other_work_surge_counts_included(pipeline, alerts_reader):
    dynamodb = client("dynamodb")
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", _throttle_transactions_of("facebook#slow")
    )
    bodies = [
        _mention("good-1").model_dump_json(),
        _mention("slow").model_dump_json(),
        '{"platform": 1}',
        _mention("good-2", "Nice window display today").model_dump_json(),
    ]

    result = process_batch(_event(bodies), pipeline)

    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # only the throttled one, for a retry
    assert [m["Body"] for m in _dead_letters()] == ['{"platform": 1}']
    repository = bootstrap.mention_repository()
    assert all(repository.get("facebook", i) for i in ("good-1", "good-2"))
    assert repository.get("facebook", "slow") is None
    # the two good mentions were counted for surges (a year-1 date is tested in tests/unit/test_surge.py)
    history = pipeline.surges.read(["brand"], [NOW.strftime("%Y-%m-%d")], [])
    counted = sum(value for item in history.day_items("brand") for name, value in item.items() if name.startswith("h"))
    assert counted == 2


@pytest.mark.parametrize(
    "error, permanent",
    [
        (
            ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "Item size has exceeded the maximum allowed size",
                    }
                },
                "PutItem",
            ),
            True,
        ),
        (
            ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "ValidationError"}],
                },
                "TransactWriteItems",
            ),
            True,
        ),
        (OverflowError("date value out of range"), True),
        (ValueError("year 0 is out of range"), True),
        (
            ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem"),
            False,
        ),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "SendMessage"), False),
        (ClientError({"Error": {"Code": "InternalServerError", "Message": "oops"}}, "TransactWriteItems"), False),
        (
            ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            ),
            False,
        ),
        (TimeoutError("read timed out"), False),
        (ConnectionError("reset"), False),
    ],
)
def test_permanent_and_transient_failures_are_told_apart_in_one_place(error, permanent):
    assert is_permanent(error) is permanent


def test_an_item_dynamodb_refuses_is_permanent_end_to_end(pipeline, alerts_reader):
    """A real ValidationException from DynamoDB (a number past its 38 digits), classified as permanent."""
    body = json.loads(_mention("huge").model_dump_json())
    body["author"]["followers"] = 10**40
    result = process_batch(_event([json.dumps(body)]), pipeline)
    assert result == {"batchItemFailures": []}
    assert len(_dead_letters()) == 1 and _count(resources().mentions_table) == 0


def _queue_messages(queue: str) -> list[dict]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


@pytest.mark.parametrize(
    ("handle", "dlq"),
    [
        (
            lambda event: processor.process_approval_requests(
                event, bootstrap.approval_deps(), bootstrap.approval_dead_letters()
            ),
            "approval_dlq",
        ),
        (
            lambda event: processor.process_publish_requests(
                event, bootstrap.approval_deps(), bootstrap.redelivery(), bootstrap.publish_dead_letters()
            ),
            "publish_dlq",
        ),
    ],
)
def test_a_malformed_step_or_publish_message_goes_to_its_dlq_at_its_first_failure_with_an_alert(
    alerts_reader, handle, dlq
):
    poison = '{"issue_id": "iss-1", "people": "not a list"}'
    result = handle(_event([poison]))  # with the adapters app.py takes from the composition root

    assert result == {"batchItemFailures": []}  # not retried five times before its DLQ
    assert [m["Body"] for m in _queue_messages(getattr(resources(), dlq))] == [poison]
    alerts = _alerts(alerts_reader)
    assert [a["MessageAttributes"]["kind"]["StringValue"] for a in alerts] == ["dlq_messages"]
    assert getattr(resources(), dlq) in alerts[0]["Body"]
