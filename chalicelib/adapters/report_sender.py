"""The weekly report's email (SES, raw MIME: the charts inline by Content-ID) and its SNS announcement, each
claimed once per key with :class:`chalicelib.adapters.outbox.SendClaims` on the alerts table (items
``report#<week>#email#<recipient>`` and ``report#<week>#sns``): a re-run of the week, or a redelivered schedule,
sends nothing twice; a failed send gives its claim back so the next run sends it."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from chalicelib.adapters.alerts import topic_arn
from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.outbox import SendClaims
from chalicelib.domain.text_safety import subject_line
from chalicelib.settings import Resources, ses_configuration_set

CLAIM_TTL = timedelta(days=400)  # as long as the reports themselves


def report_email(sender: str, to: str, subject: str, text: str, html: str, inline: dict[str, bytes]) -> bytes:
    """``multipart/alternative`` (plain text, then ``multipart/related``: the HTML and its PNGs, each
    ``Content-ID: <name>`` and ``Content-Disposition: inline``), which Gmail and Outlook render with the images."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject_line(subject)  # a line break: ValueError
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)  # the part add_alternative made
    for cid, png in sorted(inline.items()):
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid}.png", disposition="inline"
        )
    return message.as_bytes()


class SesSnsReportSender:
    def __init__(self, names: Resources, sender: str, configuration_set: str | None = None) -> None:
        self.sender = sender
        self.topic = names.alerts_topic
        self.claims = SendClaims(names.alerts_table)
        self.configuration_set = configuration_set or ses_configuration_set()

    def _once(self, key: str, now: datetime, send) -> bool:
        claim = self.claims.claim(
            {"pk": string(key)},
            now,
            sets={"kind": string("weekly_report"), "ttl": number(int((now + CLAIM_TTL).timestamp()))},
        )
        if claim is None:
            return False
        try:
            send()
        except Exception:
            self.claims.give_back(claim)
            raise
        self.claims.done(claim)
        return True

    def email_once(
        self, key: str, to: str, subject: str, text: str, html: str, inline: dict[str, bytes], now: datetime
    ) -> bool:
        raw = report_email(self.sender, to, subject, text, html, inline)
        extra = {"ConfigurationSetName": self.configuration_set} if self.configuration_set else {}
        return self._once(
            key,
            now,
            lambda: client("ses").send_raw_email(
                Source=self.sender, Destinations=[to], RawMessage={"Data": raw}, **extra
            ),
        )

    def announce_once(self, key: str, subject: str, message: str, now: datetime) -> bool:
        # SNS subjects: ASCII, no line breaks, at most 100 characters
        plain = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:100]
        return self._once(
            key,
            now,
            lambda: client("sns").publish(
                TopicArn=topic_arn(self.topic),
                Subject=plain,
                Message=message,
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "weekly_report"}},
            ),
        )
