"""Publishers: where an approved reply goes.

Locally, and until a platform's posting API is connected, replies go to the outbox table (what ``make run``
prints, what the e2e tests read). Each reply names the mention it answers and the channel (public reply on the
mention's thread, private message to its author).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import plain_item



class OutboxPublisher:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def publish(self, issue_id: str, mention: dict[str, Any], channel: str, text: str, approved_by: str,
                at: datetime) -> str:
        outbox_id = f"out-{secrets.token_hex(8)}"
        client("dynamodb").put_item(TableName=self.table, Item={
            "outbox_id": string(outbox_id), "issue_id": string(issue_id), "platform": string(mention.get("platform", "")),
            "in_reply_to": string(mention.get("external_id", "")),
            "recipient": string(mention.get("author_handle") or mention.get("author_name") or ""),
            "channel": string(channel), "text": string(text), "approved_by": string(approved_by),
            "published_at": string(at.astimezone(timezone.utc).isoformat()),
            "published_day": string(at.astimezone(timezone.utc).date().isoformat())})
        return outbox_id

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
