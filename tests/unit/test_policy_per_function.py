"""Each Lambda function has a role of its own whose policy is what its own code calls (least privilege).

Before, every function's role carried one whole-app policy: the internet-facing API could write the rotated
publisher token and read the issues stream; process_mentions, which parses untrusted content, could write ops
tokens, send email and resume protocols.
"""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pytest

from chalicelib.settings import APP_NAME, Resources
from infra.aws_calls import NOT_REACHED, code_calls, lambda_calls, reached
from infra.policy import (
    DEPLOYED_STAGES,
    GRANTS,
    build_function_policy,
    default_policy,
    functions,
    policy_path,
    render_config,
    rendered_files,
)
from infra.stage_config import CONFIG_PATH
from infra.template import function_logical_ids

ADAPTERS = "chalicelib/adapters"


def _actions(policy: dict) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def _resources(statement: dict) -> list[str]:
    found = statement["Resource"]
    return found if isinstance(found, list) else [found]


def _granted_on(policy: dict, resource: str) -> set[str]:
    """Actions the policy allows on ``resource`` (an ARN, matched against the statements' patterns), those on
    "*" (X-Ray's, KMS through SSM) aside."""
    return {
        action
        for statement in policy["Statement"]
        if any(fnmatch(resource, pattern) for pattern in _resources(statement) if pattern != "*")
        for action in statement["Action"]
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_process_mentions_cannot_touch_ops_tokens_send_email_or_answer_protocols(stage):
    policy = build_function_policy(stage, "process_mentions")
    tokens = f"arn:aws:dynamodb:us-east-1:1:table/{Resources.for_stage(stage).ops_tokens_table}"
    assert not _granted_on(policy, tokens)
    actions = _actions(policy)
    assert not {a for a in actions if a.startswith(("ses:", "states:"))}
    assert "ssm:PutParameter" not in actions
    assert "dynamodb:DeleteItem" not in actions and "dynamodb:Scan" not in actions
    # what it does need
    assert {"dynamodb:PutItem", "dynamodb:BatchGetItem", "sqs:ReceiveMessage", "sns:Publish"} <= actions


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_api_cannot_write_secrets_read_the_stream_consume_the_ingest_queue_or_write_reports(stage):
    policy = build_function_policy(stage, "api_handler")
    names = Resources.for_stage(stage)
    actions = _actions(policy)
    assert "ssm:PutParameter" not in actions
    assert not {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} & actions
    assert "sqs:ReceiveMessage" not in _granted_on(policy, f"arn:aws:sqs:us-east-1:1:{names.ingest_queue}")
    assert "s3:PutObject" not in actions
    assert not {"states:StopExecution", "states:SendTaskFailure", "ses:SendRawEmail"} & actions
    # what it does need: the ops API's token routes, the webhooks' queue, the approval answers
    tokens = f"arn:aws:dynamodb:us-east-1:1:table/{names.ops_tokens_table}"
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"} <= _granted_on(
        policy, tokens
    )
    assert "sqs:SendMessage" in _granted_on(policy, f"arn:aws:sqs:us-east-1:1:{names.ingest_queue}")
    assert "states:SendTaskSuccess" in actions


def test_only_the_function_that_publishes_and_those_that_may_reach_the_x_publisher_write_its_token():
    writers = {f for f in functions() if "ssm:PutParameter" in _actions(build_function_policy("dev", f))}
    assert "publish_replies" in writers
    assert not writers & {"api_handler", "process_mentions", "check_slas", "weekly_report", "send_alert_digest"}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_function_is_granted_exactly_the_actions_of_the_calls_its_code_makes(stage):
    """Beyond the shared and event-source statements, a function's actions are its calls' actions: each call's
    actions are granted by the grants that serve its code, and nothing else is granted."""
    shared = {"Logs", "Tracing", "EventSourceQueue", "EventSourceStream", "OnFailureDestination"}
    for function in functions():
        policy = build_function_policy(stage, function)
        calls = lambda_calls()[function]
        needed = {action for call in calls for action in call.actions}
        from_calls = {
            a
            for s in policy["Statement"]
            if s["Sid"] not in shared and s["Sid"] != "DecryptSecretsThroughSsmOnly"
            for a in s["Action"]
        }
        assert from_calls == needed, function
        by_sid = {s["Sid"]: s for s in policy["Statement"]}
        for call in calls:
            for action in call.actions:
                serving = [g for g in GRANTS if g.serves_call(call) and action in g.actions]
                assert serving, f"{call.where} ({call.function}) needs {action}: no grant in infra/policy.py serves it"
                assert all(action in by_sid[g.sid]["Action"] for g in serving), (function, call.where, action)
        reads_ssm = any(a.startswith("ssm:") for a in needed)
        assert ("DecryptSecretsThroughSsmOnly" in by_sid) is reads_ssm, function


