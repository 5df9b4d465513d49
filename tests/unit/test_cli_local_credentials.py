"""The CLI's AWS commands on the local stack work from a shell that never held AWS keys (``make run`` needs none),
and never invent keys for a deployed stage."""

import argparse

import botocore.session
import pytest

from chalicelib.commands.common import use_stage

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("STAGE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # use_stage sets what it lacks: restored after
    assert botocore.session.get_session().get_credentials() is None


def test_a_local_stage_signs_with_dummy_keys_when_the_shell_has_none(no_credentials):
    assert use_stage(argparse.Namespace(stage=None, endpoint_url="http://127.0.0.1:5999")) == "local"
    assert botocore.session.get_session().get_credentials().access_key == "testing"


def test_a_deployed_stage_gets_no_invented_keys(no_credentials):
    assert use_stage(argparse.Namespace(stage="prod", endpoint_url=None)) == "prod"
    assert botocore.session.get_session().get_credentials() is None


def test_keys_the_shell_has_are_kept(no_credentials, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    use_stage(argparse.Namespace(stage="local", endpoint_url="http://127.0.0.1:5999"))
    assert botocore.session.get_session().get_credentials().access_key == "AKIAEXAMPLE"
