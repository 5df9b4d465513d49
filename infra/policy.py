"""Each Lambda function's execution role policy, per stage: least privilege, from the calls its own code makes.

Chalice deploys with ``autogen_policy: false`` and, for each function, ``stages.<stage>.lambda_functions.<function>
.iam_policy_file`` in ``.chalice/config.json``: ``.chalice/policy-<stage>-<function>.json``, so ``chalice package``
gives every function a role of its own. Those files, their entries in ``config.json`` and the stage's default
``.chalice/policy-<stage>.json`` (logs and tracing only: the role of a function without its own file, which a test
refuses) are generated from here (``python -m infra.policy --write``); a test fails when they drift from this code.

A function's policy is

* what every function needs (:data:`SHARED`: its logs, X-Ray);
* what its event source needs from its role (the queue it consumes, the stream it reads, its on-failure queue),
  read from the app's event sources and the template's settings;
* for each AWS call its code can make (:func:`infra.aws_calls.lambda_calls`: from its handler through the code), the
  call's actions, on the resources of the grant in :data:`GRANTS` that serves the call's code; KMS decryption
  through SSM only where it reads SSM parameters.

What depends on the stage's configuration (the SES sender) is read from that stage in ``.chalice/config.json``,
never from the environment of the shell that generates the files.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.settings import APP_NAME, Resources, resource_name
from infra.aws_calls import AwsCall, lambda_calls
from infra.stage_config import CONFIG_PATH, StageConfig
from infra.template import REPORT_BUCKET_SUFFIX, SES_CONFIGURATION_SET_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED_STAGES = ("dev", "prod")


@dataclass(frozen=True)
class Grant:
    """Actions (at most ``actions``) on ``resources`` for the calls made by ``serves`` (``path`` or
    ``path::Name``: a module, or a class or function of it)."""

    sid: str
    serves: tuple[str, ...]
    actions: tuple[str, ...]
    resources: Callable[[Resources, str], list[str]]
    condition: Callable[[StageConfig], dict[str, Any]] | None = None

    def serves_call(self, call: AwsCall) -> bool:
        return any(
            call.function == s or call.function.startswith(s + ("::" if "::" not in s else ".")) for s in self.serves
        )


def _table(name: str) -> str:
    return f"arn:aws:dynamodb:*:*:table/{name}"


def _tables(*fields: str, indexes: Iterable[str] = ()) -> Callable[[Resources, str], list[str]]:
    def resources(names: Resources, stage: str) -> list[str]:
        found = [_table(getattr(names, field)) for field in fields]
        return found + [_table(getattr(names, field)) + "/index/*" for field in indexes]

    return resources


def _queues(*fields: str) -> Callable[[Resources, str], list[str]]:
    return lambda names, stage: [f"arn:aws:sqs:*:*:{getattr(names, field)}" for field in fields]


def _dead_letter_queues(names: Resources, stage: str) -> list[str]:
    return [f"arn:aws:sqs:*:*:{getattr(names, f.name)}" for f in dataclasses.fields(names) if f.name.endswith("_dlq")]


def _sender(config: StageConfig) -> dict[str, Any]:
    return {"StringEquals": {"ses:FromAddress": config.sender_email}}


ITEM_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
ADAPTERS = "chalicelib/adapters"
# Which code each grant serves, and on what. A transaction needs its item actions on every table it touches.
GRANTS: tuple[Grant, ...] = (
    # Triage writes a mention, its issue, dedup keys, audit events and escalation cases in one transaction.
    Grant(
        "TriageTables",
        (f"{ADAPTERS}/triage_table.py",),
        ("dynamodb:GetItem", *ITEM_WRITES),
        _tables("mentions_table", "issues_table", "issue_keys_table", "audit_table", "escalations_table"),
    ),
    # The batch's dedup keys and the issues they point at, in one BatchGetItem.
    Grant(
        "DedupKeyReads",
        (f"{ADAPTERS}/triage_table.py",),
        ("dynamodb:BatchGetItem",),
        _tables("issue_keys_table", "issues_table"),
    ),
    Grant(
        "Mentions",
        (f"{ADAPTERS}/mentions_table.py",),
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        _tables("mentions_table"),
    ),
    Grant(
        "Surges",
        (f"{ADAPTERS}/surge_table.py",),
        ("dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        _tables("surges_table"),
    ),
    # Reads of the active plan; uploads through the ops API (POST /plans, admin) write a version in one transaction.
    Grant(
        "Plans",
        (f"{ADAPTERS}/plans.py",),
        ("dynamodb:GetItem", "dynamodb:Query", *ITEM_WRITES),
        _tables("plans_table"),
    ),
    # Activating, retiring and reviewing a version: the plan's items and its audit event in one transaction.
    Grant(
        "PlanLifecycle",
        (f"{ADAPTERS}/plan_lifecycle.py::DynamoPlanLifecycle",),
        ("dynamodb:GetItem", *ITEM_WRITES),
        _tables("plans_table", "audit_table"),
    ),
    # The issues, their audit trail and mentions (the ops API's lists page the indexes).
    Grant(
        "Issues",
        (f"{ADAPTERS}/issues_table.py",),
        ("dynamodb:GetItem", "dynamodb:Query", *ITEM_WRITES),
        _tables("issues_table", "audit_table", "mentions_table", indexes=("issues_table", "mentions_table")),
    ),
    # POST /issues/{id}/merge and /split: the issues, their mentions and dedup keys, and the audit events.
    Grant(
        "IssueRegrouping",
        (f"{ADAPTERS}/issue_regroup.py",),
        ("dynamodb:GetItem", "dynamodb:Query", *ITEM_WRITES),
        _tables("issues_table", "audit_table", "mentions_table", "issue_keys_table", indexes=("mentions_table",)),
    ),
    # The merge moves the merged issue's dedup keys over (found by a filtered scan).
    Grant(
        "MergeDedupKeys",
        (f"{ADAPTERS}/issue_regroup.py",),
        ("dynamodb:Scan",),
        _tables("issue_keys_table"),
    ),
    Grant(
        "Approvals",
        (f"{ADAPTERS}/approvals_table.py",),
        ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", *ITEM_WRITES),
        _tables("approvals_table", "audit_table", indexes=("approvals_table",)),
    ),
    # Each email, alert or notice is claimed once, in the table of what it is about. (The outbox too: no function
    # claims there, but tests/unit/test_template_coverage.py's ADAPTER_TABLES gives outbox.py, SendClaims' module,
    # the outbox table alone: drop it here when that map names the tables SendClaims is used on.)
    Grant(
        "SendClaims",
        (f"{ADAPTERS}/outbox.py::SendClaims",),
        ("dynamodb:UpdateItem",),
        _tables("alerts_table", "approvals_table", "surveys_table", "outbox_table"),
    ),
    Grant(
        "Outbox",
        (f"{ADAPTERS}/outbox.py::OutboxPublisher",),
        ("dynamodb:PutItem", "dynamodb:Query"),
        _tables("outbox_table", indexes=("outbox_table",)),
    ),
    Grant(
        "PublishClaims",
        (f"{ADAPTERS}/publish_claims.py",),
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        _tables("publish_claims_table"),
    ),
    # Surveys (one per resolved issue, sent and answered once); the answer's transaction also writes the issue and
    # its audit event.
    Grant(
        "Surveys",
        (f"{ADAPTERS}/surveys_table.py::DynamoSurveys",),
        ("dynamodb:GetItem", "dynamodb:Query", *ITEM_WRITES),
        lambda names, stage: [
            _table(names.surveys_table),
            _table(names.surveys_table) + "/index/by_phase",
            _table(names.issues_table),
            _table(names.audit_table),
        ],
    ),
    Grant(
        "SurveyNotices",
        (f"{ADAPTERS}/surveys_table.py::SnsSurveyNotices",),
        ("dynamodb:UpdateItem",),
        _tables("surveys_table"),
    ),
    # Recurrence keys; the link's transaction also writes the issue and its audit event.
    Grant(
        "Recurrence",
        (f"{ADAPTERS}/recurrence_table.py",),
        ("dynamodb:BatchGetItem", *ITEM_WRITES),
        _tables("recurrence_keys_table", "issues_table", "audit_table"),
    ),
    # Token lookups, each token's per-minute request counter (an UpdateItem on the same table), and the admin's
    # token routes (create, list, revoke).
    Grant(
        "OpsTokens",
        (f"{ADAPTERS}/ops_tokens.py",),
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan"),
        _tables("ops_tokens_table"),
    ),
    # Alert counters and digests (the hourly cap).
    Grant(
        "AlertCounters",
        (f"{ADAPTERS}/alerts.py::SnsAlerts",),
        ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"),
        _tables("alerts_table"),
    ),
    # The single use of an emailed read-only link (the weekly report's), on the alerts table.
    Grant(
        "LinkUses",
        (f"{ADAPTERS}/link_uses.py",),
        ("dynamodb:GetItem", "dynamodb:PutItem"),
        _tables("alerts_table"),
    ),
    # GET /alerts lists the stored alerts.
    Grant("AlertReads", (f"{ADAPTERS}/ops_reads.py::StoredAlerts",), ("dynamodb:Scan",), _tables("alerts_table")),
    # The live issues whose SLAs are checked (by status and category).
    Grant(
        "LiveIssues",
        (f"{ADAPTERS}/alerts.py::DynamoLiveIssues",),
        ("dynamodb:Query",),
        _tables(indexes=("issues_table",)),
    ),
    Grant(
        "Alerts",
        (
            f"{ADAPTERS}/alerts.py::SnsAlerts",
            f"{ADAPTERS}/surveys_table.py::SnsSurveyNotices",
            f"{ADAPTERS}/report_sender.py",
        ),
        ("sns:Publish",),
        lambda names, stage: [f"arn:aws:sns:*:*:{names.alerts_topic}"],
    ),
    # Only as the stage's own sender (SES checks the identity and the configuration set the mail uses).
    # SendRawEmail: the weekly report, whose charts ride inline (multipart/related), as the same sender.
    Grant(
        "ApprovalEmails",
        (f"{ADAPTERS}/email.py", f"{ADAPTERS}/report_sender.py"),
        ("ses:SendEmail", "ses:SendRawEmail"),
        lambda names, stage: [
            "arn:aws:ses:*:*:identity/*",
            f"arn:aws:ses:*:*:configuration-set/{resource_name(SES_CONFIGURATION_SET_SUFFIX, stage)}",
        ],
        _sender,
    ),
    Grant(
        "IngestQueueSend",
        (f"{ADAPTERS}/queue.py::SqsMentionQueue",),
        ("sqs:SendMessage", "sqs:GetQueueUrl"),
        _queues("ingest_queue"),
    ),
    # A message no retry can fix is set aside in its queue's DLQ at once (services/processor.py).
    Grant(
        "PoisonMessages",
        (f"{ADAPTERS}/queue.py::SqsDeadLetterQueue",),
        ("sqs:SendMessage", "sqs:GetQueueUrl"),
        _queues("ingest_dlq", "approval_dlq", "publish_dlq"),
    ),
    # A step or publish message that must wait is made visible again later.
    Grant(
        "Redelivery",
        (f"{ADAPTERS}/redelivery.py",),
        ("sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"),
        _queues("approval_queue", "publish_queue"),
    ),
    # check_dead_letter_queues reads every DLQ's depth.
    Grant(
        "DeadLetterDepths",
        (f"{ADAPTERS}/alerts.py::sqs_queue_depth",),
        ("sqs:GetQueueUrl", "sqs:GetQueueAttributes"),
        _dead_letter_queues,
    ),
    # The ops API's dead-letter routes: list (receive, then release) and redrive to the source queue.
    Grant(
        "DeadLetterRoutes",
        (f"{ADAPTERS}/ops_reads.py::DeadLetters",),
        ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"),
        _dead_letter_queues,
    ),
    Grant(
        "DeadLetterRedrive",
        (f"{ADAPTERS}/ops_reads.py::DeadLetters",),
        ("sqs:SendMessage", "sqs:GetQueueUrl"),
        _queues("ingest_queue", "approval_queue", "publish_queue"),
    ),
    Grant(
        "Protocols",
        (f"{ADAPTERS}/workflows.py",),
        (
            "states:StartExecution",
            "states:DescribeExecution",  # stop only a running one
            "states:GetExecutionHistory",  # an owed answer refused as done: did it finish its step?
            "states:StopExecution",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
        ),
        lambda names, stage: [
            f"arn:aws:states:*:*:stateMachine:{names.prefix}-protocol-*",
            f"arn:aws:states:*:*:execution:{names.prefix}-protocol-*:*",
        ],
    ),
    # The weekly report's files (the bucket's name ends with the account and region).
    Grant(
        "Reports",
        (f"{ADAPTERS}/report_store.py",),
        ("s3:PutObject", "s3:GetObject"),
        lambda names, stage: [f"arn:aws:s3:::{resource_name(REPORT_BUCKET_SUFFIX, stage)}-*/*"],
    ),
    # GET /reports lists the stored weeks; a HeadObject of a missing report is then a 404, not a 403.
    Grant(
        "ReportListing",
        (f"{ADAPTERS}/report_store.py",),
        ("s3:ListBucket",),
        lambda names, stage: [f"arn:aws:s3:::{resource_name(REPORT_BUCKET_SUFFIX, stage)}-*"],
    ),
    # GET /health: every table and queue of the stage answers.
    Grant(
        "HealthChecks",
        (f"{ADAPTERS}/aws.py::AwsReadiness",),
        ("dynamodb:DescribeTable", "sqs:GetQueueUrl"),
        lambda names, stage: [f"arn:aws:dynamodb:*:*:table/{names.prefix}-*", f"arn:aws:sqs:*:*:{names.prefix}-*"],
    ),
    # The stage's own parameters: the contract's secrets (template Outputs.SecretParameterNames) and the
    # publishers' credentials, all under /<app>/<stage>/.
    Grant(
        "Secrets",
        (f"{ADAPTERS}/secrets.py", f"{ADAPTERS}/publishers/http.py::Credentials"),
        ("ssm:GetParameter",),
        lambda names, stage: [f"arn:aws:ssm:*:*:parameter/{APP_NAME}/{stage}/*"],
    ),
    # X rotates its OAuth refresh token on every refresh: the publisher writes the new one back, to that one
    # parameter only.
    Grant(
        "RotatedPublisherToken",
        (f"{ADAPTERS}/publishers/http.py::Credentials",),
        ("ssm:PutParameter",),
        lambda names, stage: [f"arn:aws:ssm:*:*:parameter/{APP_NAME}/{stage}/X_OAUTH_REFRESH_TOKEN"],
    ),
)

# Every function: its own log group, and active X-Ray tracing (the stage's "xray": true; trace segments name no
# resource, so AWS documents "*").
SHARED: tuple[dict[str, Any], ...] = (
    {
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "LOG_GROUP",
    },
    {
        "Sid": "Tracing",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    },
)
# SecureString parameters are decrypted by SSM with the function's rights: only through SSM.
DECRYPT_THROUGH_SSM = {
    "Sid": "DecryptSecretsThroughSsmOnly",
    "Effect": "Allow",
    "Action": ["kms:Decrypt"],
    "Resource": "*",
    "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}},
}
# What Lambda itself does with the function's role for its event source (AWS's documented minimum).
SQS_EVENT_SOURCE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
STREAM_EVENT_SOURCE = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources[0] if len(resources) == 1 else resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def function_calls(function: str) -> list[AwsCall]:
    """The calls ``function``'s code makes (:func:`infra.aws_calls.lambda_calls`)."""
    return list(lambda_calls()[function])


