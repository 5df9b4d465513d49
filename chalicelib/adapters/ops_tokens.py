"""Ops API tokens other than the admin's, in DynamoDB by their SHA-256: the token itself is shown once, at
creation, and stored nowhere."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.domain.ops import Role, token_hash


class DynamoOpsTokens:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def find(self, token: str, now: datetime) -> dict[str, Any] | None:
        """The token's record (``name``, ``roles``) if it exists and has not expired."""
        item = client("dynamodb").get_item(TableName=self.table, Key={"token_hash": string(token_hash(token))},
                                           ConsistentRead=True).get("Item")
        if not item or item["expires_at"]["S"] <= now.astimezone(timezone.utc).isoformat():
            return None
        return {"name": item["name"]["S"], "roles": list(item["roles"]["SS"])}

    def create(self, name: str, roles: list[Role], days: int, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        client("dynamodb").put_item(TableName=self.table, Item={
            "token_hash": string(token_hash(token)), "name": string(name),
            "roles": {"SS": sorted({role.value for role in roles})},
            "created_at": string(now.astimezone(timezone.utc).isoformat()),
            "expires_at": string((now + timedelta(days=days)).astimezone(timezone.utc).isoformat())},
            ConditionExpression="attribute_not_exists(token_hash)")
        return token

    def revoke(self, name: str) -> int:
        """Deletes every token of that name; how many."""
        dynamodb = client("dynamodb")
        found = [item["token_hash"] for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.table, FilterExpression="#n = :n", ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": string(name)}) for item in page["Items"]]
        for key in found:
            dynamodb.delete_item(TableName=self.table, Key={"token_hash": key})
        return len(found)
