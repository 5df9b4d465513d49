"""The local worker's stream reader resumes after real records only (issue 8: a protocol lost after a worker kill).

moto rolls a cancelled ``TransactWriteItems`` back by putting copies of the tables it touched, stream shard
included, in their place. An iterator taken before the rollback and read after it still reads the old shard, with
the records of the cancelled writes; the next real write takes the same sequence number on the copy. On the local
stack this is the stream thread meeting a redelivered mention (after a kill) whose triage transaction is cancelled:
the reader checkpointed the rolled-back record and never saw the next issue's INSERT, so its protocol never
started. Here the interleaving is forced: the cancelled transaction runs between the iterator and the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from infra.local.worker import read_stream_batch

TABLE = "issues"
REGION = "us-east-1"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "issue_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "issue_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


class RollbackBetweenIteratorAndRead:
    """The streams client, with ``meanwhile`` run once between taking an iterator and reading it."""

    def __init__(self, streams: Any, meanwhile: Callable[[], None]) -> None:
        self.streams, self.meanwhile = streams, meanwhile

    def get_shard_iterator(self, **request: Any) -> dict:
        return self.streams.get_shard_iterator(**request)

    def get_records(self, **request: Any) -> dict:
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        meanwhile()
        return self.streams.get_records(**request)


def cancelled_join(dynamodb: Any) -> None:
    """A join that updates issue ``a`` and then fails a condition: DynamoDB cancels all of it."""
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"issue_id": {"S": "a"}},
                        "UpdateExpression": "SET mention_count = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"issue_id": {"S": "claimed"}},
                        "ConditionExpression": "attribute_exists(issue_id)",
                    }
                },
            ]
        )


def streams_client() -> Any:
    # moto serves streams on the account-less endpoint only (as chalicelib.adapters.aws does).
    return boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))


def seen(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["issue_id"]["S"]) for r in records]


def test_a_rolled_back_record_is_never_returned_and_the_next_real_record_is_read_after_it(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"issue_id": {"S": "a"}, "mention_count": {"N": "1"}})
    stream_arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    streams = streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    rolled_back: list[int] = []

    racing = RollbackBetweenIteratorAndRead(streams, lambda: cancelled_join(dynamodb))
    first = read_stream_batch(racing, stream_arn, shard, None, 25, on_rolled_back=rolled_back.append)
    dynamodb.put_item(TableName=TABLE, Item={"issue_id": {"S": "b"}, "mention_count": {"N": "1"}})
    checkpoint = first[-1]["dynamodb"]["SequenceNumber"]
    then = read_stream_batch(streams, stream_arn, shard, checkpoint, 25)

    assert seen(first) == [("INSERT", "a")]  # not the cancelled join's MODIFY
    assert rolled_back == [1]
    assert seen(then) == [("INSERT", "b")]  # the next issue, which took the rolled-back record's number
    assert all(r["eventSourceARN"] == stream_arn for r in first + then)


def test_records_written_between_the_two_reads_are_left_for_the_next_call(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"issue_id": {"S": "a"}})
    stream_arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    streams = streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]

    class WriteAfterTheFirstRead(RollbackBetweenIteratorAndRead):
        reads = 0

        def get_records(self, **request: Any) -> dict:
            answer = self.streams.get_records(**request)
            self.reads += 1
            if self.reads == 1:
                dynamodb.put_item(TableName=TABLE, Item={"issue_id": {"S": "b"}})
            return answer

    first = read_stream_batch(WriteAfterTheFirstRead(streams, lambda: None), stream_arn, shard, None, 25)
    then = read_stream_batch(streams, stream_arn, shard, first[-1]["dynamodb"]["SequenceNumber"], 25)

    assert seen(first) == [("INSERT", "a")] and seen(then) == [("INSERT", "b")]
