"""schemathesis, stateful, from the stack's own ``/openapi.json``, over HTTP against the local stack (chalice
local on moto): whatever sequence of calls it builds (a token created then used or revoked, an issue read then
changed ...), no answer is a 5xx and none lies outside the document (status codes, content types, headers, bodies).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_no_5xx_and_no_answer_outside_the_schema(stack: LocalStack):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    schema.config.update(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.secrets['OPS_ADMIN_TOKEN']}"}
    )
    machine = schema.as_state_machine()
    links = [name for name in dir(machine) if "___" in name]  # one rule per link schemathesis inferred
    assert any(name.startswith("POST_tokens") for name in links) and any("PATCH_issues" in name for name in links)

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=checks, transport_kwargs=kwargs or None)

    Workflow.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
