"""Compiled approval protocols executed by moto's Step Functions interpreter, driven like the people would.

Each test creates its own queues, alert topic (with an SQS subscription to read the alerts) and the issues and
audit tables with boto3 (they are not in ``infra/template.py`` yet), starts an execution, receives the approval
message from the queue, checks it and answers with ``send_task_success`` as the emailed-link handler would.
Polling is bounded (``DEADLINE`` seconds); timeouts use a small ``time_scale`` so an SLA passes in a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.state_machines import ProtocolResources, compile_protocol
from chalicelib.domain.index_shards import status_category
from chalicelib.domain.plan import load_plan_yaml

PLAN = load_plan_yaml((Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml").read_text())
DEADLINE = 20.0
ROLE = "arn:aws:iam::123456789012:role/approval-protocol"
ISSUE = "iss-0001"
PR = ["pr-lead@aurelle.example", "pr1@aurelle.example"]
LEGAL = ["legal@aurelle.example"]
MANAGEMENT = ["cmo@aurelle.example", "coo@aurelle.example"]
CUSTOMER_SERVICE = ["cs-lead@aurelle.example", "cs-agent1@aurelle.example", "cs-agent2@aurelle.example"]


class Harness:
    def __init__(self) -> None:
        region = "us-east-1"
        self.sqs = boto3.client("sqs", region_name=region)
        self.sns = boto3.client("sns", region_name=region)
        self.ddb = boto3.client("dynamodb", region_name=region)
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.approvals = self.sqs.create_queue(QueueName="approvals")["QueueUrl"]
        self.publish = self.sqs.create_queue(QueueName="publish")["QueueUrl"]
        self.alerts_tap = self.sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
        self.topic = self.sns.create_topic(Name="alerts")["TopicArn"]
        tap_arn = self.sqs.get_queue_attributes(QueueUrl=self.alerts_tap, AttributeNames=["QueueArn"])
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=tap_arn["Attributes"]["QueueArn"])
        self.ddb.create_table(
            TableName="issues",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "issue_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "issue_id", "KeyType": "HASH"}],
        )
        self.ddb.create_table(
            TableName="audit",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "issue_id", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "issue_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        self.ddb.put_item(TableName="issues", Item={"issue_id": {"S": ISSUE}, "status": {"S": "open"}})
        self.resources = ProtocolResources(
            approval_queue_url=self.approvals,
            publish_queue_url=self.publish,
            alerts_topic_arn=self.topic,
            issues_table="issues",
            audit_table="audit",
        )
        self.executions: list[str] = []
        self.category = ""  # of the execution started last

    # -- driving an execution -------------------------------------------------------------------------------
    def start(self, protocol: str, category: str, time_scale: float = 60.0) -> str:
        self.category = category
        definition = compile_protocol(PLAN, protocol, self.resources, time_scale=time_scale)
        machine = self.sfn.create_state_machine(
            name=f"{protocol}-{len(self.executions)}", roleArn=ROLE, definition=json.dumps(definition)
        )["stateMachineArn"]
        arn = self.sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps({"issue_id": ISSUE, "category": category, "protocol": protocol, "plan_version": 3}),
        )["executionArn"]
        self.executions.append(arn)
        return arn

    def receive(self, queue_url: str, what: str = "a message") -> dict[str, Any]:
        """The next message's body (deleted from the queue), or a failure after DEADLINE seconds."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for message in self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                return json.loads(message["Body"])
        pytest.fail(f"no {what} on {queue_url} within {DEADLINE} s; execution: {self.describe_last()}")

    def approval(self, step: str, attempt: str = "initial") -> dict[str, Any]:
        body = self.receive(self.approvals, f"{step} ({attempt}) approval message")
        assert (body["step"], body["attempt"]) == (step, attempt), body
        assert_token_only_in_its_field(body)
        return body

    def alert(self) -> dict[str, Any]:
        """The next alert as SNS delivered it to the subscribed queue (the envelope, with MessageAttributes)."""
        envelope = self.receive(self.alerts_tap, "SNS alert")
        envelope["Message"] = json.loads(envelope["Message"])
        return envelope

    def answer(
        self,
        body: dict[str, Any],
        outcome: str,
        actor: str,
        comment: str = "",
        draft: str = "",
        channels: list[str] | None = None,
    ) -> None:
        """``channels`` None: a callback without the field (as before channels were chosen)."""
        output: dict[str, Any] = {"outcome": outcome, "actor": actor, "comment": comment, "draft": draft}
        if channels is not None:
            output["channels"] = channels
        self.sfn.send_task_success(taskToken=body["task_token"], output=json.dumps(output))

    def finished(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            execution = self.sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            time.sleep(0.1)
        pytest.fail(f"execution still running after {DEADLINE} s: {self.history(arn)[-5:]}")

    def history(self, arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [f"{e['type']} {e.get('stateEnteredEventDetails', {}).get('name', '')}".strip() for e in events]

    def describe_last(self) -> str:
        if not self.executions:
            return "none started"
        execution = self.sfn.describe_execution(executionArn=self.executions[-1])
        return f"{execution['status']}; last events {self.history(self.executions[-1])[-4:]}"

    def stop_all(self) -> None:
        for arn in self.executions:
            if self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                self.sfn.stop_execution(executionArn=arn)

    def issue(self) -> dict[str, Any]:
        return self.ddb.get_item(TableName="issues", Key={"issue_id": {"S": ISSUE}}, ConsistentRead=True)["Item"]

    def audit(self) -> list[dict[str, Any]]:
        return self.ddb.query(
            TableName="audit", KeyConditionExpression="issue_id = :i", ExpressionAttributeValues={":i": {"S": ISSUE}}
        )["Items"]


def assert_token_only_in_its_field(body: dict[str, Any]) -> None:
    token = body["task_token"]
    assert isinstance(token, str) and token
    rest = {key: value for key, value in body.items() if key != "task_token"}
    assert token not in json.dumps(rest)


@pytest.fixture
def harness() -> Iterator[Harness]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        harness = Harness()
        try:
            yield harness
        finally:
            harness.stop_all()


def _publish_and_resolve(h: Harness, arn: str, channels: list[str], text: str, approver: str) -> None:
    job = h.receive(h.publish, "publish job")
    assert job["issue_id"] == ISSUE and job["channels"] == channels and job["draft"] == text
    assert job["approved_by"] == approver
    assert_token_only_in_its_field(job)
    h.sfn.send_task_success(taskToken=job["task_token"], output=json.dumps({"posted": True}))

    execution = h.finished(arn)
    assert execution["status"] == "SUCCEEDED", h.history(arn)
    issue = h.issue()
    assert issue["status"] == {"S": "resolved"} and issue["resolved_at"]["S"].startswith("20")
    # in the issue's write shard of by_status_category, the one Python's writers name (ISSUE's is not shard 0)
    assert issue["status_category"] == {"S": status_category("resolved", h.category, ISSUE)}
    assert issue["status_category"]["S"] != f"resolved#{h.category}"
    [audit] = h.audit()
    assert audit["sk"]["S"].endswith("#resolved") and audit["sk"]["S"].startswith("20")
    assert audit["type"] == {"S": "resolved"} and audit["actor"] == {"S": "system:protocol"}
    assert audit["approved_by"] == {"S": approver}


def test_high_priority_happy_path_draft_legal_management_publish(harness):
    h = harness
    arn = h.start("high_priority", "high_priority")

    draft = h.approval("draft")
    assert draft["people"] == PR and draft["action"] == "draft" and draft["role"] == "PR drafts the response"
    assert draft["issue_id"] == ISSUE and draft["protocol"] == "high_priority" and draft["sla_minutes"] == 60
    assert draft["outcomes"] == ["submitted"] and draft["comment"] == "" and draft["draft"] == ""
    assert draft["execution"] == arn
    h.answer(draft, "submitted", "pr-lead@aurelle.example", draft="We are sorry, Renée. We are on it.")

    legal = h.approval("legal_review")
    assert legal["people"] == LEGAL and legal["action"] == "review"
    assert legal["draft"] == "We are sorry, Renée. We are on it."
    assert legal["outcomes"] == ["approved", "rejected", "edited"]
    h.answer(legal, "approved", "legal@aurelle.example", comment="fine")  # approves without retyping the text

    management = h.approval("management_approval")
    assert management["people"] == MANAGEMENT and management["action"] == "approve"
    assert management["draft"] == "We are sorry, Renée. We are on it." and management["comment"] == "fine"
    h.answer(management, "approved", "cmo@aurelle.example")

    _publish_and_resolve(
        h, arn, ["public_reply", "private_reply"], "We are sorry, Renée. We are on it.", "cmo@aurelle.example"
    )


def test_legal_rejects_with_a_comment_back_to_draft_then_through(harness):
    h = harness
    arn = h.start("high_priority", "high_priority")
    h.answer(h.approval("draft"), "submitted", "pr1@aurelle.example", draft="Our lawyers say you are wrong.")

    legal = h.approval("legal_review")
    h.answer(legal, "rejected", "legal@aurelle.example", comment="Do not argue liability in public.")

    redraft = h.approval("draft")
    assert redraft["people"] == PR
    assert redraft["comment"] == "Do not argue liability in public."
    assert redraft["commented_by"] == "legal@aurelle.example"
    assert redraft["draft"] == "Our lawyers say you are wrong."  # the text to revise travels back too
    h.answer(redraft, "submitted", "pr1@aurelle.example", draft="We're sorry. Please DM us your order number.")

    legal = h.approval("legal_review")
    assert legal["draft"] == "We're sorry. Please DM us your order number."
    h.answer(legal, "edited", "legal@aurelle.example", draft="We are sorry. Please DM us your order number.")

    management = h.approval("management_approval")
    assert management["draft"] == "We are sorry. Please DM us your order number."
    h.answer(management, "approved", "coo@aurelle.example")

    _publish_and_resolve(
        h,
        arn,
        ["public_reply", "private_reply"],
        "We are sorry. Please DM us your order number.",
        "coo@aurelle.example",
    )


def test_a_step_that_times_out_alerts_and_escalates_to_the_backup(harness):
    """Crisis drafts have a 20-minute SLA and on_timeout [alert, escalate]: at 0.05 s a minute, 1 s."""
    h = harness
    arn = h.start("crisis", "crisis", time_scale=0.05)
    first = h.approval("draft")
    assert first["people"] == PR  # nobody answers

    alert = h.alert()
    attributes = {name: value["Value"] for name, value in alert["MessageAttributes"].items()}
    assert attributes["kind"] == "approval_stuck" and attributes["step"] == "draft"
    assert attributes["category"] == "crisis" and attributes["severity"] == "high"
    assert alert["Message"]["issue_id"] == ISSUE and alert["Message"]["kind"] == "approval_stuck"

    escalated = h.approval("draft", "escalated")
    assert escalated["people"] == ["social-lead@aurelle.example"]
    # (AWS answers the first, timed-out token with TaskTimedOut; moto accepts it silently, so no check here.)
    h.answer(escalated, "submitted", "social-lead@aurelle.example", draft="We hear you; an update within the hour.")

    legal = h.approval("legal_review")
    assert legal["draft"] == "We hear you; an update within the hour." and legal["people"] == LEGAL
    h.sfn.stop_execution(executionArn=arn)


def test_nobody_answering_ends_in_timed_out_with_a_final_alert(harness):
    """Routine respond: on_timeout [escalate, alert] -> escalated, alert_stuck, a reminder to the backup, give up."""
    h = harness
    arn = h.start("routine", "routine_response", time_scale=0.004)  # 240 minutes -> 1 s
    assert h.approval("respond")["people"] == CUSTOMER_SERVICE
    assert h.approval("respond", "escalated")["people"] == ["cs-lead@aurelle.example"]
    assert h.alert()["MessageAttributes"]["kind"]["Value"] == "approval_stuck"
    assert h.approval("respond", "reminder")["people"] == ["cs-lead@aurelle.example"]
    final = h.alert()
    assert final["MessageAttributes"]["kind"]["Value"] == "approval_timed_out"
    assert final["MessageAttributes"]["severity"]["Value"] == "critical"

    execution = h.finished(arn)
    assert execution["status"] == "FAILED"
    assert "TimedOut" in " ".join(h.history(arn))
    assert h.issue()["status"] == {"S": "open"}


def test_routine_respond_publish_resolved(harness):
    h = harness
    arn = h.start("routine", "routine_response")
    respond = h.approval("respond")
    assert respond["people"] == CUSTOMER_SERVICE and respond["action"] == "respond"
    assert respond["outcomes"] == ["submitted"] and respond["sla_minutes"] == 240
    h.answer(respond, "submitted", "cs-agent1@aurelle.example", draft="Sorry about the zip! A new one is on its way.")
    _publish_and_resolve(
        h, arn, ["public_reply"], "Sorry about the zip! A new one is on its way.", "cs-agent1@aurelle.example"
    )


def test_an_outcome_the_step_does_not_allow_fails_the_execution(harness):
    h = harness
    arn = h.start("routine", "routine_response")
    h.answer(h.approval("respond"), "approved", "cs-agent1@aurelle.example", draft="x")  # respond only submits
    execution = h.finished(arn)
    assert execution["status"] == "FAILED" and execution.get("error") == "Protocol.UnexpectedOutcome"


def test_a_callback_without_the_agreed_fields_fails_the_execution(harness):
    h = harness
    arn = h.start("routine", "routine_response")
    body = h.approval("respond")
    h.sfn.send_task_success(taskToken=body["task_token"], output=json.dumps({"outcome": "submitted"}))
    execution = h.finished(arn)
    assert execution["status"] == "FAILED" and execution.get("error") == "Protocol.UnexpectedOutcome"


def test_the_drafter_chooses_private_only_and_later_steps_keep_that_choice(harness):
    h = harness
    arn = h.start("high_priority", "high_priority")  # default: public_reply and private_reply
    h.answer(
        h.approval("draft"),
        "submitted",
        "pr-lead@aurelle.example",
        draft="Please check your DMs.",
        channels=["private_reply"],
    )
    legal = h.approval("legal_review")
    h.answer(legal, "rejected", "legal@aurelle.example", comment="Shorter.", channels=[])  # [] keeps the choice
    h.answer(h.approval("draft"), "submitted", "pr1@aurelle.example", draft="DM sent.", channels=[])  # kept
    h.answer(h.approval("legal_review"), "approved", "legal@aurelle.example", channels=[])
    h.answer(h.approval("management_approval"), "approved", "cmo@aurelle.example", channels=[])
    _publish_and_resolve(h, arn, ["private_reply"], "DM sent.", "cmo@aurelle.example")


def test_a_redraft_can_choose_again_and_the_newest_choice_wins(harness):
    h = harness
    arn = h.start("high_priority", "high_priority")
    h.answer(h.approval("draft"), "submitted", "pr-lead@aurelle.example", draft="v1", channels=["private_reply"])
    h.answer(h.approval("legal_review"), "rejected", "legal@aurelle.example", comment="Say it publicly.", channels=[])
    h.answer(h.approval("draft"), "submitted", "pr-lead@aurelle.example", draft="v2", channels=["public_reply"])
    h.answer(h.approval("legal_review"), "approved", "legal@aurelle.example", channels=[])
    h.answer(h.approval("management_approval"), "approved", "coo@aurelle.example", channels=[])
    _publish_and_resolve(h, arn, ["public_reply"], "v2", "coo@aurelle.example")


def test_a_routine_responder_choosing_both_publishes_both(harness):
    h = harness
    arn = h.start("routine", "routine_response")  # default: public_reply only
    h.answer(
        h.approval("respond"),
        "submitted",
        "cs-agent1@aurelle.example",
        draft="On its way.",
        channels=["public_reply", "private_reply"],
    )
    _publish_and_resolve(h, arn, ["public_reply", "private_reply"], "On its way.", "cs-agent1@aurelle.example")
