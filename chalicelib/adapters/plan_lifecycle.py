"""A stored plan version's life after upload: activated again, retired, reviewed. Same items as
``adapters/plans.py`` (``pk = "plan"``, ``sk = "v00000001"`` ..., ``sk = "active"`` the pointer); each change and
its audit event (audit table, under ``issue_id = "plan"``) are written in one transaction. Retired versions keep
their document and YAML, so they stay readable for the audit trail."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import string
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.plan_upkeep import PlanVersionConflict, PlanVersionMissing

PLAN_KEY = {"pk": string("plan")}
POINTER = {**PLAN_KEY, "sk": string("active")}


def _version_key(version: int) -> dict[str, Any]:
    return {**PLAN_KEY, "sk": string(f"v{version:08d}")}


class DynamoPlanLifecycle:
    def __init__(self, plans_table: str, audit_table: str) -> None:
        self.table = plans_table
        self.audit_table = audit_table

    def get(self, version: int) -> dict[str, Any] | None:
        """The stored version: status, who uploaded and reviewed it, its YAML and its document (a dict)."""
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key=_version_key(version), ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return None
        found = plain_item(item)
        found["version"] = int(found["version"])
        found["document"] = json.loads(found["document"])
        found["yaml"] = found.pop("source_yaml", "")
        return found

    def active_version(self) -> int | None:
        pointer = client("dynamodb").get_item(TableName=self.table, Key=POINTER, ConsistentRead=True).get("Item")
        return int(pointer["version"]["N"]) if pointer else None

    def _audit(self, event: AuditEvent) -> dict[str, Any]:
        return {"Put": {"TableName": self.audit_table, "Item": audit_item(event)}}

    def _transact(self, items: list[dict[str, Any]], conflict: str) -> None:
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException:
            raise PlanVersionConflict(conflict) from None

    def activate(self, version: int, event: AuditEvent) -> int | None:
        """Make ``version`` the active one (the active one before is retired); the version it replaced, or None
        when it was active already (nothing written)."""
        if self.get(version) is None:
            raise PlanVersionMissing(f"no plan version {version}")
        previous = self.active_version()
        if previous == version:
            return None
        at = string(event.at.isoformat())
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _version_key(version),
                    "UpdateExpression": "SET #s = :active, activated_at = :at REMOVE retired_at",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":active": string("active"), ":at": at},
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {**POINTER, "version": {"N": str(version)}, "since": at},
                    **(
                        {
                            "ConditionExpression": "version = :previous",
                            "ExpressionAttributeValues": {":previous": {"N": str(previous)}},
                        }
                        if previous
                        else {"ConditionExpression": "attribute_not_exists(pk)"}
                    ),
                }
            },
            self._audit(event),
        ]
        if previous:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _version_key(previous),
                        "UpdateExpression": "SET #s = :retired, retired_at = :at",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":retired": string("retired"), ":at": at},
                    }
                }
            )
        self._transact(items, "another version was activated meanwhile; read the versions again")
        return previous or 0

    def retire(self, version: int, event: AuditEvent) -> bool:
        """Mark a version that is not the active one retired (kept, readable); False when it was already."""
        found = self.get(version)
        if found is None:
            raise PlanVersionMissing(f"no plan version {version}")
        if self.active_version() == version:
            raise PlanVersionConflict(f"version {version} is the active plan: activate another version first")
        if found["status"] == "retired":
            return False
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _version_key(version),
                        "UpdateExpression": "SET #s = :retired, retired_at = :at",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":retired": string("retired"),
                            ":at": string(event.at.isoformat()),
                        },
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": POINTER,
                        "ConditionExpression": "version <> :v",
                        "ExpressionAttributeValues": {":v": {"N": str(version)}},
                    }
                },
                self._audit(event),
            ],
            f"version {version} became the active plan meanwhile",
        )
        return True

    def record_review(self, version: int, reviewed_by: str, reviewed_on: date, event: AuditEvent) -> None:
        """The version's review block says who reviewed it and when (its document too: the active plan read by
        triage and the upkeep schedule carries the new date)."""
        found = self.get(version)
        if found is None:
            raise PlanVersionMissing(f"no plan version {version}")
        document = found["document"]
        document["review"] = {
            **document.get("review", {}),
            "reviewed_by": reviewed_by,
            "reviewed_on": reviewed_on.isoformat(),
        }
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _version_key(version),
                        "UpdateExpression": "SET reviewed_by = :by, reviewed_on = :on, document = :doc",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {
                            ":by": string(reviewed_by),
                            ":on": string(reviewed_on.isoformat()),
                            ":doc": string(json.dumps(document)),
                        },
                    }
                },
                self._audit(event),
            ],
            f"plan version {version} changed meanwhile; try again",
        )


class OnceMailer:
    """SES email claimed once per key in the alerts table (``sent#<key>``), like the alerts themselves: a re-run
    of the monthly schedule, or a retry after a crash, never sends a reminder twice."""

    KEEP_DAYS = 400

    def __init__(self, alerts_table: str, email: Any) -> None:
        from chalicelib.adapters.outbox import SendClaims

        self.claims = SendClaims(alerts_table)
        self.email = email

    def send_once(self, key: str, to: str, subject: str, text: str, html: str, now: datetime) -> bool:
        from datetime import timedelta

        from chalicelib.adapters.codec import number

        claim = self.claims.claim(
            {"pk": string(f"sent#{key}")},
            now,
            sets={
                "kind": string("review_reminder"),
                "at": string(now.isoformat()),
                "ttl": number(int((now + timedelta(days=self.KEEP_DAYS)).timestamp())),
            },
        )
        if claim is None:
            return False
        try:
            self.email.send(to, subject, text, html)
        except Exception:
            self.claims.give_back(claim)
            raise
        self.claims.done(claim)
        return True