def functions() -> list[str]:
    """Every Lambda function of the app (Chalice's names), in a fixed order."""
    return sorted(lambda_calls())


@functools.cache
def _named_fields() -> dict[str, str]:
    """Each table's and queue's logical id in the template -> its field of ``Resources`` (the same for every
    stage: read from dev's)."""
    from infra.template import build_template

    names = Resources.for_stage("dev")
    fields = {getattr(names, f.name): f.name for f in dataclasses.fields(names) if f.name != "prefix"}
    found = {}
    for logical, resource in build_template("dev")["Resources"].items():
        properties = resource.get("Properties", {})
        name = properties.get("TableName") or properties.get("QueueName")
        if isinstance(name, str) and name in fields:
            found[logical] = fields[name]
    return found


def _function_settings(function: str) -> dict[str, Any]:
    """What the template sets on ``function`` beyond Chalice (its event source's and its failures' settings)."""
    from infra.template import _deep_merge, _scheduled_function_settings, chalice_overrides, function_logical_ids

    settings: dict[str, Any] = {}
    _deep_merge(settings, chalice_overrides())
    _deep_merge(settings, _scheduled_function_settings())
    return settings.get(function_logical_ids()[function], {}).get("Properties", {})


def _event_source_statements(function: str, names: Resources) -> list[dict[str, Any]]:
    """What Lambda does with ``function``'s role for its event source: consume its queue, read its stream, send
    what failed to its on-failure queue."""
    from chalice.app import DynamoDBEventConfig, SQSEventConfig

    from chalicelib.settings import resources
    from infra.template import _app

    current = resources()  # the names the app was imported with (its event sources name queues by them)
    fields = {getattr(current, f.name): f.name for f in dataclasses.fields(current) if f.name != "prefix"}
    logical = _named_fields()
    statements = []
    for source in _app().event_sources:
        if source.name == function and isinstance(source, SQSEventConfig):
            queue = getattr(names, fields[source.queue])
            statements.append(_statement("EventSourceQueue", list(SQS_EVENT_SOURCE), [f"arn:aws:sqs:*:*:{queue}"]))
    settings = _function_settings(function)
    destinations = []
    invoke = settings.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
    if invoke:
        destinations.append(invoke["Destination"])
    streams = []
    for event in settings.get("Events", {}).values():
        properties = event.get("Properties", {})
        if "Stream" in properties:
            table = getattr(names, logical[properties["Stream"]["Fn::GetAtt"][0]])
            streams.append(table)
            statements.append(_statement("EventSourceStream", list(STREAM_EVENT_SOURCE), [_table(table) + "/stream/*"]))
        on_failure = properties.get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            destinations.append(on_failure["Destination"])
    if any(isinstance(s, DynamoDBEventConfig) and s.name == function for s in _app().event_sources) and not streams:
        raise ValueError(f"{function} reads a stream the template does not name (infra.template.chalice_overrides)")
    queues = sorted({getattr(names, logical[d["Fn::GetAtt"][0]]) for d in destinations})
    if queues:
        # Lambda sends the failed event's (or batch's) description with the function's role.
        statements.append(
            _statement("OnFailureDestination", ["sqs:SendMessage"], [f"arn:aws:sqs:*:*:{q}" for q in queues])
        )
    return statements


