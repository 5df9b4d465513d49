"""Alerts on SNS, with DynamoDB keeping them to one per event and a bounded number per hour.

Items of the alerts table (``pk``; ``ttl`` lets DynamoDB clean up):

* ``sent#<issue_id>#<kind>[#<scope>]``: the alert's send claim (``outbox.SendClaims``: ``sending``, then ``sent``
  or ``deferred``), taken before publishing, so a stream retry or the next scheduled check never sends an alert
  twice. A failed publish gives the claim back (and its count in the hour); a check that died mid-publish leaves
  a lease that the next check or retry takes over once it is over.
* ``hour#<YYYY-MM-DDTHH>``: ``raised`` (atomic ``ADD``) counts the hour's alerts; past the cap the alert is
  appended to ``digest`` instead of published. The item's own send claim is the one digest for that hour; a
  digest still owed (its run failed) is found by the next hourly runs (:meth:`SnsAlerts.owed_digests`).

The topic is configured by name (``Resources.alerts_topic``); its ARN is built once per process from the
caller's account and the client's region, which needs no ``sns:ListTopics`` and works on moto too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from chalicelib.adapters.aws import batch_get, client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.outbox import OWED, SENDING, SendClaims
from chalicelib.domain.alerts import (
    Alert,
    compact,
    digest_alert,
    from_compact,
    hour_key,
    message_attributes,
    message_body,
    subject_line,
)
from chalicelib.domain.index_shards import STATUS_CATEGORY_SHARDS, index_key_values, status_category
from chalicelib.settings import ALERTS_PER_HOUR, Resources

SENT_TTL = timedelta(days=90)  # longer than any issue stays open with a running SLA clock
HOUR_TTL = timedelta(days=7)


@cache
def topic_arn(name: str) -> str:
    """``arn:aws:sns:<region>:<account>:<name>``, resolved once per process."""
    account = client("sts").get_caller_identity()["Account"]
    return f"arn:aws:sns:{client('sns').meta.region_name}:{account}:{name}"


class SnsAlerts:
    """Raise alerts (deduplicated, capped per hour) and send the hourly digest of the ones held back."""

    def __init__(self, names: Resources, per_hour: int = ALERTS_PER_HOUR) -> None:
        self.table = names.alerts_table
        self.topic_name = names.alerts_topic
        self.per_hour = per_hour
        self.claims = SendClaims(names.alerts_table)

    def raise_alert(self, alert: Alert, now: datetime) -> str:
        """``sent``, ``duplicate`` (this event was alerted already) or ``deferred`` (cap reached: in the digest).
        Raises ``SendInProgress`` while another run is sending it, and whatever the publish raised (the claim
        is given back: the next check or retry sends it)."""
        claim = self.claims.claim(
            {"pk": string(f"sent#{alert.dedup_key}")},
            now,
            sets={
                "kind": string(alert.kind.value),
                "at": string(now.isoformat()),
                "ttl": number(int((now + SENT_TTL).timestamp())),
            },
        )
        if claim is None:
            return "duplicate"
        try:
            outcome = self._send_or_defer(alert, now)
        except Exception:
            self.claims.give_back(claim)
            raise
        self.claims.done(claim, outcome)
        return outcome

    def _send_or_defer(self, alert: Alert, now: datetime) -> str:
        hour = hour_key(now)
        if self._count(hour, 1, now) > self.per_hour:
            self._defer(hour, alert)
            return "deferred"
        try:
            self._publish(alert, now)
        except Exception:
            self._count(hour, -1, now)  # not raised after all: the retry counts it
            raise
        return "sent"

    def _count(self, hour: str, change: int, now: datetime) -> int:
        """Add ``change`` to the hour's count of raised alerts; the new count."""
        counted = client("dynamodb").update_item(
            TableName=self.table,
            Key={"pk": string(f"hour#{hour}")},
            UpdateExpression="ADD raised :change SET #ttl = if_not_exists(#ttl, :ttl)",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":change": number(change), ":ttl": number(int((now + HOUR_TTL).timestamp()))},
            ReturnValues="UPDATED_NEW",
        )
        return int(counted["Attributes"]["raised"]["N"])

    def _defer(self, hour: str, alert: Alert) -> None:
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"pk": string(f"hour#{hour}")},
                UpdateExpression="SET digest = list_append(if_not_exists(digest, :empty), :alert), "
                "send_state = if_not_exists(send_state, :owed)",  # the digest is owed now
                ExpressionAttributeValues={
                    ":empty": {"L": []},
                    ":alert": {"L": [string(compact(alert))]},
                    ":owed": string(OWED),
                },
            )
        except dynamodb.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":  # the 400 KB item is full
                raise
            dynamodb.update_item(
                TableName=self.table,
                Key={"pk": string(f"hour#{hour}")},
                UpdateExpression="ADD dropped :one",
                ExpressionAttributeValues={":one": number(1)},
            )

    def send_digest(self, hour: str, now: datetime) -> str:
        """One ``digest`` message for the hour's deferred alerts: ``sent``, ``duplicate`` or ``empty``.

        The hour item's send claim is taken first, conditionally, and returns the list: two runs cannot both
        send, a failed publish gives the claim back, and a run that died mid-publish is taken over by a later one.
        """
        dynamodb = client("dynamodb")
        key = {"pk": string(f"hour#{hour}")}
        claim = self.claims.claim(key, now, only_if="attribute_exists(digest)")
        if claim is None:
            current = dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item") or {}
            return "duplicate" if current.get("send_state", {}).get("S") not in (None, OWED) else "empty"
        deferred = [from_compact(value["S"]) for value in claim.item.get("digest", {}).get("L", [])]
        dropped = int(claim.item.get("dropped", {}).get("N", "0"))
        try:
            self._publish(digest_alert(hour, deferred, dropped), now)
        except Exception:
            self.claims.give_back(claim)
            raise
        self.claims.done(claim)
        return "sent"

    def owed_digests(self, hours: list[str]) -> list[str]:
        """Those of ``hours`` whose digest is still owed, in their order: its run failed (the claim was given back)
        or died mid-publish (``sending``: its lease is taken over once over). One strongly consistent read of
        their hour items (``send_state`` is set on an hour item only once an alert is held back in it)."""
        keys = [{"pk": string(f"hour#{hour}")} for hour in dict.fromkeys(hours)]
        stored = batch_get(self.table, keys, ProjectionExpression="pk, send_state", ConsistentRead=True)
        owed = {
            item["pk"]["S"].removeprefix("hour#")
            for item in stored
            if item.get("send_state", {}).get("S") in (OWED, SENDING)
        }
        return [hour for hour in hours if hour in owed]

    def _publish(self, alert: Alert, now: datetime) -> None:
        client("sns").publish(
            TopicArn=topic_arn(self.topic_name),
            Subject=subject_line(alert),
            Message=message_body(alert, now),
            MessageAttributes=message_attributes(alert),
        )


