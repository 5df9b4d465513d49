"""boto3 clients, created lazily and once per process.

``import app`` must stay cheap (cold starts), so boto3 is imported on first use, not at module import.
Endpoints come from the environment: ``AWS_ENDPOINT_URL`` points every client at moto locally.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3

    if service == "dynamodbstreams":
        from botocore.config import Config

        # moto serves streams on the account-less endpoint only.
        return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    # the stubs type each service's client by its literal name; this factory serves every name
    return boto3.client(service)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()


class AwsReadiness:
    """``GET /health``'s questions to DynamoDB and SQS."""

    def table_problem(self, tables: list[str]) -> str | None:
        for table in tables:
            status = client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"]
            if status != "ACTIVE":
                return f"{table} is {status}"
        return None

    def queue_problem(self, queues: list[str]) -> str | None:
        for queue in queues:
            client("sqs").get_queue_url(QueueName=queue)  # raises QueueDoesNotExist: reported by its name
        return None
