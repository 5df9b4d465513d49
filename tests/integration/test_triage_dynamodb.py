"""Triage on DynamoDB (moto): one read and one transaction per mention, races settled by conditions."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import DEFAULT_PLAN, DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.index_shards import status_category
from chalicelib.domain.plan import PlanError
from chalicelib.services.triage import TriageOutcome, triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention


@pytest.fixture
def store(aws) -> DynamoTriageStore:
    return DynamoTriageStore(resources())


@pytest.fixture
def plans(aws) -> DynamoPlanStore:
    return DynamoPlanStore(resources().plans_table)


def _items(table: str) -> list[dict]:
    return client("dynamodb").scan(TableName=table)["Items"]


def test_opening_writes_mention_issue_keys_audit_and_case_together(store, plans):
    result = triage_mention(mention("1", "Your Alba boots ripped my skin, I will sue"), store, plans, fixed_analyzer)
    names = resources()
    issue = client("dynamodb").get_item(TableName=names.issues_table, Key={"issue_id": {"S": result.issue_id}})["Item"]
    sharded = status_category("open", "high_priority", result.issue_id)  # the issue's write shard of the index
    assert issue["category"]["S"] == "high_priority" and issue["status_category"]["S"] == sharded
    assert issue["assigned_to"]["S"].endswith("@aurelle.example") and issue["mention_count"]["N"] == "1"
    stored = client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#1"}})["Item"]
    assert stored["issue_id"]["S"] == result.issue_id and stored["risk_flags"]["L"] == [{"S": "legal_threat"}]
    audit = _items(names.audit_table)
    assert [a["type"]["S"] for a in audit] == ["opened"] and audit[0]["actor"]["S"] == "system:triage"
    assert len(_items(names.escalations_table)) == 1
    assert {k["kind"]["S"] for k in _items(names.issue_keys_table)} >= {"conversation", "author", "text"}
    by_status = client("dynamodb").query(
        TableName=names.issues_table,
        IndexName="by_status_category",
        KeyConditionExpression="status_category = :sc",
        ExpressionAttributeValues={":sc": {"S": sharded}},
    )
    assert by_status["Count"] == 1


def test_redelivery_and_joining_on_dynamodb(store, plans):
    first = triage_mention(mention("1", "The zip on my Cortez jacket broke"), store, plans, fixed_analyzer)
    again = triage_mention(mention("1", "The zip on my Cortez jacket broke"), store, plans, fixed_analyzer)
    joined = triage_mention(mention("2", "Cortez jacket refund still missing", minutes=5), store, plans, fixed_analyzer)
    escalated = triage_mention(mention("3", "Cortez jacket broke, I will sue", minutes=6), store, plans, fixed_analyzer)
    assert (again.outcome, joined.outcome, escalated.outcome) == (
        TriageOutcome.DUPLICATE,
        TriageOutcome.JOINED,
        TriageOutcome.ESCALATED,
    )
    assert joined.issue_id == escalated.issue_id == first.issue_id
    issue = client("dynamodb").get_item(TableName=resources().issues_table, Key={"issue_id": {"S": first.issue_id}})[
        "Item"
    ]
    assert issue["mention_count"]["N"] == "3" and issue["category"]["S"] == "high_priority"
    assert len(_items(resources().mentions_table)) == 3
    assert sorted(a["type"]["S"] for a in _items(resources().audit_table)) == [
        "escalated",
        "mention_added",
        "mention_added",
        "opened",
    ]


@pytest.fixture
def atomic_moto_dynamodb(monkeypatch):
    """Make each moto DynamoDB call atomic, as each DynamoDB request (and each transaction) is in AWS.

    moto's in-process backend is not thread-safe (concurrent calls corrupt its dicts and lose ADDs). Serializing
    single calls keeps what the test is about: the threads still race between their read and their write.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "update_item", "get_item", "batch_get_item", "query", "scan"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


def test_concurrent_processors_seeing_near_duplicates_open_one_issue(store, plans, atomic_moto_dynamodb):
    text = "The Nova sneakers sole broke after two days, this is the worst quality ever"
    workers = 8
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def process(i: int) -> None:
        barrier.wait()
        try:
            results.append(
                triage_mention(mention(str(i), text, author=f"a{i}", followers=10), store, plans, fixed_analyzer)
            )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=process, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    issues = _items(resources().issues_table)
    assert len(issues) == 1, [i["issue_id"]["S"] for i in issues]
    assert issues[0]["mention_count"]["N"] == str(workers) and issues[0]["reach"]["N"] == str(10 * workers)
    assert {r.issue_id for r in results} == {issues[0]["issue_id"]["S"]}


def test_plans_are_versioned_and_the_old_version_retired(plans):
    assert plans.active()[1] == 0  # nothing uploaded: the bundled plan
    text = DEFAULT_PLAN.read_text()
    assert plans.upload(text, "ops@aurelle.example") == 1
    assert (
        plans.upload(text.replace("influencer_followers: 50000", "influencer_followers: 20000"), "ops@aurelle.example")
        == 2
    )
    plan, version = plans.active()
    assert version == 2 and plan.influencer_followers == 20000
    assert {v["version"]: v["status"] for v in plans.versions()} == {1: "retired", 2: "active"}


def test_a_bad_plan_is_refused_with_every_problem_named_and_nothing_written(plans):
    broken = (
        DEFAULT_PLAN.read_text()
        .replace("category: routine_response\n    severity: low", "category: routin\n    severity: low")
        .replace("team: legal\n", "team: lawyers\n")
    )
    with pytest.raises(PlanError) as refused:
        plans.upload(broken, "ops@aurelle.example")
    message = str(refused.value)
    assert "unknown category 'routin'" in message and "unknown team 'lawyers'" in message
    assert plans.versions() == [] and plans.active()[1] == 0
    assert json.dumps(message)  # a plain string, safe to return in a 400