def build_function_policy(stage: str, function: str, config: StageConfig | None = None) -> dict[str, Any]:
    """``function``'s policy on ``stage``."""
    names = Resources.for_stage(stage)
    config = config or StageConfig.load(stage)
    calls = function_calls(function)
    statements = [_shared(statement, stage, function) for statement in SHARED]
    statements += _event_source_statements(function, names)
    for grant in GRANTS:
        needed = {action for call in calls if grant.serves_call(call) for action in call.actions}
        actions = [action for action in grant.actions if action in needed]
        if actions:
            condition = grant.condition(config) if grant.condition else None
            statements.append(_statement(grant.sid, actions, grant.resources(names, stage), condition))
    if any(action.startswith("ssm:") for call in calls for action in call.actions):
        statements.append(dict(DECRYPT_THROUGH_SSM))
    return {"Version": "2012-10-17", "Statement": statements}


def _shared(statement: dict[str, Any], stage: str, function: str) -> dict[str, Any]:
    statement = json.loads(json.dumps(statement))
    if statement["Resource"] == "LOG_GROUP":
        # CloudFormation names the function <stack>-<logical id>-<suffix> (the stack: <app>-<stage>, make deploy);
        # its log group is /aws/lambda/<that>.
        from infra.template import function_logical_ids

        logical = function_logical_ids()[function] if function != "*" else ""
        statement["Resource"] = (
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{APP_NAME}-{stage}-{logical}{'-' if logical else ''}*"
        )
    return statement


