"""The stateful resources of one stage, as a CloudFormation template: the single source of truth.

* AWS: ``make package`` merges this template into Chalice's SAM output (``chalice package --merge-template``).
* Local: ``make run`` and the end-to-end tests deploy the very same template to moto's CloudFormation.

Run ``python -m infra.template --stage dev`` to print it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from chalicelib.settings import Resources

# A message that fails this many times moves to the dead-letter queue instead of blocking the batch forever.
MAX_RECEIVE_COUNT = 5
# Longer than the processor's timeout (Chalice default 60 s) so a message is never handled twice in parallel.
INGEST_VISIBILITY_TIMEOUT = 120
FOURTEEN_DAYS = 14 * 24 * 3600


def _index(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                          {"AttributeName": range_key, "KeyType": "RANGE"}]}


def _table(name: str, key: str, *, range_key: str | None = None, stream: bool = False,
           indexes: list[dict[str, Any]] | None = None, ttl: str | None = None) -> dict[str, Any]:
    """A string-keyed, on-demand, encrypted, point-in-time-recoverable table; index keys are strings too."""
    key_names = [key] + ([range_key] if range_key else [])
    for index in indexes or []:
        key_names += [part["AttributeName"] for part in index["KeySchema"]]
    attributes = [{"AttributeName": a, "AttributeType": "S"} for a in dict.fromkeys(key_names)]
    key_schema = [{"AttributeName": key, "KeyType": "HASH"}]
    if range_key:
        key_schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    properties: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes,
        "KeySchema": key_schema,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    if indexes:
        properties["GlobalSecondaryIndexes"] = indexes
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": properties}


def _queue_with_dlq(name: str, dlq_logical_id: str, visibility_timeout: int) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": name,
            "VisibilityTimeout": visibility_timeout,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dlq_logical_id, "Arn"]},
                "maxReceiveCount": MAX_RECEIVE_COUNT,
            },
        },
    }


def _queue_pair(queue: str, dlq: str, logical: str, visibility_timeout: int) -> dict[str, Any]:
    return {
        f"{logical}DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": dlq, "MessageRetentionPeriod": FOURTEEN_DAYS, "SqsManagedSseEnabled": True}},
        f"{logical}Queue": _queue_with_dlq(queue, f"{logical}DeadLetterQueue", visibility_timeout),
    }


def _state_machines(names: Resources, time_scale: float) -> dict[str, Any]:
    """One state machine per protocol of the bundled plan, compiled by ``protocol_compiler``.

    The definitions name the queues, topic and tables through CloudFormation references (``Fn::Sub``), so the
    same template deploys to any account and region.
    """
    from chalicelib.adapters.plans import bundled_plan
    from chalicelib.domain.protocol_compiler import ProtocolResources, compile_protocol

    placeholders = ProtocolResources(approval_queue_url="${ApprovalQueue}", publish_queue_url="${PublishQueue}",
                                     alerts_topic_arn="${AlertsTopic}", issues_table="${IssuesTable}",
                                     audit_table="${AuditTable}")
    plan = bundled_plan()
    resources: dict[str, Any] = {
        "ProtocolRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "protocol", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sqs:SendMessage",
                 "Resource": [{"Fn::GetAtt": ["ApprovalQueue", "Arn"]}, {"Fn::GetAtt": ["PublishQueue", "Arn"]}]},
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "AlertsTopic"}},
                {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": {"Fn::GetAtt": ["IssuesTable", "Arn"]}},
                {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}},
            ]}}],
        }},
    }
    for protocol in plan.protocols:
        definition = json.dumps(compile_protocol(plan, protocol, placeholders, time_scale=time_scale))
        logical = "Protocol" + "".join(part.title() for part in protocol.split("_"))
        resources[logical] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": names.state_machine(protocol),
            "RoleArn": {"Fn::GetAtt": ["ProtocolRole", "Arn"]},
            "DefinitionString": {"Fn::Sub": definition},
        }}
    return resources


def build_template(stage: str, time_scale: float | None = None) -> dict[str, Any]:
    from chalicelib.settings import protocol_time_scale

    names = Resources.for_stage(stage)
    resources: dict[str, Any] = {
        # One item per platform identity; by_issue lists an issue's mentions in time order.
        "MentionsTable": _table(names.mentions_table, "pk", indexes=[_index("by_issue", "issue_id", "created_at")]),
        # Issues, with the ops API's queries: by status and category, by assignee, by the day they opened.
        "IssuesTable": _table(names.issues_table, "issue_id", stream=True, indexes=[
            _index("by_status_category", "status_category", "last_seen"),
            _index("by_assignee", "assigned_to", "last_seen"),
            _index("by_day", "first_seen_day", "first_seen"),
        ]),
        # Dedup keys (conversation, author+subject, text bands) -> issue, until they expire (TTL cleans up).
        "IssueKeysTable": _table(names.issue_keys_table, "key", ttl="ttl"),
        # Every change to an issue, in time order under the issue.
        "AuditTable": _table(names.audit_table, "issue_id", range_key="sk"),
        # High Priority and Crisis cases that PR and management work in.
        "EscalationsTable": _table(names.escalations_table, "issue_id"),
        # Every version of the response plan, and the pointer to the active one.
        "PlansTable": _table(names.plans_table, "pk", range_key="sk"),
        "IngestDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": names.ingest_dlq, "MessageRetentionPeriod": FOURTEEN_DAYS,
                           "SqsManagedSseEnabled": True},
        },
        "IngestQueue": _queue_with_dlq(names.ingest_queue, "IngestDeadLetterQueue", INGEST_VISIBILITY_TIMEOUT),
        # Approval links: one item per person per step (the link's id), and the task token it unlocks.
        "ApprovalsTable": _table(names.approvals_table, "approval_id",
                                 indexes=[_index("by_issue", "issue_id", "created_at")], ttl="ttl"),
        # Replies the publishers sent (locally the outbox is where they go instead of the platforms).
        "OutboxTable": _table(names.outbox_table, "outbox_id",
                              indexes=[_index("by_issue", "issue_id", "published_at"),
                                       _index("by_day", "published_day", "published_at")]),
        # Surge counters (one item per UTC day and per hour for all keys) and each key's surge state.
        "SurgesTable": _table(names.surges_table, "pk", ttl="ttl"),
        # Alerts sent (one per issue and kind) and the hourly counters and digests that keep storms out.
        "AlertsTable": _table(names.alerts_table, "pk", ttl="ttl"),
        # Ops API tokens other than the admin's: by the SHA-256 of the token (never the token), with roles.
        "OpsTokensTable": _table(names.ops_tokens_table, "token_hash"),
        **_queue_pair(names.approval_queue, names.approval_dlq, "Approval", INGEST_VISIBILITY_TIMEOUT),
        **_queue_pair(names.publish_queue, names.publish_dlq, "Publish", INGEST_VISIBILITY_TIMEOUT),
        "AlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": names.alerts_topic}},
        **_state_machines(names, protocol_time_scale() if time_scale is None else time_scale),
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"social-response stateful resources ({stage})",
        "Resources": resources,
        "Outputs": {
            "MentionsTableName": {"Value": {"Ref": "MentionsTable"}},
            "IngestQueueUrl": {"Value": {"Ref": "IngestQueue"}},
            "AlertsTopicArn": {"Value": {"Ref": "AlertsTopic"}},
        },
    }


def chalice_overrides() -> dict[str, Any]:
    """Settings Chalice cannot express, merged into its SAM output by ``chalice package --merge-template``.

    * The queue handlers return ``batchItemFailures``; Lambda honours them only with ``ReportBatchItemFailures``.
    * The event source mappings name their queues by ARN, so the functions must wait for the queues to exist.
    * The issues stream's ARN, known only to CloudFormation, replaces the placeholder Chalice was given.
    """
    batch_failures = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    return {
        "ProcessMentions": {
            "DependsOn": ["IngestQueue", "MentionsTable"],
            "Properties": {"Events": {"ProcessMentionsSqsEventSource": {"Properties": batch_failures}}},
        },
        "RequestApprovals": {
            "DependsOn": ["ApprovalQueue", "ApprovalsTable"],
            "Properties": {"Events": {"RequestApprovalsSqsEventSource": {"Properties": batch_failures}}},
        },
        "PublishReplies": {
            "DependsOn": ["PublishQueue", "OutboxTable"],
            "Properties": {"Events": {"PublishRepliesSqsEventSource": {"Properties": batch_failures}}},
        },
        # Chalice needs a stream ARN when the app is imported; the real one exists only once the table does.
        "StartProtocols": {
            "Properties": {"Events": {"StartProtocolsDynamodbEventSource": {"Properties": {
                "Stream": {"Fn::GetAtt": ["IssuesTable", "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
                "MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True}}}},
        },
    }


def build_merge_template(stage: str) -> dict[str, Any]:
    """What ``make package`` merges: the stateful resources plus the overrides of Chalice's functions."""
    template = build_template(stage)
    template["Resources"].update(chalice_overrides())
    return template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", help="write to this file instead of stdout")
    parser.add_argument("--for-chalice", action="store_true", help="include the overrides of Chalice's functions")
    args = parser.parse_args()
    template = build_merge_template(args.stage) if args.for_chalice else build_template(args.stage)
    text = json.dumps(template, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
