"""Pipeline figures: AWS calls and DynamoDB write units per mention, and throughput against the floor.

The pipeline is the real queue handler (``process_batch``) on SQS events of real demo mentions, on in-process
moto. Every AWS call our code makes is counted through botocore's ``provide-client-params`` hook (receiving and deleting
the SQS messages is the event source mapping's work, not ours, and is not counted). Write units follow
DynamoDB's rules: ceil(item size / 1 KB) per item, doubled inside a transaction.

The floor: the very items the pipeline wrote, written again raw to fresh tables in the same run, once with one
``PutItem`` each and once with ``BatchWriteItem`` (25 a call): no reads, no conditions, no transaction, no model.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "demo" / "sample_stream.jsonl"


def aws_environment() -> None:
    """In-process moto only: never a real account, never a stack left running."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STAGE": "test",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in inner.items())
    if kind == "B":
        return len(inner)
    return len(json.dumps(inner))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, Any], transactional: bool) -> int:
    return math.ceil(item_size(item) / 1024) * (2 if transactional else 1)


class CallCounter:
    """Counts calls and write units by listening to botocore's events on the shared clients."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.wcu = 0
        self.written: list[tuple[str, dict]] = []  # (table, item) the pipeline wrote, for the floor

    def __call__(self, model, params, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((operation, body),) = entry.items()
                item = body.get("Item") or {**body.get("Key", {}), "_update": {"S": body.get("UpdateExpression", "")}}
                self.wcu += write_units(item, transactional=True)
                if operation == "Put":
                    self.written.append((body["TableName"], body["Item"]))
        elif model.name in ("PutItem", "UpdateItem"):
            item = params.get("Item") or params.get("Key", {})
            self.wcu += write_units(item, transactional=False)


def _mentions(limit: int) -> list[str]:
    """Demo rows as the JSON the queue carries (Mention model), re-identified so each run stores them fresh."""
    from datetime import datetime, timezone

    from chalicelib.commands.classify import to_mention

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    bodies = []
    for index in range(limit):
        row = rows[index % len(rows)]
        mention = to_mention({**row, "id": f"{row['id']}-{index}", "created_at": row["created_at"]})
        mention = mention.model_copy(
            update={
                "created_at": datetime.fromisoformat(row["created_at"]).replace(tzinfo=timezone.utc)
                if "+" not in row["created_at"]
                else datetime.fromisoformat(row["created_at"])
            }
        )
        bodies.append(mention.model_dump_json())
    return bodies


def run(mentions: int = 600, batch: int = 10) -> dict[str, Any]:
    """The pipeline on moto as shipped, and with DynamoDB's transaction cost model (see moto_transactions.py)."""
    from bench.moto_transactions import item_level_rollback

    as_shipped = run_once(mentions, batch, surges=False)
    with item_level_rollback():
        per_item = run_once(mentions, batch, surges=False)
        with_surges = run_once(mentions, batch, surges=True)
    return {"moto_as_shipped": as_shipped, "moto_item_level_rollback": per_item, "with_surge_detection": with_surges}


def run_once(mentions: int, batch: int, surges: bool) -> dict[str, Any]:
    """Triage alone (issue 3's figures), or the whole queue handler with per-batch surge detection."""
    from moto import mock_aws

    from infra.local.deploy import deploy_stack

    os.environ.update({"STAGE": "test", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        deploy_stack("test")
        from chalicelib import bootstrap
        from chalicelib.adapters import aws
        from chalicelib.services.processor import Pipeline, process_batch

        bootstrap.reset()
        bodies = _mentions(mentions)
        events = [
            {
                "Records": [
                    {
                        "messageId": f"m{i}",
                        "receiptHandle": f"r{i}",
                        "body": body,
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": "",
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                        "awsRegion": "us-east-1",
                    }
                    for i, body in enumerate(bodies[start : start + batch], start=start)
                ]
            }
            for start in range(0, len(bodies), batch)
        ]
        counter = CallCounter()
        aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb", counter)
        pipeline = bootstrap.pipeline()
        if not surges:
            pipeline = Pipeline(pipeline.repository, pipeline.triage, pipeline.plans, None)
        process_batch(events[0], pipeline)  # warm: model loaded, plan cached, clients built (a warm Lambda)
        counter.__init__()
        started = time.perf_counter()
        for event in events[1:]:
            result = process_batch(event, pipeline)
            assert result == {"batchItemFailures": []}, result
        pipeline_s = time.perf_counter() - started
        processed = len(bodies) - len(events[0]["Records"])
        calls = sum(counter.calls.values())
        calls_by_api = dict(counter.calls)

        floor_items = counter.written
        put_s = _raw_puts(floor_items)
        batch_s = _raw_batches(floor_items)
    return {
        "mentions": processed,
        "aws_calls_per_mention": round(calls / processed, 3),
        "calls_by_api": calls_by_api,
        "target_calls_per_mention_max": 2,
        "dynamodb_write_units_per_mention": round(counter.wcu / processed, 2),
        "items_written_per_mention": round(len(floor_items) / processed, 2),
        "pipeline_mentions_per_s": round(processed / pipeline_s, 1),
        "floor_putitem_mentions_per_s": round(processed / put_s, 1),
        "floor_batchwrite_mentions_per_s": round(processed / batch_s, 1),
        "ratio_to_putitem_floor": round(pipeline_s / put_s, 3),
        "ratio_to_batchwrite_floor": round(pipeline_s / batch_s, 3),
        "target_ratio_max": 1.5,
    }


def _fresh_tables(suffix: str) -> dict[str, str]:
    """Empty copies of the stage's tables, so the raw writes create items as the pipeline did."""
    from chalicelib.adapters.aws import client
    from infra.template import build_template

    names = {}
    for resource in build_template("test")["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        copy = f"{props['TableName']}-{suffix}"
        # The same keys and indexes: a raw write maintains the same GSIs the pipeline's writes do.
        extra = {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
        client("dynamodb").create_table(
            TableName=copy,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        names[props["TableName"]] = copy
    return names


def _raw_puts(items: list[tuple[str, dict]]) -> float:
    from chalicelib.adapters.aws import client

    tables = _fresh_tables("floor-put")
    dynamodb = client("dynamodb")
    started = time.perf_counter()
    for table, item in items:
        dynamodb.put_item(TableName=tables[table], Item=item)
    return time.perf_counter() - started


def _raw_batches(items: list[tuple[str, dict]]) -> float:
    from chalicelib.adapters.aws import client

    tables = _fresh_tables("floor-batch")
    dynamodb = client("dynamodb")
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        requests: dict[str, list] = {}
        for table, item in items[start : start + 25]:
            requests.setdefault(tables[table], []).append({"PutRequest": {"Item": item}})
        dynamodb.batch_write_item(RequestItems=requests)
    return time.perf_counter() - started


if __name__ == "__main__":
    aws_environment()
    print(json.dumps(run(), indent=2))
