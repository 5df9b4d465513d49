"""Email through SES (moto locally: sent mail is readable at ``/moto-api/data.json``)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.settings import ses_configuration_set


class SesEmail:
    """Sends as ``sender``, with the stage's SES configuration set when it has one (``SES_CONFIGURATION_SET``, set
    by the template): bounces and complaints are then measured per stage."""

    def __init__(self, sender: str, configuration_set: str | None = None) -> None:
        self.sender = sender
        self.configuration_set = configuration_set or ses_configuration_set()

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        extra: dict[str, Any] = {"ConfigurationSetName": self.configuration_set} if self.configuration_set else {}
        answer = client("ses").send_email(
            Source=self.sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
            },
            **extra,
        )
        return answer["MessageId"]
