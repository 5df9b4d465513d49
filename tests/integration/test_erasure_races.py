"""Erasure while the worker keeps processing (review of ``erase``): an edit queued before the erasure and
processed after it, a late creation of an erased mention, and a new mention of the author stored while the run
goes on never leave the author's words or identity behind; a second run finds nothing."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from chalicelib.adapters.aws import client
from chalicelib.adapters.erasure import DynamoErasure
from chalicelib.adapters.mentions_table import DynamoMentionRepository, plain_item
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.queue import SqsMentionQueue
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.bootstrap import pipeline
from chalicelib.domain.models import MentionEvent
from chalicelib.services.erasure import MAX_ROUNDS, erase_author
from chalicelib.services.processor import process_batch
from chalicelib.services.triage import TriageOutcome, triage_mention
from chalicelib.settings import resources
from tests.helpers import drain_ingest_queue
from tests.triage_fixtures import fixed_analyzer, mention

NOW = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
PERSONAL = ("text", "title", "author_id", "author_handle", "author_name", "author_followers")


def _mention_item(key: str) -> dict:
    names = resources()
    return plain_item(client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": key}})["Item"])


def _stored_anywhere(words: list[str]) -> list[str]:
    """Every item of the stage (the plan aside) holding one of ``words`` or the author's id."""
    names, dynamodb, found = resources(), client("dynamodb"), []
    for table in dynamodb.list_tables()["TableNames"]:
        if not table.startswith(names.prefix + "-") or table == names.plans_table:
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                text = json.dumps(plain_item(item), default=str)
                if "id-ana" in text or any(w in text for w in words):
                    found.append(f"{table}: {text[:160]}")
    return found


def _process_queue() -> dict:
    records = drain_ingest_queue()
    return process_batch(records, pipeline()) if records["Records"] else {"batchItemFailures": []}


def test_an_edit_queued_before_the_erasure_and_processed_after_it_stores_nothing(aws):
    names = resources()
    queue = SqsMentionQueue(names.ingest_queue)
    original = mention("a-0", "Your Alba boots burned my skin, I will sue")
    queue.send([original])
    assert _process_queue() == {"batchItemFailures": []}
    edited = "EDITED: the Alba boots burned me, I will sue"
    queue.send([original.model_copy(update={"event": MentionEvent.EDITED, "text": edited})])

    assert erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW).mentions == 1
    # the edit is done with (no retry, nothing for the dead-letter queue) and writes nothing back
    assert _process_queue() == {"batchItemFailures": []}
    item = _mention_item("x#a-0")
    assert not set(PERSONAL) & set(item) and item["erased"]
    assert _stored_anywhere([edited, original.text]) == []
    again = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)
    assert again.mentions == 0 and again.redacted == {}


def test_the_late_creation_of_an_erased_mention_an_edit_had_stored_is_a_duplicate(aws):
    """The edit overtook its creation and was stored, not triaged yet (its triage failed and awaits a retry),
    when the erasure ran: the creation, arriving after, neither triages nor refills the erased mention."""
    names = resources()
    original = mention("a-0", "Your Alba boots burned my skin, I will sue")
    edit = original.model_copy(update={"event": MentionEvent.EDITED, "text": "EDITED: Alba boots burned me"})
    assert DynamoMentionRepository(names.mentions_table).apply_edit(edit).awaits_triage
    assert erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW).mentions == 1

    stored = DynamoMentionRepository(names.mentions_table).apply_edit(edit)  # the edit's retry
    assert stored.content is None and not stored.awaits_triage
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    result = triage_mention(original, store, plans, fixed_analyzer)

    assert result.outcome is TriageOutcome.DUPLICATE
    assert not set(PERSONAL) & set(_mention_item("x#a-0"))
    assert _stored_anywhere([original.text, edit.text]) == []


def test_a_mention_of_the_author_stored_while_the_erasure_runs_is_erased_too(aws):
    names = resources()
    queue = SqsMentionQueue(names.ingest_queue)
    first = "Your Alba boots burned my skin, I will sue"
    later = "The Lina trench coat gave me a rash, I will sue Aurelle"  # opens an issue (and a case) quoting it
    queue.send([mention("a-0", first)])
    _process_queue()
    queue.send([mention("a-1", later, minutes=5)])
    store = DynamoErasure(names)
    sweep = store.redact_everywhere

    def worker_meanwhile(needles, keep_partition):
        _process_queue()  # the worker stores and triages her new mention while the erasure runs
        return sweep(needles, keep_partition)

    store.redact_everywhere = worker_meanwhile  # type: ignore[method-assign]
    assert "Item" not in client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#a-1"}})

    result = erase_author("x", "id-ana", "dpo@aurelle.example", store, NOW)

    assert result.mentions == 2 and result.left == 0 and len(result.issues) == 2
    for key in ("x#a-0", "x#a-1"):
        assert not set(PERSONAL) & set(_mention_item(key))
    assert _stored_anywhere([first, later]) == []  # nor in the issue, case or keys the new mention wrote
    again = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)
    assert again.mentions == 0 and again.redacted == {}


def test_an_author_still_posting_after_the_last_round_is_left_for_the_next_run_and_counted(aws):
    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    triage_mention(mention("a-0", "Your Alba boots burned my skin, I will sue"), store, plans, fixed_analyzer)
    erasure = DynamoErasure(names)
    sweep, posted = erasure.redact_everywhere, iter(range(1, 100))

    def one_more_each_round(needles, keep_partition):
        n = next(posted)
        triage_mention(mention(f"a-{n}", f"Alba boots complaint number {n}", minutes=n), store, plans, fixed_analyzer)
        return sweep(needles, keep_partition)

    erasure.redact_everywhere = one_more_each_round  # type: ignore[method-assign]
    result = erase_author("x", "id-ana", "dpo@aurelle.example", erasure, NOW)

    assert result.mentions == MAX_ROUNDS and result.left == 1
    again = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)
    assert again.mentions == 1 and again.left == 0
    assert _stored_anywhere(["Your Alba boots burned"] + [f"complaint number {n}" for n in range(1, 5)]) == []


def test_the_platform_is_named_as_the_webhook_stored_it(aws):
    """A generic sender's "Google Play" is stored as google-play: erasing "Google Play" finds the author there."""
    names = resources()
    SqsMentionQueue(names.ingest_queue).send([mention("gp-1", "The app crashes", platform="google-play")])
    assert _process_queue() == {"batchItemFailures": []}
    result = erase_author("Google Play", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)
    assert result.platform == "google-play" and result.mentions == 1
    assert _stored_anywhere(["The app crashes"]) == []
