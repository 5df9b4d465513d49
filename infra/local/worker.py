"""The local worker: does for ``chalice local`` what AWS does for the deployed app.

* For every ``@app.on_sqs_message`` handler it long-polls the queue, builds the same SQS event Lambda would,
  invokes the handler through ``chalice.test.Client`` (stage environment and Lambda context included), deletes
  the records that succeeded and leaves the failures to become visible again (after ``maxReceiveCount`` receives
  SQS moves them to the DLQ, exactly as in AWS). ``batchItemFailures`` count only where the deployment enables
  ``ReportBatchItemFailures`` (``event_sources``).
* For every ``@app.on_dynamodb_record`` handler it reads the table's stream (shard iterators from the start) and
  invokes the handler with the records, as Lambda's stream event source mapping does: a failed batch is retried
  (bisected when configured) up to ``MaximumRetryAttempts``, then described to the on-failure destination.
* For every ``@app.schedule`` handler it fires ``rate(...)`` and ``cron(...)`` expressions on time
  (``schedules``: EventBridge's full syntax, or a clear refusal at start-up), with the event EventBridge sends, and
  on demand through its control port: ``POST /schedules/<name>``.
* ``GET /ready`` answers 200 once every queue has been polled once; ``GET /status`` counts what it did.

Run with the environment of the local stack (``python -m infra.local.worker``); ``make run`` starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.local.event_sources import (
    REPORT_BATCH_ITEM_FAILURES,
    StreamBatchRunner,
    StreamFailurePolicy,
    deliver_sqs_batch,
    mapping_settings,
    on_failure_queue,
    sqs_event,
)

__all__ = ["Worker", "control_server", "expression_of", "sqs_event"]
from infra.local.schedules import RateSchedule, Schedule, parse_schedule, rule_name, scheduled_event

DEFAULT_ACCOUNT = "123456789012"


def expression_of(source) -> str:
    """A Chalice schedule's EventBridge expression (Chalice keeps ``Rate``/``Cron`` objects or a string)."""
    expression = source.schedule_expression
    return expression.to_string() if hasattr(expression, "to_string") else str(expression)


