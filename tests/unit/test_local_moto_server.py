"""The local stack's moto server (``infra.local.moto_server``): a cancelled transaction undoes only itself.

Plain ``python -m moto.server`` restores a deep copy of every table a cancelled ``TransactWriteItems`` touched: writes
other requests made to them meanwhile are lost, table items and stream records alike (measured: 34 of 150 concurrent
puts lost; the worker-kill run lost one issue's protocol start that way). Real servers, real HTTP, real threads.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local.common import ROOT
from infra.local.stack import free_port

PUTS = 80


@pytest.fixture
def moto_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's server did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_concurrent_writes_survive_cancelled_transactions_and_data_json_answers(moto_url):
    options = {
        "endpoint_url": moto_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    dynamodb = boto3.client("dynamodb", **options)
    dynamodb.create_table(
        TableName="issues",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName="issues", Item={"pk": {"S": "guard"}})
    stopping, cancelled, data_json = threading.Event(), [], []

    def cancel_transactions() -> None:  # an idempotency guard refusing a repeat, as a redelivered message does
        own = boto3.client("dynamodb", **options)
        while not stopping.is_set():
            try:
                own.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": "issues",
                                "Item": {"pk": {"S": "guard"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                    ]
                )
            except ClientError as error:
                cancelled.append(error.response["Error"]["Code"])

    def read_data_json() -> None:
        while not stopping.is_set():
            try:
                data_json.append(urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=60).status)
            except OSError as error:
                data_json.append(str(error))
            time.sleep(0.5)

    threads = [threading.Thread(target=cancel_transactions), threading.Thread(target=read_data_json)]
    for thread in threads:
        thread.start()
    try:
        for i in range(PUTS):
            dynamodb.put_item(TableName="issues", Item={"pk": {"S": f"issue-{i}"}})
    finally:
        stopping.set()
        for thread in threads:
            thread.join()

    stored = {item["pk"]["S"] for item in dynamodb.scan(TableName="issues")["Items"]}
    streams = boto3.client("dynamodbstreams", **options)
    stream_arn = dynamodb.describe_table(TableName="issues")["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]

    assert cancelled and set(cancelled) == {"TransactionCanceledException"}
    assert stored == {"guard"} | {f"issue-{i}" for i in range(PUTS)}
    assert len(records) == PUTS + 1 and sequence_numbers == sorted(set(sequence_numbers))
    assert data_json and 200 in data_json
