"""The ops API on the real local stack, over HTTP (chalice local): the admin token lists issues; no token is
401; the OpenAPI document is served."""

from __future__ import annotations

import json

import pytest

from infra.local.replay import http
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_the_ops_api_answers_over_http(stack: LocalStack):
    admin = {"Authorization": f"Bearer {stack.secrets['OPS_ADMIN_TOKEN']}"}
    answer = http("GET", f"{stack.api_url}/issues?status=open&limit=5", headers=admin)
    assert answer.status == 200
    page = json.loads(answer.body)
    assert len(page["items"]) <= 5 and "next_cursor" in page
    assert http("GET", f"{stack.api_url}/issues").status == 401
    assert http("GET", f"{stack.api_url}/issues?limit=0", headers=admin).status == 400
    doc = json.loads(http("GET", f"{stack.api_url}/openapi.json").body)
    assert "/issues/{issue_id}" in doc["paths"]
