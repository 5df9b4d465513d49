"""The ingest queue: webhooks put normalized mentions on it; the processor takes them off."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property

from chalicelib.adapters.aws import client
from chalicelib.domain.models import Mention
from chalicelib.services.errors import QueueSendError

SQS_BATCH = 10  # the most SendMessageBatch takes

# What SQS refuses in a message body (InvalidMessageContents). It allows only #x9 | #xA | #xD | #x20-#xD7FF |
# #xE000-#xFFFD | #x10000-#x10FFFF; JSON escapes the controls below #x20 itself, so in practice this catches the
# noncharacters U+FFFE and U+FFFF (and any lone surrogate), which JSON and Python let through.
NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_body(text: str) -> str:
    """``text`` as SQS takes it: each character SQS forbids becomes U+FFFD (the replacement character).

    Without this one such character in a mention made SQS refuse the whole batch, answered 503 on every
    redelivery, so the platform's delivery never got through."""
    return NOT_SQS_TEXT.sub("\ufffd", text)


class SqsMentionQueue:
    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name

    @cached_property
    def url(self) -> str:
        # One lookup per container; the name is fixed by the stage (chalicelib.settings).
        return client("sqs").get_queue_url(QueueName=self.queue_name)["QueueUrl"]

    def send(self, mentions: Iterable[Mention]) -> int:
        """Queue every mention, or raise :class:`QueueSendError` (answered 503, so the platform redelivers)."""
        from botocore.exceptions import BotoCoreError, ClientError

        batch = [sqs_body(m.model_dump_json()) for m in mentions]
        for start in range(0, len(batch), SQS_BATCH):
            chunk = batch[start : start + SQS_BATCH]
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
            try:
                answer = client("sqs").send_message_batch(QueueUrl=self.url, Entries=entries)
            except (BotoCoreError, ClientError) as error:  # SQS down or throttling past the SDK's retries
                raise QueueSendError(f"the ingest queue refused the delivery ({type(error).__name__})") from error
            if answer.get("Failed"):
                # The platform will redeliver on our 5xx; the processor is idempotent, so a partial send is safe.
                raise QueueSendError(f"{len(answer['Failed'])} of {len(chunk)} messages were not queued")
        return len(batch)


class SqsDeadLetterQueue:
    """A queue's dead-letter queue, written to directly for a record no retry can fix (``processor.is_permanent``)
    instead of waiting for SQS to move it there after ``maxReceiveCount`` failed receives."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name

    @cached_property
    def url(self) -> str:
        return client("sqs").get_queue_url(QueueName=self.queue_name)["QueueUrl"]

    def send(self, body: str, *, reason: str, message_id: str) -> None:
        # The body as it came (a redrive to the source queue processes it again); why it failed as attributes.
        client("sqs").send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageAttributes={
                "failure": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                "source_message_id": {"DataType": "String", "StringValue": message_id or "unknown"},
            },
        )