class DynamoLiveIssues:
    """The issues of a status and category, from the issues table's ``by_status_category`` index (full items):
    every shard of the status and category's partition, one after the other, all pages, in no order. The SLA check
    reads the live ones of each category; the weekly report and ``GET /metrics/summary`` also read the settled ones
    (``adapters/issues_table.py``, ``DynamoIssues.live_or_settled_since``)."""

    def __init__(self, names: Resources, shards: int = STATUS_CATEGORY_SHARDS) -> None:
        self.table = names.issues_table
        self.shards = shards

    def with_status(self, status: str, category: str, settled_since_day: str | None = None) -> Iterator[dict[str, Any]]:
        """With ``settled_since_day`` (a UTC day, ``YYYY-MM-DD``), only the issues resolved or closed on that day or
        after (``resolved_at`` or ``closed_at``: UTC ISO times, compared as text, so any time of the day counts)."""
        from chalicelib.adapters.mentions_table import plain_item

        for value in index_key_values(status_category(status, category), self.shards):
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "by_status_category",
                "KeyConditionExpression": "status_category = :sc",
                "ExpressionAttributeValues": {":sc": string(value)},
            }
            if settled_since_day is not None:
                request["FilterExpression"] = "resolved_at >= :day OR closed_at >= :day"
                request["ExpressionAttributeValues"][":day"] = string(settled_since_day)
            while True:
                answer = client("dynamodb").query(**request)
                yield from (plain_item(item) for item in answer["Items"])
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


class SqsQueueDepths:
    """The monitoring's view of the queues: how many messages wait."""

    def depth(self, queue_name: str) -> int:
        return sqs_queue_depth(queue_name)


def sqs_queue_depth(queue_name: str) -> int:
    """``ApproximateNumberOfMessages`` of a queue (visible messages: what waits in a dead-letter queue)."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
