"""Mentions in DynamoDB: one item per platform identity (``pk = <platform>#<external id>``).

Every write is idempotent: a new mention is a conditional put (a re-delivery writes nothing), an edit or a
removal is an update that sets the same values again when repeated.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.attributes import number, string
from chalicelib.adapters.aws import client
from chalicelib.domain.models import Mention

VISIBLE = "visible"

def _now() -> str:
    return datetime.now(timezone.utc).isoformat()

def content_attributes(mention: Mention) -> dict[str, dict[str, Any]]:
    """The DynamoDB attributes that describe a mention's content (storage model, kept apart from the domain)."""
    author = mention.author
    optional: dict[str, Any] = {
        "title": mention.title,
        "url": mention.url,
        "parent_id": mention.parent_id,
        "thread_id": mention.thread_id,
        "product": mention.product,
        "author_id": author.id,
        "author_handle": author.handle,
        "author_name": author.name,
    }
    item: dict[str, dict[str, Any]] = {
        "platform": string(mention.platform),
        "external_id": string(mention.external_id),
        "kind": string(mention.kind.value),
        "text": string(mention.text),
        "created_at": string(mention.created_at.isoformat()),
    }
    item.update({name: string(value) for name, value in optional.items() if value})
    if mention.rating is not None:
        item["rating"] = number(mention.rating)
    if author.followers is not None:
        item["author_followers"] = number(author.followers)
    if author.verified is not None:
        item["author_verified"] = {"BOOL": author.verified}
    return item

class DynamoMentionRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def add(self, mention: Mention) -> bool:
        item = {"pk": string(mention.key), **content_attributes(mention), "status": string(VISIBLE),
                "received_at": string(_now())}
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=item,
                                        ConditionExpression="attribute_not_exists(pk)")
        except client("dynamodb").exceptions.ConditionalCheckFailedException:
            return False
        return True

    def apply_edit(self, mention: Mention) -> None:
        content = content_attributes(mention)
        # created_at and status keep their first values; everything the author can edit is replaced.
        keep_first = {"created_at", "platform", "external_id"}
        names = {f"#a{i}": name for i, name in enumerate(content)}
        values = {f":v{i}": value for i, value in enumerate(content.values())}
        assignments = [
            f"#a{i} = if_not_exists(#a{i}, :v{i})" if name in keep_first else f"#a{i} = :v{i}"
            for i, name in enumerate(content)
        ]
        assignments += ["#status = if_not_exists(#status, :visible)", "edited_at = :now",
                        "received_at = if_not_exists(received_at, :now)"]
        names["#status"] = "status"
        values.update({":visible": string(VISIBLE), ":now": string(_now())})
        client("dynamodb").update_item(
            TableName=self.table_name, Key={"pk": string(mention.key)},
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )

    def mark(self, platform: str, external_id: str, status: str) -> None:
        # An upsert: a removal that overtakes its creation on the queue leaves a tombstone, and the later
        # conditional put of the creation then finds the identity taken and stores nothing.
        client("dynamodb").update_item(
            TableName=self.table_name, Key={"pk": string(f"{platform}#{external_id}")},
            UpdateExpression=("SET #status = :status, status_changed_at = :now, "
                              "platform = if_not_exists(platform, :platform), "
                              "external_id = if_not_exists(external_id, :external_id)"),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": string(status), ":now": string(_now()),
                                       ":platform": string(platform), ":external_id": string(external_id)},
        )

    def get(self, platform: str, external_id: str) -> dict | None:
        answer = client("dynamodb").get_item(TableName=self.table_name, Key={"pk": string(f"{platform}#{external_id}")},
                                             ConsistentRead=True)
        item = answer.get("Item")
        return plain_item(item) if item else None

    def count(self) -> int:
        pages = client("dynamodb").get_paginator("scan").paginate(TableName=self.table_name, Select="COUNT")
        return sum(page["Count"] for page in pages)

def plain_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}
