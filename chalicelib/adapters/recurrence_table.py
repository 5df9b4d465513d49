"""Recurrence keys in DynamoDB, and the recurrence link on the issue.

Items of the recurrence-keys table (``key``; ``ttl`` removes a key once its window is over): one per key of a
resolved issue (``domain.recurrence.lookup_keys``), pointing at the latest issue resolved with it, with what
matching needs (resolution time, text signature). On the issue: ``recurs_issue_id``, ``recurrence_rule`` and
``recurrence_gap_seconds``, written once with a ``recurrence`` audit event.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.aws import batch_get, client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.recurrence import IssueFacts, RecurrenceLink
from chalicelib.settings import Resources


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _facts(item: dict[str, Any]) -> IssueFacts:
    signature = item.get("signature", {}).get("S")
    return IssueFacts(
        issue_id=item["issue_id"]["S"],
        at=datetime.fromisoformat(item["resolved_at"]["S"]),
        author=item.get("author", {}).get("S"),
        products=tuple(p["S"] for p in item.get("products", {}).get("L", [])),
        topic=item.get("topic", {}).get("S", ""),
        signature=tuple(int(v, 16) for v in signature.split(",")) if signature else None,
    )


class DynamoRecurrence:
    def __init__(self, names: Resources) -> None:
        self.table = names.recurrence_keys_table
        self.issues_table = names.issues_table
        self.audit_table = names.audit_table

    def remember(self, facts: IssueFacts, keys: list[str], until: datetime) -> None:
        dynamodb = client("dynamodb")
        for key in keys:
            item: dict[str, Any] = {
                "key": string(key),
                "issue_id": string(facts.issue_id),
                "resolved_at": string(_iso(facts.at)),
                "topic": string(facts.topic),
                "products": {"L": [string(p) for p in facts.products]},
                "ttl": number(int(until.timestamp())),
            }
            if facts.author:
                item["author"] = string(facts.author)
            if facts.signature:
                item["signature"] = string(",".join(f"{v:x}" for v in facts.signature))
            try:
                # The latest resolution wins; a retried older record does not take a key back.
                dynamodb.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(#k) OR resolved_at <= :at",
                    ExpressionAttributeNames={"#k": "key"},
                    ExpressionAttributeValues={":at": item["resolved_at"]},
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass

    def lookup(self, keys: list[str]) -> dict[str, IssueFacts]:
        if not keys:
            return {}
        stored = batch_get(self.table, [{"key": string(k)} for k in dict.fromkeys(keys)])
        return {item["key"]["S"]: _facts(item) for item in stored}

    def link(self, link: RecurrenceLink, event: AuditEvent) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.issues_table,
                            "Key": {"issue_id": string(link.issue_id)},
                            "UpdateExpression": "SET recurs_issue_id = :earlier, recurrence_rule = :rule, "
                            "recurrence_gap_seconds = :gap",
                            "ConditionExpression": (
                                "attribute_exists(issue_id) AND attribute_not_exists(recurs_issue_id)"
                            ),
                            "ExpressionAttributeValues": {
                                ":earlier": string(link.recurs_issue_id),
                                ":rule": string(link.rule.value),
                                ":gap": number(link.gap_seconds),
                            },
                        }
                    },
                    {"Put": {"TableName": self.audit_table, "Item": audit_item(event)}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException:
            return False
        return True
