"""Fixtures shared by every test layer.

* ``aws``: in-process moto with the stage's real CloudFormation template deployed (integration tests).
* ``shared_data``: ``../shared/data``, or a skip with the reason when this clone has no ``../shared``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from infra.local import moto_parse_cache

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_STAGE = "test"

# Never let a test reach a real account or a stack someone left running.
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": TEST_STAGE,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)


# moto parses a state machine's definition again at every creation and execution: the same text, the same tree.
moto_parse_cache.install()

# Hypothesis profiles for every property test in the suite: ``ci`` (default, what ``make test`` runs) is
# derandomized so a failure reproduces; ``bench`` (``HYPOTHESIS_PROFILE=bench``, run by ``make bench``) looks further.
_HYPOTHESIS = dict(  # noqa: C408 - hypothesis's setting names, as keywords
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
settings.register_profile("ci", max_examples=40, derandomize=True, database=None, **_HYPOTHESIS)
settings.register_profile("bench", max_examples=400, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this clone (the real third-party payloads live there)")
    return SHARED_DATA


def forget_cached_adapters() -> None:
    from chalicelib import bootstrap

    bootstrap.reset()


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict[str, str]]:
    """moto in-process with the test stage's stack deployed from the packaged template
    (``infra.package.sam_template``); yields secrets."""
    from moto import mock_aws

    from infra.local.deploy import deploy_stack, seed_secrets

    forget_cached_adapters()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        deploy_stack(TEST_STAGE)
        values = seed_secrets(TEST_STAGE, {})
        yield values
    forget_cached_adapters()
