"""The Lambda execution role's policy for a stage: least privilege, derived from the same names as the template.

Chalice deploys with ``autogen_policy: false`` and ``.chalice/policy-<stage>.json``; those files are generated
from here (``python -m infra.policy --write``) and a test fails when they drift from this code. What depends on
the stage's configuration (the SES sender) is read from that stage in ``.chalice/config.json``, never from the
environment of the shell that generates the files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from chalicelib.settings import APP_NAME, Resources, resource_name
from infra.stage_config import StageConfig
from infra.template import REPORT_BUCKET_SUFFIX, SES_CONFIGURATION_SET_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED_STAGES = ("dev", "prod")


def build_policy(stage: str, config: StageConfig | None = None) -> dict[str, Any]:
    names = Resources.for_stage(stage)
    config = config or StageConfig.load(stage)

    def table(name: str) -> str:
        return f"arn:aws:dynamodb:*:*:table/{name}"

    triage_tables = [
        names.mentions_table,
        names.issues_table,
        names.issue_keys_table,
        names.audit_table,
        names.escalations_table,
    ]
    ingest = f"arn:aws:sqs:*:*:{names.ingest_queue}"
    dlq = f"arn:aws:sqs:*:*:{names.ingest_dlq}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:*:*:log-group:/aws/lambda/{APP_NAME}-{stage}-*",
            },
            # Triage writes a mention, its issue, dedup keys, audit events and escalation cases in one transaction
            # (the transaction needs the item actions on every table it touches).
            {
                "Sid": "TriageTables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:GetItem",
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DescribeTable",
                ],
                "Resource": [table(name) for name in triage_tables],
            },
            {
                "Sid": "DedupKeyReads",
                "Effect": "Allow",
                "Action": ["dynamodb:BatchGetItem"],
                "Resource": table(names.issue_keys_table),
            },
            # Reads of the active plan; uploads through the ops API (POST /plans, admin) write a version in one
            # transaction.
            {
                "Sid": "Plans",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": table(names.plans_table),
            },
            {
                "Sid": "IngestQueueSend",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
                "Resource": [ingest, dlq],
            },
            {
                "Sid": "IngestQueueConsume",
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
                "Resource": ingest,
            },
            {
                "Sid": "ProtocolsAndApprovals",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                ],
                "Resource": [
                    table(n)
                    for n in (
                        names.approvals_table,
                        names.outbox_table,
                        names.surges_table,
                        names.alerts_table,
                        names.publish_claims_table,
                    )
                ]
                + [
                    table(n) + "/index/*"
                    for n in (names.approvals_table, names.outbox_table, names.issues_table, names.mentions_table)
                ]
                + [table(names.audit_table), table(names.issues_table)],
            },
            # Token lookups, each token's per-minute request counter (an UpdateItem on the same table), and the
            # admin's token routes (create, list, revoke).
            {
                "Sid": "OpsTokens",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Scan",
                ],
                "Resource": table(names.ops_tokens_table),
            },
            # Surveys (one per resolved issue, sent and answered once) and recurrence keys; the answer's and the
            # link's transactions also write the issue and its audit event (TriageTables' actions).
            {
                "Sid": "SurveysAndRecurrence",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": [
                    table(names.surveys_table),
                    table(names.surveys_table) + "/index/by_phase",
                    table(names.recurrence_keys_table),
                ],
            },
            # GET /alerts lists the stored alerts.
            {
                "Sid": "AlertReads",
                "Effect": "Allow",
                "Action": ["dynamodb:Scan"],
                "Resource": table(names.alerts_table),
            },
            # POST /issues/{id}/merge moves the merged issue's dedup keys over (found by a filtered scan).
            {
                "Sid": "MergeDedupKeys",
                "Effect": "Allow",
                "Action": ["dynamodb:Scan"],
                "Resource": table(names.issue_keys_table),
            },
            # The ops API's dead-letter routes: list (receive, then release) and redrive to the source queue.
            {
                "Sid": "DeadLetterRoutes",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueUrl",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": [
                    f"arn:aws:sqs:*:*:{q}"
                    for q in (
                        names.ingest_dlq,
                        names.approval_dlq,
                        names.publish_dlq,
                        names.issues_stream_dlq,
                        names.schedule_dlq,
                    )
                ],
            },
            {
                "Sid": "DeadLetterRedrive",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
                "Resource": [
                    f"arn:aws:sqs:*:*:{q}" for q in (names.ingest_queue, names.approval_queue, names.publish_queue)
                ],
            },
            {
                "Sid": "IssuesStream",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                "Resource": table(names.issues_table) + "/stream/*",
            },
            {
                "Sid": "ApprovalAndPublishQueues",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueUrl",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": [
                    f"arn:aws:sqs:*:*:{q}"
                    for q in (names.approval_queue, names.publish_queue, names.approval_dlq, names.publish_dlq)
                ],
            },
            # A step or publish message no retry can fix is set aside in its DLQ at once (services/processor.py).
            {
                "Sid": "ApprovalAndPublishPoison",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [f"arn:aws:sqs:*:*:{q}" for q in (names.approval_dlq, names.publish_dlq)],
            },
            {
                "Sid": "Protocols",
                "Effect": "Allow",
                "Action": [
                    "states:StartExecution",
                    "states:DescribeExecution",  # stop only a running one
                    "states:StopExecution",
                    "states:SendTaskSuccess",
                    "states:SendTaskFailure",
                ],
                "Resource": [
                    f"arn:aws:states:*:*:stateMachine:{names.prefix}-protocol-*",
                    f"arn:aws:states:*:*:execution:{names.prefix}-protocol-*:*",
                ],
            },
            {
                "Sid": "Alerts",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": f"arn:aws:sns:*:*:{names.alerts_topic}",
            },
            # Only as the stage's own sender (SES checks the identity and the configuration set the mail uses).
            # SendRawEmail: the weekly report, whose charts ride inline (multipart/related), as the same sender.
            {
                "Sid": "ApprovalEmails",
                "Effect": "Allow",
                "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                "Resource": [
                    "arn:aws:ses:*:*:identity/*",
                    f"arn:aws:ses:*:*:configuration-set/{resource_name(SES_CONFIGURATION_SET_SUFFIX, stage)}",
                ],
                "Condition": {"StringEquals": {"ses:FromAddress": config.sender_email}},
            },
            # On-failure destinations (the issues stream's, the scheduled functions'): Lambda sends with the
            # function's role. check_dead_letter_queues reads their depth like the other DLQs'.
            {
                "Sid": "OnFailureDestinations",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
                "Resource": [f"arn:aws:sqs:*:*:{q}" for q in (names.issues_stream_dlq, names.schedule_dlq)],
            },
            # The weekly report's files (the bucket's name ends with the account and region).
            {
                "Sid": "Reports",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{resource_name(REPORT_BUCKET_SUFFIX, stage)}-*/*",
            },
            # GET /reports lists the stored weeks; a HeadObject of a missing report is then a 404, not a 403.
            {
                "Sid": "ReportListing",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{resource_name(REPORT_BUCKET_SUFFIX, stage)}-*",
            },
            {
                "Sid": "HealthChecks",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable", "sqs:GetQueueUrl"],
                "Resource": [f"arn:aws:dynamodb:*:*:table/{names.prefix}-*", f"arn:aws:sqs:*:*:{names.prefix}-*"],
            },
            # The stage's own parameters: the contract's secrets (template Outputs.SecretParameterNames) and the
            # publishers' credentials, all under /<app>/<stage>/.
            {
                "Sid": "Secrets",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": f"arn:aws:ssm:*:*:parameter/{APP_NAME}/{stage}/*",
            },
            # X rotates its OAuth refresh token on every refresh: the publisher writes the new one back, to
            # that one parameter only.
            {
                "Sid": "RotatedPublisherToken",
                "Effect": "Allow",
                "Action": ["ssm:PutParameter"],
                "Resource": f"arn:aws:ssm:*:*:parameter/{APP_NAME}/{stage}/X_OAUTH_REFRESH_TOKEN",
            },
            # Active X-Ray tracing (the stage's "xray": true): trace segments name no resource, so AWS documents "*".
            {
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
            {
                "Sid": "DecryptSecretsThroughSsmOnly",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}},
            },
        ],
    }


def policy_path(stage: str) -> Path:
    return ROOT / ".chalice" / f"policy-{stage}.json"


def render(stage: str) -> str:
    return json.dumps(build_policy(stage), indent=2) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write .chalice/policy-<stage>.json for dev and prod")
    args = parser.parse_args()
    for stage in DEPLOYED_STAGES:
        if args.write:
            policy_path(stage).write_text(render(stage), encoding="utf-8")
        else:
            print(render(stage))


if __name__ == "__main__":
    main()
