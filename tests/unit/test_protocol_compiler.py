"""The approval-protocol compiler: plan protocol in, Amazon States Language out (pure, no AWS)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.adapters import state_machines as protocol_compiler
from chalicelib.adapters.state_machines import ProtocolResources, compile_protocol, timeout_seconds
from chalicelib.domain.index_shards import STATUS_CATEGORY_SHARDS
from chalicelib.domain.plan import load_plan_yaml, parse_plan

PLAN_FILE = Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml"
PLAN = load_plan_yaml(PLAN_FILE.read_text())
RESOURCES = ProtocolResources(
    approval_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/social-response-test-approvals",
    publish_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/social-response-test-publish",
    alerts_topic_arn="arn:aws:sns:us-east-1:123456789012:social-response-test-alerts",
    issues_table="social-response-test-issues",
    audit_table="social-response-test-audit",
)
WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
ALLOWED_RESOURCES = {
    WAIT,
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::dynamodb:updateItem",
    "arn:aws:states:::dynamodb:putItem",
}


def _compile(name: str = "high_priority", plan=PLAN, time_scale: float = 60.0) -> dict[str, Any]:
    return compile_protocol(plan, name, RESOURCES, time_scale=time_scale)


def _catch_target(state: dict[str, Any]) -> str:
    [catcher] = [c for c in state["Catch"] if "States.Timeout" in c["ErrorEquals"]]
    return catcher["Next"]


def _plan_with(protocol: dict[str, Any]):
    document = yaml.safe_load(PLAN_FILE.read_text())
    document["protocols"]["custom"] = protocol
    return parse_plan(document)


# -- independent validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PLAN.protocols))
@pytest.mark.parametrize("time_scale", [60.0, 0.05])
def test_every_default_protocol_is_valid_asl(name, time_scale):
    linter = pytest.importorskip(
        "statelint.linter",
        reason="the ASL validator is not installed: `.venv/bin/pip install statelint==3.1.0` (requirements-dev.txt)",
    )
    definition = _compile(name, time_scale=time_scale)
    assert linter.Linter.validate(json.loads(json.dumps(definition))) == []


def test_the_validator_does_find_mistakes():
    """Guard against a validator that accepts anything."""
    linter = pytest.importorskip("statelint.linter", reason="statelint is not installed")
    definition = _compile("routine")
    definition["States"]["respond.route"]["Choices"][0]["Next"] = "nowhere"
    assert any("nowhere" in problem for problem in linter.Linter.validate(definition))


# -- shape ---------------------------------------------------------------------------------------------------
def test_high_priority_state_names_are_readable_and_complete():
    states = _compile()["States"]
    assert set(states) == {
        "Start",
        "Start.channels",
        "Start.draft",
        "draft",
        "draft.reminder",
        "draft.escalated",
        "draft.alert_stuck",
        "draft.escalated_reminder",
        "draft.alert_timed_out",
        "draft.outcome",
        "draft.keep_draft",
        "draft.channels",
        "draft.keep_channels",
        "draft.route",
        "draft.unexpected_outcome",
        *(
            f"{step}{suffix}"
            for step in ("legal_review", "management_approval")
            for suffix in (
                "",
                ".escalated",
                ".alert_stuck",
                ".escalated_reminder",
                ".alert_timed_out",
                ".outcome",
                ".keep_draft",
                ".route",
                ".unexpected_outcome",
            )
        ),
        "Publish",
        "Publish.alert_timed_out",
        "ResolveIssue.shard",
        "ResolveIssue.shard_choice",
        *(f"ResolveIssue.shard_{shard}" for shard in range(STATUS_CATEGORY_SHARDS)),
        "ResolveIssue",
        "AuditResolved",
        "Resolved",
        "TimedOut",
        "NotPublished",
    }
    assert all(len(name) <= 80 for name in states)


@pytest.mark.parametrize("name", sorted(PLAN.protocols))
def test_jsonpath_only_and_only_optimised_service_integrations(name):
    definition = _compile(name)
    text = json.dumps(definition)
    assert "QueryLanguage" not in text and "{%" not in text and "lambda" not in text.lower()
    assert "startExecution" not in text
    for state in definition["States"].values():
        if state["Type"] == "Task":
            assert state["Resource"] in ALLOWED_RESOURCES


@pytest.mark.parametrize("name", sorted(PLAN.protocols))
def test_every_waiting_task_catches_timeouts_and_nothing_retries_them(name):
    for state_name, state in _compile(name)["States"].items():
        for retrier in state.get("Retry", []):
            assert not {"States.Timeout", "States.ALL"} & set(retrier["ErrorEquals"]), state_name
            assert retrier["MaxAttempts"] <= 3
        if state.get("Resource") == WAIT:
            assert _catch_target(state), state_name
            assert state["TimeoutSeconds"] >= 1
            assert state["Parameters"]["MessageBody"]["task_token.$"] == "$$.Task.Token"
        if state["Type"] == "Task":
            assert state["Retry"], f"{state_name} has no Retry for transient errors"


def test_the_initial_message_carries_the_step_and_resolved_people():
    state = _compile()["States"]["legal_review"]
    assert state["Parameters"]["QueueUrl"] == RESOURCES.approval_queue_url
    assert state["TimeoutSeconds"] == 3600 and state["ResultPath"] == "$.last"
    body = state["Parameters"]["MessageBody"]
    assert body == {
        "issue_id.$": "$.issue_id",
        "category.$": "$.category",
        "plan_version.$": "$.plan_version",
        "protocol": "high_priority",
        "step": "legal_review",
        "action": "review",
        "role": "Legal reviews the draft",
        "people": ["legal@aurelle.example"],
        "audience": "people",
        "attempt": "initial",
        "sla_minutes": 60,
        "timeout_seconds": 3600,
        "escalates_to": ["coo@aurelle.example"],
        "outcomes": ["approved", "rejected", "edited"],
        "comment.$": "$.last.comment",
        "commented_by.$": "$.last.actor",
        "draft.$": "$.draft",
        "task_token.$": "$$.Task.Token",
        "execution.$": "$$.Execution.Id",
    }


def test_remind_escalate_alert_chain_for_the_high_priority_draft():
    states = _compile(time_scale=0.05)["States"]

    def audience(name: str) -> tuple[str, list[str], int]:
        body = states[name]["Parameters"]["MessageBody"]
        assert body["audience"] == ("backup" if "escalated" in name else "people")  # the handler asks the plan's
        return body["attempt"], body["people"], states[name]["TimeoutSeconds"]

    pr = ["pr-lead@aurelle.example", "pr1@aurelle.example"]
    assert audience("draft") == ("initial", pr, 3)
    assert _catch_target(states["draft"]) == "draft.reminder"
    assert audience("draft.reminder") == ("reminder", pr, 3)
    assert _catch_target(states["draft.reminder"]) == "draft.escalated"
    assert audience("draft.escalated") == ("escalated", ["social-lead@aurelle.example"], 3)
    assert _catch_target(states["draft.escalated"]) == "draft.alert_stuck"
    assert states["draft.alert_stuck"]["Next"] == "draft.escalated_reminder"  # the alert keeps waiting
    assert audience("draft.escalated_reminder") == ("reminder", ["social-lead@aurelle.example"], 3)
    assert _catch_target(states["draft.escalated_reminder"]) == "draft.alert_timed_out"
    assert states["draft.alert_timed_out"]["Next"] == "TimedOut"
    assert states["TimedOut"]["Type"] == "Fail"
    for name in ("draft", "draft.reminder", "draft.escalated", "draft.escalated_reminder"):
        assert states[name]["Next"] == "draft.outcome"


def test_crisis_alerts_then_escalates_at_once():
    states = _compile("crisis")["States"]
    assert _catch_target(states["draft"]) == "draft.alert_stuck"
    assert states["draft.alert_stuck"]["Next"] == "draft.escalated"
    assert _catch_target(states["draft.escalated"]) == "draft.alert_timed_out"
    assert states["draft"]["TimeoutSeconds"] == 20 * 60


def test_alerts_carry_the_attributes_subscribers_filter_on():
    states = _compile()["States"]
    stuck = states["legal_review.alert_stuck"]
    assert stuck["Resource"] == "arn:aws:states:::sns:publish"
    parameters = stuck["Parameters"]
    assert parameters["TopicArn"] == RESOURCES.alerts_topic_arn
    assert parameters["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "approval_stuck"},
        "severity": {"DataType": "String", "StringValue": "high"},
        "category": {"DataType": "String", "StringValue.$": "$.category"},
        "step": {"DataType": "String", "StringValue": "legal_review"},
        "protocol": {"DataType": "String", "StringValue": "high_priority"},
    }
    assert parameters["Message"]["kind"] == "approval_stuck" and parameters["Message"]["issue_id.$"] == "$.issue_id"
    assert stuck["ResultPath"] is None  # the alert's response never replaces the state
    timed_out = states["legal_review.alert_timed_out"]["Parameters"]["MessageAttributes"]
    assert timed_out["kind"]["StringValue"] == "approval_timed_out"
    assert timed_out["severity"]["StringValue"] == "critical"


def test_outcomes_route_forward_back_or_fail():
    states = _compile()["States"]
    route = states["legal_review.route"]
    assert {(c["StringEquals"], c["Next"]) for c in route["Choices"]} == {
        ("approved", "management_approval"),
        ("edited", "management_approval"),
        ("rejected", "draft"),
    }
    assert route["Default"] == "legal_review.unexpected_outcome"
    assert states["legal_review.unexpected_outcome"] == {
        "Type": "Fail",
        "Error": "Protocol.UnexpectedOutcome",
        "Cause": "step legal_review expects one of: approved, rejected, edited",
    }
    assert {(c["StringEquals"], c["Next"]) for c in states["draft.route"]["Choices"]} == {("submitted", "legal_review")}
    assert {(c["StringEquals"], c["Next"]) for c in states["management_approval.route"]["Choices"]} == {
        ("approved", "Publish"),
        ("rejected", "draft"),
    }
    # A returned draft replaces the text; an empty one keeps it.
    outcome = states["legal_review.outcome"]
    assert outcome["Choices"][1] == {"Variable": "$.last.draft", "StringEquals": "", "Next": "legal_review.route"}
    assert outcome["Default"] == "legal_review.keep_draft"
    assert states["legal_review.keep_draft"] == {
        "Type": "Pass",
        "InputPath": "$.last.draft",
        "ResultPath": "$.draft",
        "Next": "legal_review.route",
    }


def test_publish_then_resolve_and_audit():
    states = _compile()["States"]
    publish = states["Publish"]
    assert publish["Resource"] == WAIT and publish["Parameters"]["QueueUrl"] == RESOURCES.publish_queue_url
    body = publish["Parameters"]["MessageBody"]
    assert body["channels.$"] == "$.channels" and body["draft.$"] == "$.draft"
    assert "channels" not in body  # no fixed list: the drafting step's choice (or the protocol's default)
    assert states["Start.channels"]["Result"] == ["public_reply", "private_reply"]
    assert body["issue_id.$"] == "$.issue_id" and body["task_token.$"] == "$$.Task.Token"
    assert publish["Next"] == "ResolveIssue.shard"  # the issue's index shard first, then the update
    # A publisher that could publish no channel fails the task: the run ends NotPublished, the issue stays open.
    [refused] = [c for c in publish["Catch"] if c["ErrorEquals"] == ["Publish.Refused"]]
    assert refused["Next"] == "NotPublished" and states["NotPublished"]["Type"] == "Fail"

    resolve = states["ResolveIssue"]["Parameters"]
    assert resolve["TableName"] == RESOURCES.issues_table
    assert resolve["Key"] == {"issue_id": {"S.$": "$.issue_id"}}
    assert resolve["ExpressionAttributeNames"] == {"#status": "status"}
    assert resolve["ExpressionAttributeValues"] == {
        ":resolved": {"S": "resolved"},
        ":at": {"S.$": "$$.State.EnteredTime"},
        ":status_category": {"S.$": "States.Format('resolved#{}{}', $.category, $.index_shard.suffix)"},
    }  # the by_status_category index, in the issue's write shard
    choice = states["ResolveIssue.shard_choice"]
    routes = {
        rule["StringMatches"][-1]: choice_rule["Next"]
        for choice_rule in choice["Choices"]
        for rule in choice_rule.get("Or", [choice_rule])
    }
    assert sorted(routes) == list("0123456789abcdef")  # every last hex digit of the digest has its shard
    for digit, state in routes.items():
        shard = "0123456789abcdef".index(digit) % STATUS_CATEGORY_SHARDS
        assert state == f"ResolveIssue.shard_{shard}" and states[state]["Next"] == "ResolveIssue"
        assert states[state]["Result"] == ("" if shard == 0 else f"#{shard}")
    assert states["ResolveIssue"]["Next"] == "AuditResolved"

    audit = states["AuditResolved"]["Parameters"]
    assert audit["TableName"] == RESOURCES.audit_table
    item = audit["Item"]
    assert item["issue_id"] == {"S.$": "$.issue_id"}
    assert item["sk"] == {"S.$": "States.Format('{}#resolved', $$.State.EnteredTime)"}
    assert item["type"] == {"S": "resolved"} and item["actor"] == {"S": "system:protocol"}
    assert states["AuditResolved"]["Next"] == "Resolved" and states["Resolved"] == {"Type": "Succeed"}


def test_routine_channels_and_start():
    definition = _compile("routine")
    assert definition["StartAt"] == "Start"
    assert definition["States"]["Start.draft"]["Next"] == "respond"
    assert definition["States"]["respond.route"]["Choices"] == [
        {"Variable": "$.last.outcome", "StringEquals": "submitted", "Next": "Publish"}
    ]
    assert definition["States"]["Publish"]["Parameters"]["MessageBody"]["channels.$"] == "$.channels"
    assert definition["States"]["Start.channels"]["Result"] == ["public_reply"]


# -- channels: the protocol's default until a drafting step chooses ------------------------------------------
@pytest.mark.parametrize("name", sorted(PLAN.protocols))
def test_start_initialises_the_channels_to_the_protocols_default(name):
    states = _compile(name)["States"]
    assert states["Start"]["Next"] == "Start.channels"
    assert states["Start.channels"] == {
        "Type": "Pass",
        "Comment": "The protocol's default channels, until a drafting step chooses others.",
        "Result": list(PLAN.protocols[name].publish),
        "ResultPath": "$.channels",
        "Next": "Start.draft",
    }
    assert states["Publish"]["Parameters"]["MessageBody"]["channels.$"] == "$.channels"


def test_a_drafting_steps_non_empty_channels_replace_the_previous_ones():
    states = _compile()["States"]
    # Both ways out of draft.outcome (text kept or replaced) pass the channel check before routing.
    assert states["draft.outcome"]["Choices"][1]["Next"] == "draft.channels"
    assert states["draft.keep_draft"]["Next"] == "draft.channels"
    assert states["draft.channels"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.last.channels[0]", "IsPresent": True, "Next": "draft.keep_channels"}],
        "Default": "draft.route",
    }  # missing (older callbacks) or [] keeps the previous choice
    assert states["draft.keep_channels"] == {
        "Type": "Pass",
        "InputPath": "$.last.channels",
        "ResultPath": "$.channels",
        "Next": "draft.route",
    }
    # The callback-shape check does not require channels.
    [shape] = [c for c in states["draft.outcome"]["Choices"] if "Or" in c]
    assert {v["Variable"] for v in shape["Or"]} == {"$.last.outcome", "$.last.comment", "$.last.draft"}
    # Review and approve steps cannot change them.
    assert "legal_review.channels" not in states and "management_approval.keep_channels" not in states
    writes = [name for name, state in states.items() if state.get("ResultPath") == "$.channels"]
    assert sorted(writes) == ["Start.channels", "draft.keep_channels"]


def test_a_respond_step_chooses_too_and_a_custom_default_is_compiled_in():
    plan = _plan_with(
        {
            "label": "x",
            "publish": ["private_reply"],
            "steps": [
                {
                    "name": "answer",
                    "role": "r",
                    "action": "respond",
                    "people": ["a@x.example"],
                    "sla_minutes": 5,
                    "outcomes": ["submitted"],
                }
            ],
        }
    )
    states = _compile("custom", plan=plan)["States"]
    assert states["Start.channels"]["Result"] == ["private_reply"]
    assert states["answer.outcome"]["Choices"][1]["Next"] == "answer.channels"
    assert states["answer.keep_channels"]["Next"] == "answer.route"


# -- edge cases of the plan ----------------------------------------------------------------------------------
def test_no_timeout_actions_gives_up_at_once_and_no_backup_escalates_to_the_same_people():
    plan = _plan_with(
        {
            "label": "x",
            "steps": [
                {
                    "name": "quick",
                    "role": "r",
                    "action": "respond",
                    "people": ["a@x.example"],
                    "sla_minutes": 5,
                    "on_timeout": [],
                    "outcomes": ["submitted"],
                },
                {
                    "name": "slow",
                    "role": "r",
                    "action": "approve",
                    "team": "legal",
                    "sla_minutes": 5,
                    "on_timeout": ["remind", "remind", "escalate"],
                    "outcomes": ["approved"],
                },
            ],
        }
    )
    states = _compile("custom", plan=plan)["States"]
    assert _catch_target(states["quick"]) == "quick.alert_timed_out"
    assert _catch_target(states["slow"]) == "slow.reminder"
    assert _catch_target(states["slow.reminder"]) == "slow.reminder_2"
    assert _catch_target(states["slow.reminder_2"]) == "slow.escalated"
    assert states["slow.escalated"]["Parameters"]["MessageBody"]["people"] == ["legal@aurelle.example"]
    assert _catch_target(states["slow.escalated"]) == "slow.alert_timed_out"


def test_a_step_named_like_a_fixed_state_does_not_clash():
    plan = _plan_with(
        {
            "label": "x",
            "steps": [
                {
                    "name": "publish",
                    "role": "r",
                    "action": "respond",
                    "people": ["a@x.example"],
                    "sla_minutes": 5,
                    "outcomes": ["submitted"],
                }
            ],
        }
    )
    states = _compile("custom", plan=plan)["States"]
    assert states["publish"]["Type"] == "Task"
    assert states["Publish"]["Parameters"]["QueueUrl"] == RESOURCES.publish_queue_url


@pytest.mark.parametrize(
    ("minutes", "scale", "seconds"),
    [(60, 60.0, 3600), (60, 0.05, 3), (20, 0.05, 1), (15, 0.05, 1), (1, 0.001, 1), (7, 0.5, 4)],
)
def test_timeouts_scale_and_clamp(minutes, scale, seconds):
    assert timeout_seconds(minutes, scale) == seconds


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        compile_protocol(PLAN, "nope", RESOURCES)
    with pytest.raises(ValueError, match="time_scale"):
        compile_protocol(PLAN, "routine", RESOURCES, time_scale=0)


def test_resources_are_a_frozen_value():
    with pytest.raises(AttributeError):
        RESOURCES.issues_table = "other"  # type: ignore[misc]


def test_the_compiler_is_pure():
    tree = ast.parse(Path(protocol_compiler.__file__).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {"boto3", "botocore"} & imported
    assert _compile() == _compile()  # deterministic


# -- one home for the messages ---------------------------------------------------------------------------------
def test_every_message_body_is_the_model_the_services_parse():
    """Filled in as Step Functions would, each body parses into the services' model (no field lost or invented)."""
    from chalicelib.domain.protocol_messages import PublishRequest, StepRequest

    def filled(body: dict[str, Any]) -> dict[str, Any]:
        sample = {"plan_version": 1, "people": ["a@x.example"], "channels": ["public_reply"]}
        return {
            key.removesuffix(".$"): sample.get(key.removesuffix(".$"), "v") if key.endswith(".$") else value
            for key, value in body.items()
        }

    for name in PLAN.protocols:
        for state in _compile(name)["States"].values():
            if state.get("Resource") != WAIT:
                continue
            body = state["Parameters"]["MessageBody"]
            model = PublishRequest if state["Parameters"]["QueueUrl"] == RESOURCES.publish_queue_url else StepRequest
            parsed = model.model_validate(filled(body))
            assert set(parsed.model_dump()) >= {key.removesuffix(".$") for key in body}


def test_a_body_that_drifts_from_its_model_is_refused():
    from chalicelib.adapters.state_machines import message_body
    from chalicelib.domain.protocol_messages import PublishRequest

    with pytest.raises(ValueError, match=r"unknown fields \['channel'\], missing fields \['channels'\]"):
        message_body(
            PublishRequest,
            {
                "issue_id.$": "$.issue_id",
                "protocol": "p",
                "channel": "x",
                "draft.$": "$.d",
                "task_token.$": "$$.Task.Token",
                "execution.$": "$$.Execution.Id",
            },
        )


def test_an_escalated_attempt_escalates_to_nobody_further():
    states = _compile()["States"]
    assert states["draft"]["Parameters"]["MessageBody"]["escalates_to"] == ["social-lead@aurelle.example"]
    assert states["draft.escalated"]["Parameters"]["MessageBody"]["escalates_to"] == []
