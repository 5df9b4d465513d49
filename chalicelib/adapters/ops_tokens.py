"""Ops API tokens other than the admin's, in DynamoDB by their SHA-256: the token itself is shown once, at
creation, and stored nowhere. Each carries one role. The same table holds one rate counter per token
(``rate#<hash>``, a fixed one-minute window), so the limit holds across every Lambda instance."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import string
from chalicelib.domain.ops import Role, stored_role, token_hash

ID_LENGTH = 12  # the public id of a token: the first hex digits of its hash (the hash is no secret to its holder)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


class DynamoOpsTokens:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def find(self, token: str, now: datetime) -> dict[str, Any] | None:
        """The token's record (``name``, ``role``, ``token_id``) if it exists and has not expired."""
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"token_hash": string(token_hash(token))}, ConsistentRead=True)
            .get("Item")
        )
        if not item or "name" not in item or item["expires_at"]["S"] <= _iso(now):
            return None
        return self._record(item)

    @staticmethod
    def _record(item: dict[str, Any]) -> dict[str, Any]:
        held = item["role"]["S"] if "role" in item else list(item.get("roles", {}).get("SS", []))
        return {
            "token_id": item["token_hash"]["S"][:ID_LENGTH],
            "name": item["name"]["S"],
            "role": stored_role(held),
            "created_at": item.get("created_at", {}).get("S"),
            "expires_at": item["expires_at"]["S"],
        }

    def create(self, name: str, role: Role, days: int, now: datetime) -> tuple[str, dict[str, Any]]:
        """A new token and its record; the token is not kept."""
        token = secrets.token_urlsafe(32)
        item = {
            "token_hash": string(token_hash(token)),
            "name": string(name),
            "role": string(Role(role).value),
            "created_at": string(_iso(now)),
            "expires_at": string(_iso(now + timedelta(days=days))),
        }
        client("dynamodb").put_item(
            TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(token_hash)"
        )
        return token, self._record(item)

    def _items(self) -> list[dict[str, Any]]:
        return [
            item
            for page in client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.table, FilterExpression="attribute_exists(#n)", ExpressionAttributeNames={"#n": "name"}
            )
            for item in page["Items"]
        ]

    def list(self) -> list[dict[str, Any]]:
        """Every token's record (never the token), oldest first."""
        return sorted(
            (self._record(item) for item in self._items()), key=lambda r: (r["created_at"] or "", r["token_id"])
        )

    def revoke(self, name: str | None = None, token_id: str | None = None) -> int:
        """Deletes every token of that name, or the one with that id; how many."""
        dynamodb = client("dynamodb")
        found = [
            item["token_hash"]
            for item in self._items()
            if (name is not None and item["name"]["S"] == name)
            or (token_id is not None and item["token_hash"]["S"][:ID_LENGTH] == token_id)
        ]
        for key in found:
            dynamodb.delete_item(TableName=self.table, Key={"token_hash": key})
        return len(found)

    def take(self, caller: str, window: int, limit: int) -> bool:
        """One request of ``caller`` (a token's hash) in minute ``window``: False when it already made ``limit``."""
        dynamodb = client("dynamodb")
        key = {"token_hash": string(f"rate#{caller}")}
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="ADD used :one",
                ConditionExpression="#w = :w AND used < :limit",
                ExpressionAttributeNames={"#w": "window"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":w": {"N": str(window)}, ":limit": {"N": str(limit)}},
            )
            return True
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        try:  # a new window (or the first request): start counting again
            dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #w = :w, used = :one",
                ConditionExpression="attribute_not_exists(#w) OR #w < :w",
                ExpressionAttributeNames={"#w": "window"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":w": {"N": str(window)}},
            )
            return True
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False  # this window, at the limit (or another request just started it: then counted there)
