"""Email through SES (moto locally: sent mail is readable at ``/moto-api/data.json``)."""

from __future__ import annotations

from chalicelib.adapters.aws import client


class SesEmail:
    def __init__(self, sender: str) -> None:
        self.sender = sender

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        answer = client("ses").send_email(
            Source=self.sender, Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}}})
        return answer["MessageId"]
