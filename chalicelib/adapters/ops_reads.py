"""What ops read (and redrive) besides issues: the alerts the alerts table keeps, the dead-letter queues'
messages. Read-only views of other modules' stores: the alert sender (``adapters/alerts.py``) and the queues
(``adapters/queue.py``) own the writes."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import string
from chalicelib.settings import Resources

ID_FIELDS = ("platform", "external_id", "issue_id", "approval_id", "id", "message_id")  # kept of a redacted body


class StoredAlerts:
    def __init__(self, names: Resources) -> None:
        self.table = names.alerts_table

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The alerts sent or deferred (one item each, kept 90 days), newest first, at most ``limit``."""
        found = [
            item
            for page in client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.table,
                FilterExpression="begins_with(pk, :sent)",
                ExpressionAttributeValues={":sent": string("sent#")},
            )
            for item in page["Items"]
        ]
        alerts = [
            {
                "key": item["pk"]["S"].removeprefix("sent#"),
                "kind": item.get("kind", {}).get("S"),
                "at": item.get("at", {}).get("S"),
                "state": item.get("send_state", {}).get("S"),
            }
            for item in found
        ]
        return sorted(alerts, key=lambda a: a["at"] or "", reverse=True)[:limit]


def redacted(body: str) -> dict[str, Any]:
    """A message body reduced to its ids: what says which record failed, never what a person wrote."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    records = data if isinstance(data, list) else [data]
    ids: dict[str, Any] = {}
    for record in records[:1]:
        if isinstance(record, dict):
            ids.update({k: v for k, v in record.items() if k in ID_FIELDS and isinstance(v, (str, int))})
    return ids


class DeadLetters:
    """Each dead-letter queue with the queue its messages came from (None: no queue to redrive to)."""

    def __init__(self, names: Resources) -> None:
        self.sources: dict[str, str | None] = {
            names.ingest_dlq: names.ingest_queue,
            names.approval_dlq: names.approval_queue,
            names.publish_dlq: names.publish_queue,
            names.issues_stream_dlq: None,
            names.schedule_dlq: None,
        }

    def _url(self, queue: str) -> str:
        return client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]

    def peek(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` messages, left in the queue (visible again at once), bodies redacted to ids."""
        sqs = client("sqs")
        url = self._url(queue)
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, limit // 10 + 1)):
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            for message in messages:
                attributes = message.get("MessageAttributes", {})
                seen.setdefault(
                    message["MessageId"],
                    {
                        "message_id": message["MessageId"],
                        "queue": queue,
                        "sent_at": message.get("Attributes", {}).get("SentTimestamp"),
                        "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                        "failure": attributes.get("failure", {}).get("StringValue"),
                        "ids": redacted(message.get("Body", "")),
                    },
                )
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            if not messages or len(seen) >= limit:
                break
        return list(seen.values())[:limit]

    def redrive(self, queue: str, message_id: str | None) -> int:
        """Move one message (or all) back to its source queue: sent there first, then deleted here, so a crash
        in between leaves a copy to process twice (the consumers are idempotent), never none."""
        source = self.sources[queue]
        if source is None:
            raise LookupError(f"{queue} has no source queue to redrive to")
        sqs = client("sqs")
        url, target = self._url(queue), self._url(source)
        moved, looked_at = 0, set[str]()
        for _ in range(1000):  # at most 10,000 messages a call
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages or all(m["MessageId"] in looked_at for m in messages):
                for message in messages:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                break
            looked_at.update(m["MessageId"] for m in messages)
            for message in messages:
                if message_id is not None and message["MessageId"] != message_id:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                    continue
                sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
            if message_id is not None and moved:
                break
        return moved
