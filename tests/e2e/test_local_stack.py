"""End to end: signed deliveries over HTTP to the running stack, processed by the worker, found in DynamoDB."""

from __future__ import annotations

import json
import subprocess

import pytest

from infra.local import deliveries
from infra.local.replay import forger_secrets, handshakes, http, keys_of, load_rows, post_delivery, shift_to_now
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_health_reports_ready(stack: LocalStack):
    answer = http("GET", f"{stack.api_url}/health")
    assert answer.status == 200 and json.loads(answer.body)["status"] == "ok"


def test_handshakes_answer_as_the_platforms_expect(stack: LocalStack):
    answers = handshakes(stack.api_url, stack.secrets)
    assert (answers["meta"].status, answers["meta"].body) == (200, "1158201444")
    assert answers["x"].status == 200 and json.loads(answers["x"].body)["response_token"].startswith("sha256=")
    assert (answers["youtube"].status, answers["youtube"].body) == (200, "websub-challenge-42")


def test_signed_deliveries_from_every_platform_are_stored_and_forged_ones_refused(stack: LocalStack):
    from datetime import datetime, timezone

    rows = shift_to_now(load_rows(), datetime.now(timezone.utc))
    one_per_route = list({row["route"]: row for row in rows}.values())
    assert len(one_per_route) == len(deliveries.BUILDERS)
    expected: set[str] = set()
    for row in one_per_route:
        delivery = deliveries.build(row)
        assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
        assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200  # the platform retries
        forged = post_delivery(
            stack.api_url, deliveries.build({**row, "id": row["id"] + "9"}), forger_secrets(stack.secrets)
        )
        assert forged.status == 401
        expected |= keys_of(delivery)

    items = stack.wait_until_stored(expected, timeout=60)

    stored = [item for item in items if item["pk"] in expected]
    assert len(stored) == len(expected) == len(one_per_route)
    assert {item["platform"] for item in stored} >= {"x", "facebook", "instagram", "youtube", "trustpilot"}
    assert all(item["status"] == "visible" and item["created_at"] for item in stored)
    assert not {item["pk"] for item in items} & {k + "9" for k in expected}
    # triaged on the way in: every mention classified, complaints folded into issues routed to a team
    assert all(item["category"] in {"routine_response", "high_priority", "crisis", "no_action"} for item in stored)
    issue_ids = {item["issue_id"] for item in stored if item.get("issue_id")}
    issues = {issue["issue_id"]: issue for issue in stack.issues()}
    assert issue_ids and issue_ids <= set(issues)
    assert all(issues[i]["team"] and issues[i]["assigned_to"] for i in issue_ids)


def test_stopping_the_stack_leaves_no_process_behind(tmp_path):
    from infra.local.stack import free_port

    local = LocalStack(api_port=free_port(), moto_port=free_port(), worker_port=free_port(), log_dir=tmp_path)
    with local:
        pids = [process.pid for process in local.processes.values()]
        assert http("GET", f"{local.api_url}/health").status == 200
    alive = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(map(str, pids))], capture_output=True, text=True)
    assert alive.stdout.strip() == ""
