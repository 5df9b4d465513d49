"""The CLI's AWS commands on the local stack work from a shell that never held AWS keys (``make run`` needs none),
and never invent keys for a deployed stage."""

import argparse

import botocore.session
import pytest

from chalicelib.commands.common import use_stage

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    # use_stage writes os.environ: every name it may write is set then deleted here, so monkeypatch restores it
    for name in (*KEYS, "STAGE", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert botocore.session.get_session().get_credentials() is None
    yield
    from chalicelib import bootstrap

    bootstrap.reset()  # adapters use_stage built for the test's endpoint


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
