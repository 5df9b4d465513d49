"""What Lambda's event source mappings do with a handler's answer, for the local worker.

The settings come from the same place AWS gets them: the packaged template's function events (``make package``'s
SAM output, which the local stack is deployed from), so the local stack retries and reports exactly as on AWS.

* SQS: with ``ReportBatchItemFailures`` only the reported ``batchItemFailures`` stay on the queue (an answer that
  names a message not in the batch fails the whole batch, as on Lambda); without it the answer is ignored. A
  raised error fails the whole batch. What stays becomes visible again after the visibility timeout, and SQS
  moves it to the dead-letter queue after ``maxReceiveCount`` receives (the queue's redrive policy).
* Streams: a failed batch is retried; with ``BisectBatchOnFunctionError`` it is split in two first. Records that
  still fail after ``MaximumRetryAttempts`` retries are skipped and described, as Lambda does, in a message to
  the mapping's on-failure destination (``DestinationConfig.OnFailure``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SQS_MESSAGES_PER_CALL = 10  # SQS receives and deletes at most 10 messages a call
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def cfn_name(function_name: str) -> str:
    """Chalice's CloudFormation logical id of a function: ``start_protocols`` -> ``StartProtocols``."""
    return "".join(part[:1].upper() + part[1:] for part in function_name.replace("-", "_").split("_"))


PACKAGED_TEMPLATE_ENV = "LOCAL_SAM_TEMPLATE"


def packaged_template(stage: str | None = None) -> dict[str, Any]:
    """The packaged SAM template the local stack was deployed from: the file the stack wrote (``LOCAL_SAM_TEMPLATE``),
    else the stage's, packaged now (``infra.package.sam_template``)."""
    import json
    import os

    path = os.environ.get(PACKAGED_TEMPLATE_ENV)
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    from chalicelib.settings import stage as current_stage
    from infra.package import sam_template

    return sam_template(stage or current_stage())


def mapping_settings(function_name: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event source mapping properties the packaged template gives ``function_name``'s events (the queue,
    stream or schedule itself aside: the worker reads those from the app, and a test compares the two)."""
    template = template or packaged_template()
    function = template["Resources"].get(cfn_name(function_name), {})
    settings: dict[str, Any] = {}
    for event in function.get("Properties", {}).get("Events", {}).values():
        settings.update({k: v for k, v in event.get("Properties", {}).items() if k not in ("Queue", "Stream")})
    return settings


def on_failure_queue(settings: dict[str, Any], stage: str, template: dict[str, Any] | None = None) -> str | None:
    """The name of the SQS queue a mapping's ``DestinationConfig.OnFailure`` points at, if it names one."""
    destination = settings.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination is None:
        return None
    if isinstance(destination, dict) and "Fn::GetAtt" in destination:
        logical = destination["Fn::GetAtt"][0]
        resource = (template or packaged_template(stage))["Resources"].get(logical, {})
        if resource.get("Type") == "AWS::SQS::Queue":
            return resource["Properties"]["QueueName"]
        raise ValueError(f"on-failure destination {logical} is not an SQS queue of the template")
    if isinstance(destination, str) and destination.startswith("arn:aws:sqs:"):
        return destination.rsplit(":", 1)[1]
    raise ValueError(f"on-failure destination {destination!r}: the local worker delivers to SQS queues only")


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes to the handler."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def deliver_sqs_batch(
    sqs,
    queue_url: str,
    queue_arn: str,
    batch_size: int,
    invoke: Callable[[dict], Any],
    reports_item_failures: bool,
    on_error: Callable[[Exception], None] = lambda error: None,
    batching_window_s: float = 0.0,
) -> tuple[int, int]:
    """One batch and invocation, as Lambda's SQS poller does it: (messages deleted, messages left to retry).

    SQS hands out at most 10 messages a receive; a mapping with a larger batch size keeps receiving until the
    batch is full or its batching window has passed (Lambda waits out the window on a quiet queue; this worker
    stops at the first empty receive, which only delivers sooner).

    What is left is not touched: it becomes visible again after the queue's visibility timeout, and SQS itself
    moves it to the dead-letter queue once it has been received ``maxReceiveCount`` times.
    """
    messages = _gather(sqs, queue_url, batch_size, batching_window_s)
    if not messages:
        return 0, 0
    ids = [m["MessageId"] for m in messages]
    try:
        failed = failed_message_ids(
            ids, invoke(sqs_event(messages, queue_arn, sqs.meta.region_name)), reports_item_failures
        )
    except Exception as error:  # noqa: BLE001 - a crashed invocation fails the whole batch, as on Lambda
        on_error(error)
        failed = set(ids)
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), SQS_MESSAGES_PER_CALL):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_MESSAGES_PER_CALL])
            ],
        )
    return len(done), len(failed)


