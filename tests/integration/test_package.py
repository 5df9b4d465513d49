"""``make package`` for dev and prod passes cfn-lint (with the serverless rules) and checkov, and the packaged
template carries each stage's own settings (``infra/check.py``, the same run as ``make lint-infra``)."""

from __future__ import annotations

import json

import pytest

from infra.check import STAGES, check_stage
from infra.stage_config import StageConfig


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    return {stage: (check_stage(stage, build), json.loads((build / stage / "sam.json").read_text())) for stage in STAGES}


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_passes_cfn_lint_and_checkov_with_every_exception_named(packaged, stage):
    findings, _ = packaged[stage]
    assert findings.cfn_lint == [], "\n".join(findings.cfn_lint)
    assert findings.checkov_failed == [], "\n".join(findings.checkov_failed)
    assert findings.checkov_passed > 100
    assert findings.checkov_skipped and all(" -- " in skip for skip in findings.checkov_skipped)  # with a reason


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_functions_trace_keep_logs_and_carry_the_stage_s_settings(packaged, stage):
    _, template = packaged[stage]
    config = StageConfig.load(stage)
    functions = {k: v["Properties"] for k, v in template["Resources"].items()
                 if v["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 8
    for name, function in functions.items():
        assert function["Tracing"] == "Active", name
        variables = function["Environment"]["Variables"]
        assert variables["PUBLIC_BASE_URL"] == config.public_base_url, name
        assert variables["APPROVALS_FROM_EMAIL"] == config.sender_email, name
        assert variables["REPORT_BUCKET"] == {"Ref": "ReportBucket"}
        assert function["Tags"]["stage"] == stage
    log_groups = [v["Properties"] for v in template["Resources"].values() if v["Type"] == "AWS::Logs::LogGroup"]
    assert log_groups and all(g["RetentionInDays"] == config.log_retention_days for g in log_groups)
    # every function's log group names a function of the template (Chalice 1.34 misnames the API's)
    for group in log_groups:
        if "LogGroupName" in group:
            assert group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${").rstrip("}") in functions