def test_every_lambda_call_in_the_code_is_served_by_a_grant():
    for function in functions():
        for call in lambda_calls()[function]:
            for action in call.actions:
                assert any(g.serves_call(call) and action in g.actions for g in GRANTS), (call.where, action)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_event_sources_get_their_queue_stream_and_failure_queue_only(stage):
    names = Resources.for_stage(stage)
    consumed = {"process_mentions": names.ingest_queue, "request_approvals": names.approval_queue}
    consumed["publish_replies"] = names.publish_queue
    for function in functions():
        by_sid = {s["Sid"]: s for s in build_function_policy(stage, function)["Statement"]}
        if function in consumed:
            assert by_sid["EventSourceQueue"]["Resource"] == f"arn:aws:sqs:*:*:{consumed[function]}"
        else:
            assert "EventSourceQueue" not in by_sid, function
        assert ("EventSourceStream" in by_sid) is (function == "start_protocols"), function
    stream = {s["Sid"]: s for s in build_function_policy(stage, "start_protocols")["Statement"]}
    assert stream["EventSourceStream"]["Resource"] == f"arn:aws:dynamodb:*:*:table/{names.issues_table}/stream/*"
    assert stream["OnFailureDestination"]["Resource"] == f"arn:aws:sqs:*:*:{names.issues_stream_dlq}"
    scheduled = {s["Sid"]: s for s in build_function_policy(stage, "check_slas")["Statement"]}
    assert scheduled["OnFailureDestination"]["Resource"] == f"arn:aws:sqs:*:*:{names.schedule_dlq}"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_each_function_writes_only_its_own_logs(stage):
    for function, logical in function_logical_ids().items():
        logs = build_function_policy(stage, function)["Statement"][0]
        assert logs["Sid"] == "Logs"
        assert logs["Resource"] == f"arn:aws:logs:*:*:log-group:/aws/lambda/{APP_NAME}-{stage}-{logical}-*"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_policy_file_grants_no_wildcard_actions_and_scopes_data_to_its_stage(stage):
    for path, text in rendered_files(stage).items():
        for statement in json.loads(text)["Statement"]:
            assert all("*" not in action for action in statement["Action"]), path
            if statement["Sid"] not in ("DecryptSecretsThroughSsmOnly", "ApprovalEmails", "Tracing"):
                assert all(f"-{stage}" in r or f"/{stage}/" in r for r in _resources(statement)), (path, statement)


def test_committed_policy_files_and_config_match_the_generator():
    """``python -m infra.policy --write`` writes every file: each must be current, and none left over."""
    for stage in DEPLOYED_STAGES:
        files = rendered_files(stage)
        for path, text in files.items():
            assert path.read_text(encoding="utf-8") == text, f"run: python -m infra.policy --write ({path.name})"
        on_disk = set(policy_path(stage).parent.glob(f"policy-{stage}-*.json")) | {policy_path(stage)}
        assert on_disk == set(files), "run: python -m infra.policy --write (a stale policy file)"
    assert CONFIG_PATH.read_text(encoding="utf-8") == render_config(), "run: python -m infra.policy --write"


def test_every_function_of_each_deployed_stage_has_its_own_policy_file_and_the_default_grants_nothing_else():
    config = json.loads(CONFIG_PATH.read_text(encoding="utf-8"))
    assert set(functions()) == set(function_logical_ids())
    for stage in DEPLOYED_STAGES:
        settings = config["stages"][stage]
        assert settings["autogen_policy"] is False
        per_function = settings["lambda_functions"]
        for function in functions():
            assert per_function[function]["iam_policy_file"] == policy_path(stage, function).name
        assert _actions(default_policy(stage)) == {
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }


def test_the_packaged_template_gives_each_function_a_role_with_its_own_policy():
    from infra.package import sam_template

    resources = sam_template("dev")["Resources"]
    roles = set()
    for function, logical in function_logical_ids().items():
        role = resources[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
        roles.add(role)
        (document,) = [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]]
        assert document == build_function_policy("dev", function), function
    assert len(roles) == len(function_logical_ids())


def test_the_analysis_follows_the_code_from_each_handler():
    def functions_of(function: str) -> set[str]:
        return {call.function for call in lambda_calls()[function]}

    assert f"{ADAPTERS}/triage_table.py::DynamoTriageStore.commit" in functions_of("process_mentions")
    assert f"{ADAPTERS}/ops_tokens.py::DynamoOpsTokens.revoke" in functions_of("api_handler")
    # the X publisher's token refresh writes the rotated token: through AccessToken, from publishing
    assert f"{ADAPTERS}/publishers/http.py::Credentials.put" in functions_of("publish_replies")
    assert f"{ADAPTERS}/report_store.py::S3ReportStore.put" in functions_of("weekly_report")
    assert not any(f.startswith(f"{ADAPTERS}/ops_tokens.py") for f in functions_of("process_mentions"))
    # operator commands' calls reach no function
    assert not any(f.startswith(f"{ADAPTERS}/erasure.py") for fn in functions() for f in functions_of(fn))


def test_the_call_walker_sees_calls_through_helpers():
    calls = {(c.function, c.operation) for c in code_calls()}
    # batch_get / CombinedReads: the BatchGetItem is the caller's (its table)
    assert (f"{ADAPTERS}/triage_table.py::DynamoTriageStore.read_keys", "BatchGetItem") in calls
    assert (f"{ADAPTERS}/surge_table.py::DynamoSurgeStore.prefetch", "BatchGetItem") in calls
    # a client from a method (``dynamodb = self._client()``)
    assert (f"{ADAPTERS}/surge_table.py::DynamoSurgeStore._update", "UpdateItem") in calls
    # Powertools' SSM parameters
    assert (f"{ADAPTERS}/secrets.py::get_secret", "GetParameter") in calls
    assert not any(f.startswith(f"{ADAPTERS}/aws.py::_Call") for f, _ in calls)


def test_each_blocked_method_is_still_reached_without_its_block():
    """infra.aws_calls.NOT_REACHED names methods reached only by their name: stale entries must go."""
    for function, blocked in NOT_REACHED.items():
        assert blocked and not set(blocked) & reached(function), function
        unblocked = reached(function, blocked=())
        for key in blocked:
            assert key in unblocked, f"{function}: {key} is no longer reached: drop it from NOT_REACHED"
