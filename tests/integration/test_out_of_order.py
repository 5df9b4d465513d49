"""Out-of-order events converge (issue 8, defect 5), on moto through the real queue handler.

Platforms deliver a mention's creation, edits and removal in any order, and each of them more than once. Every
arrival order must leave the mention as the true order would: the newest content (by the events' times; an edit
always outranks the original), removed if it was ever removed, and triaged exactly once when it carries content.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.domain.models import MentionEvent
from chalicelib.services.processor import Pipeline, process_batch
from chalicelib.settings import resources
from infra.local.worker import sqs_event
from tests.triage_fixtures import T0, fixed_analyzer, mention

ORIGINAL = "The zip on my Cortez jacket broke"
EDITED = "The zip on my Cortez jacket broke, and no refund yet"


@pytest.fixture
def pipeline(aws) -> Pipeline:
    return Pipeline(
        bootstrap.mention_repository(),
        bootstrap.triage_store(),
        bootstrap.plan_store(),
        bootstrap.surge_store(),
        analyze=fixed_analyzer,
        clock=lambda: T0 + timedelta(hours=1),
    )


def _event(kind: str, external_id: str = "1", *, original: str = ORIGINAL, edited: str = EDITED):
    base = mention(external_id, original)
    if kind == "add":
        return base
    if kind == "edit":
        return base.model_copy(
            update={"event": MentionEvent.EDITED, "text": edited, "created_at": T0 + timedelta(minutes=10)}
        )
    if kind == "edit2":
        return base.model_copy(
            update={
                "event": MentionEvent.EDITED,
                "text": edited + " (update 2)",
                "created_at": T0 + timedelta(minutes=15),
            }
        )
    if kind == "hide":
        return base.model_copy(
            update={"event": MentionEvent.HIDDEN, "text": "", "created_at": T0 + timedelta(minutes=5)}
        )
    return base.model_copy(update={"event": MentionEvent.REMOVED, "text": "", "created_at": T0 + timedelta(minutes=20)})


def _deliver(pipeline: Pipeline, events) -> None:
    """Each event in its own batch, in arrival order (as a queue that reordered them would hand them over)."""
    for n, m in enumerate(events):
        event = sqs_event(
            [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": m.model_dump_json()}],
            "arn:aws:sqs:us-east-1:123456789012:social-response-test-ingest",
            "us-east-1",
        )
        assert process_batch(event, pipeline) == {"batchItemFailures": []}


def _stored(key: str = "x#1") -> dict:
    return bootstrap.mention_repository().get(*key.split("#", 1))


def _issues() -> list[dict]:
    return client("dynamodb").scan(TableName=resources().issues_table)["Items"]


ORDERS = list(itertools.permutations(("add", "edit", "remove")))
DELIVERIES = {
    "once": lambda order: list(order),
    "each_twice": lambda order: [kind for kind in order for _ in range(2)],
    "all_again": lambda order: list(order) + list(order),
    "first_again_last": lambda order: list(order) + [order[0]],
}


@pytest.mark.parametrize("delivery", list(DELIVERIES))
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_of_add_edit_and_remove_converges(pipeline, order, delivery):
    _deliver(pipeline, [_event(kind) for kind in DELIVERIES[delivery](order)])

    stored = _stored()
    assert stored["status"] == "removed"
    assert stored["text"] == EDITED  # the edit is newer than the original, whichever came first
    assert stored["created_at"] == T0.isoformat()  # the original's time, not the edit's or the removal's
    issues = _issues()
    assert len(issues) == 1, order  # triaged exactly once: it carried content
    assert stored["issue_id"] == issues[0]["issue_id"]["S"] and issues[0]["mention_count"]["N"] == "1"
    assert issues[0]["category"]["S"] == "routine_response"
    assert client("dynamodb").scan(TableName=resources().mentions_table, Select="COUNT")["Count"] == 1


def test_a_legal_threat_delivered_edit_first_is_triaged_once_with_the_edited_text(pipeline):
    threat = "The Alba boots ripped my skin, I will sue"
    edit = _event("edit", "7", original="The Alba boots ripped", edited=threat)
    _deliver(pipeline, [edit])
    issues = _issues()
    assert len(issues) == 1 and issues[0]["category"]["S"] == "high_priority"  # at once: the add may never come
    assert "I will sue" in issues[0]["description"]["S"]

    _deliver(pipeline, [_event("add", "7", original="The Alba boots ripped"), edit])
    assert len(_issues()) == 1
    stored = _stored("x#7")
    assert stored["text"] == threat and stored["status"] == "visible" and stored["created_at"] == T0.isoformat()
    assert stored["risk_flags"] == ["legal_threat"]


@pytest.mark.parametrize(
    "order", [("edit", "edit2"), ("edit2", "edit"), ("edit2", "add", "edit"), ("add", "edit2", "edit", "edit2")]
)
def test_the_newest_edit_wins_by_its_time_not_its_arrival(pipeline, order):
    _deliver(pipeline, [_event(kind) for kind in order])
    assert _stored()["text"] == EDITED + " (update 2)"
    assert len(_issues()) == 1


@pytest.mark.parametrize(
    "order",
    [
        ("remove", "add"),
        ("add", "remove"),
        ("remove", "edit"),
        ("hide", "add"),
        ("remove", "hide", "add"),
        ("hide", "remove", "add"),
        ("add", "remove", "hide"),
    ],
)
def test_a_removal_or_hide_before_the_original_keeps_its_status_and_the_mention_is_triaged(pipeline, order):
    _deliver(pipeline, [_event(kind) for kind in order])
    stored = _stored()
    assert stored["status"] == ("removed" if "remove" in order else "hidden")
    assert len(_issues()) == 1 and stored["issue_id"] == _issues()[0]["issue_id"]["S"]


def test_a_removal_alone_is_a_tombstone_without_an_issue(pipeline):
    _deliver(pipeline, [_event("remove"), _event("remove")])
    stored = _stored()
    assert stored["status"] == "removed" and "issue_id" not in stored and "category" not in stored
    assert _issues() == []
