"""Where the app finds its resources: one naming rule shared by the code and by ``infra/``.

Names are derived from the stage (``STAGE``: local, test, dev, prod), so the Lambda needs no per-resource
environment variables and the CloudFormation template in ``infra/`` cannot drift from what the code expects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

# Webhook bodies above this are refused with 413 before any parsing; it lives with the other input bounds.
from chalicelib.domain.limits import MAX_WEBHOOK_BYTES  # noqa: F401 (re-exported for the ingest service)

APP_NAME = "social-response"


def stage() -> str:
    return os.environ.get("STAGE", "local")


def resource_name(suffix: str, stage_name: str | None = None) -> str:
    """``social-response-<stage>-<suffix>``: every table, queue, topic and bucket is named this way."""
    return f"{APP_NAME}-{stage_name or stage()}-{suffix}"


# Emailed approval links stay valid this long (and only until used, or until their step moves on).
LINK_TTL_SECONDS = 72 * 3600


def sender_email() -> str:
    """The verified SES identity approval emails come from."""
    return os.environ.get("APPROVALS_FROM_EMAIL", "social-response@aurelle.example")


def public_base_url() -> str:
    """Where emailed links point: the API's public address (API Gateway's, or the local stack's)."""
    return os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def protocol_time_scale() -> float:
    """Seconds per plan minute in the deployed state machines (60 in production; tests and demos shorten it)."""
    return float(os.environ.get("PROTOCOL_TIME_SCALE", "60"))


# No alert storms: past this many alerts in an hour, the rest wait for the hourly digest.
ALERTS_PER_HOUR = 20


def issues_stream_arn() -> str:
    """The issues table's stream. Deployed: set by the template (``ISSUES_STREAM_ARN``); locally the worker finds
    the live stream from the table name in this ARN."""
    return os.environ.get("ISSUES_STREAM_ARN") or (
        f"arn:aws:dynamodb:{os.environ.get('AWS_DEFAULT_REGION', 'us-east-1')}:123456789012:table/"
        f"{resource_name('issues')}/stream/latest")


def secret_parameter_name(name: str, stage_name: str | None = None) -> str:
    """SSM Parameter Store path of a secret, as CONTRACTS.md fixes it: ``/<app>/<stage>/<NAME>``."""
    return f"/{APP_NAME}/{stage_name or stage()}/{name}"


@dataclass(frozen=True)
class Resources:
    """Physical names of the stage's resources."""

    prefix: str
    mentions_table: str
    issues_table: str
    issue_keys_table: str
    audit_table: str
    escalations_table: str
    plans_table: str
    approvals_table: str
    outbox_table: str
    surges_table: str
    alerts_table: str
    ops_tokens_table: str
    ingest_queue: str
    ingest_dlq: str
    approval_queue: str
    approval_dlq: str
    publish_queue: str
    publish_dlq: str
    alerts_topic: str

    def state_machine(self, protocol: str) -> str:
        """The name of the state machine that runs ``protocol`` (one per protocol of the deployed plan)."""
        return f"{self.prefix}-protocol-{protocol.replace('_', '-')}"

    @classmethod
    def for_stage(cls, stage_name: str) -> "Resources":
        return cls(
            prefix=f"{APP_NAME}-{stage_name}",
            mentions_table=resource_name("mentions", stage_name),
            issues_table=resource_name("issues", stage_name),
            issue_keys_table=resource_name("issue-keys", stage_name),
            audit_table=resource_name("audit", stage_name),
            escalations_table=resource_name("escalations", stage_name),
            plans_table=resource_name("plans", stage_name),
            approvals_table=resource_name("approvals", stage_name),
            outbox_table=resource_name("outbox", stage_name),
            surges_table=resource_name("surges", stage_name),
            alerts_table=resource_name("alerts", stage_name),
            ops_tokens_table=resource_name("ops-tokens", stage_name),
            ingest_queue=resource_name("ingest", stage_name),
            ingest_dlq=resource_name("ingest-dlq", stage_name),
            approval_queue=resource_name("approval-requests", stage_name),
            approval_dlq=resource_name("approval-requests-dlq", stage_name),
            publish_queue=resource_name("publish-requests", stage_name),
            publish_dlq=resource_name("publish-requests-dlq", stage_name),
            alerts_topic=resource_name("alerts", stage_name),
        )


@lru_cache(maxsize=1)
def resources() -> Resources:
    return Resources.for_stage(stage())
