"""The triage store on DynamoDB: one consistent BatchGetItem, then one TransactWriteItems per mention.

Storage models live here (item layouts), apart from the domain models: issues carry derived attributes for the
GSIs (``status_category``, ``first_seen_day``, ``assignee_shard``), key claims carry epoch ``expires_at``/``ttl``
numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters import codec
from chalicelib.adapters.aws import CombinedReads, batch_get, client
from chalicelib.adapters.codec import number, plain_item, string
from chalicelib.adapters.mentions_table import (
    KEEP_FIRST,
    TRIAGED,
    VISIBLE,
    content_attributes,
    expiry,
    stored_mention,
    update_from,
)
from chalicelib.domain.dedup import KeyClaim, content_version
from chalicelib.domain.index_shards import assignee_shard
from chalicelib.domain.issues import AuditEvent, EscalationCase, Issue, IssueStatus, first_seen_day, status_category
from chalicelib.domain.plan import SEVERITY_ORDER, Retention
from chalicelib.domain.plan_upkeep import expires_at
from chalicelib.domain.triage import TriageChange
from chalicelib.services.errors import ArrivedOutOfOrder, ClaimConflict, DuplicateMention, IssueUnavailable
from chalicelib.settings import Resources

KEY_TTL_GRACE_SECONDS = 7 * 24 * 3600  # keep expired claims a week for inspection before TTL removes them


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def issue_item(issue: Issue) -> dict[str, Any]:
    optional = {
        "team": issue.team,
        "assigned_to": issue.assigned_to,
        "assignee_shard": issue.assigned_to and assignee_shard(issue.assigned_to, issue.issue_id),  # its index key
        "rule": issue.rule,
        "sla_first_response_due": issue.sla_first_response_due and _iso(issue.sla_first_response_due),
        "sla_resolution_due": issue.sla_resolution_due and _iso(issue.sla_resolution_due),
    }
    return codec.item(
        {
            "issue_id": issue.issue_id,
            "description": issue.description,
            "category": issue.category,
            "severity": issue.severity.value,
            "severity_rank": issue.severity_rank,
            "status": issue.status.value,
            "status_category": status_category(issue.status.value, issue.category, issue.issue_id),  # its shard
            "follow_up_required": issue.follow_up_required,
            "mention_count": issue.mention_count,
            "reach": issue.reach,
            "first_seen": _iso(issue.first_seen),
            "last_seen": _iso(issue.last_seen),
            "first_seen_day": first_seen_day(issue.first_seen, issue.issue_id),  # in the issue's write shard
            "topic": issue.topic,
            "products": list(issue.products),
            "platform": issue.platform,
            "plan_version": issue.plan_version,
            "escalation_case": issue.escalation_case,
            **{name: value for name, value in optional.items() if value},
        }
    )


def audit_item(event: AuditEvent) -> dict[str, Any]:
    return codec.item(
        {
            "issue_id": event.issue_id,
            "sk": event.sort_key,
            "at": _iso(event.at),
            "type": event.type,
            "actor": event.actor,
            "details": json.dumps(event.details, default=str),
        }
    )


def case_item(case: EscalationCase) -> dict[str, Any]:
    return codec.item(
        {
            "issue_id": case.issue_id,
            "category": case.category,
            "severity": case.severity.value,
            "stakeholders": list(case.stakeholders),
            "protocol": case.protocol or "",
            "status": case.status,
            "opened_at": _iso(case.opened_at),
            "summary": case.summary,
        }
    )


def claim_item(claim: KeyClaim) -> dict[str, Any]:
    return codec.item(
        {
            "key": claim.key,
            "kind": claim.kind,
            "issue_id": claim.issue_id,
            "expires_at": _epoch(claim.expires_at),
            "ttl": _epoch(claim.expires_at) + KEY_TTL_GRACE_SECONDS,
            "category": claim.category,
            "severity_rank": claim.severity_rank,
            "author": claim.author or None,
            "signature": ",".join(f"{v:x}" for v in claim.signature) if claim.signature else None,
        }
    )


def claim_from_item(stored: dict[str, Any]) -> KeyClaim:
    values = codec.plain_item(stored)
    signature = values.get("signature")
    return KeyClaim(
        key=values["key"],
        kind=values["kind"],
        issue_id=values["issue_id"],
        expires_at=datetime.fromtimestamp(int(values["expires_at"]), tz=timezone.utc),
        author=values.get("author"),
        signature=tuple(int(v, 16) for v in signature.split(",")) if signature else None,
        category=values.get("category", ""),
        severity_rank=int(values.get("severity_rank", 0)),
    )


def mention_item(change: TriageChange) -> dict[str, Any]:
    mention, c = change.mention, change.classification
    item = {
        "pk": string(mention.key),
        **content_attributes(mention),
        "status": string(VISIBLE),
        "received_at": string(_iso(datetime.now(timezone.utc))),
        "category": string(c.category),
        "severity": string(c.severity.value),
        "topic": string(c.topic),
        "complaint": {"BOOL": c.complaint},
        "complaint_score": number(c.complaint_score),
        "sentiment": number(c.sentiment),
        "risk_flags": {"L": [string(f) for f in sorted(c.risk_flags)]},
        "products_named": {"L": [string(p) for p in c.products]},
        "content_version": string(change.content_version or content_version(mention)),
    }
    if c.rule:
        item["rule"] = string(c.rule)
    if change.issue_id:
        item["issue_id"] = string(change.issue_id)
    return item


class DynamoTriageStore:
    def __init__(
        self, names: Resources, retention: Callable[[], Retention] | None = None, reads: CombinedReads | None = None
    ) -> None:
        """``reads``: where the dedup keys are read, with whatever other adapters deferred to the same read (the
        composition root shares one with the surge store: a batch's surge history comes along)."""
        self.names = names
        self.retention = retention  # the active plan's retention (None: the plan's defaults)
        self.reads = reads if reads is not None else CombinedReads()

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        if not keys:
            return {}
        wanted = [{"key": string(k)} for k in dict.fromkeys(keys)]
        items = self.reads.get(self.names.issue_keys_table, wanted, ConsistentRead=True)
        claims = [claim_from_item(item) for item in items]
        return {claim.key: claim for claim in claims}

    def commit(self, change: TriageChange) -> None:
        names = self.names
        mention = change.mention
        items: list[dict[str, Any]] = [self._mention_write(change)]
        if change.new_issue:
            items.append(
                {
                    "Put": {
                        "TableName": names.issues_table,
                        "Item": issue_item(change.new_issue),
                        "ConditionExpression": "attribute_not_exists(issue_id)",
                    }
                }
            )
        if change.join:
            items.append({"Update": self._join_update(change, self._current_dues(change))})
        keep_keys = (self.retention or Retention)().dedup_keys_days
        for claim in change.claims:
            condition = "attribute_not_exists(#k) OR issue_id = :issue OR expires_at < :now"
            values = {":issue": string(claim.issue_id), ":now": number(_epoch(mention.created_at))}
            if claim.replaces:  # a resolved or closed issue's key: taken over only while it still names that issue
                condition += " OR issue_id = :replaces"
                values[":replaces"] = string(claim.replaces)
            items.append(
                {
                    "Put": {
                        "TableName": names.issue_keys_table,
                        "Item": {**claim_item(claim), "ttl": number(expires_at(claim.expires_at, keep_keys))},
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#k": "key"},
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        items += [{"Put": {"TableName": names.audit_table, "Item": audit_item(event)}} for event in change.audit]
        if change.case and change.join:  # an issue escalated again (High Priority to critical, to Crisis): one case
            items.append({"Update": self._case_update(change.case)})
        elif change.case:
            items.append(
                {
                    "Put": {
                        "TableName": names.escalations_table,
                        "Item": case_item(change.case),
                        "ConditionExpression": "attribute_not_exists(issue_id)",
                    }
                }
            )
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            cancelled = error.response.get("CancellationReasons", [])
            reasons = [r.get("Code", "None") for r in cancelled]
            if "ValidationError" in reasons:
                raise  # the item cannot be stored as it is (too large, a number out of range): no retry helps
            if reasons and reasons[0] == "ConditionalCheckFailed":
                self._settle_with_stored(change, cancelled[0].get("Item"))
            self._raise_for(reasons, change)

    def _mention_write(self, change: TriageChange) -> dict[str, Any]:
        """The mention's item: created by this write, or completed if an edit or a removal of it came first (then
        only if nothing changed since it was read, and it is not triaged yet).

        A mention nothing came before is a conditional ``Put``: on an absent item it stores exactly what the
        ``Update`` would, at the same write units, and an emulator (moto, the local stack) validates a ~20-action
        ``SET`` expression at ~10x a put's CPU (42 vs 4.5 ms in a transaction; ``make bench``'s pipeline, issue 14)."""
        item = mention_item(change)
        item["ttl"] = expiry(change.mention, self.retention)
        prior = change.prior
        if prior is None:
            return {
                "Put": {
                    "TableName": self.names.mentions_table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        del item["pk"]
        write = {
            "TableName": self.names.mentions_table,
            "Key": {"pk": string(change.mention.key)},
            **update_from(item, KEEP_FIRST),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        write["ExpressionAttributeNames"].update({"#triaged": TRIAGED, "#version": "content_version"})
        if prior.version is None:
            write["ConditionExpression"] = "attribute_not_exists(#triaged) AND attribute_not_exists(#version)"
        else:
            write["ConditionExpression"] = "attribute_not_exists(#triaged) AND #version = :seen"
            write["ExpressionAttributeValues"][":seen"] = string(prior.version)
        return {"Update": write}

    def _settle_with_stored(self, change: TriageChange, item: dict[str, Any] | None) -> None:
        """The mention's write found something stored: a duplicate (raise DuplicateMention), or events that
        overtook it (raise ArrivedOutOfOrder with them)."""
        dynamodb = client("dynamodb")
        if item is None:
            item = dynamodb.get_item(
                TableName=self.names.mentions_table, Key={"pk": string(change.mention.key)}, ConsistentRead=True
            ).get("Item")
        stored = stored_mention(plain_item(item) if item else None)
        if stored is None:
            raise ClaimConflict(f"{change.mention.key} changed while it was written")
        if not stored.triaged:
            raise ArrivedOutOfOrder(stored)
        mention = change.mention
        if stored.content is not None and mention.created_at < stored.content.created_at:
            # An edit came first and was triaged; the original, arriving now, knows the true creation time.
            try:
                dynamodb.update_item(
                    TableName=self.names.mentions_table,
                    Key={"pk": string(mention.key)},
                    UpdateExpression="SET created_at = :created",
                    ConditionExpression="created_at = :seen",
                    ExpressionAttributeValues={
                        ":created": string(mention.created_at.isoformat()),
                        ":seen": item["created_at"],
                    },
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass  # another event moved it meanwhile; it carries its own time
        raise DuplicateMention(mention.key)

    def open_issue(
        self, issue: Issue, audit: list[AuditEvent], case: EscalationCase | None, linked_mentions: list[str]
    ) -> bool:
        """An issue not opened by one mention (a surge's Crisis): issue, audit and case in one transaction.

        Returns ``False`` when the issue exists already (opened by an earlier try), writing nothing."""
        item = issue_item(issue)
        item["linked_mentions"] = {"L": [string(m) for m in linked_mentions]}
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.names.issues_table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(issue_id)",
                }
            }
        ]
        items += [{"Put": {"TableName": self.names.audit_table, "Item": audit_item(e)}} for e in audit]
        if case:
            items.append({"Put": {"TableName": self.names.escalations_table, "Item": case_item(case)}})
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def append_audit(self, event: AuditEvent) -> None:
        client("dynamodb").put_item(TableName=self.names.audit_table, Item=audit_item(event))

    def first_existing(self, issue_ids: list[str]) -> str | None:
        if not issue_ids:
            return None
        wanted = [{"issue_id": string(i)} for i in dict.fromkeys(issue_ids)]
        stored = batch_get(self.names.issues_table, wanted, ProjectionExpression="issue_id", ConsistentRead=True)
        found = {item["issue_id"]["S"] for item in stored}
        return next((i for i in issue_ids if i in found), None)

    def _case_update(self, case: EscalationCase) -> dict[str, Any]:
        """The issue's case, raised to ``case``'s category and severity; when and why it was first opened stay."""
        values = {k: v for k, v in case_item(case).items() if k != "issue_id"}
        kept = ("opened_at", "summary")
        sets = [f"#{k} = if_not_exists(#{k}, :{k})" if k in kept else f"#{k} = :{k}" for k in values]
        return {
            "TableName": self.names.escalations_table,
            "Key": {"issue_id": string(case.issue_id)},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": {f"#{k}": k for k in values},
            "ExpressionAttributeValues": {f":{k}": v for k, v in values.items()},
        }

    def _current_dues(self, change: TriageChange) -> dict[str, str]:
        """An escalating issue's SLA dues as stored (one read, on escalation only): a new category's due never
        relaxes an earlier one."""
        join = change.join
        if join is None or join.escalation is None:
            return {}
        item = (
            client("dynamodb")
            .get_item(
                TableName=self.names.issues_table,
                Key={"issue_id": string(join.issue_id)},
                ConsistentRead=True,
                ProjectionExpression="sla_first_response_due, sla_resolution_due",
            )
            .get("Item", {})
        )
        return {name: value["S"] for name, value in item.items() if "S" in value}

    def _join_update(self, change: TriageChange, current_dues: dict[str, str] | None = None) -> dict[str, Any]:
        join = change.join
        assert join is not None
        values: dict[str, Any] = {
            ":one": number(1),
            ":reach": number(join.reach),
            ":seen": string(_iso(join.last_seen)),
            ":open": string(IssueStatus.OPEN.value),
            ":busy": string(IssueStatus.IN_PROGRESS.value),
        }
        names = {"#status": "status"}
        sets = ["last_seen = :seen"]
        condition = "attribute_exists(issue_id) AND #status IN (:open, :busy)"
        escalation = join.escalation
        if escalation:
            rank = SEVERITY_ORDER[escalation.severity]
            values.update(
                {
                    ":category": string(escalation.category),
                    ":severity": string(escalation.severity.value),
                    ":rank": number(rank),
                    ":true": {"BOOL": True},
                }
            )
            # An escalated issue is open again: it starts its new category's protocol from the first step.
            sets += [
                "category = :category",
                "severity = :severity",
                "severity_rank = :rank",
                "escalation_case = :true",
                "#status = :open",
                "status_category = :status_category",
            ]
            values[":status_category"] = string(
                status_category(IssueStatus.OPEN.value, escalation.category, join.issue_id)
            )
            for name, due in (
                ("sla_first_response_due", escalation.first_response_due),
                ("sla_resolution_due", escalation.resolution_due),
            ):
                if due is None:
                    continue
                stored = (current_dues or {}).get(name)
                earliest = min(datetime.fromisoformat(stored), due) if stored else due
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = string(_iso(earliest))
            for name, value in (
                ("team", escalation.team),
                ("assigned_to", escalation.assigned_to),
                ("assignee_shard", escalation.assigned_to and assignee_shard(escalation.assigned_to, join.issue_id)),
            ):
                if value:
                    sets.append(f"{name} = :{name}")
                    values[f":{name}"] = string(value)
            condition += " AND severity_rank < :rank"
        return {
            "TableName": self.names.issues_table,
            "Key": {"issue_id": string(join.issue_id)},
            "UpdateExpression": "SET " + ", ".join(sets) + " ADD mention_count :one, reach :reach",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    @staticmethod
    def _raise_for(reasons: list[str], change: TriageChange) -> None:
        if change.join and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise IssueUnavailable(change.join.issue_id)
        raise ClaimConflict(",".join(reasons) or "transaction cancelled")
