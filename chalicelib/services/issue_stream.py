"""The issues table's stream records, read through Powertools' ``DynamoDBStreamEvent``: one reader for the two
use cases that follow the stream (starting protocols, raising alerts), so neither parses DynamoDB images by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent


@dataclass(frozen=True)
class IssueChange:
    """One stream record: what happened (``INSERT``, ``MODIFY``, ``REMOVE``) and the issue before and after."""

    event: str
    new: dict[str, Any]
    old: dict[str, Any]
    source_arn: str

    def now(self, name: str) -> str | None:
        """An attribute of the issue after the change, as text (``None`` when absent or empty)."""
        return _text(self.new, name)

    def before(self, name: str) -> str | None:
        """An attribute of the issue before the change, as text (``None`` when absent or empty)."""
        return _text(self.old, name)


def _text(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name)
    return None if value is None or value == "" else str(value)


def issue_changes(records: list[dict[str, Any]]) -> Iterator[IssueChange]:
    """Each record of a stream batch (the Lambda event's ``Records``) as an :class:`IssueChange`."""
    for record in DynamoDBStreamEvent({"Records": records}).records:
        images = record.dynamodb
        yield IssueChange(
            event=record.event_name.name if record.event_name else "",
            new=(images.new_image if images else None) or {},
            old=(images.old_image if images else None) or {},
            source_arn=record.event_source_arn or "",
        )
