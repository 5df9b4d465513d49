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


BATCH_GET_KEYS = 100  # BatchGetItem's limit per call


def batch_get(table: str, keys: list[dict[str, Any]], dynamodb: Any = None, **options: Any) -> list[dict[str, Any]]:
    """Every stored item of ``keys`` (distinct, as DynamoDB requires), in DynamoDB's attribute values: 100 keys a
    ``BatchGetItem``, asking again for the keys it leaves unprocessed. ``options`` go with the keys
    (``ConsistentRead``, ``ProjectionExpression``); ``dynamodb``: a client of the caller's (a bench counts calls)."""
    dynamodb = dynamodb if dynamodb is not None else client("dynamodb")
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + BATCH_GET_KEYS], **options}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            items += answer["Responses"].get(table, [])
            request = answer.get("UnprocessedKeys") or {}
    return items


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
