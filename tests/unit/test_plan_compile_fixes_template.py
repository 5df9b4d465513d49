"""Review D6: plan text with ``${`` reaches the state machine verbatim, never as a CloudFormation reference.

The definitions go into ``Fn::Sub`` (so they can name the stage's queues, topic and tables): a role such as
"Agent (refunds up to ${max_refund})" became a reference to a resource that does not exist, and the stack was
refused. Now every ``${`` of the plan's text is written ``${!`` (Fn::Sub's literal), and only the five references
stay references. A state machine name over 80 characters (a long stage) is refused when the template is made.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import chalicelib.adapters.plans as plans
from chalicelib.domain.plan import parse_plan
from chalicelib.settings import Resources
from infra.template import _state_machines

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load((ROOT / "chalicelib" / "plans" / "default.yaml").read_text())
ROLE = "Agent (refunds up to ${max_refund}, ask ${AWS::Region} and ${ApprovalQueue})"
LABEL = "Routine ${!kept} ${"
BRAND = "Aurelle ${brand}"
REFERENCES = {
    "ApprovalQueue": "https://sqs/approvals",
    "PublishQueue": "https://sqs/publish",
    "AlertsTopic": "arn:aws:sns:us-east-1:123456789012:alerts",
    "IssuesTable": "issues",
    "AuditTable": "audit",
}


def _fn_sub(text: str, values: dict[str, str]) -> str:
    """What CloudFormation makes of ``{"Fn::Sub": text}``: ``${!x}`` is the literal ``${x}``, ``${Name}`` the
    value of ``Name`` (an unknown name fails the stack: KeyError here)."""
    return re.sub(r"\$\{(!?)([^}]*)\}", lambda m: "${" + m[2] + "}" if m[1] else values[m[2]], text)


@pytest.fixture
def dollar_plan(monkeypatch: pytest.MonkeyPatch) -> Any:
    document = copy.deepcopy(DOCUMENT)
    document["protocols"]["routine"]["steps"][0]["role"] = ROLE
    document["protocols"]["routine"]["label"] = LABEL
    document["brand"] = BRAND
    plan = parse_plan(document)
    monkeypatch.setattr(plans, "bundled_plan", lambda: plan)
    return plan


def test_plan_text_with_dollar_brace_is_kept_literally(dollar_plan: Any) -> None:
    resources = _state_machines(Resources.for_stage("dev"), 60.0)
    text = resources["ProtocolRoutine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    # Only the five references are left for Fn::Sub to resolve.
    assert set(re.findall(r"\$\{([^!}][^}]*)\}", text)) == set(REFERENCES)
    definition = json.loads(_fn_sub(text, REFERENCES))
    respond = definition["States"]["respond"]
    assert respond["Parameters"]["MessageBody"]["role"] == ROLE
    assert respond["Parameters"]["QueueUrl"] == REFERENCES["ApprovalQueue"]
    assert definition["Comment"].startswith(f"{BRAND}: routine protocol ({LABEL})")
    assert definition["States"]["ResolveIssue"]["Parameters"]["TableName"] == "issues"
    assert definition["States"]["respond.alert_timed_out"]["Parameters"]["TopicArn"] == REFERENCES["AlertsTopic"]


def test_every_protocol_of_the_bundled_plan_still_names_its_resources() -> None:
    resources = _state_machines(Resources.for_stage("prod"), 60.0)
    machines = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == len(DOCUMENT["protocols"])
    for machine in machines:
        text = machine["Properties"]["DefinitionString"]["Fn::Sub"]
        assert "cfn-reference-" not in text
        assert "${ApprovalQueue}" in text and "${PublishQueue}" in text and "${AlertsTopic}" in text
        json.loads(_fn_sub(text, REFERENCES))


def test_cfn_lint_finds_no_unknown_reference(dollar_plan: Any, tmp_path: Path) -> None:
    cfn_lint = ROOT / ".venv" / "bin" / "cfn-lint"
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed (requirements-dev.txt)")
    resources = _state_machines(Resources.for_stage("dev"), 60.0)
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "ApprovalQueue": {"Type": "AWS::SQS::Queue"},
            "PublishQueue": {"Type": "AWS::SQS::Queue"},
            "AlertsTopic": {"Type": "AWS::SNS::Topic"},
            "IssuesTable": table,
            "AuditTable": table,
            "ProtocolRoutine": resources["ProtocolRoutine"],
            "ProtocolRole": resources["ProtocolRole"],
        },
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    done = subprocess.run([str(cfn_lint), "--format", "parseable", str(path)], capture_output=True, text=True)
    assert not [line for line in done.stdout.splitlines() if "max_refund" in line or "brand" in line], done.stdout


def test_a_state_machine_name_over_80_characters_is_refused_when_the_template_is_made() -> None:
    with pytest.raises(ValueError, match=r"Step Functions allows 80; shorten the stage's or the protocol's name"):
        _state_machines(Resources.for_stage("s" * 50), 60.0)
