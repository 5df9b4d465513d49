"""Every resource the code refers to is in the template, with the permissions the code uses, for each stage.

Resources come from ``chalicelib.settings.Resources`` (the names the code uses), the bundled plan's protocols
(state machines) and the contract's secrets; the calls from reading the code (``infra.aws_calls``).
"""

from __future__ import annotations

import dataclasses
import json
from fnmatch import fnmatch

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.adapters.secrets import SECRET_NAMES
from chalicelib.settings import Resources, resource_name, secret_parameter_name
from infra.aws_calls import AwsCall, code_calls
from infra.policy import DEPLOYED_STAGES, build_policy
from infra.stage_config import StageConfig, StageNotDeployable
from infra.template import (
    DEAD_LETTER_QUEUES,
    VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT,
    build_merge_template,
    build_template,
    function_logical_ids,
    queue_consumers,
)

NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
}

# Calls made only by operator commands (python -m chalicelib.cli ..., with the operator's own credentials), never
# by a Lambda function: the functions' role does not get them.
OPERATOR_ONLY = {
    "chalicelib/adapters/mentions_table.py::DynamoMentionRepository.count": "make run's summary counts mentions",
    # Not called by any function yet: the publishers' token rotation is not wired (grant ssm:PutParameter on the
    # rotated token's parameter with the wiring).
    "chalicelib/adapters/publishers/http.py::Credentials.put": "publisher token rotation, not wired yet",
    # social-response backfill-assignee-shard: a one-off Scan of the issues table after an upgrade
    "chalicelib/adapters/issues_table.py::DynamoIssues.assigned_page": "social-response backfill-assignee-shard",
    # social-response erase: the right to erasure walks every table with the operator's credentials
    **{
        f"chalicelib/adapters/erasure.py::DynamoErasure.{method}": "social-response erase"
        for method in (
            "record",
            "_scan",
            "_key_names",
            "redact_everywhere",
            "erase_mentions",
            "redact_reports",
            "_forget_versions",
        )
    },
}

# Which tables each adapter module works on (the map the code is checked against, both ways).
ADAPTER_TABLES = {
    "chalicelib/adapters/alerts.py": {"alerts_table", "issues_table"},
    "chalicelib/adapters/approvals_table.py": {"approvals_table", "audit_table"},
    "chalicelib/adapters/issues_table.py": {"issues_table", "audit_table", "mentions_table"},
    "chalicelib/adapters/mentions_table.py": {"mentions_table"},
    "chalicelib/adapters/ops_tokens.py": {"ops_tokens_table"},
    "chalicelib/adapters/ops_reads.py": {"alerts_table"},
    "chalicelib/adapters/outbox.py": {"outbox_table"},
    "chalicelib/adapters/plans.py": {"plans_table"},
    "chalicelib/adapters/surge_table.py": {"surges_table"},
    "chalicelib/adapters/triage_table.py": {
        "mentions_table",
        "issues_table",
        "issue_keys_table",
        "audit_table",
        "escalations_table",
    },
    "chalicelib/api/health.py": "every table of the stage",
    "chalicelib/adapters/publish_claims.py": {"publish_claims_table"},
    "chalicelib/adapters/surveys_table.py": {"surveys_table", "issues_table", "audit_table"},
    "chalicelib/adapters/survey_senders.py": {"outbox_table"},
    "chalicelib/adapters/recurrence_table.py": {"recurrence_keys_table", "issues_table", "audit_table"},
    "chalicelib/adapters/issue_regroup.py": {"issues_table", "audit_table", "mentions_table", "issue_keys_table"},
    "chalicelib/adapters/plan_lifecycle.py": {"plans_table", "audit_table"},
    "chalicelib/adapters/link_uses.py": {"alerts_table"},
}


def _named(template: dict) -> dict[str, str]:
    """Physical name -> resource type, for every named resource of the template."""
    named = {}
    for resource in template["Resources"].values():
        prop = NAME_PROPERTY.get(resource["Type"])
        if prop:
            named[resource["Properties"][prop]] = resource["Type"]
    return named


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_resource_the_code_names_is_in_the_template(stage):
    names = Resources.for_stage(stage)
    named = _named(build_template(stage))
    for field in dataclasses.fields(Resources):
        if field.name != "prefix":
            assert getattr(names, field.name) in named, f"{field.name} ({getattr(names, field.name)}) is missing"
    for protocol in bundled_plan().protocols:
        assert named.get(names.state_machine(protocol)) == "AWS::StepFunctions::StateMachine", protocol


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_secret_parameters_are_named_in_the_template_without_values_and_readable_by_the_functions(stage):
    template = build_template(stage)
    expected = [secret_parameter_name(name, stage) for name in SECRET_NAMES]
    assert template["Metadata"]["SecretParameterNames"] == expected
    assert template["Outputs"]["SecretParameterNames"]["Value"].split(",") == expected
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]  # no values
    readable = _granted(build_policy(stage), "ssm:GetParameter")
    assert all(any(fnmatch(f"arn:aws:ssm:us-east-1:1:parameter{name}", p) for p in readable) for name in expected)


