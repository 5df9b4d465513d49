"""Response plans: the bundled default, and the versioned store of uploaded plans.

In DynamoDB every uploaded version is kept (``pk = "plan"``, ``sk = "v00000001"`` ...) with its status (active or
retired) and who uploaded it; ``sk = "active"`` points at the active version. An upload validates the plan first
and then, in one transaction, adds the new version (numbered after the highest stored, which after a rollback to
an older version is not the active one), retires the active one and moves the pointer.
The YAML of the active version uploaded again (a retry) writes nothing and answers that version, and a plan whose
document would not read back as the store reads it is refused before anything is written.
Triage reads the active plan through a per-process cache of :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.domain.plan import ResponsePlan, check_reads_back, check_stored_size, load_plan_yaml, parse_plan
from chalicelib.services.errors import PlanConflict

DEFAULT_PLAN = Path(__file__).resolve().parents[1] / "plans" / "default.yaml"
CACHE_SECONDS = 60
BUNDLED_VERSION = 0


@lru_cache(maxsize=1)
def bundled_plan() -> ResponsePlan:
    return load_plan_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"))


class BundledPlanSource:
    """The plan shipped in the package (offline CLI, tests, and a stage nobody has uploaded a plan to)."""

    def active(self) -> tuple[ResponsePlan, int]:
        return bundled_plan(), BUNDLED_VERSION


def _version_key(version: int) -> str:
    return f"v{version:08d}"


class DynamoPlanStore:
    def __init__(self, table_name: str, fallback: BundledPlanSource | None = None) -> None:
        self.table_name = table_name
        self.fallback = fallback or BundledPlanSource()
        self._cached: tuple[float, ResponsePlan, int] | None = None

    def active(self) -> tuple[ResponsePlan, int]:
        if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
            return self._cached[1], self._cached[2]
        plan, version = self._read_active()
        self._cached = (time.monotonic(), plan, version)
        return plan, version

    def _read_active(self) -> tuple[ResponsePlan, int]:
        dynamodb = client("dynamodb")
        pointer = dynamodb.get_item(
            TableName=self.table_name, Key={"pk": string("plan"), "sk": string("active")}, ConsistentRead=True
        ).get("Item")
        if not pointer:
            return self.fallback.active()
        version = int(pointer["version"]["N"])
        item = dynamodb.get_item(
            TableName=self.table_name, Key={"pk": string("plan"), "sk": string(_version_key(version))}
        )["Item"]
        return parse_plan(json.loads(item["document"]["S"]), stored=True), version

    def upload(self, plan_yaml: str, uploaded_by: str) -> int:
        """Validate and activate a new version; the previous one is kept, marked retired. Returns the version.
        A plan with problems raises :class:`PlanError`, one too large to store :class:`PlanTooLarge`. The YAML of
        the active version again (a retry) writes nothing and returns that version (:meth:`upload_once`)."""
        return self.upload_once(plan_yaml, uploaded_by)[0]

    def upload_once(self, plan_yaml: str, uploaded_by: str) -> tuple[int, bool]:
        """:meth:`upload`, and whether it stored a new version: ``(version, False)`` when ``plan_yaml`` is the
        active version's YAML exactly (an upload retried after a timeout, or run twice), which writes nothing."""
        plan = load_plan_yaml(plan_yaml)  # raises PlanError naming every problem: nothing is written
        check_stored_size(plan, plan_yaml)  # PlanTooLarge: one item holds the YAML and its document
        check_reads_back(plan)  # PlanError: stored, it could not be read as the active plan
        dynamodb = client("dynamodb")
        pointer = dynamodb.get_item(
            TableName=self.table_name, Key={"pk": string("plan"), "sk": string("active")}, ConsistentRead=True
        ).get("Item")
        previous = int(pointer["version"]["N"]) if pointer else 0
        if pointer and self._source_yaml(dynamodb, previous) == plan_yaml:
            return previous, False
        # The next number after the highest stored, not after the active one: after a rollback to an older version
        # (POST /plans/{v}/activate) active + 1 is taken. The Put below stays conditional on the number being free,
        # so two uploads at once never share one: the slower is refused (PlanConflict) and may upload again.
        version = max(self._highest_version(dynamodb), previous) + 1
        now = datetime.now(timezone.utc).isoformat()
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "Item": {
                        "pk": string("plan"),
                        "sk": string(_version_key(version)),
                        "version": number(version),
                        "status": string("active"),
                        "brand": string(plan.brand),
                        "uploaded_by": string(uploaded_by),
                        "uploaded_at": string(now),
                        "reviewed_by": string(plan.review.reviewed_by),
                        "reviewed_on": string(plan.review.reviewed_on.isoformat()),
                        "document": string(plan.model_dump_json()),
                        "source_yaml": string(plan_yaml),
                    },
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "pk": string("plan"),
                        "sk": string("active"),
                        "version": number(version),
                        "since": string(now),
                    },
                    **(
                        {
                            "ConditionExpression": "version = :previous",
                            "ExpressionAttributeValues": {":previous": number(previous)},
                        }
                        if pointer
                        else {"ConditionExpression": "attribute_not_exists(pk)"}
                    ),
                }
            },
        ]
        if pointer:
            items.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": string("plan"), "sk": string(_version_key(previous))},
                        "UpdateExpression": "SET #status = :retired, retired_at = :now",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":retired": string("retired"), ":now": string(now)},
                    }
                }
            )
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            raise PlanConflict(
                f"version {version} was taken by another upload, or another version was activated meanwhile; try again"
            ) from error
        self._cached = None
        return version, True

    def _source_yaml(self, dynamodb, version: int) -> str | None:
        """The YAML version ``version`` was uploaded as (None: no such version)."""
        item = dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": string("plan"), "sk": string(_version_key(version))},
            ProjectionExpression="source_yaml",
            ConsistentRead=True,
        ).get("Item")
        return item["source_yaml"]["S"] if item and "source_yaml" in item else None

    def _highest_version(self, dynamodb) -> int:
        """The highest stored version number (0: none yet): one strongly consistent Query, newest first."""
        newest = dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :plan AND begins_with(sk, :v)",
            ExpressionAttributeValues={":plan": string("plan"), ":v": string("v")},
            ProjectionExpression="version",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        return int(newest[0]["version"]["N"]) if newest else 0

    def versions(self) -> list[dict]:
        """Every stored version's listing (not its YAML or document), through every page of the Query: a page stops
        after 1 MB of items read, counted in full whatever the projection, so a few versions of a large plan fill
        one."""
        query = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :plan AND begins_with(sk, :v)",
            "ExpressionAttributeValues": {":plan": string("plan"), ":v": string("v")},
            "ProjectionExpression": "version, #status, uploaded_by, uploaded_at, reviewed_by, reviewed_on",
            "ExpressionAttributeNames": {"#status": "status"},
        }
        dynamodb, found = client("dynamodb"), []
        while True:
            answer = dynamodb.query(**query)
            found += [
                {
                    "version": int(item["version"]["N"]),
                    "status": item["status"]["S"],
                    "uploaded_by": item["uploaded_by"]["S"],
                    "uploaded_at": item["uploaded_at"]["S"],
                    "reviewed_by": item["reviewed_by"]["S"],
                    "reviewed_on": item["reviewed_on"]["S"],
                }
                for item in answer["Items"]
            ]
            if "LastEvaluatedKey" not in answer:
                return found
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
