"""What the local stack holds, read from its moto: the queries of the end-to-end tests and of the console.

:class:`StackInspection` needs only where moto listens (``moto_url``). :class:`~infra.local.stack.LocalStack` is
one, and restarts a crashed worker while it waits (``while_waiting``); nothing here starts or stops a process.
"""

from __future__ import annotations

import time
from typing import Any

from infra.local.common import REGION, STAGE, StackError
from infra.local.provisioning import ALERTS_READER


class StackInspection:
    @property
    def moto_url(self) -> str:
        raise NotImplementedError

    def while_waiting(self) -> None:
        """Called between two looks of :meth:`wait_until_stored`."""

    def client(self, service: str) -> Any:
        """A boto3 client on this stack's moto (the process's own AWS environment is left alone)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )

    def moto_state(self, attempts: int = 10, timeout: float = 60.0) -> dict[str, Any]:
        """moto's ``/moto-api/data.json`` (where the contract says sent emails are read), asked again on a 500.

        moto checks every model is JSON-serializable, then serializes them all: a value another request changes in
        between (a stream's first record) fails that one answer; a reader asks again (see infra.local.moto_server).
        """
        import json
        import urllib.error
        import urllib.request

        for attempt in range(attempts):
            try:
                with urllib.request.urlopen(f"{self.moto_url}/moto-api/data.json", timeout=timeout) as answer:  # noqa: S310
                    return dict(json.load(answer))
            except urllib.error.HTTPError as error:
                if error.code < 500 or attempt == attempts - 1:
                    raise
                time.sleep(0.5)
        raise StackError("moto's data.json did not answer")

    def queue_backlog(self) -> int:
        """Messages on the ingest queue, in flight included."""
        from chalicelib.settings import Resources

        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=Resources.for_stage(STAGE).ingest_queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def scan(self, table: str) -> list[dict]:
        from chalicelib.adapters.mentions_table import plain_item

        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        return [plain_item(item) for page in pages for item in page["Items"]]

    def stored_mentions(self) -> list[dict]:
        from chalicelib.settings import Resources

        return self.scan(Resources.for_stage(STAGE).mentions_table)

    def issues(self) -> list[dict]:
        from chalicelib.settings import Resources

        return self.scan(Resources.for_stage(STAGE).issues_table)

    def alerts_received(self) -> list[dict]:
        """The alerts published since the last call, as the ops subscriber's queue received them (taken off it)."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=ALERTS_READER)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def wait_until_stored(self, keys: set[str], timeout: float = 120.0) -> list[dict]:
        """Every key stored and the ingest queue empty; gives up once the queue has not moved for ``timeout`` s
        (a loaded machine drains it slowly, which is no reason to stop the stack)."""
        last_backlog, last_move = None, time.monotonic()
        while True:
            backlog = self.queue_backlog()
            # Backlog first: a scan taken before the last message is processed would report a stale table.
            if backlog == 0:
                items = self.stored_mentions()
                if keys <= {item["pk"] for item in items}:
                    return items
            if backlog != last_backlog:
                last_backlog, last_move = backlog, time.monotonic()
            elif time.monotonic() - last_move > timeout:
                raise StackError(
                    f"timed out waiting for {len(keys)} mentions to be stored "
                    f"({backlog} messages left on the ingest queue)"
                )
            self.while_waiting()
            time.sleep(0.5)