def _gather(sqs, queue_url: str, batch_size: int, batching_window_s: float) -> list[dict]:
    """Up to ``batch_size`` messages: receives of at most 10 until the batch is full, a receive comes back empty,
    or the batching window has passed."""
    deadline = time.monotonic() + batching_window_s
    messages: list[dict] = []
    while len(messages) < batch_size:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(batch_size - len(messages), SQS_MESSAGES_PER_CALL),
            WaitTimeSeconds=0 if messages else 1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        # a message seen again in the same batch (a queue whose visibility timeout has run out) is not new
        seen = {message["MessageId"] for message in messages}
        received = [message for message in answer.get("Messages", []) if message["MessageId"] not in seen]
        messages.extend(received)
        if not received or time.monotonic() >= deadline:
            break
    return messages


def failed_message_ids(message_ids: list[str], answer: Any, reports_item_failures: bool) -> set[str]:
    """Which messages of a batch whose handler returned ``answer`` stay on the queue."""
    if not reports_item_failures or not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures") or []
    named = {failure.get("itemIdentifier") for failure in failures if isinstance(failure, dict)}
    if len(named) != len(failures) or not named <= set(message_ids):
        return set(message_ids)  # Lambda treats an answer it cannot read as a failure of the whole batch
    return named


@dataclass
class StreamFailurePolicy:
    maximum_retry_attempts: int = -1  # Lambda's default: retry until the record expires
    bisect: bool = False
    first_backoff: float = 0.5
    max_backoff: float = 5.0

    @classmethod
    def from_settings(cls, settings: dict[str, Any], **backoff: float) -> StreamFailurePolicy:
        return cls(
            maximum_retry_attempts=int(settings.get("MaximumRetryAttempts", -1)),
            bisect=bool(settings.get("BisectBatchOnFunctionError", False)),
            **backoff,
        )

    def exhausted(self, retries_done: int) -> bool:
        return 0 <= self.maximum_retry_attempts <= retries_done


class StreamBatchRunner:
    """Runs one batch of stream records to completion: success, or retries exhausted and the failure reported.

    ``invoke(records)`` raises when the function fails; ``discard(info)`` receives Lambda's on-failure message.
    ``stopping()`` lets the worker give up a retry loop when it shuts down (the batch is then read again).
    """

    def __init__(
        self,
        invoke: Callable[[list[dict]], Any],
        discard: Callable[[dict], None],
        policy: StreamFailurePolicy,
        function_arn: str,
        stream_arn: str,
        sleep: Callable[[float], Any] = time.sleep,
        stopping: Callable[[], bool] = lambda: False,
        on_error: Callable[[Exception, int], None] = lambda error, size: None,
    ) -> None:
        self.invoke, self.discard, self.policy = invoke, discard, policy
        self.function_arn, self.stream_arn = function_arn, stream_arn
        self.sleep, self.stopping, self.on_error = sleep, stopping, on_error

    def run(self, records: list[dict], shard_id: str) -> tuple[int, int]:
        """(records processed, records discarded); raises ``InterruptedError`` when stopped mid-retry."""
        pending = [(records, 0)]  # (batch, invocations it has failed so far)
        processed = discarded = 0
        while pending:
            batch, failures = pending.pop(0)
            try:
                self.invoke(batch)
                processed += len(batch)
                continue
            except Exception as error:  # noqa: BLE001 - any function error is a failed invocation, as on Lambda
                failures += 1
                self.on_error(error, len(batch))
            if self.policy.exhausted(failures - 1):
                self.discard(self.failure_record(batch, shard_id, failures))
                discarded += len(batch)
                continue
            if self.stopping():
                raise InterruptedError("worker stopping")
            self.sleep(min(self.policy.first_backoff * 2 ** (failures - 1), self.policy.max_backoff))
            if self.policy.bisect and len(batch) > 1:
                middle = (len(batch) + 1) // 2
                pending[:0] = [(batch[:middle], failures), (batch[middle:], failures)]
            else:
                pending.insert(0, (batch, failures))
        return processed, discarded

    def failure_record(self, batch: list[dict], shard_id: str, invocations: int) -> dict:
        """The message Lambda sends a stream mapping's on-failure destination: where, not what, failed."""
        arrivals = [record.get("dynamodb", {}).get("ApproximateCreationDateTime") for record in batch]

        def iso(seconds: Any) -> str | None:
            return (
                datetime.fromtimestamp(float(seconds), timezone.utc)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
                if seconds is not None
                else None
            )

        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": iso(arrivals[0]),
                "approximateArrivalOfLastRecord": iso(arrivals[-1]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
