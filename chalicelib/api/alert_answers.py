"""What the alerts and dead-letter routes (:mod:`chalicelib.api.ops_views`) parse and answer; loaded by a handler or
``/openapi.json``, not with the app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AlertsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=500)


class StoredAlert(BaseModel):
    key: str = Field(description="what the alert is about: <issue or queue>#<kind>[#<scope>]")
    kind: str | None
    at: str | None
    state: str | None = Field(description="sent, deferred (in the hour's digest), owed or sending")


class AlertList(BaseModel):
    items: list[StoredAlert]


class DeadLetter(BaseModel):
    message_id: str
    queue: str
    sent_at: str | None
    receive_count: int
    failure: str | None
    ids: dict[str, str | int] = Field(description="the body's ids; the body itself is never shown")


class DeadLetterQueue(BaseModel):
    queue: str
    source: str | None = Field(description="where a redrive sends its messages (null: none)")
    messages: list[DeadLetter]


class DeadLetterList(BaseModel):
    items: list[DeadLetterQueue]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str = Field(min_length=1, max_length=80)
    message_id: str | None = Field(None, min_length=1, max_length=100, description="one message; absent: all")


class Redriven(BaseModel):
    queue: str
    moved: int