def _granted(policy: dict, action: str) -> list[str]:
    resources = []
    for statement in policy["Statement"]:
        if action in statement["Action"]:
            found = statement["Resource"]
            resources += found if isinstance(found, list) else [found]
    return resources


def _lambda_calls() -> list[AwsCall]:
    return [call for call in code_calls() if call.function not in OPERATOR_ONLY]


def test_the_call_walker_finds_calls_through_bound_clients_and_paginators():
    calls = {(c.function, c.operation) for c in code_calls()}
    # triage_table binds ``dynamodb = client("dynamodb")``; mentions_table pages a scan.
    assert ("chalicelib/adapters/mentions_table.py::DynamoMentionRepository.count", "Scan") in calls
    assert any(op == "TransactWriteItems" and f.startswith("chalicelib/adapters/triage_table.py") for f, op in calls)
    assert any(op == "SendEmail" for _, op in calls)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_aws_call_a_function_makes_is_allowed_on_its_resources(stage):
    policy = build_policy(stage)
    names = Resources.for_stage(stage)
    for call in _lambda_calls():
        module = call.function.split("::")[0]
        for action in call.actions:
            granted = _granted(policy, action)
            assert granted, f"{call.where} needs {action}: not in infra/policy.py"
            if call.service != "dynamodb" or action == "dynamodb:DescribeTable":
                continue
            tables = ADAPTER_TABLES.get(module)
            assert tables is not None, f"{module} calls DynamoDB: declare its tables in ADAPTER_TABLES"
            # publish_claims_table is not a Resources field yet: the template names it by the same rule.
            arns = [
                f"arn:aws:dynamodb:us-east-1:1:table/"
                f"{getattr(names, t, None) or resource_name(t.removesuffix('_table').replace('_', '-'), stage)}"
                for t in tables
            ]
            assert any(fnmatch(arn, pattern) for arn in arns for pattern in granted), (
                f"{call.where}: {action} is granted on none of {sorted(tables)}"
            )


