"""The ops API on the real local stack, over HTTP (chalice local), and the console command against it: a responder
token lists issues, assigns one, adds a note, resolves it and reads the metrics; the trail names the token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local import deliveries
from infra.local.replay import http, keys_of, load_rows, post_delivery, shift_to_now
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_the_ops_api_answers_over_http(stack: LocalStack):
    admin = {"Authorization": f"Bearer {stack.secrets['OPS_ADMIN_TOKEN']}"}
    answer = http("GET", f"{stack.api_url}/issues?status=open&limit=5", headers=admin)
    assert answer.status == 200
    page = json.loads(answer.body)
    assert len(page["items"]) <= 5 and "next_cursor" in page
    assert http("GET", f"{stack.api_url}/issues").status == 401
    assert http("GET", f"{stack.api_url}/issues?limit=0", headers=admin).status == 400
    doc = json.loads(http("GET", f"{stack.api_url}/openapi.json").body)
    assert "/issues/{issue_id}" in doc["paths"] and "/tokens" in doc["paths"]


def cli(stack: LocalStack, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    console = Path(sys.executable).parent / "social-response"
    command = [str(console)] if console.exists() else [sys.executable, "-m", "chalicelib.cli"]
    env = {
        **stack.environment(),
        "SOCIAL_RESPONSE_API_URL": stack.api_url,
        **({"SOCIAL_RESPONSE_TOKEN": token} if token else {}),
    }
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def test_a_responder_works_an_issue_from_the_console_command_and_the_trail_names_the_token(stack: LocalStack):
    from datetime import datetime, timezone

    row = next(r for r in shift_to_now(load_rows(), datetime.now(timezone.utc)) if r["route"] == "generic")
    complaint = {**row, "id": row["id"] + "-ops", "text": "My parcel never arrived and nobody answers, again"}
    delivery = deliveries.build(complaint)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    stored = stack.wait_until_stored(keys_of(delivery), timeout=60)
    issue_id = next(item["issue_id"] for item in stored if item["pk"] in keys_of(delivery) and item.get("issue_id"))

    made = cli(stack, "ops-token", "create", "--name", "ana.responder", "--role", "responder")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    listed = cli(stack, "issues", "list", "--json", "--limit", "100", token=token)
    assert listed.returncode == 0, listed.stderr
    assert issue_id in {i["issue_id"] for i in json.loads(listed.stdout)["items"]}
    for step in (
        ["issues", "assign", issue_id, "ana@example.com"],
        ["issues", "note", issue_id, "Called her"],
        ["issues", "resolve", issue_id, "--note", "Parcel re-sent"],
    ):
        done = cli(stack, *step, token=token)
        assert done.returncode == 0, (step, done.stderr)
    metrics = cli(stack, "metrics", "--json", token=token)
    assert metrics.returncode == 0 and json.loads(metrics.stdout)["volume"]["issues"] >= 1
    detail = json.loads(
        http("GET", f"{stack.api_url}/issues/{issue_id}", headers={"Authorization": f"Bearer {token}"}).body
    )
    assert detail["issue"]["status"] == "resolved"
    assert [e["type"] for e in detail["history"] if e["actor"] == "ana.responder"] == [
        "assigned",
        "note",
        "resolved",
        "resolution_noted",
    ]
    refused = cli(stack, "issues", "assign", issue_id, "x", token="not-a-token")
    assert refused.returncode == 1 and "401" in refused.stderr and "Traceback" not in refused.stderr


def test_erase_from_the_console_command_leaves_no_trace_on_the_local_stack(stack: LocalStack):
    from datetime import datetime, timezone

    from chalicelib.settings import Resources
    from infra.local.stack import STAGE

    row = next(r for r in shift_to_now(load_rows(), datetime.now(timezone.utc)) if r["route"] == "generic")
    handle, words = "erasable_eve", "My Luna tote strap snapped on day two, Eve from Lyon here"
    complaint = {
        **row,
        "id": row["id"] + "-erase",
        "text": words,
        "author": {**row["author"], "id": "eve-4242", "handle": handle, "name": "Eve Erasable"},
    }
    delivery = deliveries.build(complaint)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    stored = next(
        item for item in stack.wait_until_stored(keys_of(delivery), timeout=60) if item["pk"] in keys_of(delivery)
    )
    names = Resources.for_stage(STAGE)

    def traces() -> list[str]:
        tables = stack.client("dynamodb").list_tables()["TableNames"]
        return [
            table
            for table in tables
            if table.startswith(names.prefix + "-")
            and table != names.plans_table
            and any(handle in str(item) or words in str(item) or "eve-4242" in str(item) for item in stack.scan(table))
        ]

    assert names.mentions_table in traces()
    erased = cli(stack, "erase", "--platform", stored["platform"], "--author", "eve-4242", "--by", "dpo@example.com")
    assert erased.returncode == 0 and erased.stdout.startswith("erased 1 mention(s)"), erased.stderr
    assert traces() == []
    again = cli(stack, "erase", "--platform", stored["platform"], "--author", "eve-4242", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["mentions"] == 0
