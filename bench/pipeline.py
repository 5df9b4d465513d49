"""Pipeline figures: AWS calls and DynamoDB write units per mention, and throughput against the floor.

The pipeline is the real queue handler (``process_batch``) on SQS events of real demo mentions, on in-process
moto. Every AWS call our code makes is counted through botocore's ``provide-client-params`` hook (receiving and deleting
the SQS messages is the event source mapping's work, not ours, and is not counted). Write units follow
DynamoDB's rules: ceil(item size / 1 KB) per item, doubled inside a transaction.

The floor: the very items the pipeline wrote, written again raw to fresh tables in the same run, once with one
``PutItem`` each and once with ``BatchWriteItem`` (25 a call): no reads, no conditions, no transaction, no model.
An ``Update`` that only SETs values (``a = :v`` or ``a = if_not_exists(a, :v)``) writes a whole item as a ``Put`` would:
it is charged and floored at that item's size (the mention's write was such an ``Update`` from 51a5103 to 99d30d8,
and the floor then left its item out).

Measured so that other work on the machine cancels out (``make bench`` shares a 2-core machine):

- time is this process's CPU time (``time.process_time``), not wall time: everything here runs in one thread of
  this process (moto in-process), so waiting for a core while others run is not counted;
- the pipeline and its floor are interleaved, round by round (:data:`ROUND_BATCHES` batches a round, then those
  batches' items raw): the ratio is the pipeline's CPU over all rounds against the floors' CPU, and the rounds' own
  ratios (median and range) go with it. Before, the floor ran once after the whole pipeline (a minute later), so
  a load that came or went in between moved the ratio. The rounds differ in content (a round that opens a Crisis,
  one that starts new hour items), so their median is no better an estimate than the total;
- the CPU inside moto (the emulated DynamoDB's work, which on AWS is a network round trip, not our Lambda's CPU) is
  clocked apart from the rest (our code and botocore's client), so a change in moto's cost per call shows as such.

Live, not a backlog: the surge counters' clock follows the stream (each batch is handled
:data:`LIVE_DELAY_SECONDS` after its latest mention), as a live processor's clock does. The demo's 2015 mentions
handled by a 2026 clock would be a backlog, for which the counters keep no settled hours
(``adapters/surge_table.py``). Their kept copies age in processing time.

The stream's rate: full batches of :data:`MENTION_BATCH_SIZE` come from the event source mapping only when that
many mentions arrive within its batching window (:data:`MENTION_BATCHING_WINDOW_SECONDS`); a slower stream gets
smaller batches. So the headline runs replay the demo mentions, in their order, at :data:`LIVE_RATE_PER_SECOND`,
the slowest rate that fills a batch (:func:`_mentions`). The demo's own timing (about 27 mentions an hour) in full
batches is measured too (``with_surge_detection_demo_timing``): a batch then spans about an hour, as it would
only in a backlog drained after an outage, and each counter update carries about eleven 5-minute buckets per key
instead of one, which costs moto about 0.25 ms a bucket.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import math
import os
import re
import statistics
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.settings import MENTION_BATCH_SIZE, MENTION_BATCHING_WINDOW_SECONDS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "demo" / "sample_stream.jsonl"
LIVE_DELAY_SECONDS = 2.0  # from a batch's latest mention to its handling, live
# the slowest arrival rate at which the event source mapping hands over full batches
LIVE_RATE_PER_SECOND = MENTION_BATCH_SIZE / MENTION_BATCHING_WINDOW_SECONDS
ROUND_MENTIONS = 100  # mentions per round (whole batches): a few CPU seconds, then their floor
# An UpdateExpression that only sets values: each action ``name = :value`` or ``name = if_not_exists(name, :value)``.
_SET_ACTION = re.compile(r"\s*([#\w]+)\s*=\s*(?:if_not_exists\(\s*\1\s*,\s*(:\w+)\s*\)|(:\w+))\s*(?:,|$)")


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
        self.counting = True  # off while the floor writes through the same client

    def __call__(self, model, params, **_: Any) -> None:
        if not self.counting:
            return
        self.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((operation, body),) = entry.items()
                whole = body["Item"] if operation == "Put" else set_only_item(body) if operation == "Update" else None
                item = whole or {**body.get("Key", {}), "_update": {"S": body.get("UpdateExpression", "")}}
                self.wcu += write_units(item, transactional=True)
                if whole:
                    self.written.append((body["TableName"], whole))
        elif model.name in ("PutItem", "UpdateItem"):
            item = params.get("Item") or set_only_item(params) or params.get("Key", {})
            self.wcu += write_units(item, transactional=False)


def set_only_item(update: dict[str, Any]) -> dict[str, Any] | None:
    """The whole item an ``Update`` of only SET-to-value actions writes on an absent item (key and values), or None
    for any other update (arithmetic, REMOVE, ADD: it changes part of an item the pipeline stored before)."""
    expression = update.get("UpdateExpression", "")
    if not expression.startswith("SET "):
        return None
    names = update.get("ExpressionAttributeNames", {})
    values = update.get("ExpressionAttributeValues", {})
    item = dict(update.get("Key", {}))
    position = len("SET ")
    while position < len(expression):
        match = _SET_ACTION.match(expression, position)
        if not match:
            return None
        item[names.get(match[1], match[1])] = values[match[2] or match[3]]
        position = match.end()
    return item


class EmulatorClock:
    """CPU seconds spent inside moto (the emulated services' work), around botocore's stubbed sends."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.by_operation: Counter = Counter()  # "dynamodb.UpdateItem" -> CPU seconds in moto

    @contextlib.contextmanager
    def installed(self) -> Any:
        from moto.core.botocore_stubber import BotocoreStubber

        shipped = BotocoreStubber.__call__
        clock = self

        def timed(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return shipped(stubber, event_name, request, **kwargs)
            finally:
                took = time.process_time() - started
                clock.cpu_s += took
                clock.by_operation[event_name.removeprefix("before-send.")] += took

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BotocoreStubber.__call__ = shipped  # type: ignore[method-assign]


class Spent:
    """Wall, CPU and emulator CPU seconds of a block, added up over the rounds."""

    def __init__(self, emulator: EmulatorClock) -> None:
        self.emulator = emulator
        self.wall_s = self.cpu_s = self.emulator_cpu_s = 0.0
        self.emulator_by_operation: Counter = Counter()

    @contextlib.contextmanager
    def measuring(self) -> Any:
        """Times the block with the cyclic garbage collector held off, as ``timeit`` does: collected just before
        (untimed), paused during. The heap of this process holds moto's whole emulated DynamoDB, which on AWS is
        not in the Lambda's memory; a full collection walks all of it and falls on whichever block happens to be
        running, so with the collector on the same floor took 2.0-2.5 ms a mention in moto from run to run, and
        1.9-2.1 with it held off."""
        gc.collect()
        gc.disable()
        try:
            wall, cpu, emulator = time.perf_counter(), time.process_time(), self.emulator.cpu_s
            by_operation = self.emulator.by_operation.copy()
            yield
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - cpu
            self.emulator_cpu_s += self.emulator.cpu_s - emulator
            self.emulator_by_operation.update(self.emulator.by_operation - by_operation)
        finally:
            gc.enable()


def _mentions(limit: int, rate: float | None = LIVE_RATE_PER_SECOND) -> list[str]:
    """Demo rows as the JSON the queue carries (Mention model), re-identified so each run stores them fresh, in
    their order and arriving ``rate`` a second from the first one's time (``None``: at their own times)."""
    from datetime import datetime, timedelta, timezone

    from chalicelib.commands.classify import to_mention

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    bodies = []
    start: datetime | None = None
    for index in range(limit):
        row = rows[index % len(rows)]
        mention = to_mention({**row, "id": f"{row['id']}-{index}", "created_at": row["created_at"]})
        created_at = datetime.fromisoformat(row["created_at"])
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        start = start or created_at
        if rate is not None:
            created_at = start + timedelta(seconds=index / rate)
        bodies.append(mention.model_copy(update={"created_at": created_at}).model_dump_json())
    return bodies


def run(mentions: int = 600, batch: int = MENTION_BATCH_SIZE) -> dict[str, Any]:
    """The pipeline on moto as shipped, and with DynamoDB's cost model (see moto_transactions.py): its four
    corrections, and its first two alone (the model until 30 November 2026), so figures stay comparable."""
    from bench.moto_transactions import dynamodb_cost_model, item_level_rollback, linear_update_validation

    as_shipped = run_once(mentions, batch, surges=False)
    with item_level_rollback(), linear_update_validation():
        per_item = run_once(mentions, batch, surges=False)
        with_surges_earlier = run_once(mentions, batch, surges=True)
    with dynamodb_cost_model():
        triage = run_once(mentions, batch, surges=False)
        with_surges = run_once(mentions, batch, surges=True)
        demo_timing = run_once(mentions, batch, surges=True, rate=None)
    return {
        "stream_rate_per_second": LIVE_RATE_PER_SECOND,
        "moto_as_shipped": as_shipped,
        "moto_item_level_rollback": per_item,
        "with_surge_detection_earlier_model": with_surges_earlier,
        "triage_cost_model": triage,
        "with_surge_detection": with_surges,
        "with_surge_detection_demo_timing": demo_timing,
    }


def run_once(
    mentions: int,
    batch: int,
    surges: bool,
    round_mentions: int = ROUND_MENTIONS,
    rate: float | None = LIVE_RATE_PER_SECOND,
) -> dict[str, Any]:
    """Triage alone (issue 3's figures), or the whole queue handler with per-batch surge detection, on SQS
    batches of ``batch`` mentions (the deployed mapping's batch size: full batches, as under load) of a stream
    arriving ``rate`` a second (``None``: the demo's own times)."""
    round_batches = max(1, round_mentions // batch)
    from moto import mock_aws

    from infra.local.deploy import deploy_stack

    os.environ.update({"STAGE": "test", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        deploy_stack("test")
        from chalicelib import bootstrap
        from chalicelib.adapters import aws
        from chalicelib.services.processor import Pipeline, process_batch

        bootstrap.reset()
        bodies = _mentions(mentions, rate)
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
        stream_now = [0.0]  # the surge counters' clock: live, a moment after the batch's latest mention
        if surges:
            from chalicelib.adapters.surge_table import DynamoSurgeStore
            from chalicelib.settings import resources

            # settled by the stream's time; a kept copy ages in processing time (the run is a minute long)
            # and its history is read with the batch's dedup keys, as the composition root wires it
            counters = DynamoSurgeStore(
                resources().surges_table,
                clock=lambda: stream_now[0],
                age_clock=time.monotonic,
                reads=bootstrap.combined_reads(),
            )
            pipeline = Pipeline(pipeline.repository, pipeline.triage, pipeline.plans, counters)
        else:
            pipeline = Pipeline(pipeline.repository, pipeline.triage, pipeline.plans, None)

        def handle(event: dict[str, Any]) -> dict[str, Any]:
            latest = max(json.loads(r["body"])["created_at"] for r in event["Records"])
            stream_now[0] = datetime.fromisoformat(latest).timestamp() + LIVE_DELAY_SECONDS
            return process_batch(event, pipeline)

        handle(events[0])  # warm: model loaded, plan cached, clients built (a warm Lambda)
        put_tables, batch_tables = _fresh_tables("floor-put"), _fresh_tables("floor-batch")
        counter.__init__()
        emulator = EmulatorClock()
        spent = {name: Spent(emulator) for name in ("pipeline", "put", "batch")}
        rounds: list[dict[str, float]] = []
        with emulator.installed():
            for start in range(1, len(events), round_batches):
                before = {name: (s.cpu_s, s.wall_s) for name, s in spent.items()}
                first_item = len(counter.written)
                with spent["pipeline"].measuring():
                    for event in events[start : start + round_batches]:
                        result = handle(event)
                        assert result == {"batchItemFailures": []}, result
                items = counter.written[first_item:]
                counter.counting = False
                with spent["put"].measuring():
                    _raw_puts(items, put_tables)
                with spent["batch"].measuring():
                    _raw_batches(items, batch_tables)
                counter.counting = True
                took = {name: (s.cpu_s - before[name][0], s.wall_s - before[name][1]) for name, s in spent.items()}
                rounds.append(
                    {
                        "cpu_ratio_to_putitem": took["pipeline"][0] / took["put"][0],
                        "cpu_ratio_to_batchwrite": took["pipeline"][0] / took["batch"][0],
                        "wall_ratio_to_putitem": took["pipeline"][1] / took["put"][1],
                    }
                )
        processed = len(bodies) - len(events[0]["Records"])
        calls = sum(counter.calls.values())
        calls_by_api = dict(counter.calls)
        floor_items = counter.written

    def per_s(name: str) -> float:
        return round(processed / spent[name].cpu_s, 1)

    def ms(seconds: float) -> float:
        return round(1000 * seconds / processed, 2)

    def spread(key: str) -> dict[str, float]:  # the rounds differ in content too (a Crisis, a new hour's items)
        values = [r[key] for r in rounds]
        return {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }

    put_ratio, batch_ratio, wall_ratio = (
        spread(k) for k in ("cpu_ratio_to_putitem", "cpu_ratio_to_batchwrite", "wall_ratio_to_putitem")
    )
    pipeline_spent, put_spent = spent["pipeline"], spent["put"]
    return {
        "mentions": processed,
        "aws_calls_per_mention": round(calls / processed, 3),
        "calls_by_api": calls_by_api,
        "target_calls_per_mention_max": 2,
        "dynamodb_write_units_per_mention": round(counter.wcu / processed, 2),
        "items_written_per_mention": round(len(floor_items) / processed, 2),
        # mentions per CPU second of this one process (moto's work included), not per wall second
        "pipeline_mentions_per_s": per_s("pipeline"),
        "floor_putitem_mentions_per_s": per_s("put"),
        "floor_batchwrite_mentions_per_s": per_s("batch"),
        "rounds": len(rounds),
        # CPU over all rounds against their floors' CPU (every round's content counts once); the rounds' spread
        "ratio_to_putitem_floor": round(pipeline_spent.cpu_s / put_spent.cpu_s, 3),
        "ratio_to_putitem_floor_spread": put_ratio,
        "ratio_to_batchwrite_floor": round(pipeline_spent.cpu_s / spent["batch"].cpu_s, 3),
        "ratio_to_batchwrite_floor_spread": batch_ratio,
        "wall_ratio_to_putitem_floor_spread": wall_ratio,  # what the CPU clock leaves out: waiting for a core
        "cpu_ms_per_mention": {
            "pipeline_our_code_and_client": ms(pipeline_spent.cpu_s - pipeline_spent.emulator_cpu_s),
            "pipeline_in_moto": ms(pipeline_spent.emulator_cpu_s),
            "floor_putitem_client": ms(put_spent.cpu_s - put_spent.emulator_cpu_s),
            "floor_putitem_in_moto": ms(put_spent.emulator_cpu_s),
        },
        "pipeline_in_moto_ms_per_mention_by_api": {
            api: ms(seconds) for api, seconds in pipeline_spent.emulator_by_operation.most_common()
        },
        "wall_pipeline_mentions_per_s": round(processed / pipeline_spent.wall_s, 1),
        "target_ratio_max": 1.5,
    }


_KEY_NAMES: dict[str, tuple[str, ...]] = {}  # a floor table's key attributes


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
        _KEY_NAMES[copy] = tuple(key["AttributeName"] for key in props["KeySchema"])
    return names


def _raw_puts(items: list[tuple[str, dict]], tables: dict[str, str]) -> None:
    from chalicelib.adapters.aws import client

    dynamodb = client("dynamodb")
    for table, item in items:
        dynamodb.put_item(TableName=tables[table], Item=item)


def _raw_batches(items: list[tuple[str, dict]], tables: dict[str, str]) -> None:
    from chalicelib.adapters.aws import client

    dynamodb = client("dynamodb")
    requests: dict[str, list] = {}
    keys: set[tuple] = set()  # a call may not name an item twice (an issue a mention wrote, then the next one)
    for table, item in items:
        name = tables[table]
        key = (name, *(json.dumps(item[k], sort_keys=True) for k in _KEY_NAMES[name]))
        if len(keys) == 25 or key in keys:
            dynamodb.batch_write_item(RequestItems=requests)
            requests, keys = {}, set()
        requests.setdefault(name, []).append({"PutRequest": {"Item": item}})
        keys.add(key)
    if requests:
        dynamodb.batch_write_item(RequestItems=requests)


if __name__ == "__main__":
    aws_environment()
    print(json.dumps(run(), indent=2))
