"""The checkov checks a resource is exempt from, each with its reason, written into the packaged template.

checkov reads ``Metadata.checkov.skip`` on each resource and reports each skip with its comment
(``make lint-infra`` lists them). The table is by resource type, so every exception is named once, whichever
tool generated the resource (Chalice's functions, log groups and API, or ``infra/template.py``).
"""

from __future__ import annotations

from typing import Any

_NO_CMK = (
    "encrypted at rest with an AWS-managed key; a customer-managed KMS key would add a key policy "
    "to keep right in every user's account and a per-key and per-request cost, for no reader we need to "
    "keep out"
)

SKIPS: dict[str, dict[str, str]] = {
    "AWS::Serverless::Function": {
        "CKV_AWS_116": "no asynchronous caller needs a function DLQ: the API is synchronous, the queue and stream "
        "handlers fail into their queues' DLQs and the stream's on-failure queue, and the scheduled "
        "ones have an on-failure destination (EventInvokeConfig) and an EventBridge DLQ",
        "CKV_AWS_117": "no VPC: the functions reach only AWS APIs (IAM-authorised, TLS) and the platforms' public "
        "APIs; a VPC would add NAT gateways (~$32/month each) and cold-start latency for nothing "
        "private to reach",
        "CKV_AWS_115": "no reserved concurrency: new accounts have a concurrency quota of 10, which reserving would "
        "exceed (the deploy fails); SQS event sources cap concurrency with their batch settings",
        "CKV_AWS_173": "the environment holds no secret (names and addresses only); secrets are SSM SecureStrings "
        "read at run time",
    },
    "AWS::Logs::LogGroup": {
        "CKV_AWS_158": "log groups " + _NO_CMK + "; no log line carries a secret or a signed link (tested)"
    },
    "AWS::DynamoDB::Table": {"CKV_AWS_119": "tables " + _NO_CMK},
    "AWS::SQS::Queue": {
        "CKV_AWS_27": "encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled), which this "
        "check does not recognise (it looks for a KMS key only)"
    },
    "AWS::Serverless::Api": {
        "CKV_AWS_120": "no cache: webhook deliveries and approval forms are POSTs, each one "
        "distinct, and ops reads must be current; a cache is billed per hour"
    },
    "AWS::S3::Bucket": {
        "CKV_AWS_18": "no server access logs: only the app's role reads or writes reports, and "
        "CloudTrail records who did; a log bucket would need its own exception"
    },
}

# cfn-lint rules a resource is exempt from (``Metadata.cfn-lint.config.ignore_checks``), with the reason.
CFN_LINT_SKIPS: dict[str, dict[str, str]] = {
    "dead-letter queue": {
        "ES6000": "a dead-letter queue is the end of the line: a DLQ of its own would only move "
        "the message once more; its depth alarms instead"
    },
}


def annotate(template: dict[str, Any]) -> dict[str, Any]:
    """Add ``Metadata.checkov.skip`` to every resource whose type has exceptions."""
    for resource in template.get("Resources", {}).values():
        skips = SKIPS.get(resource.get("Type", ""))
        if skips:
            checkov = resource.setdefault("Metadata", {}).setdefault("checkov", {})
            checkov["skip"] = [{"id": check, "comment": reason} for check, reason in sorted(skips.items())]
    return template


def cfn_lint_metadata(kind: str) -> dict[str, Any]:
    """The ``Metadata`` that exempts a resource of ``kind`` (a key of ``CFN_LINT_SKIPS``) from its rules."""
    rules = CFN_LINT_SKIPS[kind]
    return {"cfn-lint": {"config": {"ignore_checks": sorted(rules)}}, "Exceptions": dict(rules)}
