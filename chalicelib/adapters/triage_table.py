"""The triage store on DynamoDB: one consistent BatchGetItem, then one TransactWriteItems per mention.

Storage models live here (item layouts), apart from the domain models: issues carry derived attributes for the
GSIs (``status_category``, ``first_seen_day``), key claims carry epoch ``expires_at``/``ttl`` numbers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import VISIBLE, content_attributes
from chalicelib.domain.dedup import KeyClaim
from chalicelib.domain.issues import AuditEvent, EscalationCase, Issue, IssueStatus
from chalicelib.domain.plan import SEVERITY_ORDER
from chalicelib.services.triage import ClaimConflict, DuplicateMention, IssueUnavailable, TriageChange
from chalicelib.settings import Resources

KEY_TTL_GRACE_SECONDS = 7 * 24 * 3600  # keep expired claims a week for inspection before TTL removes them


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float | int) -> dict[str, str]:
    return {"N": str(value)}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def issue_item(issue: Issue) -> dict[str, Any]:
    item: dict[str, Any] = {
        "issue_id": _s(issue.issue_id), "description": _s(issue.description), "category": _s(issue.category),
        "severity": _s(issue.severity.value), "severity_rank": _n(issue.severity_rank),
        "status": _s(issue.status.value), "status_category": _s(f"{issue.status.value}#{issue.category}"),
        "follow_up_required": {"BOOL": issue.follow_up_required}, "mention_count": _n(issue.mention_count),
        "reach": _n(issue.reach), "first_seen": _s(_iso(issue.first_seen)), "last_seen": _s(_iso(issue.last_seen)),
        "first_seen_day": _s(issue.first_seen.date().isoformat()), "topic": _s(issue.topic),
        "products": {"L": [_s(p) for p in issue.products]}, "platform": _s(issue.platform),
        "plan_version": _n(issue.plan_version), "escalation_case": {"BOOL": issue.escalation_case},
    }
    optional = {"team": issue.team, "assigned_to": issue.assigned_to, "rule": issue.rule,
                "sla_first_response_due": issue.sla_first_response_due and _iso(issue.sla_first_response_due),
                "sla_resolution_due": issue.sla_resolution_due and _iso(issue.sla_resolution_due)}
    item.update({name: _s(value) for name, value in optional.items() if value})
    return item


def audit_item(event: AuditEvent) -> dict[str, Any]:
    return {"issue_id": _s(event.issue_id), "sk": _s(event.sort_key), "at": _s(_iso(event.at)),
            "type": _s(event.type), "actor": _s(event.actor), "details": _s(json.dumps(event.details, default=str))}


def case_item(case: EscalationCase) -> dict[str, Any]:
    return {"issue_id": _s(case.issue_id), "category": _s(case.category), "severity": _s(case.severity.value),
            "stakeholders": {"L": [_s(t) for t in case.stakeholders]}, "protocol": _s(case.protocol or ""),
            "status": _s(case.status), "opened_at": _s(_iso(case.opened_at)), "summary": _s(case.summary)}


def claim_item(claim: KeyClaim) -> dict[str, Any]:
    item = {"key": _s(claim.key), "kind": _s(claim.kind), "issue_id": _s(claim.issue_id),
            "expires_at": _n(_epoch(claim.expires_at)), "ttl": _n(_epoch(claim.expires_at) + KEY_TTL_GRACE_SECONDS),
            "category": _s(claim.category), "severity_rank": _n(claim.severity_rank)}
    if claim.author:
        item["author"] = _s(claim.author)
    if claim.signature:
        item["signature"] = _s(",".join(f"{v:x}" for v in claim.signature))
    return item


def claim_from_item(item: dict[str, Any]) -> KeyClaim:
    signature = item.get("signature", {}).get("S")
    return KeyClaim(key=item["key"]["S"], kind=item["kind"]["S"], issue_id=item["issue_id"]["S"],
                    expires_at=datetime.fromtimestamp(int(item["expires_at"]["N"]), tz=timezone.utc),
                    author=item.get("author", {}).get("S"),
                    signature=tuple(int(v, 16) for v in signature.split(",")) if signature else None,
                    category=item.get("category", {}).get("S", ""),
                    severity_rank=int(item.get("severity_rank", {}).get("N", "0")))


def mention_item(change: TriageChange) -> dict[str, Any]:
    mention, c = change.mention, change.classification
    item = {"pk": _s(mention.key), **content_attributes(mention), "status": _s(VISIBLE),
            "received_at": _s(_iso(datetime.now(timezone.utc))), "category": _s(c.category),
            "severity": _s(c.severity.value), "topic": _s(c.topic), "complaint": {"BOOL": c.complaint},
            "complaint_score": _n(c.complaint_score), "sentiment": _n(c.sentiment),
            "risk_flags": {"L": [_s(f) for f in sorted(c.risk_flags)]},
            "products_named": {"L": [_s(p) for p in c.products]}}
    if c.rule:
        item["rule"] = _s(c.rule)
    if change.issue_id:
        item["issue_id"] = _s(change.issue_id)
    return item


class DynamoTriageStore:
    def __init__(self, names: Resources) -> None:
        self.names = names

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        if not keys:
            return {}
        dynamodb = client("dynamodb")
        wanted: dict[str, Any] = {self.names.issue_keys_table: {
            "Keys": [{"key": _s(k)} for k in dict.fromkeys(keys)], "ConsistentRead": True}}
        found: dict[str, KeyClaim] = {}
        while wanted:
            answer = dynamodb.batch_get_item(RequestItems=wanted)
            for item in answer["Responses"].get(self.names.issue_keys_table, []):
                claim = claim_from_item(item)
                found[claim.key] = claim
            wanted = answer.get("UnprocessedKeys") or {}
        return found

    def commit(self, change: TriageChange) -> None:
        names = self.names
        mention = change.mention
        items: list[dict[str, Any]] = [{"Put": {"TableName": names.mentions_table, "Item": mention_item(change),
                                                "ConditionExpression": "attribute_not_exists(pk)"}}]
        if change.new_issue:
            items.append({"Put": {"TableName": names.issues_table, "Item": issue_item(change.new_issue),
                                  "ConditionExpression": "attribute_not_exists(issue_id)"}})
        if change.join:
            items.append({"Update": self._join_update(change)})
        for claim in change.claims:
            items.append({"Put": {
                "TableName": names.issue_keys_table, "Item": claim_item(claim),
                "ConditionExpression": "attribute_not_exists(#k) OR issue_id = :issue OR expires_at < :now",
                "ExpressionAttributeNames": {"#k": "key"},
                "ExpressionAttributeValues": {":issue": _s(claim.issue_id),
                                              ":now": _n(_epoch(mention.created_at))}}})
        items += [{"Put": {"TableName": names.audit_table, "Item": audit_item(event)}} for event in change.audit]
        if change.case:
            items.append({"Put": {"TableName": names.escalations_table, "Item": case_item(change.case),
                                  "ConditionExpression": "attribute_not_exists(issue_id)"}})
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            self._raise_for(reasons, change)

    def open_issue(self, issue: Issue, audit: list[AuditEvent], case: EscalationCase | None,
                   linked_mentions: list[str]) -> None:
        """An issue not opened by one mention (a surge's Crisis): issue, audit and case in one transaction."""
        item = issue_item(issue)
        item["linked_mentions"] = {"L": [_s(m) for m in linked_mentions]}
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.names.issues_table, "Item": item,
                                                "ConditionExpression": "attribute_not_exists(issue_id)"}}]
        items += [{"Put": {"TableName": self.names.audit_table, "Item": audit_item(e)}} for e in audit]
        if case:
            items.append({"Put": {"TableName": self.names.escalations_table, "Item": case_item(case)}})
        client("dynamodb").transact_write_items(TransactItems=items)

    def append_audit(self, event: AuditEvent) -> None:
        client("dynamodb").put_item(TableName=self.names.audit_table, Item=audit_item(event))

    def _join_update(self, change: TriageChange) -> dict[str, Any]:
        join = change.join
        assert join is not None
        values: dict[str, Any] = {":one": _n(1), ":reach": _n(join.reach), ":seen": _s(_iso(join.last_seen)),
                                  ":open": _s(IssueStatus.OPEN.value), ":busy": _s(IssueStatus.IN_PROGRESS.value)}
        names = {"#status": "status"}
        sets = ["last_seen = :seen"]
        condition = "attribute_exists(issue_id) AND #status IN (:open, :busy)"
        escalation = join.escalation
        if escalation:
            rank = SEVERITY_ORDER[escalation.severity]
            values.update({":category": _s(escalation.category), ":severity": _s(escalation.severity.value),
                           ":rank": _n(rank), ":true": {"BOOL": True}})
            # An escalated issue is open again: it starts its new category's protocol from the first step.
            sets += ["category = :category", "severity = :severity", "severity_rank = :rank",
                     "escalation_case = :true", "#status = :open", "status_category = :status_category"]
            values[":status_category"] = _s(f"{IssueStatus.OPEN.value}#{escalation.category}")
            for name, value in (("team", escalation.team), ("assigned_to", escalation.assigned_to)):
                if value:
                    sets.append(f"{name} = :{name}")
                    values[f":{name}"] = _s(value)
            condition += " AND severity_rank < :rank"
        return {"TableName": self.names.issues_table, "Key": {"issue_id": _s(join.issue_id)},
                "UpdateExpression": "SET " + ", ".join(sets) + " ADD mention_count :one, reach :reach",
                "ConditionExpression": condition, "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values}

    @staticmethod
    def _raise_for(reasons: list[str], change: TriageChange) -> None:
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise DuplicateMention(change.mention.key)
        if change.join and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise IssueUnavailable(change.join.issue_id)
        raise ClaimConflict(",".join(reasons) or "transaction cancelled")
