"""The local worker: does for ``chalice local`` what AWS does for the deployed app.

* For every ``@app.on_sqs_message`` handler it long-polls the queue, builds the same SQS event Lambda would,
  invokes the handler through ``chalice.test.Client`` (stage environment and Lambda context included), deletes
  the records that succeeded and leaves the ``batchItemFailures`` to become visible again (after
  ``maxReceiveCount`` tries SQS moves them to the DLQ, exactly as in AWS).
* For every ``@app.on_dynamodb_record`` handler it reads the table's stream (shard iterators from the start) and
  invokes the handler with the records, as Lambda's stream event source mapping does.
* For every ``@app.schedule`` handler it fires ``rate(...)`` and simple ``cron(...)`` expressions on time, and on
  demand through its control port: ``POST /schedules/<name>``.
* ``GET /ready`` answers 200 once every queue has been polled once; ``GET /status`` counts what it did.

Run with the environment of the local stack (``python -m infra.local.worker``); ``make run`` starts it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
DOW = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes to the handler."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


def schedule_period(expression: str) -> int | None:
    match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def cron_due(expression: str, moment: datetime) -> bool:
    """Minute, hour and day-of-week fields of an EventBridge cron (enough for the app's weekly/daily jobs)."""
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        return False
    minute, hour, _day, _month, weekday, *_ = match.group(1).split()

    def fits(field: str, value: int, names: dict[str, int] | None = None) -> bool:
        if field in ("*", "?"):
            return True
        options = [names.get(part, part) if names else part for part in field.split(",")]
        return any(str(option) == str(value) for option in options)

    # EventBridge numbers days 1 (SUN) to 7 (SAT).
    eventbridge_weekday = (moment.isoweekday() % 7) + 1
    weekday_names = {name: number + 1 for name, number in DOW.items()}
    return fits(minute, moment.minute) and fits(hour, moment.hour) and fits(weekday, eventbridge_weekday,
                                                                             weekday_names)


class Worker:
    def __init__(self) -> None:
        import app as application
        from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig
        from chalice.test import Client

        from chalicelib.adapters.aws import client

        self.app = application.app
        self.client = Client(self.app, stage_name=os.environ.get("STAGE", "local"))
        self.sqs = client("sqs")
        self.region = self.sqs.meta.region_name
        self.queues = [s for s in self.app.event_sources if isinstance(s, SQSEventConfig)]
        self.schedules = [s for s in self.app.event_sources if isinstance(s, ScheduledEventConfig)]
        self.streams = [s for s in self.app.event_sources if isinstance(s, DynamoDBEventConfig)]
        self.polled: set[str] = set()
        self.counts: dict[str, int] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _count(self, key: str, value: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + value

    # -- queues -------------------------------------------------------------------------------------------
    def poll_forever(self, source) -> None:
        url = self.sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while not self.stopping.is_set():
            try:
                self.poll_once(source, url, arn)
            except Exception as error:  # noqa: BLE001 - the worker must outlive a hiccup of the local AWS
                print(f"[worker] {source.name}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                time.sleep(1)

    def poll_once(self, source, url: str, arn: str) -> int:
        answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(source.batch_size, 10),
                                          WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"])
        self.polled.add(source.name)
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        failed: set[str] = {m["MessageId"] for m in messages}
        try:
            result = self.client.lambda_.invoke(source.name, sqs_event(messages, arn, self.region)).payload
            failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
            failed = {f["itemIdentifier"] for f in failures}
        except Exception as error:  # noqa: BLE001 - a crashed invocation fails the whole batch, as on Lambda
            print(f"[worker] {source.name} failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        self._count(f"{source.name}.processed", len(done))
        self._count(f"{source.name}.failed", len(failed))
        return len(messages)

    # -- table streams ------------------------------------------------------------------------------------
    def stream_forever(self, source) -> None:
        from chalicelib.adapters.aws import client

        table = source.stream_arn.split(":table/", 1)[1].split("/", 1)[0]
        while not self.stopping.is_set():
            try:
                self._follow_stream(source, table, client("dynamodb"), client("dynamodbstreams"))
            except Exception as error:  # noqa: BLE001 - the worker must outlive a hiccup of the local AWS
                print(f"[worker] {source.name}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                time.sleep(1)

    def _follow_stream(self, source, table: str, dynamodb, streams) -> None:
        """Read new records shard by shard, remembering the last sequence number.

        A fresh iterator on every poll, not the previous NextShardIterator: moto replaces a table (and its
        stream shard) with a snapshot when a transaction on it is cancelled, and an old iterator would go deaf.
        """
        stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        last: dict[str, str] = {}
        while not self.stopping.is_set():
            self.polled.add(source.name)
            got = 0
            for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                shard_id = shard["ShardId"]
                position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last[shard_id]}
                            if shard_id in last else {"ShardIteratorType": "TRIM_HORIZON"})
                iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)
                answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=source.batch_size)
                records = [{**record, "eventSourceARN": stream_arn, "dynamodb": {
                    k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in record["dynamodb"].items()}}
                    for record in answer.get("Records", [])]
                if not records:
                    continue
                got += len(records)
                try:
                    self.client.lambda_.invoke(source.name, {"Records": records})
                    self._count(f"{source.name}.processed", len(records))
                except Exception as error:  # noqa: BLE001 - Lambda would retry the batch; we log and go on
                    self._count(f"{source.name}.failed", len(records))
                    print(f"[worker] {source.name} failed: {type(error).__name__}: {error}", file=sys.stderr,
                          flush=True)
                last[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            if not got:
                time.sleep(0.5)

    # -- schedules ----------------------------------------------------------------------------------------
    def fire(self, name: str) -> Any:
        event = {"version": "0", "id": "local", "detail-type": "Scheduled Event", "source": "aws.events",
                 "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "resources": [], "detail": {}}
        self._count(f"{name}.fired")
        return self.client.lambda_.invoke(name, event).payload

    def schedule_forever(self) -> None:
        last_fired: dict[str, float] = {s.name: time.time() for s in self.schedules}
        last_minute = None
        while not self.stopping.wait(1):
            now = datetime.now(timezone.utc)
            for source in self.schedules:
                expression = getattr(source.schedule_expression, "to_string", lambda: source.schedule_expression)()
                period = schedule_period(expression)
                due = (period is not None and time.time() - last_fired[source.name] >= period) or (
                    period is None and last_minute != (now.hour, now.minute) and cron_due(expression, now))
                if due:
                    last_fired[source.name] = time.time()
                    try:
                        self.fire(source.name)
                    except Exception as error:  # noqa: BLE001
                        print(f"[worker] schedule {source.name}: {error}", file=sys.stderr, flush=True)
            last_minute = (now.hour, now.minute)

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
                self._answer(200, {"counts": worker.counts, "queues": [s.name for s in worker.queues],
                                   "streams": [s.name for s in worker.streams],
                                   "schedules": [s.name for s in worker.schedules]})
            else:
                self._answer(404, {"error": "unknown path"})

        def do_POST(self) -> None:  # noqa: N802
            match = re.fullmatch(r"/schedules/([\w\-]+)", self.path)
            names = {s.name for s in worker.schedules}
            if not match or match.group(1) not in names:
                self._answer(404, {"error": f"unknown schedule; known: {sorted(names)}"})
                return
            self._answer(200, {"result": worker.fire(match.group(1))})

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
    print(f"[worker] polling {[s.queue for s in worker.queues]}; schedules {[s.name for s in worker.schedules]}; "
          f"control on 127.0.0.1:{port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        worker.stopping.set()


if __name__ == "__main__":
    main()
