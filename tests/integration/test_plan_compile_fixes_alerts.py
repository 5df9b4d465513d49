"""Review D2: a protocol's alerts reach the topic whatever the length of its names.

The compiled SNS ``Subject`` was ``"<kind>: <protocol>.<step>"``: with long (valid) names it passed 100
characters, SNS refused it, the retries failed the same way and the alert state's ``Catch`` swallowed it, so an
``approval_timed_out`` never reached anyone. The subject is now cut to fit when the plan is compiled.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from chalicelib.adapters.state_machines import ProtocolResources, alert_subject, compile_protocol
from chalicelib.domain.alerts import SUBJECT_MAX
from chalicelib.domain.plan import parse_plan

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml").read_text())
PROTOCOL = "customer_complaint_escalation_protocol"
STEP = "senior_customer_care_manager_final_approval"
ROLE = "arn:aws:iam::123456789012:role/approval-protocol"
DEADLINE = 30.0


def _plan(protocol: str, step: str, on_timeout: list[str]) -> Any:
    document = copy.deepcopy(DOCUMENT)
    document["protocols"][protocol] = {
        "label": "long names",
        "steps": [
            {
                "name": step,
                "role": "Senior customer care manager",
                "action": "respond",
                "team": "customer_service",
                "sla_minutes": 1,
                "on_timeout": on_timeout,
                "outcomes": ["submitted"],
            }
        ],
    }
    return parse_plan(document)


@pytest.mark.parametrize(
    ("protocol", "step"),
    [(PROTOCOL, STEP), ("p" * 40, "s" * 50), ("high_priority", "s" * 50), ("p" * 40, "draft")],
)
def test_every_compiled_alert_subject_is_one_ascii_line_of_at_most_100(protocol: str, step: str) -> None:
    plan = _plan(protocol, step, ["alert", "escalate", "alert"])
    resources = ProtocolResources("q1", "q2", "arn:aws:sns:us-east-1:123456789012:t", "issues", "audit")
    states = compile_protocol(plan, protocol, resources)["States"]
    subjects = [s["Parameters"]["Subject"] for s in states.values() if s.get("Resource", "").endswith("sns:publish")]
    assert len(subjects) == 4  # two approval_stuck, approval_timed_out, publish_timed_out
    for subject in subjects:
        assert 0 < len(subject) <= SUBJECT_MAX and subject.isascii() and subject.isprintable(), subject
    # The names stay recognisable: the kind whole, both names begun.
    stuck = states[f"{step}.alert_stuck"]["Parameters"]
    assert stuck["Subject"].startswith(f"approval stuck: {protocol[:20]}")
    assert step[:20] in stuck["Subject"]
    # The message and its attributes keep the names whole.
    assert stuck["Message"]["protocol"] == protocol and stuck["Message"]["step"] == step
    assert stuck["MessageAttributes"]["step"]["StringValue"] == step


def test_short_names_keep_the_subject_they_had() -> None:
    assert (
        alert_subject("approval_stuck", "high_priority", "legal_review") == "approval stuck: high_priority.legal_review"
    )


def test_the_timed_out_alert_of_a_long_named_step_reaches_the_topic(aws: dict[str, str]) -> None:
    plan = _plan(PROTOCOL, STEP, [])
    region = "us-east-1"
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)
    sfn = boto3.client("stepfunctions", region_name=region)
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    tap = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=tap_arn)
    definition = compile_protocol(
        plan, PROTOCOL, ProtocolResources(queue, queue, topic, "issues", "audit"), time_scale=0.01
    )
    machine = sfn.create_state_machine(name="long-names", roleArn=ROLE, definition=json.dumps(definition))
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        input=json.dumps({"issue_id": "iss-1", "category": "complaint", "protocol": PROTOCOL, "plan_version": 1}),
    )["executionArn"]
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.5)
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"  # Protocol.TimedOut
    received = sqs.receive_message(QueueUrl=tap, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
    assert len(received) == 1
    envelope = json.loads(received[0]["Body"])
    alert = json.loads(envelope["Message"])
    assert alert["kind"] == "approval_timed_out" and alert["step"] == STEP and alert["protocol"] == PROTOCOL
    assert len(envelope["Subject"]) <= SUBJECT_MAX
