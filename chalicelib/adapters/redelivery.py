"""SQS: deliver a failed message again no sooner than a given time (``ChangeMessageVisibility``)."""

from __future__ import annotations

from functools import cache

from chalicelib.adapters.aws import client
from chalicelib.observability import logger

MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's ceiling


@cache
def _queue_url(queue_arn: str) -> str:
    name = queue_arn.rsplit(":", 1)[-1]
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


class SqsRedelivery:
    """Implements :class:`chalicelib.services.ports.Redelivery`."""

    def delay(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Best effort: when it fails, the queue's own visibility timeout brings the message back (earlier; the
        publish claim then answers "not yet" without calling the platform)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client("sqs").change_message_visibility(
                QueueUrl=_queue_url(queue_arn),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
            )
        except (BotoCoreError, ClientError) as error:
            logger.warning("could not delay the message's redelivery", extra={"error": type(error).__name__})