def build_policy(stage: str, config: StageConfig | None = None) -> dict[str, Any]:
    """What the stage's functions may do between them (no role has it: each has its own,
    :func:`build_function_policy`): one statement per Sid, the union of the functions' actions and resources."""
    merged: dict[str, dict[str, Any]] = {}
    for function in functions():
        for statement in build_function_policy(stage, function, config)["Statement"]:
            into = merged.setdefault(statement["Sid"], json.loads(json.dumps(statement)))
            for key in ("Action", "Resource"):
                have = into[key] if isinstance(into[key], list) else [into[key]]
                more = statement[key] if isinstance(statement[key], list) else [statement[key]]
                union = have + [x for x in more if x not in have]
                into[key] = union[0] if len(union) == 1 and key == "Resource" else union
    return {"Version": "2012-10-17", "Statement": list(merged.values())}


def default_policy(stage: str) -> dict[str, Any]:
    """The stage-level ``iam_policy_file``: the role of a function without a file of its own (none has none: a test
    checks), which may write its logs and traces and nothing else."""
    logs = _shared(SHARED[0], stage, "*")
    return {"Version": "2012-10-17", "Statement": [logs, _shared(SHARED[1], stage, "*")]}


def policy_file_name(stage: str, function: str | None = None) -> str:
    return f"policy-{stage}.json" if function is None else f"policy-{stage}-{function}.json"


