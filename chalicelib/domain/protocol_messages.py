"""The messages a protocol run exchanges with the services, defined once: the Step Functions compiler builds its
states' message bodies from these models (``adapters/stepfunctions/compiler.py``, which checks every body against
its model) and the services parse the queue messages and write the callbacks with them.

* :class:`StepRequest`: a waiting step asks people (approval queue, ``.waitForTaskToken``);
* :class:`PublishRequest`: the approved reply goes out (publish queue, ``.waitForTaskToken``);
* :class:`StepCallback` / :class:`PublishCallback`: what ``send_task_success`` hands back to the run.

Also the actor and channel names both sides write.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Actors on the audit trail that are not people.
SYSTEM_PROTOCOL = "system:protocol"
SYSTEM_PUBLISHER = "system:publisher"

# Where a reply can go, in the order they are published and shown.
PUBLIC_REPLY = "public_reply"
PRIVATE_REPLY = "private_reply"
CHANNELS = (PUBLIC_REPLY, PRIVATE_REPLY)

# Attempts of a waiting step.
INITIAL, REMINDER, ESCALATED, ESCALATED_REMINDER = "initial", "reminder", "escalated", "escalated_reminder"

# The error a publish callback fails the run's Publish task with when no channel could be published.
PUBLISH_REFUSED_ERROR = "Publish.Refused"


class ExecutionInput(BaseModel):
    """What ``start_protocols`` starts a run with."""

    model_config = ConfigDict(extra="ignore")

    issue_id: str
    category: str
    protocol: str
    plan_version: int = 0


class StepRequest(BaseModel):
    """The approval-queue message of a waiting step."""

    model_config = ConfigDict(extra="ignore")

    issue_id: str
    category: str
    plan_version: int = 0
    protocol: str
    step: str
    action: str
    role: str
    people: list[str] = Field(min_length=1)  # as compiled at deploy: the handler asks the active plan's
    # whom this attempt asks: the step's people or its backup; None from a definition deployed before it was sent
    # (a run keeps the definition it started on), whose lists are used as they are
    audience: Literal["people", "backup"] | None = None
    attempt: str
    sla_minutes: int
    timeout_seconds: int = 0  # how long the run waits for this attempt (0: the plan minutes, unscaled)
    escalates_to: list[str] = Field(default_factory=list)  # who gets the step when this attempt times out
    outcomes: list[str]
    comment: str = ""
    commented_by: str = ""
    draft: str = ""
    channels: list[str] = Field(default_factory=list)  # drafting steps: the protocol's current choice
    task_token: str
    execution: str

    def wait_seconds(self) -> int:
        return self.timeout_seconds or self.sla_minutes * 60


class PublishRequest(BaseModel):
    """The publish-queue message: the approved reply and where it goes."""

    model_config = ConfigDict(extra="ignore")

    issue_id: str
    category: str = ""
    plan_version: int = 0
    protocol: str
    channels: list[str]
    draft: str
    approved_by: str = ""
    task_token: str
    execution: str


class StepCallback(BaseModel):
    """A person's answer to a step (``$.last`` in the run). ``channels`` is ``[]`` unless a drafting step chose."""

    outcome: str
    actor: str
    comment: str = ""
    draft: str = ""
    channels: list[str] = Field(default_factory=list)


class PublishCallback(BaseModel):
    """The publisher's answer (``$.published`` in the run): how many channels went out, and their posts."""

    published: int
    posts: list[str] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)  # "<channel>: <reason>" for the channels that did not go out
