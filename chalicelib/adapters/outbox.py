"""What goes out: the claims that send each outward message once, and where an approved reply goes.

:class:`SendClaims`: every message sent outside (an approval email per person and step, an SNS alert, the hourly
digest) is claimed first with a conditional write on its item, so two deliveries of one queue message or two
overlapping checks never both send it. Three attributes hold the claim:

* ``send_state``: ``owed`` (recorded, not sent yet), ``sending`` while a sender owns it, then ``sent`` (or another
  final word, e.g. ``deferred``). An item that does not exist yet is owed; one that exists without a state (an
  item written before claims, or one that sends nothing) is not claimable;
* ``send_lease``: epoch seconds until which the ``sending`` owner is alive (see :data:`SEND_LEASE_SECONDS`);
* ``send_claim``: the owner's random id, so a slow owner never gives back a claim that someone took over.

A failed send gives the claim back (``owed`` again: the redelivered message sends it). A sender that dies between
claim and send leaves ``sending``: once the lease is over, the next delivery takes the claim over and sends. A
redelivery after ``sent`` sends nothing. Only a death between the send and its ``sent`` mark can send twice (at
least once: SES and SNS take no idempotency key).

:class:`OutboxPublisher`: every reply that goes out is a row of the outbox table (what ``make run`` prints, what
the e2e tests and the responder's page read). For a platform not switched on (``PUBLISH_TO_PLATFORMS``; none
locally) the row *is* the post, written conditionally, so it needs no separate claim; for one switched on, the
platform publisher posts under its own claim and the row records the platform's id and time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import string
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.domain.publishing import ChannelPost, PublishResult, done
from chalicelib.observability import logger
from chalicelib.services.errors import SendInProgress

# The Lambda timeout (.chalice/config.json ``lambda_timeout``): Lambda ends a sender by then, so a ``sending``
# claim older than this belongs to a dead process. Shorter than the queues' visibility timeout, so an SQS
# redelivery always finds a dead sender's lease over.
SEND_LEASE_SECONDS = 60
OWED, SENDING, SENT = "owed", "sending", "sent"
SEND_OWED = {"send_state": {"S": OWED}}  # written with an item whose message is still to send
SETTLE_ATTEMPTS, SETTLE_BACKOFF_SECONDS = 5, 0.05  # at most 0.75 s more to write a claim's outcome


@dataclass(frozen=True)
class Claim:
    """An owned claim; ``item`` is the claimed item after the claim (``ALL_NEW``)."""

    key: dict[str, Any]
    owner: str
    item: dict[str, Any]


class SendClaims:
    """Claims on the items of one table (see the module docstring)."""

    def __init__(self, table_name: str, lease_seconds: int = SEND_LEASE_SECONDS) -> None:
        self.table = table_name
        self.lease_seconds = lease_seconds

    def claim(
        self,
        key: dict[str, Any],
        now: datetime,
        *,
        only_if: str = "",
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        sets: dict[str, Any] | None = None,
    ) -> Claim | None:
        """Own the send of ``key``'s item: a :class:`Claim`, or ``None`` when there is nothing to send (sent
        already, not owed, or ``only_if`` does not hold). Raises :class:`SendInProgress` while a live owner holds it.

        ``only_if`` is an extra condition on the item (its ``values`` and ``names``); ``sets`` are attributes written
        with the claim. A missing item is created, unless ``only_if`` asks for an attribute of it.
        """
        dynamodb = client("dynamodb")
        owner = secrets.token_hex(8)
        moment = int(now.timestamp())
        condition = (
            "(attribute_not_exists(#key) OR send_state = :owed OR (send_state = :sending AND send_lease < :now))"
        )
        assignments = {
            "send_state": string(SENDING),
            "send_lease": {"N": str(moment + self.lease_seconds)},
            "send_claim": string(owner),
            **(sets or {}),
        }
        aliases = {f"#a{n}": name for n, name in enumerate(assignments)}
        try:
            answer = dynamodb.update_item(
                TableName=self.table,
                Key=key,
                ReturnValues="ALL_NEW",
                UpdateExpression="SET " + ", ".join(f"{alias} = :v{n}" for n, alias in enumerate(aliases)),
                ConditionExpression=f"({only_if}) AND {condition}" if only_if else condition,
                ExpressionAttributeNames={**aliases, "#key": next(iter(key)), **(names or {})},
                ExpressionAttributeValues={
                    **{f":v{n}": value for n, value in enumerate(assignments.values())},
                    ":owed": string(OWED),
                    ":sending": string(SENDING),
                    ":now": {"N": str(moment)},
                    **(values or {}),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as refused:
            held = refused.response.get("Item") or {}
            if held.get("send_claim", {}).get("S") == owner:
                # Our own write: its answer was lost (a timeout after DynamoDB applied it) and botocore's retry
                # then found the claim taken, by us.
                return Claim(key=key, owner=owner, item=held)
            if held.get("send_state", {}).get("S") == SENDING and int(held["send_lease"]["N"]) >= moment:
                raise SendInProgress(
                    f"another delivery is sending this (lease until {held['send_lease']['N']})"
                ) from refused
            return None
        return Claim(key=key, owner=owner, item=answer["Attributes"])

    def done(self, claim: Claim, state: str = SENT) -> bool:
        """The message went out (``sent``) or was otherwise dealt with for good (e.g. ``deferred``). False when
        the mark could not be written: the message is out, but its claim still says ``sending`` and is taken over
        (sent again) once its lease is over."""
        return self.settle(
            claim, "SET send_state = :state REMOVE send_lease", {":state": string(state)}, "sent, but not marked sent"
        )

    def give_back(self, claim: Claim) -> bool:
        """The send failed: ``owed`` again, for the next delivery. Never takes back a claim someone took over.
        False when it could not be written: the claim then waits for its lease to end before it is sent."""
        return self.settle(
            claim,
            "SET send_state = :owed REMOVE send_lease, send_claim",
            {":owed": string(OWED)},
            "send failed, and its claim was not given back",
        )

    def settle(
        self, claim: Claim, update: str, values: dict[str, Any], failure: str, names: dict[str, str] | None = None
    ) -> bool:
        """Write a claim's outcome, retrying past botocore's own retries: a claim left ``sending`` costs a second
        send (after a send) or a lease's wait (after a failure). Only while the claim is still this owner's. False
        when it could not be written (logged as ``failure``) or the claim was taken over."""
        from botocore.exceptions import BotoCoreError, ClientError

        dynamodb = client("dynamodb")
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                dynamodb.update_item(
                    TableName=self.table,
                    Key=claim.key,
                    UpdateExpression=update,
                    ConditionExpression="send_claim = :owner",
                    ExpressionAttributeValues={":owner": string(claim.owner), **values},
                    **({"ExpressionAttributeNames": names} if names else {}),
                )
                return True
            except dynamodb.exceptions.ConditionalCheckFailedException:
                return False  # taken over meanwhile (this owner outlived its lease): the new owner settles it
            except (BotoCoreError, ClientError):
                if attempt + 1 < SETTLE_ATTEMPTS:
                    time.sleep(SETTLE_BACKOFF_SECONDS * 2**attempt)
        logger.error(failure, extra={"table": self.table})
        return False


class OutboxPublisher:
    """The sent replies: the post itself for platforms published to locally (``publish``), the record of a post
    a platform took (``record_sent``). One row per protocol run and channel, written conditionally."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @staticmethod
    def outbox_id(post: ChannelPost) -> str:
        return "out-" + hashlib.sha256(f"{post.run}|{post.channel}".encode()).hexdigest()[:16]

    def publish(self, post: ChannelPost, now: datetime) -> PublishResult:
        """Posts one reply once: a redelivered publish message finds its reply already there (``repeat``)."""
        published_at = now.astimezone(timezone.utc)
        earlier = self._put(post, published_at, {"delivered_to": string("outbox")})
        if earlier is not None:
            return done(self.outbox_id(post), earlier).as_repeat()
        return done(self.outbox_id(post), published_at)

    def record_sent(self, post: ChannelPost, result: PublishResult, now: datetime) -> None:
        """Keep a reply the platform took (its id and time), once."""
        extra = {"delivered_to": string("platform")}
        if result.platform_id:
            extra["platform_id"] = string(result.platform_id)
        self._put(post, (result.published_at or now).astimezone(timezone.utc), extra)

    def _put(self, post: ChannelPost, published_at: datetime, extra: dict[str, Any]) -> datetime | None:
        """Write the row; ``None``, or the first time when it was there already."""
        target = post.target
        item = {
            "outbox_id": string(self.outbox_id(post)),
            "issue_id": string(post.issue_id),
            "platform": string(target.platform),
            "in_reply_to": string(target.external_id),
            "recipient": string(target.author_handle or ""),
            "channel": string(post.channel),
            "text": string(post.text),
            "approved_by": string(post.approved_by),
            "category": string(post.category),
            "topic": string(post.topic),
            "products": string(",".join(post.products)),
            "published_at": string(published_at.isoformat()),
            # by_day's partition key, one value a day and not write-sharded: unlike the issues table's day index,
            # no mention writes here, only a reply a person approved (or a survey line after a resolution), so the
            # day's partition takes what responders publish, far under DynamoDB's 1,000 writes a second.
            "published_day": string(published_at.date().isoformat()),
            **extra,
        }
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(outbox_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as posted:
            earlier = (posted.response.get("Item") or {}).get("published_at", {}).get("S")
            return datetime.fromisoformat(earlier) if earlier else published_at
        return None

    def replies_for(self, issue_id: str) -> list[dict[str, Any]]:
        """The replies sent on an issue, newest first (``text``, ``channel``, ``approved_by``, ``published_at`` ...),
        survey lines included."""
        pages = (
            client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.table,
                IndexName="by_issue",
                KeyConditionExpression="issue_id = :issue",
                ExpressionAttributeValues={":issue": string(issue_id)},
                ScanIndexForward=False,
            )
        )
        return [plain_item(item) for page in pages for item in page["Items"]]

    def recent(self, now: datetime, days: int = 7, limit: int = 200) -> list[dict[str, Any]]:
        """Replies people approved in the last days, newest first (for the canned-reply warning and the replies on
        similar issues); posts the system sent itself (a survey's line, ``approved_by`` ``system:...``) are left
        out."""
        out: list[dict[str, Any]] = []
        for back in range(days):
            day = (now - timedelta(days=back)).date().isoformat()
            answer = client("dynamodb").query(
                TableName=self.table,
                IndexName="by_day",
                KeyConditionExpression="published_day = :d",
                ScanIndexForward=False,
                ExpressionAttributeValues={":d": string(day)},
                Limit=limit,
            )
            out += [
                plain_item(item)
                for item in answer["Items"]
                if not item.get("approved_by", {}).get("S", "").startswith("system:")
            ]
            if len(out) >= limit:
                break
        return out[:limit]
