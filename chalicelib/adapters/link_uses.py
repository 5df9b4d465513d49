"""The single use of emailed links to read-only things (the weekly report's): one item per link on the alerts
table, ``pk`` the link's name, written once with a conditional ``PutItem``, and expiring a day after the link
does (DynamoDB's TTL: a link past its expiry is refused before its use is looked up)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string

KEPT_AFTER_EXPIRY_SECONDS = 24 * 3600


class DynamoLinkUses:
    def __init__(self, table: str) -> None:
        self.table = table

    def used(self, key: str) -> bool:
        found = client("dynamodb").get_item(
            TableName=self.table, Key={"pk": string(key)}, ConsistentRead=True, ProjectionExpression="pk"
        )
        return "Item" in found

    def use_once(self, key: str, expires_at: int, now: datetime) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": string(key),
                    "kind": string("link_use"),
                    "used_at": string(now.isoformat()),
                    "ttl": number(expires_at + KEPT_AFTER_EXPIRY_SECONDS),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True
