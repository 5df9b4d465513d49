"""Approval links and the task tokens they unlock, in DynamoDB.

One item per person per step (``approval_id``: the link's random id) and one per task token
(``approval_id = token#<sha256>``), written together. Acting consumes both in one transaction: the approval item
from ``pending`` to ``used`` and the token item likewise, so a second click, a second person or a replayed POST
finds them used and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.domain.links import token_reference

PENDING, USED, SUPERSEDED = "pending", "used", "superseded"
TTL_GRACE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Approval:
    approval_id: str
    issue_id: str
    person: str
    step: str
    action: str
    role: str
    protocol: str
    attempt: str
    outcomes: tuple[str, ...]
    draft: str
    comment: str
    commented_by: str
    status: str
    created_at: str
    expires_at: int
    token_ref: str
    channels: tuple[str, ...] = ()  # a drafting step's current choice of reply channels


class AlreadyUsed(Exception):
    """The link (or its step) was used, or the step moved on."""



class DynamoApprovals:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def record_request(self, approvals: list[Approval], task_token: str, execution: str) -> None:
        """The token once (under its hash) and one approval per person, all or nothing."""
        token_ref = token_reference(task_token)
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": {
            "approval_id": string(token_ref), "task_token": string(task_token), "status": string(PENDING),
            "execution": string(execution), "ttl": {"N": str(approvals[0].expires_at + TTL_GRACE_SECONDS)}},
            "ConditionExpression": "attribute_not_exists(approval_id)"}}]
        for approval in approvals:
            items.append({"Put": {"TableName": self.table, "Item": self._item(approval),
                                  "ConditionExpression": "attribute_not_exists(approval_id)"}})
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise AlreadyUsed("this request was recorded already (a re-delivered message)") from error
            raise

    @staticmethod
    def _item(approval: Approval) -> dict[str, Any]:
        return {
            "approval_id": string(approval.approval_id), "issue_id": string(approval.issue_id), "person": string(approval.person),
            "step": string(approval.step), "action": string(approval.action), "role": string(approval.role),
            "protocol": string(approval.protocol), "attempt": string(approval.attempt),
            "outcomes": {"L": [string(o) for o in approval.outcomes]}, "draft": string(approval.draft),
            "comment": string(approval.comment), "commented_by": string(approval.commented_by),
            "status": string(approval.status), "created_at": string(approval.created_at),
            "expires_at": {"N": str(approval.expires_at)}, "token_ref": string(approval.token_ref),
            "ttl": {"N": str(approval.expires_at + TTL_GRACE_SECONDS)},
            "channels": {"L": [string(c) for c in approval.channels]},
        }

    def get(self, approval_id: str) -> Approval | None:
        if approval_id.startswith("token#"):
            return None  # token items are not links
        item = client("dynamodb").get_item(TableName=self.table, Key={"approval_id": string(approval_id)},
                                           ConsistentRead=True).get("Item")
        if not item:
            return None
        return Approval(
            approval_id=approval_id, issue_id=item["issue_id"]["S"], person=item["person"]["S"],
            step=item["step"]["S"], action=item["action"]["S"], role=item["role"]["S"],
            protocol=item["protocol"]["S"], attempt=item["attempt"]["S"],
            outcomes=tuple(o["S"] for o in item["outcomes"]["L"]), draft=item["draft"]["S"],
            comment=item["comment"]["S"], commented_by=item["commented_by"]["S"], status=item["status"]["S"],
            created_at=item["created_at"]["S"], expires_at=int(item["expires_at"]["N"]),
            token_ref=item["token_ref"]["S"],
            channels=tuple(c["S"] for c in item.get("channels", {}).get("L", [])))

    def supersede_pending(self, issue_id: str, step: str, keep_token_ref: str) -> int:
        """A reminder or an escalation of a step retires the links of its earlier attempts."""
        dynamodb = client("dynamodb")
        answer = dynamodb.query(TableName=self.table, IndexName="by_issue",
                                KeyConditionExpression="issue_id = :issue",
                                ExpressionAttributeValues={":issue": string(issue_id)})
        retired = 0
        for item in answer["Items"]:
            if item["step"]["S"] == step and item["status"]["S"] == PENDING and item["token_ref"]["S"] != keep_token_ref:
                try:
                    dynamodb.update_item(TableName=self.table, Key={"approval_id": item["approval_id"]},
                                         UpdateExpression="SET #status = :superseded",
                                         ConditionExpression="#status = :pending",
                                         ExpressionAttributeNames={"#status": "status"},
                                         ExpressionAttributeValues={":superseded": string(SUPERSEDED),
                                                                    ":pending": string(PENDING)})
                    retired += 1
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    pass
        return retired

    def consume(self, approval: Approval, audit_item: dict[str, Any], audit_table: str, now: datetime) -> str:
        """Mark the link and its token used, append the audit event; returns the task token. Single use."""
        dynamodb = client("dynamodb")
        used = {":used": string(USED), ":pending": string(PENDING), ":at": string(now.astimezone(timezone.utc).isoformat()),
                ":by": string(approval.person)}
        update = "SET #status = :used, used_at = :at, used_by = :by"
        try:
            dynamodb.transact_write_items(TransactItems=[
                {"Update": {"TableName": self.table, "Key": {"approval_id": string(approval.approval_id)},
                            "UpdateExpression": update, "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status"}, "ExpressionAttributeValues": used}},
                {"Update": {"TableName": self.table, "Key": {"approval_id": string(approval.token_ref)},
                            "UpdateExpression": update, "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status"}, "ExpressionAttributeValues": used}},
                {"Put": {"TableName": audit_table, "Item": audit_item}},
            ])
        except dynamodb.exceptions.TransactionCanceledException as error:
            raise AlreadyUsed("this link was used, or its step has moved on") from error
        token = dynamodb.get_item(TableName=self.table, Key={"approval_id": string(approval.token_ref)},
                                  ConsistentRead=True)["Item"]
        return token["task_token"]["S"]

    def mark_callback_failed(self, approval: Approval, reason: str) -> None:
        client("dynamodb").update_item(TableName=self.table, Key={"approval_id": string(approval.approval_id)},
                                       UpdateExpression="SET callback_error = :reason",
                                       ExpressionAttributeValues={":reason": string(reason)})
