"""Property tests: every HTTP route, driven through Chalice's test client on in-process moto with inputs hypothesis
builds (arbitrary bytes, headers, query strings; JSON from the pydantic schemas; correctly signed deliveries).

Profiles (``HYPOTHESIS_PROFILE``):

Registered in ``tests/conftest.py`` (so every hypothesis test in the suite runs under them):

* ``ci`` (the default, what ``make test`` runs): derandomized, so every run tries the same inputs and a failure
  reproduces; sized so the whole directory takes well under a minute on one core.
* ``bench`` (``make bench``): ten times the examples, a fresh random seed each run, to look further afield.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from tests.conftest import TEST_STAGE, forget_cached_adapters


class Stack:
    """The API in-process on a deployed moto stack, with what the tests sign and authenticate with."""

    def __init__(self, client, secrets: dict[str, str], issue_ids: list[str], links: list[str]) -> None:
        self.client = client  # chalice.test.Client
        self.secrets = secrets
        self.issue_ids = issue_ids
        self.links = links  # valid approval links (path and query), one per person

    def __repr__(self) -> str:  # a failing example's report shows no secret and no signed link
        return "Stack(...)"

    def secret(self, name: str) -> str:
        return self.secrets[name]

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets['OPS_ADMIN_TOKEN']}"}


def _issues_and_links() -> tuple[list[str], list[str]]:
    """Two issues (so listings, details and approval pages have something to show) and a pending approval step
    on the legal threat, asked of three people: three valid signed links."""
    from chalicelib.adapters.plans import DynamoPlanStore
    from chalicelib.adapters.triage_table import DynamoTriageStore
    from chalicelib.bootstrap import approval_deps
    from chalicelib.services.approvals import StepRequest, request_step
    from chalicelib.services.triage import triage_mention
    from chalicelib.settings import resources
    from tests.triage_fixtures import fixed_analyzer, mention

    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    routine = triage_mention(mention("p-1", "My parcel never arrived", author="ana"), store, plans, fixed_analyzer)
    threat = triage_mention(
        mention("p-2", "Your boots burned my skin, I will sue <b>now</b>", author="eve"), store, plans, fixed_analyzer
    )
    step = StepRequest(
        issue_id=threat.issue_id,
        category="high_priority",
        protocol="high_priority",
        step="property_draft",  # a step the active plan lacks: its people are the message's (three links)
        action="draft",
        role="pr",
        people=["pr1@example.com", "pr2@example.com", "pr3@example.com"],
        attempt="initial",
        sla_minutes=60,
        outcomes=["submitted"],
        task_token="property-test-token",
        execution="property-test-execution",
    )
    links = request_step(step, approval_deps(), datetime.now(timezone.utc))
    assert len(links) == 3, links
    return [routine.issue_id, threat.issue_id], ["/" + link.split("://", 1)[1].split("/", 1)[1] for link in links]


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    """Like ``tests.conftest.aws`` (same deployment, same secrets) but once for this package (torn down after its
    last test, before other packages' own moto): deploying costs more than a test's examples."""
    from chalice.test import Client
    from moto import mock_aws

    from infra.local.deploy import deploy_stack, seed_secrets

    forget_cached_adapters()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        deploy_stack(TEST_STAGE)
        secrets = seed_secrets(TEST_STAGE, {})
        import app

        issue_ids, links = _issues_and_links()
        with Client(app.app, stage_name="test") as client:
            yield Stack(client=client, secrets=secrets, issue_ids=issue_ids, links=links)
    forget_cached_adapters()
