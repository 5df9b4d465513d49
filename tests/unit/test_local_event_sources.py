"""The local worker's event source mappings behave as Lambda's: stream retries, bisection and on-failure
destination; SQS partial batch responses and the queue's redrive policy (on moto's SQS)."""

from __future__ import annotations

import json

import pytest

from infra.local.event_sources import (
    REPORT_BATCH_ITEM_FAILURES,
    StreamBatchRunner,
    StreamFailurePolicy,
    cfn_name,
    deliver_sqs_batch,
    failed_message_ids,
    mapping_settings,
)

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:social-response-local-start_protocols"


def records(count: int) -> list[dict]:
    return [
        {
            "eventID": str(n),
            "eventName": "INSERT",
            "dynamodb": {
                "SequenceNumber": f"{n:021d}",
                "ApproximateCreationDateTime": 1_790_000_000 + n,
                "Keys": {"issue_id": {"S": f"iss-{n}"}},
            },
        }
        for n in range(count)
    ]


class Function:
    """A stand-in Lambda function: fails on the poison records, counts its invocations."""

    def __init__(self, poison: set[str] = frozenset(), transient_failures: int = 0) -> None:
        self.poison, self.transient_failures = poison, transient_failures
        self.invocations: list[list[str]] = []
        self.succeeded: list[str] = []

    def __call__(self, batch: list[dict]) -> None:
        ids = [record["eventID"] for record in batch]
        self.invocations.append(ids)
        if self.transient_failures:
            self.transient_failures -= 1
            raise TimeoutError("throttled")
        if self.poison & set(ids):
            raise ValueError("poison record")
        self.succeeded += ids


def runner(function: Function, policy: StreamFailurePolicy, discarded: list[dict]) -> StreamBatchRunner:
    return StreamBatchRunner(function, discarded.append, policy, FUNCTION_ARN, STREAM_ARN, sleep=lambda _: None)


def test_the_deployment_configures_the_issues_stream_with_retries_and_bisection():
    settings = mapping_settings("start_protocols")
    assert cfn_name("start_protocols") == "StartProtocols"
    assert settings["MaximumRetryAttempts"] >= 1 and settings["BisectBatchOnFunctionError"] is True
    policy = StreamFailurePolicy.from_settings(settings)
    assert policy.maximum_retry_attempts == settings["MaximumRetryAttempts"] and policy.bisect


def test_a_poison_record_is_bisected_out_retried_to_the_limit_and_reported_alone():
    function, discarded = Function(poison={"13"}), []
    processed, dropped = runner(function, StreamFailurePolicy(maximum_retry_attempts=10, bisect=True), discarded).run(
        records(25), "shardId-1"
    )
    assert (processed, dropped) == (24, 1)
    assert sorted(function.succeeded, key=int) == [str(n) for n in range(25) if n != 13]  # no other record lost
    assert len(function.succeeded) == len(set(function.succeeded))  # and none processed twice
    poison_invocations = [ids for ids in function.invocations if "13" in ids]
    assert len(poison_invocations) == 11 and poison_invocations[-1] == ["13"]  # 1 try + 10 retries
    (info,) = discarded
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 11
    assert info["requestContext"]["functionArn"] == FUNCTION_ARN
    batch = info["DDBStreamBatchInfo"]
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == f"{13:021d}"
    assert batch["batchSize"] == 1 and batch["streamArn"] == STREAM_ARN and batch["shardId"] == "shardId-1"
    assert batch["approximateArrivalOfFirstRecord"].endswith("Z")


def test_without_bisection_the_whole_batch_is_retried_then_reported():
    function, discarded = Function(poison={"2"}), []
    processed, dropped = runner(function, StreamFailurePolicy(maximum_retry_attempts=3), discarded).run(
        records(5), "shardId-1"
    )
    assert (processed, dropped) == (0, 5) and len(function.invocations) == 4
    assert discarded[0]["DDBStreamBatchInfo"]["batchSize"] == 5


def test_a_transient_failure_is_retried_until_it_succeeds_and_nothing_is_reported():
    function, discarded = Function(transient_failures=3), []
    processed, dropped = runner(function, StreamFailurePolicy(maximum_retry_attempts=10, bisect=True), discarded).run(
        records(4), "shardId-1"
    )
    assert (processed, dropped, discarded) == (4, 0, [])
    assert sorted(function.succeeded) == ["0", "1", "2", "3"]


def test_zero_retries_reports_on_the_first_failure():
    function, discarded = Function(poison={"0"}), []
    assert runner(function, StreamFailurePolicy(maximum_retry_attempts=0), discarded).run(records(1), "s") == (0, 1)
    assert len(function.invocations) == 1


def test_retries_back_off_exponentially_up_to_a_cap():
    waits: list[float] = []
    StreamBatchRunner(
        Function(poison={"0"}),
        lambda _: None,
        StreamFailurePolicy(maximum_retry_attempts=6, first_backoff=0.5, max_backoff=5),
        FUNCTION_ARN,
        STREAM_ARN,
        sleep=waits.append,
    ).run(records(1), "s")
    assert waits == [0.5, 1, 2, 4, 5, 5]


def test_a_stopping_worker_abandons_the_retry_loop_without_reporting():
    discarded: list[dict] = []
    stream = StreamBatchRunner(
        Function(poison={"0"}),
        discarded.append,
        StreamFailurePolicy(),
        FUNCTION_ARN,
        STREAM_ARN,
        sleep=lambda _: None,
        stopping=lambda: True,
    )
    with pytest.raises(InterruptedError):
        stream.run(records(1), "s")
    assert discarded == []


# -- SQS ----------------------------------------------------------------------------------------------------


