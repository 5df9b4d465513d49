"""``social-response backfill-assignee-shard`` on moto: issues an old stack assigned (``assigned_to`` without
``assignee_shard``, or with a wrong one) are missing from their person's listing until the command runs; a dry run
counts them and changes nothing; the run sets each key (its person's listing then finds them); a rerun updates
none; an issue reassigned between the scan's read and the write keeps its new person.

moto serves in this process on a port of its own (moto's threaded server, its DynamoDB serialized as ``make run``
serves it), so the command runs as a user runs it: a subprocess given ``--endpoint-url``. The reassignment race
runs the same command in-process, with a PATCH slipped in after the scan has read the issue.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import client
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.domain.index_shards import assignee_shard
from chalicelib.domain.ops import IssuePatch
from chalicelib.services.ops import update_issue
from chalicelib.settings import resources
from tests.conftest import TEST_STAGE, forget_cached_adapters
from tests.offline_cli import OFFLINE, run_cli
from tests.triage_fixtures import triaged_issue_ids

PERSON = "ana@example.com"
BEFORE = "ben@example.com"  # whom an old stack's issue was assigned to before PERSON
TEXTS = [  # six routine complaints, six issues (six authors), a minute apart
    ("b-1", "My parcel never arrived", "ben"),
    ("b-2", "The strap of my Luna tote broke after a week", "cam"),
    ("b-3", "Still waiting for my refund", "dee"),
    ("b-4", "My order is late again", "eve"),
    ("b-5", "The zip of my Alba jacket broke", "fay"),
    ("b-6", "Worst service ever, nobody answers my emails", "gus"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(monkeypatch) -> Iterator[dict[str, str]]:
    """moto's threaded server with the test stage deployed; the test process and the command both point at it."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.server import ThreadedMotoServer

    from infra.local import moto_server
    from infra.local.deploy import deploy_stack, seed_secrets

    # DynamoDB atomic per call, as the local stack runs it (the command's segments write from several threads);
    # undone after the test by monkeypatch
    for backend in (DynamoDBBackend, DynamoDBStreamsBackend):
        for name in dir(backend):
            attribute = getattr(backend, name)
            if (
                not name.startswith("_")
                and callable(attribute)
                and not isinstance(attribute, type)
                and not isinstance(backend.__dict__.get(name), (staticmethod, classmethod, property))
            ):
                monkeypatch.setattr(backend, name, moto_server._locked(attribute))
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)  # not a line per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("STAGE", TEST_STAGE)
    forget_cached_adapters()
    try:
        deploy_stack(TEST_STAGE)
        secrets = seed_secrets(TEST_STAGE, {})
        yield {"url": url, **secrets}
    finally:
        forget_cached_adapters()
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30)  # noqa: S310
        server.stop()


