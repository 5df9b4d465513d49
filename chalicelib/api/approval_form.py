"""The approval page's form, as posted (``application/x-www-form-urlencoded``), validated into a domain
:class:`~chalicelib.domain.approval.Answer`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.approval import Answer
from chalicelib.domain.protocol_messages import CHANNELS


class ActForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    outcome: Literal["submitted", "approved", "rejected", "edited"]
    comment: str = Field(default="", max_length=4000)
    draft: str = Field(default="", max_length=5000)
    # One form field (the page's form handler keeps a field's first value): "public_reply", "private_reply" or
    # both, comma-separated. Deduplicated and put in CHANNELS order.
    channels: list[Literal["public_reply", "private_reply"]] = Field(default_factory=list)

    @field_validator("channels", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("channels")
    @classmethod
    def _in_order(cls, value: list[str]) -> list[str]:
        return [channel for channel in CHANNELS if channel in value]

    def answer(self) -> Answer:
        return Answer(outcome=self.outcome, comment=self.comment, draft=self.draft, channels=tuple(self.channels))
