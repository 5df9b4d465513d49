"""Merging and splitting issues on DynamoDB (the ops API's ``/issues/{id}/merge`` and ``/split``).

Merge: one transaction moves the counts to the issue that stays, closes the other with ``merged_into`` and writes
both audit events, each issue conditioned on the version read; then the mentions and dedup keys of the merged
issue are re-pointed one by one (each write idempotent), so a repeat of the merge finishes a run that stopped.
Split: one transaction opens the new issue, takes the mention off the old one (conditioned on it still being
there) and writes both audit events.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.triage_table import audit_item, issue_item
from chalicelib.domain.issues import AuditEvent, Issue, IssueStatus, status_category
from chalicelib.domain.ops import StaleVersion


def _version_condition(expected: int) -> tuple[str, dict[str, Any]]:
    if expected:
        return "ops_version = :expected", {":expected": number(expected)}
    return "attribute_exists(issue_id) AND attribute_not_exists(ops_version)", {}


class DynamoIssueRegrouping(DynamoIssues):
    def mention(self, key: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.names.mentions_table, Key={"pk": string(key)}, ConsistentRead=True)
            .get("Item")
        )
        return plain_item(item) if item else None

    def merge(self, target: dict[str, Any], source: dict[str, Any], events: list[AuditEvent]) -> None:
        """Fold ``source`` into ``target`` (both as read: their versions are the transaction's conditions)."""
        target_condition, target_values = _version_condition(int(target.get("ops_version") or 0))
        source_condition, source_values = _version_condition(int(source.get("ops_version") or 0))
        closed = IssueStatus.CLOSED.value
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.names.issues_table,
                    "Key": {"issue_id": string(target["issue_id"])},
                    "UpdateExpression": "SET ops_version = :next, last_seen = :last ADD mention_count :count, "
                    "reach :reach",
                    "ConditionExpression": target_condition,
                    "ExpressionAttributeValues": {
                        ":next": number(int(target.get("ops_version") or 0) + 1),
                        ":last": string(max(str(target["last_seen"]), str(source["last_seen"]))),
                        ":count": number(int(source.get("mention_count") or 0)),
                        ":reach": number(int(source.get("reach") or 0)),
                        **target_values,
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.names.issues_table,
                    "Key": {"issue_id": string(source["issue_id"])},
                    "UpdateExpression": "SET ops_version = :next, #status = :closed, status_category = :sc, "
                    "merged_into = :into, mention_count = :zero",
                    "ConditionExpression": f"({source_condition}) AND attribute_not_exists(merged_into)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":next": number(int(source.get("ops_version") or 0) + 1),
                        ":closed": string(closed),
                        ":sc": string(status_category(closed, str(source["category"]), str(source["issue_id"]))),
                        ":into": string(str(target["issue_id"])),
                        ":zero": number(0),
                        **source_values,
                    },
                }
            },
            *({"Put": {"TableName": self.names.audit_table, "Item": audit_item(event)}} for event in events),
        ]
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException:
            raise StaleVersion(str(target["issue_id"])) from None

    def repoint(self, source_id: str, target_id: str) -> int:
        """Every mention and dedup key of ``source_id`` now names ``target_id``; how many were moved."""
        dynamodb = client("dynamodb")
        moved = 0
        pages = dynamodb.get_paginator("query").paginate(
            TableName=self.names.mentions_table,
            IndexName="by_issue",
            KeyConditionExpression="issue_id = :s",
            ExpressionAttributeValues={":s": string(source_id)},
        )
        keys = [item["pk"] for page in pages for item in page["Items"]]
        for key in keys:
            moved += self._move(self.names.mentions_table, {"pk": key}, source_id, target_id)
        claims = dynamodb.get_paginator("scan").paginate(
            TableName=self.names.issue_keys_table,
            FilterExpression="issue_id = :s",
            ExpressionAttributeValues={":s": string(source_id)},
        )
        for page in claims:
            for item in page["Items"]:
                self._move(self.names.issue_keys_table, {"key": item["key"]}, source_id, target_id)
        return moved

    @staticmethod
    def _move(table: str, key: dict[str, Any], source_id: str, target_id: str) -> int:
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET issue_id = :t",
                ConditionExpression="issue_id = :s",
                ExpressionAttributeValues={":t": string(target_id), ":s": string(source_id)},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return 0
        return 1

    def split(self, source: dict[str, Any], mention_key: str, issue: Issue, events: list[AuditEvent]) -> None:
        condition, values = _version_condition(int(source.get("ops_version") or 0))
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.names.issues_table,
                    "Item": issue_item(issue),
                    "ConditionExpression": "attribute_not_exists(issue_id)",
                }
            },
            {
                "Update": {
                    "TableName": self.names.issues_table,
                    "Key": {"issue_id": string(source["issue_id"])},
                    "UpdateExpression": "SET ops_version = :next ADD mention_count :minus, reach :less",
                    "ConditionExpression": f"({condition}) AND mention_count > :one",
                    "ExpressionAttributeValues": {
                        ":next": number(int(source.get("ops_version") or 0) + 1),
                        ":minus": number(-1),
                        ":less": number(-min(issue.reach, int(source.get("reach") or 0))),
                        ":one": number(1),
                        **values,
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.names.mentions_table,
                    "Key": {"pk": string(mention_key)},
                    "UpdateExpression": "SET issue_id = :new",
                    "ConditionExpression": "issue_id = :old",
                    "ExpressionAttributeValues": {
                        ":new": string(issue.issue_id),
                        ":old": string(str(source["issue_id"])),
                    },
                }
            },
            *({"Put": {"TableName": self.names.audit_table, "Item": audit_item(event)}} for event in events),
        ]
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException:
            raise StaleVersion(str(source["issue_id"])) from None