def test_partial_batch_responses_count_only_when_the_mapping_reports_them():
    ids = ["a", "b", "c"]
    answer = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert failed_message_ids(ids, answer, reports_item_failures=True) == {"b"}
    assert failed_message_ids(ids, answer, reports_item_failures=False) == set()  # Lambda ignores the answer
    assert failed_message_ids(ids, None, reports_item_failures=True) == set()
    assert failed_message_ids(ids, {"batchItemFailures": []}, reports_item_failures=True) == set()
    # an answer naming a message not in the batch, or without an identifier, fails the whole batch
    assert failed_message_ids(ids, {"batchItemFailures": [{"itemIdentifier": "zz"}]}, True) == set(ids)
    assert failed_message_ids(ids, {"batchItemFailures": [{}]}, True) == set(ids)


def test_every_queue_handler_of_the_deployment_reports_batch_item_failures():
    from chalice.app import SQSEventConfig

    from app import app

    for source in (s for s in app.event_sources if isinstance(s, SQSEventConfig)):
        assert REPORT_BATCH_ITEM_FAILURES in mapping_settings(source.name)["FunctionResponseTypes"], source.name


@pytest.fixture
def queue_with_redrive():
    """A queue whose messages move to a DLQ on their third receive, visible again at once after a failure."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(
            QueueName="work",
            Attributes={
                "VisibilityTimeout": "0",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield sqs, url, arn, dlq


def bodies(sqs, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(message["Body"] for message in messages)


def test_a_reported_failure_stays_on_the_queue_then_the_redrive_policy_moves_it_to_the_dlq(queue_with_redrive):
    sqs, url, arn, dlq = queue_with_redrive
    for body in ("good-1", "poison", "good-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    handled: list[str] = []

    def handler(event: dict) -> dict:
        failures = []
        for record in event["Records"]:
            assert record["eventSourceARN"] == arn and record["eventSource"] == "aws:sqs"
            if record["body"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                handled.append(record["body"])
        return {"batchItemFailures": failures}

    assert deliver_sqs_batch(sqs, url, arn, 10, handler, reports_item_failures=True) == (2, 1)
    assert deliver_sqs_batch(sqs, url, arn, 10, handler, reports_item_failures=True) == (0, 1)  # 2nd receive
    assert deliver_sqs_batch(sqs, url, arn, 10, handler, reports_item_failures=True) == (0, 0)  # moved away
    assert sorted(handled) == ["good-1", "good-2"]
    assert bodies(sqs, dlq) == ["poison"]


def test_a_batch_larger_than_one_receive_is_gathered_within_its_window_and_deleted_whole(queue_with_redrive):
    sqs, _, _, _ = queue_with_redrive
    url = sqs.create_queue(QueueName="gathered", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for start in range(0, 30, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i:02d}"} for i in range(start, start + 10)]
        )
    batches: list[list[str]] = []

    def handler(event: dict) -> dict:
        batches.append([record["body"] for record in event["Records"]])
        return {"batchItemFailures": []}

    # SQS gives at most 10 a receive: a mapping of 25 keeps receiving until its batch is full
    assert deliver_sqs_batch(sqs, url, arn, 25, handler, True, batching_window_s=5) == (25, 0)
    assert deliver_sqs_batch(sqs, url, arn, 25, handler, True, batching_window_s=5) == (5, 0)  # what is left
    assert [len(batch) for batch in batches] == [25, 5]
    assert sorted(body for batch in batches for body in batch) == [f"m{i:02d}" for i in range(30)]
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessagesNotVisible"
        ]
        == "0"
    )  # all 30 deleted, none left in flight to come back


def test_without_a_batching_window_one_receive_is_one_batch(queue_with_redrive):
    sqs, url, arn, _dlq = queue_with_redrive
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    sqs.send_message(QueueUrl=url, MessageBody="m10")
    sizes: list[int] = []
    assert deliver_sqs_batch(sqs, url, arn, 25, lambda event: sizes.append(len(event["Records"])), True) == (10, 0)
    assert sizes == [10]


def test_a_crashed_invocation_leaves_the_whole_batch_for_a_retry(queue_with_redrive):
    sqs, url, arn, dlq = queue_with_redrive
    sqs.send_message(QueueUrl=url, MessageBody="one")
    errors: list[Exception] = []

    def crash(event: dict) -> None:
        raise RuntimeError("function crashed")

    assert deliver_sqs_batch(sqs, url, arn, 10, crash, True, on_error=errors.append) == (0, 1)
    assert [str(error) for error in errors] == ["function crashed"]
    assert deliver_sqs_batch(sqs, url, arn, 10, lambda event: None, True) == (1, 0)  # retried, then done
    assert bodies(sqs, url) == [] and bodies(sqs, dlq) == []


def test_the_worker_sends_exhausted_stream_batches_to_the_deployments_on_failure_queue(aws, monkeypatch):
    from chalice.app import DynamoDBEventConfig

    from chalicelib.adapters.aws import client
    from infra.local.event_sources import on_failure_queue
    from infra.local.worker import Worker

    monkeypatch.setenv("LOCAL_STREAM_RETRY_BACKOFF", "0")
    queue = on_failure_queue(mapping_settings("start_protocols"), "test")
    assert queue, "the issues stream's mapping names no on-failure destination"
    worker = Worker()
    (source,) = [s for s in worker.app.event_sources if isinstance(s, DynamoDBEventConfig)]
    stream = worker.stream_runner(source, STREAM_ARN)
    function = Function(poison={"1"})
    stream.invoke = function  # the handler that always fails on record 1, in place of start_protocols
    assert stream.run(records(3), "shardId-7") == (2, 1)
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    info = json.loads(message["Body"])
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == f"{1:021d}"
    assert info["requestContext"]["functionArn"].endswith(":function:social-response-test-start_protocols")
    assert worker.counts["start_protocols.discarded"] == 1
