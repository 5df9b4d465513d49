"""How a survey reaches its author: by email (SES, multipart) when the author's address is known, else as a reply
to the mention the issue's reply answered (a private reply or DM where the platform has one, a line under the
public reply otherwise), through the reply publisher: the platform's API exactly once where the platform is
switched on (``PUBLISH_TO_PLATFORMS``), the outbox table locally and for the others. The post is keyed by the
survey (``run`` = ``survey-<id>``), so a repeated send finds it instead of posting twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.email import SesEmail
from chalicelib.domain.publishing import ChannelPost, Next, ReplyTarget
from chalicelib.domain.survey import (
    EMAIL,
    ONE_PUBLIC_REPLY,
    PUBLIC_REPLY,
    SYSTEM_SURVEYS,
    Survey,
    SurveyUndeliverable,
    reply_with_line,
)
from chalicelib.domain.text_safety import subject_line
from chalicelib.services.ports import ReplyPublisher


class SurveyNotSentYet(RuntimeError):
    """The platform could not take it now (rate limit, outage, timeout): the claim is given back, a later run
    sends it."""


# SES's answers about the message itself: sending it again can never work (an address SES will not take, a
# message it rejects). Throttling, outages and our own configuration are not among them: those are retried.
SES_REFUSES_THE_MESSAGE = ("InvalidParameterValue", "MessageRejected")


class SesSurveySender:
    def __init__(self, email: SesEmail) -> None:
        self.email = email

    def send(self, survey: Survey, mention: dict[str, Any], subject: str, text: str, html: str, now: datetime) -> str:
        from botocore.exceptions import ClientError

        if not survey.contact:
            raise SurveyUndeliverable("an email survey needs the author's address")
        try:
            return self.email.send(survey.contact, subject_line(subject), text, html)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in SES_REFUSES_THE_MESSAGE:
                raise SurveyUndeliverable(f"SES refused it: {code}") from error
            raise


class ReplySurveySender:
    """A survey as a reply on the survey's channel, through the reply publisher (``bootstrap.reply_publisher``)."""

    def __init__(self, publisher: ReplyPublisher) -> None:
        self.publisher = publisher

    def send(self, survey: Survey, mention: dict[str, Any], subject: str, text: str, html: str, now: datetime) -> str:
        target = (
            ReplyTarget.from_mention(mention)
            if mention
            else ReplyTarget(platform=survey.platform, external_id=survey.reply_to)
        )
        if target.platform in ONE_PUBLIC_REPLY and survey.channel == PUBLIC_REPLY:
            text = reply_with_line(self._published_reply(survey), text)
        post = ChannelPost(
            issue_id=survey.issue_id,
            run=f"survey-{survey.survey_id}",
            channel=survey.channel,
            text=text,
            approved_by=SYSTEM_SURVEYS,
            target=target,
            category=survey.category,
        )
        result = self.publisher.publish(post, now)
        if result.next is Next.DONE:
            return result.platform_id or "posted"
        if result.next is Next.RETRY:
            raise SurveyNotSentYet(f"{result.reason.value}: {result.detail}")
        raise SurveyUndeliverable(f"{result.reason.value}: {result.detail}".rstrip(": "))

    def _published_reply(self, survey: Survey) -> str:
        """The reply a person approved on the survey's issue, which a platform with one reply keeps only if the
        survey's post repeats it."""
        for sent in self.publisher.replies_for(survey.issue_id):
            if sent.get("channel") == PUBLIC_REPLY and not str(sent.get("approved_by", "")).startswith("system:"):
                return str(sent.get("text") or "")
        raise SurveyUndeliverable(
            f"{survey.platform} keeps one reply per item and the issue's published reply was not found: the survey "
            "line is not posted alone, which would replace it"
        )


class SurveyChannels:
    """Chooses the sender by the survey's channel."""

    def __init__(self, email: SesSurveySender, replies: ReplySurveySender) -> None:
        self.email, self.replies = email, replies

    def send(self, survey: Survey, mention: dict[str, Any], subject: str, text: str, html: str, now: datetime) -> str:
        sender = self.email if survey.channel == EMAIL else self.replies
        return sender.send(survey, mention, subject, text, html, now)