def test_operator_only_exceptions_still_exist_in_the_code():
    functions = {call.function for call in code_calls()}
    stale = [name for name in OPERATOR_ONLY if name not in functions and not name.endswith(".create")]
    assert not stale, f"no longer in the code, drop from OPERATOR_ONLY: {stale}"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_queue_visibility_timeouts_are_six_times_their_consumers_timeout(stage):
    resources = build_template(stage)["Resources"]
    config = StageConfig.load(stage)
    for logical, source in queue_consumers().items():
        timeout = resources[f"{logical}Queue"]["Properties"]["VisibilityTimeout"]
        assert timeout >= VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT * config.timeout(source.name), logical
        assert timeout <= 43200  # SQS's maximum


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_alarms_cover_every_dlq_function_and_state_machine_and_go_to_the_alerts_topic(stage):
    resources = build_merge_template(stage)["Resources"]
    alarms = {k: v["Properties"] for k, v in resources.items() if v.get("Type") == "AWS::CloudWatch::Alarm"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    dlqs = [
        k
        for k, v in resources.items()
        if v.get("Type") == "AWS::SQS::Queue" and v["Properties"]["QueueName"].endswith("-dlq")
    ]
    assert sorted(dlqs) == sorted(DEAD_LETTER_QUEUES)
    for dlq in dlqs:
        assert f"{dlq}DepthAlarm" in alarms
    for logical in function_logical_ids().values():
        assert {f"{logical}ErrorsAlarm", f"{logical}ThrottlesAlarm"} <= set(alarms), logical
    machines = [k for k, v in resources.items() if v.get("Type") == "AWS::StepFunctions::StateMachine"]
    for machine in machines:
        assert {f"{machine}FailedAlarm", f"{machine}TimedOutAlarm"} <= set(alarms)
    emf = {a["MetricName"] for a in alarms.values() if a["Namespace"] == "SocialResponse"}
    assert emf == {"SlaBreaches", "SurgesDetected"}


def test_the_issues_stream_fails_into_its_dead_letter_queue():
    events = build_merge_template("dev")["Resources"]["StartProtocols"]["Properties"]["Events"]
    settings = events["StartProtocolsDynamodbEventSource"]["Properties"]
    assert settings["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["IssuesStreamDeadLetterQueue", "Arn"]},
    }
    assert "issues-stream-dlq" in json.dumps(build_policy("dev"))


def test_only_prod_tables_refuse_deletion():
    for stage, protected in (("dev", False), ("prod", True)):
        tables = [r for r in build_template(stage)["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
        assert tables and all(t["Properties"].get("DeletionProtectionEnabled", False) is protected for t in tables)
        assert all(
            t["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
            and t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
            for t in tables
        )


def _stage_config(tmp_path, stage: str, environment: dict) -> StageConfig:
    config = json.loads(json.dumps(StageConfig.load("dev").config))  # a copy of the real file's content
    config["stages"][stage] = {**config["stages"]["dev"], "environment_variables": {"STAGE": stage, **environment}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return StageConfig.load(stage, path)


def test_a_stage_with_its_own_sender_gets_a_policy_for_that_sender(tmp_path):
    config = _stage_config(
        tmp_path,
        "brand",
        {"PUBLIC_BASE_URL": "https://replies.brand.example/api", "APPROVALS_FROM_EMAIL": "care@brand.example"},
    )
    emails = next(s for s in build_policy("brand", config)["Statement"] if s["Sid"] == "ApprovalEmails")
    assert emails["Condition"]["StringEquals"]["ses:FromAddress"] == "care@brand.example"
    assert config.public_base_url == "https://replies.brand.example/api"


def test_the_committed_dev_and_prod_policies_use_each_stage_s_own_sender():
    senders = {}
    for stage in DEPLOYED_STAGES:
        emails = next(s for s in build_policy(stage)["Statement"] if s["Sid"] == "ApprovalEmails")
        senders[stage] = emails["Condition"]["StringEquals"]["ses:FromAddress"]
        assert senders[stage] == StageConfig.load(stage).environment["APPROVALS_FROM_EMAIL"]
    assert senders["dev"] != senders["prod"]


@pytest.mark.parametrize("missing", ["PUBLIC_BASE_URL", "APPROVALS_FROM_EMAIL"])
def test_a_stage_without_its_required_settings_is_not_packaged(tmp_path, missing):
    settings = {"PUBLIC_BASE_URL": "https://replies.brand.example/api", "APPROVALS_FROM_EMAIL": "care@brand.example"}
    del settings[missing]
    config = _stage_config(tmp_path, "brand", settings)
    with pytest.raises(StageNotDeployable, match=missing):
        config.check_deployable()


@pytest.mark.parametrize("stage_setting", [None, "local", "dev"])
def test_a_stage_whose_stage_setting_is_not_its_name_is_not_packaged(tmp_path, stage_setting):
    """settings.py names every resource from STAGE: a deployed 'brand' stage running as 'local' would use tables
    that do not exist."""
    config = _stage_config(
        tmp_path,
        "brand",
        {"PUBLIC_BASE_URL": "https://replies.brand.example/api", "APPROVALS_FROM_EMAIL": "c@b.example"},
    )
    environment = config.config["stages"]["brand"]["environment_variables"]
    if stage_setting is None:
        del environment["STAGE"]
    else:
        environment["STAGE"] = stage_setting
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.config))
    with pytest.raises(StageNotDeployable, match="STAGE"):
        StageConfig.load("brand", path).check_deployable()


def test_a_local_base_url_is_not_deployable(tmp_path):
    config = _stage_config(
        tmp_path, "brand", {"PUBLIC_BASE_URL": "http://127.0.0.1:8000", "APPROVALS_FROM_EMAIL": "care@brand.example"}
    )
    with pytest.raises(StageNotDeployable, match="https"):
        config.check_deployable()


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_report_bucket_is_private_encrypted_tls_only_and_expires_reports(stage):
    resources = build_template(stage)["Resources"]
    bucket = resources["ReportBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] > 0
    deny = resources["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_outputs_name_the_api_every_webhook_the_topic_and_the_bucket():
    from chalicelib.platforms import PLATFORMS

    outputs = build_merge_template("prod")["Outputs"]
    assert {"ApiUrl", "AlertsTopicName", "ReportBucketName"} <= set(outputs)
    for platform in PLATFORMS:
        assert outputs[f"WebhookUrl{platform.title()}"]["Value"]["Fn::Sub"].endswith(f"/webhooks/{platform}")


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_only_the_token_table_grants_delete_since_no_function_deletes_elsewhere(stage):
    """No transaction has a Delete item, so the audit trail, issues, plans and approvals cannot be deleted by the
    functions' role: only revoked ops tokens are."""
    deleting = [s for s in build_policy(stage)["Statement"] if "dynamodb:DeleteItem" in s["Action"]]
    tokens = Resources.for_stage(stage).ops_tokens_table
    assert [s["Resource"] for s in deleting] == [f"arn:aws:dynamodb:*:*:table/{tokens}"]


def test_transaction_item_kinds_are_read_from_the_code(tmp_path):
    from infra.aws_calls import transaction_item_kinds

    (tmp_path / "a.py").write_text('ITEM = {"Delete": {"TableName": "t", "Key": {}}}\nOTHER = {"Put": "not an item"}\n')
    assert transaction_item_kinds((tmp_path,)) == {"Delete"}
    assert "Delete" not in transaction_item_kinds()
