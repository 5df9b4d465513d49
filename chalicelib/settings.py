"""Where the app finds its resources: one naming rule shared by the code and by ``infra/``.

Names are derived from the stage (``STAGE``: local, test, dev, prod), so the Lambda needs no per-resource
environment variables and the CloudFormation template in ``infra/`` cannot drift from what the code expects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

APP_NAME = "social-response"

# Webhook bodies above this are refused with 413 before any parsing. SQS messages are at most 256 KiB, and a
# platform delivery is far smaller: 256 KiB leaves room for a large batched Meta delivery.
MAX_WEBHOOK_BYTES = 256 * 1024


def stage() -> str:
    return os.environ.get("STAGE", "local")


def resource_name(suffix: str, stage_name: str | None = None) -> str:
    """``social-response-<stage>-<suffix>``: every table, queue, topic and bucket is named this way."""
    return f"{APP_NAME}-{stage_name or stage()}-{suffix}"


def secret_parameter_name(name: str, stage_name: str | None = None) -> str:
    """SSM Parameter Store path of a secret, as CONTRACTS.md fixes it: ``/<app>/<stage>/<NAME>``."""
    return f"/{APP_NAME}/{stage_name or stage()}/{name}"


@dataclass(frozen=True)
class Resources:
    """Physical names of the stage's resources."""

    mentions_table: str
    issues_table: str
    issue_keys_table: str
    audit_table: str
    escalations_table: str
    plans_table: str
    ingest_queue: str
    ingest_dlq: str

    @classmethod
    def for_stage(cls, stage_name: str) -> "Resources":
        return cls(
            mentions_table=resource_name("mentions", stage_name),
            issues_table=resource_name("issues", stage_name),
            issue_keys_table=resource_name("issue-keys", stage_name),
            audit_table=resource_name("audit", stage_name),
            escalations_table=resource_name("escalations", stage_name),
            plans_table=resource_name("plans", stage_name),
            ingest_queue=resource_name("ingest", stage_name),
            ingest_dlq=resource_name("ingest-dlq", stage_name),
        )


@lru_cache(maxsize=1)
def resources() -> Resources:
    return Resources.for_stage(stage())
