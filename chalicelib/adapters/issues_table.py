"""Reading and updating issues after triage: what the approval pages show and what responders change."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.issues import AuditEvent, IssueStatus, status_category
from chalicelib.domain.ops import Partition
from chalicelib.settings import Resources


class DynamoIssues:
    def __init__(self, names: Resources) -> None:
        self.names = names

    def get(self, issue_id: str) -> dict[str, Any] | None:
        item = client("dynamodb").get_item(TableName=self.names.issues_table, Key={"issue_id": string(issue_id)},
                                           ConsistentRead=True).get("Item")
        return plain_item(item) if item else None

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]:
        answer = client("dynamodb").query(TableName=self.names.mentions_table, IndexName="by_issue",
                                          KeyConditionExpression="issue_id = :issue", Limit=limit,
                                          ExpressionAttributeValues={":issue": string(issue_id)})
        return [plain_item(item) for item in answer["Items"]]

    def history(self, issue_id: str) -> list[dict[str, Any]]:
        answer = client("dynamodb").query(TableName=self.names.audit_table, KeyConditionExpression="issue_id = :i",
                                          ExpressionAttributeValues={":i": string(issue_id)})
        events = [plain_item(item) for item in answer["Items"]]
        for event in events:
            event["details"] = json.loads(event.get("details") or "{}")
        return events

    def page(self, partition: Partition, filters: dict[str, str], limit: int,
             start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a listing: newest first within the partition, ``filters`` (attribute → value) applied
        by DynamoDB; DynamoDB's last evaluated key, or None at the partition's end."""
        names, values = {"#p": partition.key}, {":p": string(partition.value)}
        conditions = []
        for i, (attribute, value) in enumerate(sorted(filters.items())):
            names[f"#f{i}"] = attribute
            values[f":f{i}"] = string(value)
            conditions.append(f"#f{i} = :f{i}")
        request: dict[str, Any] = dict(TableName=self.names.issues_table, IndexName=partition.index,
                                       KeyConditionExpression="#p = :p", ScanIndexForward=False, Limit=limit,
                                       ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        answer = client("dynamodb").query(**request)
        return [plain_item(item) for item in answer["Items"]], answer.get("LastEvaluatedKey")

    def append(self, event: AuditEvent) -> None:
        client("dynamodb").put_item(TableName=self.names.audit_table, Item=audit_item(event))

    def start_work(self, issue_id: str, category: str) -> None:
        """open -> in_progress when the first step of its protocol is handed to people (no change otherwise)."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.names.issues_table, Key={"issue_id": string(issue_id)},
                UpdateExpression="SET #status = :busy, status_category = :sc",
                ConditionExpression="#status = :open AND category = :category",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":busy": string("in_progress"), ":open": string("open"),
                                           ":sc": string(status_category(IssueStatus.IN_PROGRESS.value, category)), ":category": string(category)})
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    def record_response(self, issue_id: str, at: datetime) -> None:
        """The first published reply sets First Response and Response Time (later replies leave them)."""
        issue = self.get(issue_id)
        if not issue or issue.get("first_response_at"):
            return
        first_seen = datetime.fromisoformat(issue["first_seen"])
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.names.issues_table, Key={"issue_id": string(issue_id)},
                UpdateExpression="SET first_response_at = :at, response_time_seconds = :seconds",
                ConditionExpression="attribute_not_exists(first_response_at)",
                ExpressionAttributeValues={":at": string(at.astimezone(timezone.utc).isoformat()),
                                           ":seconds": {"N": str(max(0, int((at - first_seen).total_seconds())))}})
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass
