"""The resources of one stage, as a CloudFormation template: the single source of truth.

* AWS: ``make package`` merges this template into Chalice's SAM output (``chalice package --merge-template``,
  see ``infra/package.py``): :func:`build_merge_template` = :func:`build_template` + the settings of Chalice's
  functions (:func:`chalice_overrides`) + what names the functions (their alarms, the API's outputs).
* Local: ``make run`` and the end-to-end tests deploy :func:`build_template` to moto's CloudFormation.

Values that depend on the stage's configuration (queue visibility timeouts from the consuming functions' timeouts,
the SES sender) come from ``.chalice/config.json`` through :class:`infra.stage_config.StageConfig`.

Run ``python -m infra.template --stage dev`` to print it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

from chalicelib.settings import Resources, resource_name, secret_parameter_name

# A message that fails this many times moves to the dead-letter queue instead of blocking the batch forever.
MAX_RECEIVE_COUNT = 5
# AWS: "set the source queue's visibility timeout to at least six times the timeout that you configure on your
# function" (plus the batching window), so a message is never handled twice in parallel while Lambda retries.
VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT = 6
FOURTEEN_DAYS = 14 * 24 * 3600
# Powertools Metrics adds this dimension to every EMF metric (chalicelib/observability.py).
METRICS_NAMESPACE = "SocialResponse"
METRICS_SERVICE = "social-response"
# Stages whose tables refuse deletion (a stack update that would drop one fails instead).
PROTECTED_STAGES = ("prod",)


def _index(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
    }


def _table(
    name: str,
    key: str,
    *,
    range_key: str | None = None,
    stream: bool = False,
    indexes: list[dict[str, Any]] | None = None,
    ttl: str | None = None,
    protected: bool = False,
) -> dict[str, Any]:
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
    if protected:
        properties["DeletionProtectionEnabled"] = True
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def _dead_letter_queue(name: str) -> dict[str, Any]:
    from infra.exceptions import cfn_lint_metadata

    return {
        "Type": "AWS::SQS::Queue",
        "Metadata": cfn_lint_metadata("dead-letter queue"),
        "Properties": {"QueueName": name, "MessageRetentionPeriod": FOURTEEN_DAYS, "SqsManagedSseEnabled": True},
    }


def _queue_pair(queue: str, dlq: str, logical: str, visibility_timeout: int) -> dict[str, Any]:
    return {
        f"{logical}DeadLetterQueue": _dead_letter_queue(dlq),
        f"{logical}Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue,
                "VisibilityTimeout": visibility_timeout,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [f"{logical}DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                },
            },
        },
    }


# The queues with a consuming function: logical id prefix -> the ``Resources`` field naming the queue.
CONSUMED_QUEUES = {"Ingest": "ingest_queue", "Approval": "approval_queue", "Publish": "publish_queue"}
# The issues stream's on-failure destination: records that still fail after the retries are described here.
ISSUES_STREAM_DLQ = "IssuesStreamDeadLetterQueue"
# The scheduled functions' failures: EventBridge's target DLQ and the functions' asynchronous on-failure destination.
SCHEDULE_DLQ = "ScheduleDeadLetterQueue"


def _app():
    import app

    return app.app


def queue_consumers() -> dict[str, Any]:
    """Each consumed queue's ``@app.on_sqs_message`` handler (Chalice's event source config), by logical prefix.

    Read from the app itself, so a new queue handler or a renamed queue cannot leave its queue's timeout behind.
    """
    from chalice.app import SQSEventConfig

    from chalicelib.settings import resources

    current = resources()  # the app named its queues for the stage of this process
    by_queue = {getattr(current, field): logical for logical, field in CONSUMED_QUEUES.items()}
    consumers = {
        by_queue[source.queue]: source for source in _app().event_sources if isinstance(source, SQSEventConfig)
    }
    missing = set(CONSUMED_QUEUES) - set(consumers)
    if missing:
        raise ValueError(f"no queue handler in app.py consumes the {sorted(missing)} queue(s)")
    return consumers


def visibility_timeouts(stage: str) -> dict[str, int]:
    """Each consumed queue's visibility timeout: 6x its consuming function's timeout, plus the batching window."""
    from infra.stage_config import StageConfig

    config = StageConfig.load(stage)
    return {
        logical: VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT * config.timeout(source.name)
        + int(source.maximum_batching_window_in_seconds or 0)
        for logical, source in queue_consumers().items()
    }


def _state_machines(names: Resources, time_scale: float) -> dict[str, Any]:
    """One state machine per protocol of the bundled plan, compiled by ``chalicelib/adapters/state_machines.py``.

    The definitions name the queues, topic and tables through CloudFormation references (``Fn::Sub``), so the
    same template deploys to any account and region.
    """
    from chalicelib.adapters.plans import bundled_plan
    from chalicelib.adapters.state_machines import STATE_MACHINE_NAME_MAX, ProtocolResources, compile_protocol

    plan = bundled_plan()
    # The definitions are compiled with stand-ins for the references, then every "${" of the plan's text (a role, a
    # label, the brand) is escaped as "${!" (Fn::Sub's literal), and only then the stand-ins become references.
    # The stand-ins carry a digest of the plan, so no text of the plan can be one.
    digest = hashlib.sha256(json.dumps(plan.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:20]
    references = ("ApprovalQueue", "PublishQueue", "AlertsTopic", "IssuesTable", "AuditTable")
    stand_in = {logical: f"cfn-reference-{digest}-{logical}" for logical in references}
    placeholders = ProtocolResources(
        approval_queue_url=stand_in["ApprovalQueue"],
        publish_queue_url=stand_in["PublishQueue"],
        alerts_topic_arn=stand_in["AlertsTopic"],
        issues_table=stand_in["IssuesTable"],
        audit_table=stand_in["AuditTable"],
    )
    resources: dict[str, Any] = {
        "ProtocolRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "protocol",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "sqs:SendMessage",
                                    "Resource": [
                                        {"Fn::GetAtt": ["ApprovalQueue", "Arn"]},
                                        {"Fn::GetAtt": ["PublishQueue", "Arn"]},
                                    ],
                                },
                                {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "AlertsTopic"}},
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:UpdateItem",
                                    "Resource": {"Fn::GetAtt": ["IssuesTable", "Arn"]},
                                },
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:PutItem",
                                    "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]},
                                },
                                # X-Ray traces of the executions (the segments name no resource: AWS documents "*").
                                {
                                    "Effect": "Allow",
                                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                                    "Resource": "*",
                                },
                            ],
                        },
                    }
                ],
            },
        },
    }
    for protocol in plan.protocols:
        name = names.state_machine(protocol)
        if len(name) > STATE_MACHINE_NAME_MAX:
            raise ValueError(
                f"the state machine of protocol {protocol} would be named {name} ({len(name)} characters): "
                f"Step Functions allows {STATE_MACHINE_NAME_MAX}; shorten the stage's or the protocol's name"
            )
        definition = json.dumps(compile_protocol(plan, protocol, placeholders, time_scale=time_scale))
        definition = definition.replace("${", "${!")
        for logical, text in stand_in.items():
            definition = definition.replace(text, "${" + logical + "}")
        resources[state_machine_logical_id(protocol)] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": name,
                "RoleArn": {"Fn::GetAtt": ["ProtocolRole", "Arn"]},
                "DefinitionString": {"Fn::Sub": definition},
                "TracingConfiguration": {"Enabled": True},
            },
        }
    return resources


def state_machine_logical_id(protocol: str) -> str:
    return "Protocol" + "".join(part.title() for part in protocol.split("_"))


def _report_bucket(stage: str) -> dict[str, Any]:
    """Where the weekly reports go: private, encrypted, versioned, TLS only; old reports expire on their own.

    Bucket names are global, so the account and region complete the stage's name.
    """
    bucket_arn = {"Fn::GetAtt": ["ReportBucket", "Arn"]}
    return {
        "ReportBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": {
                    "Fn::Sub": f"{resource_name(REPORT_BUCKET_SUFFIX, stage)}-${{AWS::AccountId}}-${{AWS::Region}}"
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "reports-to-infrequent-access-then-expire",
                            "Status": "Enabled",
                            "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}],
                            "ExpirationInDays": REPORT_RETENTION_DAYS,
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        },
                    ]
                },
            },
        },
        "ReportBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "ReportBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, {"Fn::Sub": "${ReportBucket.Arn}/*"}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


REPORT_BUCKET_SUFFIX = "reports"
REPORT_RETENTION_DAYS = 400  # a year of weekly reports, and the same week a year ago
SES_CONFIGURATION_SET_SUFFIX = "email"


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, Any],
    *,
    statistic: str = "Sum",
    period: int = 300,
    threshold: float = 1,
    evaluation_periods: int = 1,
) -> dict[str, Any]:
    """An alarm to the alerts topic when ``metric`` reaches ``threshold``; no data is not a breach."""
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": evaluation_periods,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlertsTopic"}],
            "OKActions": [{"Ref": "AlertsTopic"}],
        },
    }


DEAD_LETTER_QUEUES = (
    "IngestDeadLetterQueue",
    "ApprovalDeadLetterQueue",
    "PublishDeadLetterQueue",
    ISSUES_STREAM_DLQ,
    SCHEDULE_DLQ,
)
# EMF metrics that page someone when their rate is high (chalicelib emits them through Powertools Metrics).
RATE_ALARMS = {
    # name: (metric, period seconds, threshold, why)
    "SlaBreachRateAlarm": ("SlaBreaches", 3600, 5, "five or more SLA breaches in an hour"),
    "SurgeRateAlarm": ("SurgesDetected", 3600, 3, "three or more surges of complaints in an hour"),
}


def metrics_service(stage: str) -> str:
    """The ``service`` dimension a stage's functions emit (its ``POWERTOOLS_SERVICE_NAME``): each deployed stage has
    its own, so the rate alarms of two stages in one account never watch one series."""
    from infra.stage_config import StageConfig

    return StageConfig.load(stage).environment.get("POWERTOOLS_SERVICE_NAME", METRICS_SERVICE)


def _data_alarms(names: Resources, protocols: list[str], service: str = METRICS_SERVICE) -> dict[str, Any]:
    """Alarms on what the data template holds: DLQ depth, state machine failures and timeouts, EMF rates."""
    alarms: dict[str, Any] = {}
    for dlq in DEAD_LETTER_QUEUES:
        alarms[f"{dlq}DepthAlarm"] = _alarm(
            f"A message sits in {dlq}: it failed {MAX_RECEIVE_COUNT} times (or its stream retries ran out)",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": [dlq, "QueueName"]}},
            statistic="Maximum",
        )
    for protocol in protocols:
        # The ARN is spelled out rather than referenced: the alarm does not wait on the machine's creation.
        arn = {
            "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
            + names.state_machine(protocol)
        }
        logical = state_machine_logical_id(protocol)
        alarms[f"{logical}FailedAlarm"] = _alarm(
            f"{protocol} protocol executions failed", "AWS/States", "ExecutionsFailed", {"StateMachineArn": arn}
        )
        alarms[f"{logical}TimedOutAlarm"] = _alarm(
            f"{protocol} protocol executions timed out", "AWS/States", "ExecutionsTimedOut", {"StateMachineArn": arn}
        )
    for logical, (metric, period, threshold, why) in RATE_ALARMS.items():
        alarms[logical] = _alarm(
            why, METRICS_NAMESPACE, metric, {"service": service}, period=period, threshold=threshold
        )
    return alarms


def secret_parameter_names(stage: str) -> list[str]:
    """The SSM SecureString parameters a deployment must set (names only: values never enter the template)."""
    from chalicelib.adapters.secrets import SECRET_NAMES

    return [secret_parameter_name(name, stage) for name in SECRET_NAMES]


def build_template(stage: str, time_scale: float | None = None) -> dict[str, Any]:
    from chalicelib.adapters.plans import bundled_plan
    from chalicelib.settings import protocol_time_scale

    names = Resources.for_stage(stage)
    protected = stage in PROTECTED_STAGES
    timeouts = visibility_timeouts(stage)

    def table(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return _table(*args, protected=protected, **kwargs)

    resources: dict[str, Any] = {
        # One item per platform identity; by_issue lists an issue's mentions in time order.
        # Raw mentions expire after the plan's retention (``ttl``, set on write; issues and the audit trail stay).
        "MentionsTable": table(
            names.mentions_table, "pk", indexes=[_index("by_issue", "issue_id", "created_at")], ttl="ttl"
        ),
        # Issues, with the ops API's queries: by status and category, by assignee, by the day they opened.
        "IssuesTable": table(
            names.issues_table,
            "issue_id",
            stream=True,
            indexes=[
                _index("by_status_category", "status_category", "last_seen"),
                # assigned_to write-sharded (its own attribute: the address shown stays plain); a new key schema
                # needs a new name, CloudFormation replacing the old index
                _index("by_assignee_shard", "assignee_shard", "last_seen"),
                _index("by_day", "first_seen_day", "first_seen"),
            ],
        ),
        # Dedup keys (conversation, author+subject, text bands) -> issue, until they expire (TTL cleans up).
        "IssueKeysTable": table(names.issue_keys_table, "key", ttl="ttl"),
        # Every change to an issue, in time order under the issue.
        "AuditTable": table(names.audit_table, "issue_id", range_key="sk"),
        # High Priority and Crisis cases that PR and management work in.
        "EscalationsTable": table(names.escalations_table, "issue_id"),
        # Every version of the response plan, and the pointer to the active one.
        "PlansTable": table(names.plans_table, "pk", range_key="sk"),
        **_queue_pair(names.ingest_queue, names.ingest_dlq, "Ingest", timeouts["Ingest"]),
        # Approval links: one item per person per step (the link's id), and the task token it unlocks.
        # owed_callbacks is sparse: an answer recorded and not yet passed on to Step Functions (the sweep's list).
        "ApprovalsTable": table(
            names.approvals_table,
            "approval_id",
            indexes=[_index("by_issue", "issue_id", "created_at"), _index("owed_callbacks", "owed", "used_at")],
            ttl="ttl",
        ),
        # Replies the publishers sent (locally the outbox is where they go instead of the platforms).
        "OutboxTable": table(
            names.outbox_table,
            "outbox_id",
            indexes=[_index("by_issue", "issue_id", "published_at"), _index("by_day", "published_day", "published_at")],
        ),
        # Surge counters (one item per UTC day and per hour for all keys) and each key's surge state.
        "SurgesTable": table(names.surges_table, "pk", ttl="ttl"),
        # Alerts sent (one per issue and kind) and the hourly counters and digests that keep storms out.
        "AlertsTable": table(names.alerts_table, "pk", ttl="ttl"),
        # One claim per reply and channel before it is posted, so a redelivered publish posts nothing twice
        # (chalicelib/adapters/publish_claims.py).
        "PublishClaimsTable": table(names.publish_claims_table, "claim_id"),
        # Ops API tokens other than the admin's: by the SHA-256 of the token (never the token), with roles.
        "OpsTokensTable": table(names.ops_tokens_table, "token_hash"),
        # Satisfaction surveys: one per resolved issue (a guard item), each sent once, answered once; by_phase lists
        # what is due (to send, to close unanswered, to announce) (chalicelib/adapters/surveys_table.py).
        "SurveysTable": table(names.surveys_table, "pk", indexes=[_index("by_phase", "phase", "due_at")]),
        # Resolved issues by recurrence key (author, product and topic, text bands), until their window closes.
        "RecurrenceKeysTable": table(names.recurrence_keys_table, "key", ttl="ttl"),
        **_queue_pair(names.approval_queue, names.approval_dlq, "Approval", timeouts["Approval"]),
        **_queue_pair(names.publish_queue, names.publish_dlq, "Publish", timeouts["Publish"]),
        # Issues-stream records start_protocols could not handle after its retries (the mapping's on-failure
        # destination): described by Lambda, kept 14 days, alarmed on like the other DLQs.
        ISSUES_STREAM_DLQ: _dead_letter_queue(names.issues_stream_dlq),
        SCHEDULE_DLQ: _dead_letter_queue(names.schedule_dlq),
        # EventBridge delivers a schedule it could not invoke to the DLQ; only this stack's rules may.
        f"{SCHEDULE_DLQ}Policy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": SCHEDULE_DLQ}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ScheduleRulesOfThisStack",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": [SCHEDULE_DLQ, "Arn"]},
                            "Condition": {
                                "ArnLike": {
                                    "aws:SourceArn": {
                                        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                                        "rule/${AWS::StackName}-*"
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        },
        # Encrypted with the AWS-managed SNS key (the alarms publish through CloudWatch, which that key allows).
        "AlertsTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": names.alerts_topic, "KmsMasterKeyId": "alias/aws/sns"},
        },
        **_report_bucket(stage),
        # Approval emails are sent with this configuration set: reputation metrics (bounces, complaints) per stage.
        "EmailConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "Name": resource_name(SES_CONFIGURATION_SET_SUFFIX, stage),
                "ReputationOptions": {"ReputationMetricsEnabled": True},
                "SendingOptions": {"SendingEnabled": True},
            },
        },
        **_state_machines(names, protocol_time_scale() if time_scale is None else time_scale),
        **_data_alarms(names, list(bundled_plan().protocols), metrics_service(stage)),
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"social-response resources ({stage})",
        "Metadata": {"SecretParameterNames": secret_parameter_names(stage)},
        "Resources": resources,
        "Outputs": {
            "MentionsTableName": {"Value": {"Ref": "MentionsTable"}},
            "IngestQueueUrl": {"Value": {"Ref": "IngestQueue"}},
            "AlertsTopicArn": {"Value": {"Ref": "AlertsTopic"}},
            "AlertsTopicName": {"Value": {"Fn::GetAtt": ["AlertsTopic", "TopicName"]}},
            "ReportBucketName": {"Value": {"Ref": "ReportBucket"}},
            "EmailConfigurationSetName": {"Value": {"Ref": "EmailConfigurationSet"}},
            "IssuesStreamDeadLetterQueueUrl": {"Value": {"Ref": ISSUES_STREAM_DLQ}},
            # Names only: set each value with `aws ssm put-parameter --type SecureString` (README, deploy).
            "SecretParameterNames": {"Value": ",".join(secret_parameter_names(stage))},
        },
    }


def chalice_overrides() -> dict[str, Any]:
    """Settings Chalice cannot express, merged into its SAM output by ``chalice package --merge-template``.

    * The queue handlers return ``batchItemFailures``; Lambda honours them only with ``ReportBatchItemFailures``.
    * The event source mappings name their queues by ARN, so the functions must wait for the queues to exist.
    * The issues stream's ARN, known only to CloudFormation, replaces the placeholder Chalice was given; records
      that still fail after the retries go to the stream's dead-letter queue (the on-failure destination).
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
            "Properties": {
                "Events": {
                    "StartProtocolsDynamodbEventSource": {
                        "Properties": {
                            "Stream": {"Fn::GetAtt": ["IssuesTable", "StreamArn"]},
                            "StartingPosition": "TRIM_HORIZON",
                            "MaximumRetryAttempts": 10,
                            "BisectBatchOnFunctionError": True,
                            "DestinationConfig": {
                                "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [ISSUES_STREAM_DLQ, "Arn"]}}
                            },
                        }
                    }
                }
            },
        },
    }


def function_logical_ids() -> dict[str, str]:
    """Chalice's CloudFormation logical id of every Lambda function of the app, by its Chalice name."""
    app = _app()
    functions = {source.name: _logical_id(source.name) for source in app.event_sources}
    functions.update({name: _logical_id(name) for name in app.pure_lambda_functions})
    if app.routes:
        functions["api_handler"] = "APIHandler"
    return functions


def _logical_id(function_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in function_name.replace("-", "_").split("_"))


def _function_alarms() -> dict[str, Any]:
    """Errors and throttles of every function, to the alerts topic."""
    alarms = {}
    for name, logical in function_logical_ids().items():
        function = {"Ref": logical}
        alarms[f"{logical}ErrorsAlarm"] = _alarm(
            f"{name} raised errors", "AWS/Lambda", "Errors", {"FunctionName": function}
        )
        alarms[f"{logical}ThrottlesAlarm"] = _alarm(
            f"{name} was throttled", "AWS/Lambda", "Throttles", {"FunctionName": function}
        )
    return alarms


# What every function learns from the template, beyond .chalice/config.json's variables: names known only once
# CloudFormation has created the resources.
FUNCTION_ENVIRONMENT = {
    "REPORT_BUCKET": {"Ref": "ReportBucket"},
    "SES_CONFIGURATION_SET": {"Ref": "EmailConfigurationSet"},
    "ISSUES_STREAM_ARN": {"Fn::GetAtt": ["IssuesTable", "StreamArn"]},
}


def _function_settings() -> dict[str, Any]:
    """Per function: the template-known environment above, merged over Chalice's (a deep merge)."""
    return {
        logical: {"Properties": {"Environment": {"Variables": dict(FUNCTION_ENVIRONMENT)}}}
        for logical in function_logical_ids().values()
    }


def _deep_merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def _api_outputs() -> dict[str, Any]:
    """The API's address and each platform's webhook URL, as the platforms' dashboards ask for them."""
    from chalicelib.platforms import PLATFORMS

    base = "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"
    outputs = {
        "ApiUrl": {
            "Description": "the API's address (also the base of PUBLIC_BASE_URL without a custom domain)",
            "Value": {"Fn::Sub": base},
        }
    }
    for platform in PLATFORMS:
        outputs[f"WebhookUrl{platform.title()}"] = {
            "Description": f"register this URL with {platform}",
            "Value": {"Fn::Sub": f"{base}/webhooks/{platform}"},
        }
    return outputs


# Webhook traffic the API takes before it answers 429 (platforms retry): far above any brand's mention rate.
API_THROTTLING = {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "time": "$context.requestTime",
        "method": "$context.httpMethod",
        "path": "$context.resourcePath",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "bytes": "$context.responseLength",
    }
)  # no query string: no signed links


def _scheduled_function_settings() -> dict[str, Any]:
    """A scheduled run that fails (after Lambda's two retries), or that EventBridge could not deliver, lands in
    the schedule DLQ instead of vanishing."""
    from chalice.app import ScheduledEventConfig

    dlq = {"Fn::GetAtt": [SCHEDULE_DLQ, "Arn"]}
    settings = {}
    for source in _app().event_sources:
        if isinstance(source, ScheduledEventConfig):
            logical = _logical_id(source.name)
            settings[logical] = {
                "Properties": {
                    "EventInvokeConfig": {
                        "MaximumRetryAttempts": 2,
                        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": dlq}},
                    },
                    "Events": {f"{logical}Event": {"Properties": {"DeadLetterConfig": {"Arn": dlq}}}},
                }
            }
    return settings


# What API Gateway answers itself (before any handler: a route or method that does not exist, a body too large,
# throttling, an authorizer's refusal) is JSON with ``error`` naming the problem, as every handler's answer is. A
# REST API answers an unknown route or method "Missing Authentication Token" with a 403: here a 404 that says so.
_JSON = {"Headers": {"Content-Type": "'application/json'"}}
GATEWAY_RESPONSES = {
    "DEFAULT_4XX": {
        "ResponseParameters": _JSON,
        "ResponseTemplates": {"application/json": '{"error": $context.error.messageString}'},
    },
    "DEFAULT_5XX": {
        "ResponseParameters": _JSON,
        "ResponseTemplates": {"application/json": '{"error": $context.error.messageString}'},
    },
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": "404",
        "ResponseParameters": _JSON,
        "ResponseTemplates": {
            "application/json": '{"error": "no such route, or that method is not allowed on it (see /openapi.json)"}'
        },
    },
}


def _api_settings(log_retention_days: int) -> dict[str, Any]:
    """The REST API's stage: X-Ray, access logs (JSON, to their own log group), default throttling.

    API Gateway writes access logs with the account's CloudWatch role, which a fresh account does not have:
    ``ApiGatewayAccount`` sets it (one per account and region; setting it again is harmless).
    """
    return {
        "RestAPI": {
            "Properties": {
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                    "Format": ACCESS_LOG_FORMAT,
                },
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True, **API_THROTTLING}],
                "GatewayResponses": GATEWAY_RESPONSES,
            },
            "DependsOn": ["ApiGatewayAccount"],
        },
        "ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": log_retention_days}},
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    {
                        "Fn::Sub": (
                            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                        )
                    }
                ],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}},
        },
    }


# Chalice 1.34 names the API function's log group after ``ApiHandler``, a resource that does not exist (Chalice
# writes the log groups only for a stage with ``log_retention_in_days``).
API_LOG_GROUP_FIX = {"ApiHandlerLogGroup": {"Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}}}


LOCAL_LOG_RETENTION_DAYS = 7


def build_merge_template(stage: str) -> dict[str, Any]:
    """What ``make package`` merges: the stage's resources, the overrides of Chalice's functions, their alarms."""
    from chalicelib.settings import LOCAL_STAGES
    from infra.stage_config import StageConfig

    config = StageConfig.load(stage)
    if stage not in LOCAL_STAGES:  # the local stages run on moto: no sender to verify, no public address
        config.check_deployable()
    template = build_template(stage)
    resources = template["Resources"]
    _deep_merge(resources, _function_settings())
    _deep_merge(resources, chalice_overrides())
    _deep_merge(resources, _scheduled_function_settings())
    if stage in LOCAL_STAGES:
        _deep_merge(resources, _api_settings(LOCAL_LOG_RETENTION_DAYS))
    else:
        _deep_merge(resources, _api_settings(config.log_retention_days))
        _deep_merge(resources, API_LOG_GROUP_FIX)
    resources.update(_function_alarms())
    template["Outputs"].update(_api_outputs())
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