def test_a_new_mention_is_one_conditional_put_and_one_stored_meanwhile_settles_through_the_update(store, plans):
    """A mention nothing came before is written by a Put (moto validates the Update's ~20-action SET at ~10x a
    put's CPU); a tombstone stored after the caller's read cancels that Put, and its ALL_OLD copy settles it."""
    first_writes: list[str] = []

    def record(params, **_):
        ((operation, _body),) = params["TransactItems"][0].items()
        first_writes.append(operation)

    dynamodb = client("dynamodb")
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    names = resources()
    try:
        triage_mention(mention("1", "The zip on my Cortez jacket broke"), store, plans, fixed_analyzer)
        stored = dynamodb.get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#1"}})["Item"]
        assert first_writes == ["Put"]
        assert stored["status"]["S"] == "visible" and stored["text"]["S"] == "The zip on my Cortez jacket broke"
        assert {"category", "content_version", "received_at", "ttl", "platform", "external_id"} <= set(stored)

        dynamodb.put_item(TableName=names.mentions_table, Item={"pk": {"S": "x#2"}, "status": {"S": "removed"}})
        triage_mention(mention("2", "Cortez jacket refund still missing"), store, plans, fixed_analyzer)  # no prior
        removed = dynamodb.get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#2"}})["Item"]
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)
    assert first_writes == ["Put", "Put", "Update"]  # the cancelled Put, then the Update that keeps the removal
    assert removed["status"]["S"] == "removed" and removed["category"]["S"] and removed["text"]["S"]


def _resolve(issue_id: str) -> None:
    client("dynamodb").update_item(
        TableName=resources().issues_table,
        Key={"issue_id": {"S": issue_id}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "resolved"}},
    )


def _issue(issue_id: str) -> dict:
    return client("dynamodb").get_item(TableName=resources().issues_table, Key={"issue_id": {"S": issue_id}})["Item"]


def test_a_high_priority_issue_raised_to_critical_keeps_the_mention_and_its_one_case(store, plans):
    """An influencer's grievance (High Priority, high), then a legal threat (critical) from the same author: the
    mention joins, the issue is raised, and its one escalation case follows, opened when it first was."""
    first = triage_mention(
        mention("1", "The zip on my Cortez jacket broke", followers=90000), store, plans, fixed_analyzer
    )
    assert (first.classification.category, first.classification.severity.value) == ("high_priority", "high")
    threat = mention("2", "Cortez jacket broke again, I will sue", minutes=5, followers=90000)
    second = triage_mention(threat, store, plans, fixed_analyzer)
    assert second.outcome is TriageOutcome.ESCALATED and second.issue_id == first.issue_id
    assert _issue(first.issue_id)["severity"]["S"] == "critical"
    (case,) = _items(resources().escalations_table)
    assert case["severity"]["S"] == "critical" and "zip on my Cortez" in case["summary"]["S"]  # when and why it opened


def test_an_escalated_issue_takes_its_new_categorys_sla_never_a_later_one(store, plans):
    plan, _ = plans.active()
    routine = triage_mention(mention("1", "The zip on my Cortez jacket broke"), store, plans, fixed_analyzer)
    assert routine.classification.category == "routine_response"
    before = _issue(routine.issue_id)
    threat = mention("2", "Cortez jacket broke again, I will sue", minutes=90)
    assert triage_mention(threat, store, plans, fixed_analyzer).outcome is TriageOutcome.ESCALATED
    after = _issue(routine.issue_id)
    sla = plan.categories["high_priority"].sla
    raised_at = threat.created_at
    expected_first = min(
        datetime.fromisoformat(before["sla_first_response_due"]["S"]),
        raised_at + timedelta(minutes=sla.first_response_minutes),
    )
    assert datetime.fromisoformat(after["sla_first_response_due"]["S"]) == expected_first
    assert datetime.fromisoformat(after["sla_resolution_due"]["S"]) == raised_at + timedelta(
        minutes=sla.resolution_minutes
    )  # 12 h from the threat: earlier than the routine 48 h


def test_after_an_issue_is_resolved_its_follow_ups_and_copies_fold_into_one_new_issue(store, plans):
    first = triage_mention(mention("1", "The zip on my Cortez jacket broke"), store, plans, fixed_analyzer)
    _resolve(first.issue_id)
    texts = ["Cortez jacket broke", "Still no refund for the Cortez jacket", "Cortez jacket zip broke twice now"]
    later = [
        triage_mention(mention(str(i), t, minutes=10 * i), store, plans, fixed_analyzer) for i, t in enumerate(texts, 2)
    ]
    assert later[0].outcome is TriageOutcome.OPENED and later[0].issue_id != first.issue_id
    assert {r.issue_id for r in later} == {later[0].issue_id}  # one new issue, not one each

    campaign = "The Nova sneakers sole broke after two days, this is the worst quality ever"
    opened = triage_mention(mention("c0", campaign, author="a0"), store, plans, fixed_analyzer)
    _resolve(opened.issue_id)
    copies = [
        triage_mention(mention(f"c{i}", campaign, author=f"a{i}", minutes=i), store, plans, fixed_analyzer)
        for i in range(1, 5)
    ]
    assert len({c.issue_id for c in copies}) == 1 and opened.issue_id not in {c.issue_id for c in copies}
