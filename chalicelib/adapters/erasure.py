"""Erasure on DynamoDB: every table of the stage (each ``*_table`` of :class:`Resources`, so a table added there,
such as the surveys table, is covered without a change here), scanned and redacted item by item.

Where an author's data sits (attributes as the other adapters write them):

* mentions: ``text``, ``title``, ``url``, ``author_id``, ``author_handle``, ``author_name``, ``author_followers``,
  ``author_verified``: the author's own items keep only their identity, classification and issue (so a platform's
  re-delivery is still recognised and stores nothing again); other people's mentions quoting the author are
  redacted;
* issue keys: the author's dedup keys (``author#<platform>#<author>#<subject>``) and conversation claims
  (``conv#<platform>#...`` whose ``author`` is the author): deleted; recurrence keys: ``author#<platform>#<author>``
  deleted, the others' ``author`` redacted;
* issues (``description`` quotes the first mention and its author), escalation cases (``summary``), the audit
  trail (``details``, JSON), approvals, outbox (``recipient``, reply ``text``), surges (linked mentions), alerts,
  surveys (``author``, ``recipient``, ``contact``): string attributes (JSON inside strings too) redacted of the
  author's handles, names and texts (``domain/erasure.redact_item``).

Key attributes are never rewritten (DynamoDB cannot): an item whose key is the author's (by the key's layout, never
because some ``#``-part of it equals the id) is deleted instead. Enumerations and ids (``platform``, ``status``,
``category`` ...) and other authors' identities are never rewritten.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import attribute, string
from chalicelib.adapters.mentions_table import ERASED, plain_item
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.erasure import REDACTED, ErasureNeedles, redact_document, redact_item
from chalicelib.domain.issues import AuditEvent
from chalicelib.settings import Resources, report_bucket

PERSONAL_MENTION_ATTRIBUTES = (
    "text",
    "title",
    "url",
    "author_id",
    "author_handle",
    "author_name",
    "author_followers",
    "author_verified",
)


# Tables of configuration, not of what authors wrote: the plan (staff names, rules) and the ops tokens.
REPORTS_PREFIX = "reports/"  # services/reports.week_prefix: reports/<yyyy-Www>/
NOT_PERSONAL = frozenset({"plans_table", "ops_tokens_table"})


def stage_tables(names: Resources) -> dict[str, str]:
    """Every table of the stage that may hold what an author wrote: ``Resources`` field name -> physical name."""
    return {
        f.name: getattr(names, f.name)
        for f in dataclasses.fields(names)
        if f.name.endswith("_table") and f.name not in NOT_PERSONAL
    }


class DynamoErasure:
    def __init__(self, names: Resources) -> None:
        self.names = names

    def _scan(self, table: str, **request: Any):
        for page in client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True, **request):
            yield from page["Items"]

    def author_mentions(self, platform: str, author_id: str) -> list[dict[str, Any]]:
        found = []
        for item in self._scan(
            self.names.mentions_table,
            FilterExpression=(
                "platform = :p AND (author_id = :a OR (attribute_not_exists(author_id) AND author_handle = :a))"
            ),
            ExpressionAttributeValues={":p": string(platform), ":a": string(author_id)},
        ):
            plain = plain_item(item)
            found.append(
                {
                    "key": plain["pk"],
                    "text": " ".join(str(plain.get(name) or "") for name in ("title", "text") if plain.get(name)),
                    "handle": plain.get("author_handle"),
                    "name": plain.get("author_name"),
                    "issue_id": plain.get("issue_id"),
                }
            )
        return found

    def _key_names(self, table: str) -> list[str]:
        schema = client("dynamodb").describe_table(TableName=table)["Table"]["KeySchema"]
        return [part["AttributeName"] for part in schema]

    def redact_everywhere(self, needles: ErasureNeedles, keep_partition: str) -> dict[str, int]:
        dynamodb = client("dynamodb")
        existing = set()
        for page in dynamodb.get_paginator("list_tables").paginate():
            existing.update(page["TableNames"])
        changed: dict[str, int] = {}
        for field, table in stage_tables(self.names).items():
            if table not in existing:
                continue  # a table this stage does not have (yet)
            keys = self._key_names(table)
            count = 0
            for item in self._scan(table):
                plain = plain_item(item)
                key = {name: item[name] for name in keys}
                if table == self.names.audit_table and plain.get("issue_id") == keep_partition:
                    continue
                if table == self.names.mentions_table and needles.is_authors_mention(plain):
                    continue  # the author's own mentions (those stored meanwhile too): erase_mentions, last
                if needles.owns_key_of(plain, keys):
                    dynamodb.delete_item(TableName=table, Key=key)
                    count += 1
                    continue
                sets = redact_item(plain, needles, keys)
                if sets:
                    names = {f"#a{i}": name for i, name in enumerate(sets)}
                    values = {f":v{i}": attribute(value) for i, value in enumerate(sets.values())}
                    assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(sets)))
                    dynamodb.update_item(
                        TableName=table,
                        Key=key,
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=values,
                        UpdateExpression="SET " + assignments,
                    )
                    count += 1
            if count:
                changed[field.removesuffix("_table")] = count
        return changed

    def redact_reports(self, needles: ErasureNeedles) -> int:
        """Reports already written (``REPORT_BUCKET``, ``reports/``): each HTML, CSV or JSON file that names the
        author is written again redacted, and its earlier versions (the bucket keeps them 30 days) are deleted.
        Charts hold counts only. The number of files changed; none when the bucket does not exist."""
        s3 = client("s3")
        bucket = report_bucket()
        kinds = {".html": "html", ".csv": "csv", ".json": "json"}
        changed = 0
        try:
            pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REPORTS_PREFIX))
        except s3.exceptions.NoSuchBucket:
            return 0
        for page in pages:
            for listed in page.get("Contents", []):
                key = listed["Key"]
                kind = next((k for suffix, k in kinds.items() if key.endswith(suffix)), None)
                if kind is None:
                    continue
                stored = s3.get_object(Bucket=bucket, Key=key)
                text = stored["Body"].read().decode("utf-8")
                cleaned = redact_document(text, needles, kind)
                if cleaned == text:
                    continue
                written = s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=cleaned.encode("utf-8"),
                    ContentType=stored.get("ContentType") or "application/octet-stream",
                    ServerSideEncryption="AES256",
                    CacheControl="private, no-store",
                )
                self._forget_versions(bucket, key, keep=written.get("VersionId"))
                changed += 1
        return changed

    @staticmethod
    def _forget_versions(bucket: str, key: str, keep: str | None) -> None:
        """Every version of ``key`` but ``keep`` (the redacted one). An unversioned bucket kept nothing earlier."""
        if keep is None:
            return
        s3 = client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if version["Key"] == key and version["VersionId"] != keep:
                    s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])

    def erase_mentions(self, keys: list[str], erased_at: datetime) -> int:
        dynamodb = client("dynamodb")
        erased = 0
        for key in keys:
            names = {f"#r{i}": name for i, name in enumerate(PERSONAL_MENTION_ATTRIBUTES)}
            try:
                dynamodb.update_item(
                    TableName=self.names.mentions_table,
                    Key={"pk": string(key)},
                    UpdateExpression="SET erased_at = :at, #erased = :erased REMOVE " + ", ".join(names),
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={**names, "#erased": ERASED},
                    ExpressionAttributeValues={":at": string(erased_at.isoformat()), ":erased": string(REDACTED)},
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                continue
            erased += 1
        return erased

    def record(self, events: list[AuditEvent]) -> None:
        for event in events:
            client("dynamodb").put_item(TableName=self.names.audit_table, Item=audit_item(event))
