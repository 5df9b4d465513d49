"""Approval links and the task tokens they unlock, in DynamoDB.

One item per person per step (``approval_id``: the link's random id) and one per task token
(``approval_id = token#<sha256>``, listing its approvals' ids), written together. Acting consumes both in one
transaction: the approval item from ``pending`` to ``used`` and the token item likewise, so a second click, a
second person or a replayed POST finds them used and changes nothing. The same transaction records the answer's
callback as owed (``callback_owed``) until Step Functions has it: when it cannot be reached, the answer is not lost.
The link's next POST passes the recorded answer on, and so does the scheduled ``pass_on_owed_answers``, which finds
owed answers through a sparse index (``owed_callbacks``: only an item with an answer owed carries its key ``owed``).

Each approval item also carries the claim on its email (``send_*``, see ``outbox.SendClaims``): a redelivered
request finds the approvals it recorded (same ids, same links) and emails those whose email is not sent yet.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.aws import batch_get, client
from chalicelib.adapters.codec import string
from chalicelib.adapters.outbox import SEND_OWED, SENT, Claim, SendClaims
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.approval import PENDING, SUPERSEDED, USED, Approval, Recorded
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.links import token_reference
from chalicelib.services.errors import AlreadyUsed

__all__ = ["AlreadyUsed", "Approval", "DynamoApprovals", "PENDING", "Recorded"]

TTL_GRACE_SECONDS = 30 * 24 * 3600
OWED_INDEX = "owed_callbacks"  # sparse: only items with an answer owed carry its key
OWED_PARTITION = "callback"  # the index's one partition (answers are owed rarely and briefly: never a hot key)


class DynamoApprovals:
    """Implements :class:`chalicelib.services.ports.ApprovalStore`; acting appends its audit event to
    ``audit_table`` in the same transaction."""

    def __init__(self, table_name: str, audit_table: str) -> None:
        self.table = table_name
        self.audit_table = audit_table
        self.emails = SendClaims(table_name)

    def record_request(self, approvals: list[Approval], task_token: str, execution: str) -> None:
        """The token once (under its hash) and one approval per person, all or nothing."""
        token_ref = token_reference(task_token)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "approval_id": string(token_ref),
                        "task_token": string(task_token),
                        "status": string(PENDING),
                        "execution": string(execution),
                        "ttl": {"N": str(approvals[0].expires_at + TTL_GRACE_SECONDS)},
                        "approvals": {"L": [string(approval.approval_id) for approval in approvals]},
                    },
                    "ConditionExpression": "attribute_not_exists(approval_id)",
                }
            }
        ]
        for approval in approvals:
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._item(approval),
                        "ConditionExpression": "attribute_not_exists(approval_id)",
                    }
                }
            )
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
            "approval_id": string(approval.approval_id),
            "issue_id": string(approval.issue_id),
            "person": string(approval.person),
            "step": string(approval.step),
            "action": string(approval.action),
            "role": string(approval.role),
            "protocol": string(approval.protocol),
            "attempt": string(approval.attempt),
            "outcomes": {"L": [string(o) for o in approval.outcomes]},
            "draft": string(approval.draft),
            "comment": string(approval.comment),
            "commented_by": string(approval.commented_by),
            "status": string(approval.status),
            "created_at": string(approval.created_at),
            "expires_at": {"N": str(approval.expires_at)},
            "token_ref": string(approval.token_ref),
            "ttl": {"N": str(approval.expires_at + TTL_GRACE_SECONDS)},
            "channels": {"L": [string(c) for c in approval.channels]},
            "due_at": string(approval.due_at),
            "escalates_to": {"L": [string(p) for p in approval.escalates_to]},
            **SEND_OWED,  # its email
        }

    def recorded(self, task_token: str) -> Recorded:
        """The approvals recorded for a task token (by an earlier delivery of its message), in their order; none
        once someone acted on the step (nobody is owed an email for a step that is done)."""
        dynamodb = client("dynamodb")
        token = (
            dynamodb.get_item(
                TableName=self.table, Key={"approval_id": string(token_reference(task_token))}, ConsistentRead=True
            ).get("Item")
            or {}
        )
        if token.get("status", {}).get("S") != PENDING:
            return Recorded([], booked=True)
        ids = [value["S"] for value in token.get("approvals", {}).get("L", [])]
        wanted = [{"approval_id": string(i)} for i in ids]
        stored = batch_get(self.table, wanted, dynamodb, ConsistentRead=True)
        found = {item["approval_id"]["S"]: self._approval(item) for item in stored}
        return Recorded([found[i] for i in ids if i in found], booked="booked_at" in token)

    def mark_booked(self, token_ref: str, now: datetime) -> None:
        """The request's follow-ups are done: a redelivery skips them (fewer calls, so it rarely fails)."""
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"approval_id": string(token_ref)},
            UpdateExpression="SET booked_at = :now",
            ExpressionAttributeValues={":now": string(now.isoformat())},
        )

    def claim_email(self, approval: Approval, now: datetime) -> Claim | None:
        """Own the sending of this approval's email: ``None`` when it was sent already or the link is no longer
        pending (used, or its step moved on); ``SendInProgress`` while another delivery is sending it."""
        return self.emails.claim(
            {"approval_id": string(approval.approval_id)},
            now,
            only_if="#status = :pending",
            names={"#status": "status"},
            values={":pending": string(PENDING)},
        )

    def email_sent(self, claim: Claim) -> None:
        self.emails.done(claim)

    def email_failed(self, claim: Claim) -> None:
        self.emails.give_back(claim)

    def get(self, approval_id: str) -> Approval | None:
        if approval_id.startswith("token#"):
            return None  # token items are not links
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"approval_id": string(approval_id)}, ConsistentRead=True)
            .get("Item")
        )
        return self._approval(item) if item else None

    @staticmethod
    def _approval(item: dict[str, Any]) -> Approval:
        return Approval(
            approval_id=item["approval_id"]["S"],
            issue_id=item["issue_id"]["S"],
            person=item["person"]["S"],
            step=item["step"]["S"],
            action=item["action"]["S"],
            role=item["role"]["S"],
            protocol=item["protocol"]["S"],
            attempt=item["attempt"]["S"],
            outcomes=tuple(o["S"] for o in item["outcomes"]["L"]),
            draft=item["draft"]["S"],
            comment=item["comment"]["S"],
            commented_by=item["commented_by"]["S"],
            status=item["status"]["S"],
            created_at=item["created_at"]["S"],
            expires_at=int(item["expires_at"]["N"]),
            token_ref=item["token_ref"]["S"],
            channels=tuple(c["S"] for c in item.get("channels", {}).get("L", [])),
            emailed=item.get("send_state", {}).get("S") == SENT,
            due_at=item.get("due_at", {}).get("S", ""),
            escalates_to=tuple(p["S"] for p in item.get("escalates_to", {}).get("L", [])),
            callback_owed="callback_owed" in item,
        )

    def supersede_pending(self, issue_id: str, step: str, keep_token_ref: str, recorded_at: datetime) -> int:
        """A reminder or an escalation of a step retires the links of its earlier attempts: those recorded before
        ``recorded_at`` (so a late redelivery of an earlier attempt never retires a newer one's links)."""
        dynamodb = client("dynamodb")
        answer = dynamodb.query(
            TableName=self.table,
            IndexName="by_issue",
            KeyConditionExpression="issue_id = :issue",
            ExpressionAttributeValues={":issue": string(issue_id)},
        )
        retired = 0
        for item in answer["Items"]:
            earlier = datetime.fromisoformat(item["created_at"]["S"]) < recorded_at
            if (
                item["step"]["S"] == step
                and item["status"]["S"] == PENDING
                and item["token_ref"]["S"] != keep_token_ref
                and earlier
            ):
                try:
                    dynamodb.update_item(
                        TableName=self.table,
                        Key={"approval_id": item["approval_id"]},
                        UpdateExpression="SET #status = :superseded",
                        ConditionExpression="#status = :pending",
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues={":superseded": string(SUPERSEDED), ":pending": string(PENDING)},
                    )
                    retired += 1
                except dynamodb.exceptions.ConditionalCheckFailedException:
                    pass
        return retired

    def consume(self, approval: Approval, event: AuditEvent, callback: dict[str, Any], now: datetime) -> str:
        """Mark the link and its token used, append the audit event, and record the callback as owed until
        :meth:`callback_delivered`; returns the task token. Single use."""
        dynamodb = client("dynamodb")
        used = {
            ":used": string(USED),
            ":pending": string(PENDING),
            ":at": string(now.astimezone(timezone.utc).isoformat()),
            ":by": string(approval.person),
        }
        update = "SET #status = :used, used_at = :at, used_by = :by"
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"approval_id": string(approval.approval_id)},
                            "UpdateExpression": update + ", callback_owed = :callback, #owed = :owed",
                            "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status", "#owed": "owed"},
                            "ExpressionAttributeValues": {
                                **used,
                                ":callback": string(json.dumps(callback)),
                                ":owed": string(OWED_PARTITION),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"approval_id": string(approval.token_ref)},
                            "UpdateExpression": update,
                            "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": used,
                        }
                    },
                    {"Put": {"TableName": self.audit_table, "Item": audit_item(event)}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as error:
            raise AlreadyUsed("this link was used, or its step has moved on") from error
        return self._task_token(approval)

    def _task_token(self, approval: Approval) -> str:
        token = client("dynamodb").get_item(
            TableName=self.table, Key={"approval_id": string(approval.token_ref)}, ConsistentRead=True
        )["Item"]
        return token["task_token"]["S"]

    def owed_callback(self, approval: Approval) -> tuple[str, dict[str, Any]] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"approval_id": string(approval.approval_id)}, ConsistentRead=True)
            .get("Item", {})
        )
        owed = item.get("callback_owed", {}).get("S")
        return (self._task_token(approval), json.loads(owed)) if owed else None

    def owed_since(self, before: datetime) -> list[Approval]:
        """The approvals whose answer was recorded before ``before`` and is still owed to the protocol."""
        pages = (
            client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.table,
                IndexName=OWED_INDEX,
                KeyConditionExpression="#owed = :owed AND used_at < :before",
                ExpressionAttributeNames={"#owed": "owed"},
                ExpressionAttributeValues={
                    ":owed": string(OWED_PARTITION),
                    ":before": string(before.astimezone(timezone.utc).isoformat()),
                },
            )
        )
        return [self._approval(item) for page in pages for item in page["Items"]]

    def callback_delivered(self, approval: Approval) -> None:
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"approval_id": string(approval.approval_id)},
            UpdateExpression="REMOVE callback_owed, #owed",
            ExpressionAttributeNames={"#owed": "owed"},
        )

    def execution_of(self, approval: Approval) -> str:
        """The run recorded with the approval's task token (``record_request``); "" when it is not recorded."""
        token = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"approval_id": string(approval.token_ref)}, ConsistentRead=True)
            .get("Item", {})
        )
        return str(token.get("execution", {}).get("S", ""))

    def mark_callback_failed(self, approval: Approval, reason: str) -> None:
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"approval_id": string(approval.approval_id)},
            UpdateExpression="SET callback_error = :reason REMOVE callback_owed, #owed",
            ExpressionAttributeNames={"#owed": "owed"},
            ExpressionAttributeValues={":reason": string(reason)},
        )
