"""Publish claims in DynamoDB: one item per post that must happen once (``claim_id``, a string hash key).

An item moves ``attempting`` → ``published`` | ``settled`` (final, nothing posted) | ``released`` (certainly not
posted, retry) | ``uncertain`` (may have posted: read back first). Every write after the first is conditional on
``attempts`` (the fencing token), so a worker whose lease ran out cannot overwrite the one that took over.
``lease_until`` bounds how long an ``attempting`` claim blocks others (a Lambda that died mid-post) and, on a released
claim, when the retry may happen (a rate limit's reset). ``ttl`` lets DynamoDB forget claims after 90 days.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.domain.publishing import (
    ChannelPost,
    Claim,
    ClaimStatus,
    Next,
    PublishResult,
    Reason,
)

ATTEMPTING = "attempting"
KEEP_DAYS = 90


def _epoch(at: datetime) -> int:
    return math.ceil(at.timestamp())  # rounded up: a stored retry time is never earlier than the one named


def _from_epoch(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=timezone.utc) if value else None


def _result_of(item: dict[str, Any]) -> PublishResult | None:
    raw = item.get("result", {}).get("S")
    if not raw:
        return None
    data = json.loads(raw)
    when = {
        name: datetime.fromisoformat(data[name]) if data.get(name) else None for name in ("published_at", "retry_at")
    }
    return PublishResult(
        Next(data["next"]),
        Reason(data["reason"]),
        detail=data.get("detail", ""),
        platform_id=data.get("platform_id"),
        http_status=data.get("http_status"),
        ambiguous=bool(data.get("ambiguous")),
        published_at=when["published_at"],
        retry_at=when["retry_at"],
    )


def _result_attribute(result: PublishResult) -> dict[str, str]:
    return string(json.dumps({**result.to_dict(), "ambiguous": result.ambiguous}, sort_keys=True))


class DynamoPublishClaims:
    """Implements :class:`chalicelib.services.ports.PublishClaims`."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def begin(self, claim_id: str, request: ChannelPost, now: datetime, lease_seconds: int) -> Claim:
        dynamodb = client("dynamodb")
        item = {
            "claim_id": string(claim_id),
            "state": string(ATTEMPTING),
            "attempts": number(1),
            "run": string(request.run),
            "issue_id": string(request.issue_id),
            "platform": string(request.target.platform),
            "target_id": string(request.target.external_id),
            "channel": string(request.channel),
            "approved_by": string(request.approved_by),
            "first_attempt_at": string(now.isoformat()),
            "updated_at": string(now.isoformat()),
            "lease_until": number(_epoch(now + timedelta(seconds=lease_seconds))),
            "ttl": number(_epoch(now + timedelta(days=KEEP_DAYS))),
        }
        try:
            dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(claim_id)")
            return Claim(
                claim_id, ClaimStatus.NEW, 1, now, request.run, lease_until=now + timedelta(seconds=lease_seconds)
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        stored = dynamodb.get_item(TableName=self.table, Key={"claim_id": string(claim_id)}, ConsistentRead=True)[
            "Item"
        ]
        return self._claim(stored, now)

    def _claim(self, item: dict[str, Any], now: datetime) -> Claim:
        state = item["state"]["S"]
        lease = _from_epoch(item.get("lease_until", {}).get("N"))
        if state == ATTEMPTING:
            # Held, unless its lease ran out: then the holder died mid-post and may or may not have posted.
            status = ClaimStatus.BUSY if lease and lease > now else ClaimStatus.UNCERTAIN
        else:
            status = ClaimStatus(state)
        return Claim(
            item["claim_id"]["S"],
            status,
            int(item["attempts"]["N"]),
            datetime.fromisoformat(item["first_attempt_at"]["S"]),
            item["run"]["S"],
            lease_until=lease,
            result=_result_of(item),
        )

    def take_over(self, claim: Claim, request: ChannelPost, now: datetime, lease_seconds: int) -> Claim | None:
        dynamodb = client("dynamodb")
        lease = now + timedelta(seconds=lease_seconds)
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"claim_id": string(claim.claim_id)},
                UpdateExpression="SET #state = :attempting, attempts = :next, lease_until = :lease, #run = :run, "
                "issue_id = :issue, updated_at = :now",
                ConditionExpression="attempts = :seen AND #state IN (:attempting, :released, :uncertain, :settled)",
                ExpressionAttributeNames={"#state": "state", "#run": "run"},
                ExpressionAttributeValues={
                    ":attempting": string(ATTEMPTING),
                    ":released": string(ClaimStatus.RELEASED.value),
                    ":uncertain": string(ClaimStatus.UNCERTAIN.value),
                    ":settled": string(ClaimStatus.SETTLED.value),
                    ":next": number(claim.token + 1),
                    ":seen": number(claim.token),
                    ":lease": number(_epoch(lease)),
                    ":run": string(request.run),
                    ":issue": string(request.issue_id),
                    ":now": string(now.isoformat()),
                },
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return Claim(
            claim.claim_id, claim.status, claim.token + 1, claim.first_attempt_at, request.run, lease_until=lease
        )

    def _finish(
        self,
        claim: Claim,
        state: str,
        result: PublishResult,
        now: datetime,
        extra: dict[str, dict[str, str]] | None = None,
        lease_until: datetime | None = None,
    ) -> bool:
        dynamodb = client("dynamodb")
        names = {"#state": "state"}
        values = {
            ":state": string(state),
            ":result": _result_attribute(result),
            ":now": string(now.isoformat()),
            ":token": number(claim.token),
        }
        sets = ["#state = :state", "#result = :result", "updated_at = :now"]
        names["#result"] = "result"
        for index, (name, value) in enumerate((extra or {}).items()):
            names[f"#x{index}"], values[f":x{index}"] = name, value
            sets.append(f"#x{index} = :x{index}")
        if lease_until is not None:
            sets.append("lease_until = :lease")
            values[":lease"] = number(_epoch(lease_until))
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"claim_id": string(claim.claim_id)},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attempts = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False  # another worker took the claim over meanwhile; its record wins
        return True

    def record_published(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        extra = {}
        if result.platform_id:
            extra["platform_id"] = string(result.platform_id)
        if result.published_at:
            extra["published_at"] = string(result.published_at.astimezone(timezone.utc).isoformat())
        self._finish(claim, ClaimStatus.PUBLISHED.value, result, now, extra)

    def settle(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        self._finish(claim, ClaimStatus.SETTLED.value, result, now)

    def release(self, claim: Claim, result: PublishResult, now: datetime) -> None:
        state = (
            ClaimStatus.UNCERTAIN if result.ambiguous or claim.status is ClaimStatus.UNCERTAIN else ClaimStatus.RELEASED
        )
        self._finish(claim, state.value, result, now, lease_until=result.retry_at or now)

    def get(self, claim_id: str) -> dict[str, Any] | None:
        """The stored item (plain strings), for tests and the ops view."""
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"claim_id": string(claim_id)}, ConsistentRead=True)
            .get("Item")
        )
        return {name: next(iter(value.values())) for name, value in item.items()} if item else None


# The table ``infra/template.py`` needs (the lead adds it as ``publish-claims``); tests create it from this too.
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": "claim_id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "claim_id", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}