def policy_path(stage: str, function: str | None = None) -> Path:
    """``.chalice/policy-<stage>-<function>.json``, or the stage's default ``.chalice/policy-<stage>.json``."""
    return ROOT / ".chalice" / policy_file_name(stage, function)


def render(stage: str, function: str | None = None) -> str:
    policy = default_policy(stage) if function is None else build_function_policy(stage, function)
    return json.dumps(policy, indent=2) + "\n"


def rendered_files(stage: str) -> dict[Path, str]:
    """Every policy file of the stage and its content."""
    files = {policy_path(stage): render(stage)}
    files.update({policy_path(stage, function): render(stage, function) for function in functions()})
    return files


def render_config(path: Path = CONFIG_PATH) -> str:
    """``.chalice/config.json`` with each deployed stage's functions pointing at their own policy file (their
    other per-function settings kept)."""
    config = json.loads(path.read_text(encoding="utf-8"))
    for stage in DEPLOYED_STAGES:
        settings = config["stages"][stage]
        settings["autogen_policy"] = False
        settings["iam_policy_file"] = policy_file_name(stage)
        per_function = settings.setdefault("lambda_functions", {})
        for function in functions():
            entry = per_function.setdefault(function, {})
            entry["iam_policy_file"] = policy_file_name(stage, function)
        for stale in [f for f in per_function if f not in functions()]:
            per_function[stale].pop("iam_policy_file", None)
            if not per_function[stale]:
                del per_function[stale]
        settings["lambda_functions"] = {f: per_function[f] for f in sorted(per_function)}
    return json.dumps(config, indent=2) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--write",
        action="store_true",
        help="write .chalice/policy-<stage>[-<function>].json for dev and prod, and their entries in config.json",
    )
    args = parser.parse_args()
    for stage in DEPLOYED_STAGES:
        current = rendered_files(stage)
        if args.write:
            stale = set(policy_path(stage).parent.glob(f"policy-{stage}-*.json")) - set(current)
            for path in stale:
                path.unlink()
            for path, text in current.items():
                path.write_text(text, encoding="utf-8")
        else:
            for path, text in current.items():
                print(f"# {path.relative_to(ROOT)}\n{text}")
    if args.write:
        CONFIG_PATH.write_text(render_config(), encoding="utf-8")


if __name__ == "__main__":
    main()
