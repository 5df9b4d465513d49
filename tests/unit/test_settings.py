"""Settings fail closed: a deployed stage never falls back to a local default, and refuses to start without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import settings
from chalicelib.settings import MissingSetting, Resources
from infra.template import FUNCTION_ENVIRONMENT, build_template

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = {
    "PUBLIC_BASE_URL": "https://social.example.com/api",
    "APPROVALS_FROM_EMAIL": "care@brand.example",
    "ISSUES_STREAM_ARN": "arn:aws:dynamodb:eu-west-1:210987654321:table/social-response-dev-issues/stream/x",
    "REPORT_BUCKET": "social-response-dev-reports-210987654321-eu-west-1",
}
GETTERS = {
    "PUBLIC_BASE_URL": settings.public_base_url,
    "APPROVALS_FROM_EMAIL": settings.sender_email,
    "ISSUES_STREAM_ARN": settings.issues_stream_arn,
    "REPORT_BUCKET": settings.report_bucket,
}


@pytest.fixture
def deployed_stage(monkeypatch):
    monkeypatch.setenv("STAGE", "dev")
    for name in DEPLOYED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", sorted(GETTERS))
def test_a_deployed_stage_without_a_setting_raises_naming_it(deployed_stage, name):
    with pytest.raises(MissingSetting, match=name) as raised:
        GETTERS[name]()
    assert "127.0.0.1" not in str(raised.value) and "123456789012" not in str(raised.value)


@pytest.mark.parametrize("name", sorted(GETTERS))
def test_a_deployed_stage_reads_each_setting_from_its_environment(deployed_stage, name):
    deployed_stage.setenv(name, DEPLOYED[name] + "  ")
    assert GETTERS[name]() == DEPLOYED[name]


def test_an_empty_setting_is_a_missing_one(deployed_stage):
    deployed_stage.setenv("PUBLIC_BASE_URL", "   ")
    with pytest.raises(MissingSetting, match="PUBLIC_BASE_URL"):
        settings.public_base_url()


def test_the_cold_start_check_names_every_missing_setting(deployed_stage):
    deployed_stage.setenv("APPROVALS_FROM_EMAIL", DEPLOYED["APPROVALS_FROM_EMAIL"])
    with pytest.raises(MissingSetting) as raised:
        settings.check_required_settings()
    message = str(raised.value)
    assert all(name in message for name in ("PUBLIC_BASE_URL", "ISSUES_STREAM_ARN", "REPORT_BUCKET"))
    assert "APPROVALS_FROM_EMAIL" not in message


@pytest.mark.parametrize("stage", ["local", "test"])
def test_local_stages_keep_their_defaults(monkeypatch, stage):
    monkeypatch.setenv("STAGE", stage)
    for name in DEPLOYED:
        monkeypatch.delenv(name, raising=False)
    settings.check_required_settings()
    assert settings.public_base_url() == "http://127.0.0.1:8000"
    assert f"social-response-{stage}-issues" in settings.issues_stream_arn()
    assert settings.report_bucket().startswith(f"social-response-{stage}-reports-")


def test_the_configuration_set_is_optional(monkeypatch):
    monkeypatch.delenv("SES_CONFIGURATION_SET", raising=False)
    assert settings.ses_configuration_set() is None
    monkeypatch.setenv("SES_CONFIGURATION_SET", "social-response-dev-email")
    assert settings.ses_configuration_set() == "social-response-dev-email"


def test_every_required_setting_is_given_by_the_stage_config_or_the_template():
    """What the check demands, the deployment provides: .chalice/config.json or the template's function env."""
    from infra.stage_config import StageConfig

    for stage in ("dev", "prod"):
        given = set(StageConfig.load(stage).environment) | set(FUNCTION_ENVIRONMENT)
        assert set(settings.REQUIRED_SETTINGS) <= given, stage


def _import_app(environment: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYED}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_lambda_refuses_to_start_on_a_deployed_stage_without_its_settings():
    refused = _import_app({"STAGE": "prod", "PUBLIC_BASE_URL": DEPLOYED["PUBLIC_BASE_URL"]})
    assert refused.returncode != 0
    assert "MissingSetting" in refused.stderr
    assert "APPROVALS_FROM_EMAIL, ISSUES_STREAM_ARN, REPORT_BUCKET" in refused.stderr
    started = _import_app({"STAGE": "prod", **DEPLOYED})
    assert started.returncode == 0, started.stderr


def test_the_new_resource_names_are_the_template_s():
    for stage in ("dev", "prod"):
        names = Resources.for_stage(stage)
        resources = build_template(stage)["Resources"]
        assert resources["IssuesStreamDeadLetterQueue"]["Properties"]["QueueName"] == names.issues_stream_dlq
        assert resources["ScheduleDeadLetterQueue"]["Properties"]["QueueName"] == names.schedule_dlq
        assert resources["PublishClaimsTable"]["Properties"]["TableName"] == names.publish_claims_table