@pytest.fixture
def old_stack(served) -> dict:
    """Six issues as an old stack left them: four assigned to PERSON without ``assignee_shard``, one with a stale
    one (its previous person's key), one unassigned."""
    ids = triaged_issue_ids(TEXTS)
    wrong, unassigned = ids[0], ids[1]
    assigned = [i for i in ids if i != unassigned]
    dynamodb = client("dynamodb")
    for issue_id in ids:
        if issue_id == unassigned:
            expression, values = "REMOVE assigned_to, assignee_shard", None
        elif issue_id == wrong:
            expression = "SET assigned_to = :p, assignee_shard = :stale"
            values = {":p": {"S": PERSON}, ":stale": {"S": assignee_shard(BEFORE, issue_id)}}
        else:
            expression, values = "SET assigned_to = :p REMOVE assignee_shard", {":p": {"S": PERSON}}
        dynamodb.update_item(
            TableName=resources().issues_table,
            Key={"issue_id": {"S": issue_id}},
            UpdateExpression=expression,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    return {"ids": ids, "assigned": assigned, "unassigned": unassigned, "wrong": wrong}


def stored(issue_id: str) -> dict:
    item = client("dynamodb").get_item(
        TableName=resources().issues_table, Key={"issue_id": {"S": issue_id}}, ConsistentRead=True
    )["Item"]
    return {name: value.get("S") for name, value in item.items()}


def listing(admin_token: str, person: str) -> set[str]:
    """The person's issues as the ops API lists them (``GET /issues?assignee=``), every page."""
    import app

    found: list[str] = []
    cursor = ""
    with Client(app.app, stage_name="test") as api:
        while True:
            answer = api.http.get(
                f"/issues?assignee={person}&limit=2" + (f"&cursor={cursor}" if cursor else ""),
                headers={"Authorization": f"Bearer {admin_token}"},
            )
            assert answer.status_code == 200, answer.body
            page = json.loads(answer.body)
            found += [item["issue_id"] for item in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
    assert len(found) == len(set(found))
    return set(found)


def backfill(url: str, *args: str) -> dict:
    env = {**OFFLINE, "AWS_ENDPOINT_URL": url, "STAGE": TEST_STAGE}
    done = run_cli(["backfill-assignee-shard", "--endpoint-url", url, *args], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one JSON summary line, nothing else
    return json.loads(lines[0])


def test_the_backfill_puts_old_assigned_issues_in_their_persons_listing_once(served, old_stack):
    assigned, wrong = old_stack["assigned"], old_stack["wrong"]
    before = {i: stored(i) for i in old_stack["ids"]}
    assert listing(served["OPS_ADMIN_TOKEN"], PERSON) == set()  # the old stack's issues are nobody's
    # nor, under a stale key, the person's they were before: a listing matches the address itself too
    assert listing(served["OPS_ADMIN_TOKEN"], BEFORE) == set() and stored(wrong)["assignee_shard"].startswith(BEFORE)

    dry = backfill(served["url"], "--dry-run", "--segments", "3")
    assert dry == {
        "dry_run": True,
        "segments": 3,
        "scanned": len(old_stack["ids"]),
        "needing_update": len(assigned),
        "updated": 0,
        "skipped": len(old_stack["ids"]) - len(assigned),
        "conflicts": 0,
    }
    assert {i: stored(i) for i in old_stack["ids"]} == before  # the dry run wrote nothing

    done = backfill(served["url"])
    assert done["updated"] == done["needing_update"] == len(assigned) and done["conflicts"] == 0, done
    assert done["scanned"] == len(old_stack["ids"]) and done["dry_run"] is False and done["segments"] == 4
    for issue_id in assigned:
        after = stored(issue_id)
        assert after["assignee_shard"] == assignee_shard(PERSON, issue_id)
        assert after["assigned_to"] == PERSON  # the address people see stays plain
        # nothing else changed: not the version (no PATCH of a responder's is refused), not the trail's subject
        assert {k: v for k, v in after.items() if k != "assignee_shard"} == {
            k: v for k, v in before[issue_id].items() if k != "assignee_shard"
        }
    assert "assignee_shard" not in stored(old_stack["unassigned"]) and "assigned_to" not in stored(
        old_stack["unassigned"]
    )
    assert listing(served["OPS_ADMIN_TOKEN"], PERSON) == set(assigned)
    assert listing(served["OPS_ADMIN_TOKEN"], BEFORE) == set()

    again = backfill(served["url"], "--segments", "2")
    assert again["updated"] == again["needing_update"] == 0 and again["skipped"] == len(old_stack["ids"]), again


def test_an_issue_reassigned_between_the_read_and_the_write_keeps_its_new_person(served, old_stack, monkeypatch):
    from chalicelib.cli import main

    moved = next(i for i in old_stack["assigned"] if i != old_stack["wrong"])
    other = "omar@example.com"
    read = DynamoIssues.assigned_page
    patched = []

    def read_then_reassign(self, segment, segments, start):
        page = read(self, segment, segments, start)
        if any(issue.issue_id == moved for issue in page.issues):  # the scan has read it as PERSON's: a PATCH
            update_issue(moved, IssuePatch(assigned_to=other), None, "ops:test", self, datetime.now(timezone.utc))
            patched.append(moved)
        return page

    monkeypatch.setattr(DynamoIssues, "assigned_page", read_then_reassign)
    out = io.StringIO()
    assert main(["backfill-assignee-shard", "--endpoint-url", served["url"], "--segments", "2"], stdout=out) == 0
    summary = json.loads(out.getvalue())
    assert patched == [moved]
    assert summary["conflicts"] == 1 and summary["updated"] == len(old_stack["assigned"]) - 1, summary
    after = stored(moved)
    assert after["assigned_to"] == other and after["assignee_shard"] == assignee_shard(other, moved)  # not clobbered
    assert moved in listing(served["OPS_ADMIN_TOKEN"], other)
    assert listing(served["OPS_ADMIN_TOKEN"], PERSON) == set(old_stack["assigned"]) - {moved}
