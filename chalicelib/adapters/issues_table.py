"""Reading and updating issues after triage: what the approval pages show and what responders change."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters import codec
from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import plain_item, string
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.index_shards import DAY_SHARDS
from chalicelib.domain.issues import AuditEvent, IssueStatus, status_category
from chalicelib.domain.ops import Partition, ShardedPartition, StaleVersion
from chalicelib.services.ports import AssignedIssue, AssignedPage
from chalicelib.settings import Resources

Filter = tuple[str, str, "str | bool"]  # attribute, "=" or "contains", value
PARALLEL_PARTITION_READS = 10  # botocore's connection pool per client holds 10
LIVE = ("open", "in_progress")
SETTLED = ("resolved", "closed")


def _attribute(value: Any) -> dict[str, Any]:
    return codec.attribute(value if isinstance(value, bool | int) else str(value))


class DynamoIssues:
    def __init__(self, names: Resources) -> None:
        self.names = names

    def get(self, issue_id: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.names.issues_table, Key={"issue_id": string(issue_id)}, ConsistentRead=True)
            .get("Item")
        )
        return plain_item(item) if item else None

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]:
        answer = client("dynamodb").query(
            TableName=self.names.mentions_table,
            IndexName="by_issue",
            KeyConditionExpression="issue_id = :issue",
            Limit=limit,
            ExpressionAttributeValues={":issue": string(issue_id)},
        )
        return [plain_item(item) for item in answer["Items"]]

    def history(self, issue_id: str) -> list[dict[str, Any]]:
        """Every event of the issue's trail, in time order: all pages (a busy trail passes a Query's 1 MB page)."""
        pages = (
            client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.names.audit_table,
                KeyConditionExpression="issue_id = :i",
                ExpressionAttributeValues={":i": string(issue_id)},
            )
        )
        events = [plain_item(item) for page in pages for item in page["Items"]]
        for event in events:
            event["details"] = json.loads(event.get("details") or "{}")
        return events

    def page(
        self,
        partition: Partition,
        filters: list[Filter],
        limit: int,
        start_key: dict[str, Any] | None,
        upto: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a listing: newest first within the partition (only sort keys up to ``upto``, inclusive, when
        given), ``filters`` applied by DynamoDB; DynamoDB's last evaluated key, or None at the partition's end."""
        names, values = {"#p": partition.key}, {":p": codec.attribute(partition.value)}
        key_condition = "#p = :p"
        if upto is not None:
            names["#s"], values[":s"] = partition.sort, codec.attribute(upto)
            key_condition += " AND #s <= :s"
        conditions = []
        for i, (attribute, operator, value) in enumerate(sorted(filters, key=lambda f: (f[0], f[1]))):
            names[f"#f{i}"] = attribute
            values[f":f{i}"] = codec.attribute(value)
            conditions.append(f"contains(#f{i}, :f{i})" if operator == "contains" else f"#f{i} = :f{i}")
        request: dict[str, Any] = dict(  # noqa: C408 - keyword names, as boto3 spells its parameters
            TableName=self.names.issues_table,
            IndexName=partition.index,
            KeyConditionExpression=key_condition,
            ScanIndexForward=False,
            Limit=limit,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        answer = client("dynamodb").query(**request)
        return [plain_item(item) for item in answer["Items"]], answer.get("LastEvaluatedKey")

    def change(
        self,
        issue_id: str,
        expected_version: int,
        sets: dict[str, Any],
        removes: list[str],
        events: list[AuditEvent],
        reopened: bool = False,
    ) -> int:
        """Apply a responder's change and its audit events in one transaction, if the issue is still at
        ``expected_version`` (its ``ops_version``; absent counts as 0). The new version; raises
        :class:`StaleVersion` when another write came first, :class:`KeyError` when there is no such issue."""
        names = {"#v": "ops_version"}
        values: dict[str, Any] = {":next": {"N": str(expected_version + 1)}}
        clauses = ["#v = :next"]
        for i, (attribute, value) in enumerate(sorted(sets.items())):
            names[f"#s{i}"] = attribute
            values[f":s{i}"] = _attribute(value)
            clauses.append(f"#s{i} = :s{i}")
        if reopened:
            clauses.append("reopened_count = if_not_exists(reopened_count, :zero) + :one")
            values.update({":zero": {"N": "0"}, ":one": {"N": "1"}})
        expression = "SET " + ", ".join(clauses)
        if removes:
            for i, attribute in enumerate(sorted(removes)):
                names[f"#r{i}"] = attribute
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        if expected_version:
            condition = "#v = :expected"
            values[":expected"] = {"N": str(expected_version)}
        else:
            condition = "attribute_exists(issue_id) AND attribute_not_exists(#v)"
        update = {
            "Update": {
                "TableName": self.names.issues_table,
                "Key": {"issue_id": string(issue_id)},
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        puts = [{"Put": {"TableName": self.names.audit_table, "Item": audit_item(event)}} for event in events]
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=[update, *puts])
        except dynamodb.exceptions.TransactionCanceledException:
            if self.get(issue_id) is None:
                raise KeyError(issue_id) from None
            raise StaleVersion(issue_id) from None
        return expected_version + 1

    def first_seen_between(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Every issue first seen on a day from ``first_day`` to ``last_day`` (ISO dates, at most a quarter): each
        day's ``by_day`` partition, all its shards, newest first within the day (as one partition read).

        A month is 31 days × the day's shards partitions, one Query each at least: they are read
        :data:`PARALLEL_PARTITION_READS` at a time (sequentially, a monthly reminder took seconds of round trips)."""
        from concurrent.futures import ThreadPoolExecutor
        from datetime import date, timedelta

        days: list[str] = []
        day, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
        while day <= last:
            days.append(day.isoformat())
            day += timedelta(days=1)
        partitions = [
            (of_day, partition)
            for of_day in days
            for partition in ShardedPartition(
                index="by_day", key="first_seen_day", value=of_day, sort="first_seen", shards=DAY_SHARDS
            ).parts()
        ]

        def whole(partition: Any) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            start: dict[str, Any] | None = None
            while True:
                page, start = self.page(partition, [], 500, start)
                items += page
                if start is None:
                    return items

        client("dynamodb")  # built once here: building the shared client is not thread-safe, using it is
        with ThreadPoolExecutor(max_workers=PARALLEL_PARTITION_READS) as pool:
            read = list(pool.map(whole, [partition for _, partition in partitions]))
        per_day: dict[str, list[dict[str, Any]]] = {of_day: [] for of_day in days}
        for (of_day, _), items in zip(partitions, read, strict=True):
            per_day[of_day] += items
        return [
            item
            for of_day in days
            for item in sorted(per_day[of_day], key=lambda item: str(item["first_seen"]), reverse=True)
        ]

    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict[str, Any]]:
        """The issues of ``categories`` that are live now (open, in progress), and those resolved or closed on UTC
        day ``since_day`` or after, whatever day they were first seen: the ``by_status_category`` partitions of
        every status and category, every shard (the SLA check's read: ``alerts.DynamoLiveIssues``).

        No index is keyed on ``resolved_at``, and the partitions' sort key, ``last_seen`` (the last mention),
        bounds nothing: an issue may be resolved months after its last mention. So the resolved and closed
        partitions are read whole, filtered on ``resolved_at``/``closed_at`` by DynamoDB (read units are counted
        before the filter: the weekly report and ``GET /metrics/summary`` pay for every settled issue kept)."""
        from chalicelib.adapters.alerts import DynamoLiveIssues

        index = DynamoLiveIssues(self.names)
        found: list[dict[str, Any]] = []
        for category in dict.fromkeys(categories):
            for status in LIVE:
                found += index.with_status(status, category)
            for status in SETTLED:
                found += index.with_status(status, category, settled_since_day=since_day)
        return found

    def append(self, event: AuditEvent) -> None:
        client("dynamodb").put_item(TableName=self.names.audit_table, Item=audit_item(event))

    def start_work(self, issue_id: str, category: str) -> None:
        """open -> in_progress when the first step of its protocol is handed to people (no change otherwise)."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.names.issues_table,
                Key={"issue_id": string(issue_id)},
                UpdateExpression="SET #status = :busy, status_category = :sc",
                ConditionExpression="#status = :open AND category = :category",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":busy": string("in_progress"),
                    ":open": string("open"),
                    ":sc": string(status_category(IssueStatus.IN_PROGRESS.value, category, issue_id)),
                    ":category": string(category),
                },
            )
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
                TableName=self.names.issues_table,
                Key={"issue_id": string(issue_id)},
                UpdateExpression="SET first_response_at = :at, response_time_seconds = :seconds",
                ConditionExpression="attribute_not_exists(first_response_at)",
                ExpressionAttributeValues={
                    ":at": string(at.astimezone(timezone.utc).isoformat()),
                    ":seconds": {"N": str(max(0, int((at - first_seen).total_seconds())))},
                },
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    # -- the assignee_shard backfill: issues written before by_assignee_shard (social-response backfill-assignee-shard)
    def assigned_page(self, segment: int, segments: int, start: dict[str, Any] | None) -> AssignedPage:
        """One page of ``segment`` of a parallel Scan (``Segment``/``TotalSegments``): the assigned issues among
        the items read (only the three attributes the backfill needs are returned), how many items were read."""
        request: dict[str, Any] = dict(  # noqa: C408 - keyword names, as boto3 spells its parameters
            TableName=self.names.issues_table,
            Segment=segment,
            TotalSegments=segments,
            ProjectionExpression="#id, #to, #shard",
            FilterExpression="attribute_exists(#to)",
            ExpressionAttributeNames={"#id": "issue_id", "#to": "assigned_to", "#shard": "assignee_shard"},
        )
        if start:
            request["ExclusiveStartKey"] = start
        answer = client("dynamodb").scan(**request)
        found = []
        for typed in answer["Items"]:
            item = plain_item(typed)
            assigned_to, shard = item.get("assigned_to"), item.get("assignee_shard")
            if isinstance(assigned_to, str) and assigned_to:  # an empty address is nobody's: no index key
                found.append(
                    AssignedIssue(
                        issue_id=str(item["issue_id"]),
                        assigned_to=assigned_to,
                        assignee_shard=shard if isinstance(shard, str) else None,
                    )
                )
        return AssignedPage(
            issues=found, scanned=int(answer["ScannedCount"]), next_start=answer.get("LastEvaluatedKey")
        )

    def set_assignee_shard(self, issue_id: str, assigned_to: str, value: str) -> bool:
        """``SET assignee_shard`` on the condition that ``assigned_to`` is still what the scan read: a reassignment,
        unassignment or removal made since wins (it wrote or removed the key itself). No other attribute changes,
        so ``ops_version`` stays and no audit event is due: the issue as people see it is the same."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.names.issues_table,
                Key={"issue_id": string(issue_id)},
                UpdateExpression="SET #shard = :shard",
                ConditionExpression="#to = :seen",
                ExpressionAttributeNames={"#to": "assigned_to", "#shard": "assignee_shard"},
                ExpressionAttributeValues={":seen": string(assigned_to), ":shard": string(value)},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True