class Checkpoints:
    """The last sequence number read per stream shard, as Lambda's mapping keeps it across function restarts.

    Kept in ``LOCAL_WORKER_CHECKPOINTS`` (a JSON file the stack gives it) so that a worker the supervisor restarts
    resumes after the last batch done, instead of running every record of the stream again. Without a file, in memory.
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.lock = threading.Lock()
        self.positions: dict[str, dict[str, str]] = {}
        if self.path and self.path.exists():
            self.positions = json.loads(self.path.read_text(encoding="utf-8") or "{}")

    def of(self, source_name: str) -> dict[str, str]:
        with self.lock:
            return dict(self.positions.get(source_name, {}))

    def save(self, source_name: str, positions: dict[str, str]) -> None:
        with self.lock:
            self.positions[source_name] = dict(positions)
            if self.path:
                partial = self.path.with_suffix(".tmp")
                partial.write_text(json.dumps(self.positions), encoding="utf-8")
                os.replace(partial, self.path)  # atomic: a kill never leaves half a file


def _read_once(streams: Any, stream_arn: str, shard_id: str, after: str | None, limit: int) -> list[dict]:
    position = (
        {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        if after is not None
        else {"ShardIteratorType": "TRIM_HORIZON"}
    )
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
    return streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=limit).get("Records", [])


def read_stream_batch(
    streams: Any,
    stream_arn: str,
    shard_id: str,
    after: str | None,
    limit: int,
    on_rolled_back: Callable[[int], Any] = lambda count: None,
) -> list[dict]:
    """The next records of a shard after sequence number ``after`` (from its start when ``None``), shaped as Lambda
    hands them to a function (the source ARN on each, times as epoch seconds).

    Only records that were really written: the shard is read twice, through two iterators, and only the records
    both reads hold (same event ids, in order) are returned. moto rolls a cancelled transaction back by putting a
    copy of each table it touched, stream shard included, in the table's place; an iterator taken before that
    and read after it still reads the old shard, which holds the records of the cancelled writes, and the next
    real writes then take the same sequence numbers on the copy. A reader that checkpointed such a record would
    skip the real one (a protocol never started: a killed worker's redelivered mentions cancel their triage
    transactions). On AWS a cancelled transaction writes no record. The second read starts after the first has
    ended, so it reads the current shard: a rolled-back record is never in both. ``on_rolled_back(n)`` hears of
    the ``n`` records dropped (they are read again, from the current shard, on the next call).
    """
    first = _read_once(streams, stream_arn, shard_id, after, limit)
    if not first:
        return []
    second = _read_once(streams, stream_arn, shard_id, after, limit)
    agreed = []
    for record, again in zip(first, second, strict=False):  # the second read may hold newer records too
        if record["eventID"] != again["eventID"]:
            break
        agreed.append(record)
    if len(agreed) < len(first):
        on_rolled_back(len(first) - len(agreed))
    return [
        {
            **record,
            "eventSourceARN": stream_arn,
            "dynamodb": {k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in record["dynamodb"].items()},
        }
        for record in agreed
    ]


class Worker:
    def __init__(self, app: Any = None) -> None:
        """``app``: the Chalice app whose event sources it serves (``app.app`` by default); whatever the app
        registered, blueprints' handlers included, is found in its ``event_sources``."""
        from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig
        from chalice.test import Client

        from chalicelib.adapters.aws import client

        if app is None:
            import app as application

            app = application.app
        self.app = app
        self.stage = os.environ.get("STAGE", "local")
        self.client = Client(self.app, stage_name=self.stage)
        self.sqs = client("sqs")
        self.region = self.sqs.meta.region_name
        self.queues = [s for s in self.app.event_sources if isinstance(s, SQSEventConfig)]
        self.schedules = [s for s in self.app.event_sources if isinstance(s, ScheduledEventConfig)]
        self.streams = [s for s in self.app.event_sources if isinstance(s, DynamoDBEventConfig)]
        # Parsed now: an expression the worker cannot honour stops it at start-up, never silently at run time.
        self.timetable: dict[str, Schedule] = {s.name: parse_schedule(expression_of(s)) for s in self.schedules}
        self.polled: set[str] = set()
        self.counts: dict[str, int] = {}
        self.errors: list[dict[str, str]] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._account: str | None = None
        self.checkpoints = Checkpoints(os.environ.get("LOCAL_WORKER_CHECKPOINTS"))

    def _count(self, key: str, value: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + value

    def _error(self, where: str, error: BaseException) -> None:
        line = f"{type(error).__name__}: {error}"
        print(f"[worker] {where} failed: {line}", file=sys.stderr, flush=True)
        with self.lock:
            self.errors = [
                *self.errors[-49:],
                {"source": where, "error": line[:300], "at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
            ]

    @property
    def account(self) -> str:
        """The account the local AWS answers for (moto: 123456789012), as EventBridge puts it in each event."""
        if self._account is None:
            from chalicelib.adapters.aws import client

            try:
                self._account = client("sts").get_caller_identity()["Account"]
            except Exception:  # noqa: BLE001 - the event still needs an account; moto's default is the right one
                self._account = DEFAULT_ACCOUNT
        return self._account

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.app.app_name}-{self.stage}-{name}"

    # -- queues -------------------------------------------------------------------------------------------
    def poll_forever(self, source) -> None:
        url = self.sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        reports = REPORT_BATCH_ITEM_FAILURES in mapping_settings(source.name).get("FunctionResponseTypes", [])
        while not self.stopping.is_set():
            try:
                self.poll_once(source, url, arn, reports)
            except Exception as error:  # noqa: BLE001 - the worker must outlive a hiccup of the local AWS
                self._error(source.name, error)
                time.sleep(1)

    def poll_once(self, source, url: str, arn: str, reports_item_failures: bool = True) -> int:
        done, failed = deliver_sqs_batch(
            self.sqs,
            url,
            arn,
            source.batch_size,
            lambda event: self.client.lambda_.invoke(source.name, event).payload,
            reports_item_failures,
            on_error=lambda error: self._error(source.name, error),
            batching_window_s=source.maximum_batching_window_in_seconds,
        )
        self.polled.add(source.name)
        if done + failed:
            self._count(f"{source.name}.processed", done)
            self._count(f"{source.name}.failed", failed)
        return done + failed

    # -- table streams ------------------------------------------------------------------------------------
    def stream_forever(self, source) -> None:
        from chalicelib.adapters.aws import client

        table = source.stream_arn.split(":table/", 1)[1].split("/", 1)[0]
        while not self.stopping.is_set():
            try:
                self._follow_stream(source, table, client("dynamodb"), client("dynamodbstreams"))
            except InterruptedError:
                return
            except Exception as error:  # noqa: BLE001 - the worker must outlive a hiccup of the local AWS
                self._error(source.name, error)
                time.sleep(1)

    def stream_runner(self, source, stream_arn: str) -> StreamBatchRunner:
        """Lambda's retry policy for this mapping, as the deployment configures it (``infra.template``)."""
        settings = mapping_settings(source.name)
        backoff = {"first_backoff": float(os.environ.get("LOCAL_STREAM_RETRY_BACKOFF", "0.5"))}
        policy = StreamFailurePolicy.from_settings(settings, **backoff)
        destination = on_failure_queue(settings, self.stage)
        destination_url = self.sqs.get_queue_url(QueueName=destination)["QueueUrl"] if destination else None

        def discard(info: dict) -> None:
            self._count(f"{source.name}.discarded", info["DDBStreamBatchInfo"]["batchSize"])
            if destination_url:
                self.sqs.send_message(QueueUrl=destination_url, MessageBody=json.dumps(info))
            else:  # Lambda drops them silently; say so at least
                print(
                    f"[worker] {source.name}: {info['DDBStreamBatchInfo']['batchSize']} records skipped after "
                    f"{info['requestContext']['approximateInvokeCount']} attempts; no on-failure destination is "
                    f"configured",
                    file=sys.stderr,
                    flush=True,
                )

        def invoke(records: list[dict]) -> None:
            self.client.lambda_.invoke(source.name, {"Records": records})

        return StreamBatchRunner(
            invoke,
            discard,
            policy,
            self.function_arn(source.name),
            stream_arn,
            stopping=self.stopping.is_set,
            on_error=lambda error, size: self._error(f"{source.name} ({size} records)", error),
        )

    def _follow_stream(self, source, table: str, dynamodb, streams) -> None:
        """Read new records shard by shard, remembering the last sequence number.

        A fresh iterator on every poll, not the previous NextShardIterator: moto replaces a table (and its
        stream shard) with a snapshot when a transaction on it is cancelled, and an old iterator would go deaf.
        """
        stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        runner = self.stream_runner(source, stream_arn)
        last = self.checkpoints.of(source.name)
        while not self.stopping.is_set():
            self.polled.add(source.name)
            got = 0
            for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                shard_id = shard["ShardId"]
                records = read_stream_batch(
                    streams,
                    stream_arn,
                    shard_id,
                    last.get(shard_id),
                    source.batch_size,
                    on_rolled_back=lambda count: self._rolled_back(source.name, count),
                )
                if not records:
                    continue
                got += len(records)
                processed, discarded = runner.run(records, shard_id)
                self._count(f"{source.name}.processed", processed)
                self._count(f"{source.name}.failed", discarded)
                final = records[-1]["dynamodb"]["SequenceNumber"]
                # Where a restarted worker resumes, and what this one ran: to compare with the table's writes.
                print(
                    f"[worker] {source.name}: {shard_id} records {records[0]['dynamodb']['SequenceNumber']}..{final} "
                    f"after {last.get(shard_id)} done ({processed} processed, {discarded} discarded); "
                    f"checkpoint {final}",
                    file=sys.stderr,
                    flush=True,
                )
                last[shard_id] = final
                self.checkpoints.save(source.name, last)
            if not got:
                time.sleep(0.5)

    def _rolled_back(self, source_name: str, count: int) -> None:
        self._count(f"{source_name}.rolled_back_records_skipped", count)
        print(
            f"[worker] {source_name}: {count} records of a rolled-back transaction read and dropped; reading again",
            file=sys.stderr,
            flush=True,
        )

    # -- schedules ----------------------------------------------------------------------------------------
    def fire(self, name: str) -> Any:
        """One firing of a schedule, with the event EventBridge would send; errors are counted and raised."""
        event = scheduled_event(rule_name(self.app.app_name, self.stage, name), self.region, self.account)
        self._count(f"{name}.fired")
        try:
            payload = self.client.lambda_.invoke(name, event).payload
        except Exception as error:
            self._count(f"{name}.failed")
            self._error(f"schedule {name}", error)
            raise
        self._count(f"{name}.succeeded")
        return payload

    def schedule_forever(self) -> None:
        started = datetime.now(timezone.utc)
        due: dict[str, datetime | float | None] = {}
        for name, schedule in self.timetable.items():
            due[name] = (
                time.monotonic() + schedule.period_seconds
                if isinstance(schedule, RateSchedule)
                else schedule.next_after(started)
            )
        while not self.stopping.wait(1):
            now = datetime.now(timezone.utc)
            for name, schedule in self.timetable.items():
                if isinstance(schedule, RateSchedule):
                    if time.monotonic() < due[name]:
                        continue
                    due[name] = time.monotonic() + schedule.period_seconds
                else:
                    if due[name] is None or now < due[name]:
                        continue
                    due[name] = schedule.next_after(now)
                with contextlib.suppress(Exception):  # counted and logged by fire; the next firing may succeed
                    self.fire(name)

    @property
    def ready(self) -> bool:
        return all(source.name in self.polled for source in [*self.queues, *self.streams])

    def start(self) -> None:
        for source in self.queues:
            threading.Thread(target=self.poll_forever, args=(source,), daemon=True, name=source.name).start()
        for source in self.streams:
            threading.Thread(target=self.stream_forever, args=(source,), daemon=True, name=source.name).start()
        threading.Thread(target=self.schedule_forever, daemon=True, name="schedules").start()


def control_server(worker: Worker, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/ready":
                self._answer(200 if worker.ready else 503, {"ready": worker.ready})
            elif self.path == "/status":
                self._answer(
                    200,
                    {
                        "counts": worker.counts,
                        "queues": [s.name for s in worker.queues],
                        "streams": [s.name for s in worker.streams],
                        "schedules": [s.name for s in worker.schedules],
                        "errors": worker.errors,
                    },
                )
            else:
                self._answer(404, {"error": "unknown path"})

        def do_POST(self) -> None:  # noqa: N802
            match = re.fullmatch(r"/schedules/([\w\-]+)", self.path)
            names = {s.name for s in worker.schedules}
            if not match or match.group(1) not in names:
                self._answer(404, {"error": f"unknown schedule; known: {sorted(names)}"})
                return
            try:
                self._answer(200, {"result": worker.fire(match.group(1))})
            except Exception as error:  # noqa: BLE001 - the firing failed; the caller must hear it
                self._answer(500, {"error": f"{match.group(1)} failed: {type(error).__name__}: {error}"})

        def log_message(self, *args: Any) -> None:  # keep the console for what matters
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="control").start()
    return server


def main() -> None:
    port = int(os.environ.get("WORKER_PORT", "8001"))
    worker = Worker()
    worker.start()
    control_server(worker, port)
    print(
        f"[worker] polling {[s.queue for s in worker.queues]}; schedules {[s.name for s in worker.schedules]}; "
        f"control on 127.0.0.1:{port}",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    worker.stopping.set()


if __name__ == "__main__":
    main()
