"""Publishers: where an approved reply goes.

Locally, and until a platform's posting API is connected, replies go to the outbox table (what ``make run``
prints, what the e2e tests read). Each reply names the mention it answers and the channel (public reply on the
mention's thread, private message to its author).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import plain_item


class OutboxPublisher:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def publish(self, issue_id: str, mention: dict[str, Any], channel: str, text: str, approved_by: str,
                at: datetime, run: str) -> tuple[str, bool]:
        """Posts one reply once; answers its id and whether it is new. ``run`` names the protocol run (its
        execution): the id derives from it and the channel, so a redelivered publish message finds its reply
        already there instead of posting it twice."""
        outbox_id = "out-" + hashlib.sha256(f"{run}|{channel}".encode()).hexdigest()[:16]
        dynamodb = client("dynamodb")
        item = {
            "outbox_id": string(outbox_id), "issue_id": string(issue_id), "platform": string(mention.get("platform", "")),
            "in_reply_to": string(mention.get("external_id", "")),
            "recipient": string(mention.get("author_handle") or mention.get("author_name") or ""),
            "channel": string(channel), "text": string(text), "approved_by": string(approved_by),
            "published_at": string(at.astimezone(timezone.utc).isoformat()),
            "published_day": string(at.astimezone(timezone.utc).date().isoformat())}
        try:
            dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(outbox_id)")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return outbox_id, False  # posted by an earlier delivery of the same message
        return outbox_id, True

    def recent(self, now: datetime, days: int = 7, limit: int = 200) -> list[dict[str, Any]]:
        """Replies of the last days, newest first (for the canned-reply warning)."""
        out: list[dict[str, Any]] = []
        for back in range(days):
            day = (now - timedelta(days=back)).date().isoformat()
            answer = client("dynamodb").query(TableName=self.table, IndexName="by_day",
                                              KeyConditionExpression="published_day = :d", ScanIndexForward=False,
                                              ExpressionAttributeValues={":d": string(day)}, Limit=limit)
            out += [plain_item(item) for item in answer["Items"]]
            if len(out) >= limit:
                break
        return out[:limit]
