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


# Stages that run on moto (``make run``, the tests): settings a deployment must give have local defaults there.
LOCAL_STAGES = ("local", "test")
# moto's account: the only account a local default may name.
LOCAL_ACCOUNT = "123456789012"


class MissingSetting(RuntimeError):
    """A deployed stage lacks a setting it cannot run without; nothing falls back to a local default there."""


def _setting(name: str, local_default: str) -> str:
    """``name`` from the environment; on a local stage, ``local_default`` when unset; elsewhere an error."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if stage() in LOCAL_STAGES:
        return local_default
    raise MissingSetting(
        f"{name} is not set for stage {stage()!r}: a deployed stage gets it from its function's environment "
        f"(.chalice/config.json stages.{stage()}.environment_variables, or the template made by make package); "
        f"it has no default outside {'/'.join(LOCAL_STAGES)}"
    )


def resource_name(suffix: str, stage_name: str | None = None) -> str:
    """``social-response-<stage>-<suffix>``: every table, queue, topic and bucket is named this way."""
    return f"{APP_NAME}-{stage_name or stage()}-{suffix}"


# The mention processor's SQS batches: Lambda gathers up to this many mentions, waiting at most the window for a
# batch to fill. A batch's surge counters are two writes and its dedup keys one read, whatever its size, so under
# load a larger batch costs less a mention; the window adds at most a second before a mention is triaged.
MENTION_BATCH_SIZE = 25
MENTION_BATCHING_WINDOW_SECONDS = 1

# Emailed approval links stay valid this long (and only until used, or until their step moves on).
LINK_TTL_SECONDS = 72 * 3600


def sender_email() -> str:
    """The verified SES identity approval emails come from."""
    return _setting("APPROVALS_FROM_EMAIL", "social-response@aurelle.example")


def public_base_url() -> str:
    """Where emailed links point: the API's public address (API Gateway's, or the local stack's)."""
    return _setting("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def ses_configuration_set() -> str | None:
    """The SES configuration set approval emails are sent with (the template's; optional: none locally)."""
    return os.environ.get("SES_CONFIGURATION_SET", "").strip() or None


def report_bucket() -> str:
    """The bucket weekly reports go to (deployed: the template's ``REPORT_BUCKET``; locally the template's name
    for moto's account and region)."""
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return _setting("REPORT_BUCKET", f"{resource_name('reports')}-{LOCAL_ACCOUNT}-{region}")


def protocol_time_scale() -> float:
    """Seconds per plan minute in the deployed state machines (60 in production; tests and demos shorten it)."""
    return float(os.environ.get("PROTOCOL_TIME_SCALE", "60"))


# No alert storms: past this many alerts in an hour, the rest wait for the hourly digest.
ALERTS_PER_HOUR = 20


def issues_stream_arn() -> str:
    """The issues table's stream. Deployed: set by the template (``ISSUES_STREAM_ARN``); locally the worker finds
    the live stream from the table name in this ARN."""
    return _setting(
        "ISSUES_STREAM_ARN",
        f"arn:aws:dynamodb:{os.environ.get('AWS_DEFAULT_REGION', 'us-east-1')}:{LOCAL_ACCOUNT}:table/"
        f"{resource_name('issues')}/stream/latest",
    )


# What a deployed function cannot start without (each read by one of the functions above).
REQUIRED_SETTINGS = {
    "PUBLIC_BASE_URL": public_base_url,
    "APPROVALS_FROM_EMAIL": sender_email,
    "ISSUES_STREAM_ARN": issues_stream_arn,
    "REPORT_BUCKET": report_bucket,
}


def check_required_settings() -> None:
    """Called when the app is imported (a Lambda's cold start): a deployed stage missing any required setting
    refuses to start, naming every one missing, instead of emailing links to 127.0.0.1 or an invented account."""
    missing = []
    for name, read in REQUIRED_SETTINGS.items():
        try:
            read()
        except MissingSetting:
            missing.append(name)
    if missing:
        raise MissingSetting(
            f"stage {stage()!r} cannot start: {', '.join(missing)} not set (a deployed stage gets "
            f"them from .chalice/config.json and the template of make package; see README, Deploy)"
        )


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
    issues_stream_dlq: str
    schedule_dlq: str
    publish_claims_table: str
    alerts_topic: str
    surveys_table: str
    recurrence_keys_table: str

    def state_machine(self, protocol: str) -> str:
        """The name of the state machine that runs ``protocol`` (one per protocol of the deployed plan)."""
        return f"{self.prefix}-protocol-{protocol.replace('_', '-')}"

    @classmethod
    def for_stage(cls, stage_name: str) -> Resources:
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
            issues_stream_dlq=resource_name("issues-stream-dlq", stage_name),
            schedule_dlq=resource_name("schedule-dlq", stage_name),
            publish_claims_table=resource_name("publish-claims", stage_name),
            alerts_topic=resource_name("alerts", stage_name),
            surveys_table=resource_name("surveys", stage_name),
            recurrence_keys_table=resource_name("recurrence-keys", stage_name),
        )


@lru_cache(maxsize=1)
def resources() -> Resources:
    return Resources.for_stage(stage())
