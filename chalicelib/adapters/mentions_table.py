"""Mentions in DynamoDB: one item per platform identity (``pk = <platform>#<external id>``).

Every write is idempotent and every arrival order converges: a new mention is a conditional write (a re-delivery
writes nothing; see ``triage_table``), an edit replaces the content only if its ``content_version`` is newer than
the stored one (``dedup.content_version``), a removal or hide is an update that sets the same values again when
repeated. An edit or a removal that overtakes its creation stores what it knows; the creation then completes the
item and triages it (``services.triage``). An erased mention (``adapters/erasure``) takes no content again: an edit
queued before the erasure and processed after it, or a late creation, stores nothing and counts as done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, plain_item, string
from chalicelib.domain.dedup import carries_content, content_version
from chalicelib.domain.models import Author, Mention
from chalicelib.domain.plan import Retention
from chalicelib.domain.plan_upkeep import expires_at
from chalicelib.domain.triage import StoredMention

VISIBLE = "visible"
REMOVED = "removed"


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


def update_from(attributes: dict[str, dict[str, Any]], keep_existing: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``UpdateExpression`` and its names and values that SET ``attributes`` (those named in ``keep_existing`` only
    where the item has none yet)."""
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    values = {f":v{i}": value for i, value in enumerate(attributes.values())}
    assignments = [
        f"#a{i} = if_not_exists(#a{i}, :v{i})" if name in keep_existing else f"#a{i} = :v{i}"
        for i, name in enumerate(attributes)
    ]
    return {
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


# The first writer of these sets them; later events keep them (the status: a removal or hide is not undone by
# the original arriving late, nor by an edit; only an unhide, an edit without content, makes a hidden one visible).
KEEP_FIRST = frozenset({"status", "received_at", "platform", "external_id"})
TRIAGED = "category"  # every triaged mention has one; an untriaged edit or tombstone has none
ERASED = "erased"  # set by erasure (adapters/erasure.erase_mentions): the author's content is gone for good


def stored_mention(item: dict[str, Any] | None) -> StoredMention | None:
    """The domain's view of a stored item (plain values), or None when nothing is stored."""
    if not item:
        return None
    content = None
    if "created_at" in item and "text" in item:
        followers = item.get("author_followers")
        content = Mention(
            platform=item["platform"],
            external_id=item["external_id"],
            kind=item.get("kind", "post"),
            text=item["text"],
            title=item.get("title"),
            url=item.get("url"),
            parent_id=item.get("parent_id"),
            thread_id=item.get("thread_id"),
            product=item.get("product"),
            rating=float(item["rating"]) if item.get("rating") is not None else None,
            created_at=datetime.fromisoformat(item["created_at"]),
            author=Author(
                id=item.get("author_id"),
                handle=item.get("author_handle"),
                name=item.get("author_name"),
                followers=int(followers) if followers is not None else None,
                verified=item.get("author_verified"),
            ),
        )
    return StoredMention(
        content=content,
        version=item.get("content_version"),
        triaged=TRIAGED in item or ERASED in item,  # erased: settled, nothing triages or refills it
        status=item.get("status", VISIBLE),
    )


def expiry(mention: Mention, retention: Callable[[], Retention] | None) -> dict[str, str]:
    """The raw mention's TTL attribute value: the plan's ``retention.mentions_days`` after it was posted."""
    return number(expires_at(mention.created_at, (retention or Retention)().mentions_days))


class DynamoMentionRepository:
    def __init__(self, table_name: str, retention: Callable[[], Retention] | None = None) -> None:
        self.table_name = table_name
        self.retention = retention  # the active plan's retention (None: the plan's defaults)

    def add(self, mention: Mention) -> bool:
        item = {
            "pk": string(mention.key),
            **content_attributes(mention),
            "status": string(VISIBLE),
            "content_version": string(content_version(mention)),
            "received_at": string(_now()),
            "ttl": expiry(mention, self.retention),
        }
        try:
            client("dynamodb").put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except client("dynamodb").exceptions.ConditionalCheckFailedException:
            return False
        return True

    def apply_edit(self, mention: Mention) -> StoredMention:
        """Keep the edit's content if it is the newest the mention has had (stores it if the original has not
        arrived: that one then finds it); returns what is stored now, so the caller can triage an edit that came
        first."""
        dynamodb = client("dynamodb")
        base = {
            "status": string(VISIBLE),
            "received_at": string(_now()),
            "platform": string(mention.platform),
            "external_id": string(mention.external_id),
        }
        keep_first = KEEP_FIRST | {"created_at"}
        if not carries_content(mention):
            # An unhide (Meta sends it as an edit with no content): nothing to read, nothing replaced, and the
            # comment is visible again, so its status is set, not kept; only a removal stays (removal is final).
            attributes, keep_first = {**base, "status_changed_at": string(_now())}, keep_first - {"status"}
            condition = "attribute_not_exists(#c) OR #c <> :c"
            checked = {"#c": "status"}, {":c": string(REMOVED)}
        else:
            version = string(content_version(mention))
            attributes = {
                **content_attributes(mention),
                **base,
                "content_version": version,
                "edited_at": string(_now()),
                "ttl": expiry(mention, self.retention),
            }
            # never into an erased mention: the edit was queued before the erasure and is processed after it
            condition = "attribute_not_exists(#e) AND (attribute_not_exists(#c) OR #c < :c)"
            checked = {"#c": "content_version", "#e": ERASED}, {":c": version}
        request = update_from(attributes, keep_first)
        request["ExpressionAttributeNames"].update(checked[0])
        request["ExpressionAttributeValues"].update(checked[1])
        try:
            answer = dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": string(mention.key)},
                **request,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            item = answer["Attributes"]
        except dynamodb.exceptions.ConditionalCheckFailedException as stale:  # a newer content is stored, or erased
            item = stale.response.get("Item") or self._item(mention.key)
        stored = stored_mention(plain_item(item))
        assert stored is not None
        return stored

    def mark(self, platform: str, external_id: str, status: str) -> None:
        # An upsert: a removal that overtakes its creation leaves a tombstone, which the creation later fills in
        # (and triages) without undoing the removal. A removal is final: a late hide does not replace it.
        dynamodb = client("dynamodb")
        condition = (
            {} if status == REMOVED else {"ConditionExpression": "attribute_not_exists(#status) OR #status <> :removed"}
        )
        values = {
            ":status": string(status),
            ":now": string(_now()),
            ":platform": string(platform),
            ":external_id": string(external_id),
        }
        if condition:
            values[":removed"] = string(REMOVED)
        try:
            dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": string(f"{platform}#{external_id}")},
                UpdateExpression=(
                    "SET #status = :status, status_changed_at = :now, "
                    "platform = if_not_exists(platform, :platform), "
                    "external_id = if_not_exists(external_id, :external_id)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                **condition,
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # removed already: stays removed

    def _item(self, key: str) -> dict[str, Any] | None:
        return (
            client("dynamodb")
            .get_item(TableName=self.table_name, Key={"pk": string(key)}, ConsistentRead=True)
            .get("Item")
        )

    def get(self, platform: str, external_id: str) -> dict | None:
        item = self._item(f"{platform}#{external_id}")
        return plain_item(item) if item else None

    def count(self) -> int:
        pages = client("dynamodb").get_paginator("scan").paginate(TableName=self.table_name, Select="COUNT")
        return sum(page["Count"] for page in pages)
