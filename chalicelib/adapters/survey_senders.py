"""How a survey reaches its author: by email (SES, multipart) when the author's address is known, else as a reply
on the platform (a private reply or DM where the platform has one, a line under the public reply otherwise).

Locally, and until the platforms' posting APIs take survey messages, a reply goes to the outbox table like the
approved replies (``outbox.OutboxPublisher``): its id derives from the survey, so a repeated send finds it there
instead of posting twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.attributes import string
from chalicelib.adapters.aws import client
from chalicelib.adapters.email import SesEmail
from chalicelib.domain.survey import EMAIL, Survey


class SesSurveySender:
    def __init__(self, email: SesEmail) -> None:
        self.email = email

    def send(self, survey: Survey, subject: str, text: str, html: str) -> str:
        if not survey.contact:
            raise ValueError("an email survey needs the author's address")
        return self.email.send(survey.contact, subject, text, html)


class OutboxSurveySender:
    """A survey reply in the outbox: ``channel`` is ``survey_private_reply`` or ``survey_public_reply``."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def send(self, survey: Survey, subject: str, text: str, html: str) -> str:
        outbox_id = "srv-" + hashlib.sha256(survey.survey_id.encode()).hexdigest()[:16]
        now = datetime.now(timezone.utc)
        item: dict[str, Any] = {
            "outbox_id": string(outbox_id), "issue_id": string(survey.issue_id), "platform": string(survey.platform),
            "in_reply_to": string(survey.reply_to), "recipient": string(survey.recipient),
            "channel": string(f"survey_{survey.channel}"), "text": string(text),
            "approved_by": string("system:surveys"),
            "published_at": string(now.isoformat()), "published_day": string(now.date().isoformat())}
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(outbox_id)")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # posted by an earlier attempt whose answer was lost
        return outbox_id


class SurveyChannels:
    """Chooses the sender by the survey's channel."""

    def __init__(self, email: SesSurveySender, replies: OutboxSurveySender) -> None:
        self.email, self.replies = email, replies

    def send(self, survey: Survey, subject: str, text: str, html: str) -> str:
        return (self.email if survey.channel == EMAIL else self.replies).send(survey, subject, text, html)
