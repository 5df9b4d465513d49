"""The queue processor on moto: real SQS messages in, real DynamoDB items out, failures reported per record."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import DynamoMentionRepository
from chalicelib.adapters.queue import SqsMentionQueue
from chalicelib.bootstrap import pipeline
from chalicelib.domain.models import Author, Mention, MentionEvent, MentionKind
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources
from tests.helpers import drain_ingest_queue


def _mention(external_id: str = "c1", event: MentionEvent = MentionEvent.CREATED, text: str = "Zip broke") -> Mention:
    return Mention(
        platform="facebook",
        external_id=external_id,
        event=event,
        kind=MentionKind.COMMENT,
        author=Author(id="42", name="Ana", followers=1200, verified=True),
        text=text,
        rating=None,
        created_at=datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc),
        parent_id="p1",
        thread_id="p1",
    )


@pytest.fixture
def queue(aws) -> SqsMentionQueue:
    return SqsMentionQueue(resources().ingest_queue)


@pytest.fixture
def repository(aws) -> DynamoMentionRepository:
    return DynamoMentionRepository(resources().mentions_table)


def test_queued_mentions_are_stored_once_whatever_the_redeliveries(queue, repository):
    queue.send([_mention("c1"), _mention("c2"), _mention("c1")])  # c1 delivered twice by the platform
    result = process_batch(drain_ingest_queue(), pipeline())

    assert result == {"batchItemFailures": []}
    assert repository.count() == 2
    stored = repository.get("facebook", "c1")
    assert stored["text"] == "Zip broke" and stored["author_followers"] == 1200 and stored["status"] == "visible"
    assert stored["author_verified"] is True and stored["created_at"] == "2026-11-20T09:30:00+00:00"

    queue.send([_mention("c1")])  # and once more, in a later batch
    process_batch(drain_ingest_queue(), pipeline())
    assert repository.count() == 2


def test_edit_replaces_text_and_removal_marks_without_deleting(queue, repository):
    queue.send([_mention("c1")])
    process_batch(drain_ingest_queue(), pipeline())
    queue.send([_mention("c1", MentionEvent.EDITED, text="Zip broke, still waiting")])
    process_batch(drain_ingest_queue(), pipeline())
    edited = repository.get("facebook", "c1")
    assert edited["text"] == "Zip broke, still waiting" and "edited_at" in edited
    assert edited["created_at"] == "2026-11-20T09:30:00+00:00"

    queue.send([_mention("c1", MentionEvent.REMOVED), _mention("c2", MentionEvent.HIDDEN)])
    process_batch(drain_ingest_queue(), pipeline())
    assert repository.get("facebook", "c1")["status"] == "removed"
    assert repository.get("facebook", "c1")["text"] == "Zip broke, still waiting"
    assert repository.get("facebook", "c2")["status"] == "hidden"  # a hide that overtook its creation


def test_a_removal_that_overtakes_its_creation_wins(queue, repository):
    queue.send([_mention("c9", MentionEvent.REMOVED)])
    process_batch(drain_ingest_queue(), pipeline())
    queue.send([_mention("c9")])
    process_batch(drain_ingest_queue(), pipeline())
    assert repository.get("facebook", "c9")["status"] == "removed"
    assert repository.count() == 1


def test_a_poison_message_goes_to_the_dlq_alone_and_nothing_half_written(queue, repository):
    sqs = client("sqs")
    queue.send([_mention("good")])
    sqs.send_message(QueueUrl=queue.url, MessageBody='{"platform": "x"}')  # not a Mention
    event = drain_ingest_queue()

    result = process_batch(event, pipeline())

    assert result == {"batchItemFailures": []}  # set aside at once (tests/integration/test_poison.py)
    dlq = sqs.get_queue_url(QueueName=resources().ingest_dlq)["QueueUrl"]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq).get("Messages", [])] == ['{"platform": "x"}']
    assert repository.count() == 1 and repository.get("facebook", "good") is not None


def test_a_batch_reads_its_dedup_keys_in_one_call(queue):
    """Five complaints, two of them one author's thread: one read of the keys table, and the thread is one issue."""
    reads: list[str] = []
    client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda params, **_: reads.extend(params["RequestItems"])
    )
    queue.send([_mention(f"c{i}", text=f"Zip broke again, order {i} is the worst") for i in range(5)])
    assert process_batch(drain_ingest_queue(), pipeline()) == {"batchItemFailures": []}

    assert reads.count(resources().issue_keys_table) == 1
    issues = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    assert len(issues) == 1 and issues[0]["mention_count"]["N"] == "5"  # one author, one thread: one issue


def test_a_batch_reads_its_dedup_keys_and_its_surge_history_in_one_call_and_sees_its_own_counts(queue):
    """Issue 14 (the cost of a mention): the surge history a batch evaluates is read with its dedup keys, before
    its counts are added, and the copies are counted into: what the detector sees is what a read after the
    counts finds."""
    from chalicelib.adapters.surge_table import DynamoSurgeStore
    from chalicelib.domain.surge import BRAND_KEY

    tables: list[list[str]] = []
    client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda params, **_: tables.append(sorted(params["RequestItems"]))
    )
    now = datetime.now(timezone.utc).replace(microsecond=0)
    batch = [
        _mention(f"s{i}", text=f"Zip broke again, order {i} is the worst").model_copy(
            update={"created_at": now - timedelta(minutes=3 - i)}
        )
        for i in range(3)
    ]
    wired = pipeline()
    seen = []
    read = wired.surges.read
    wired.surges.read = lambda *args, **kwargs: seen.append((args, kwargs, read(*args, **kwargs))) or seen[-1][2]

    queue.send(batch)
    assert process_batch(drain_ingest_queue(), wired) == {"batchItemFailures": []}

    assert tables == [sorted([resources().issue_keys_table, resources().surges_table])]  # one call, both tables
    ((args, kwargs, history),) = seen
    fresh = DynamoSurgeStore(resources().surges_table).read(*args, **kwargs)  # a read after the batch's counts
    assert history.day_items(BRAND_KEY) == fresh.day_items(BRAND_KEY)
    assert sum(v for item in history.day_items(BRAND_KEY) for k, v in item.items() if k.startswith("h")) == 3
    assert sorted(history.mentions(BRAND_KEY)) == sorted(fresh.mentions(BRAND_KEY)) and fresh.mentions(BRAND_KEY)
    assert history.data_start() == fresh.data_start() is not None


def test_a_failed_batch_read_leaves_each_mention_to_read_its_own_keys(queue):
    from tests.integration.test_side_effects_retry import fail_calls

    failed = fail_calls("dynamodb", "BatchGetItem", times=1)
    queue.send([_mention(f"c{i}", text=f"Zip broke again, order {i} is the worst") for i in range(3)])
    assert process_batch(drain_ingest_queue(), pipeline()) == {"batchItemFailures": []}
    issues = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    assert len(failed) >= 4  # the batch's read (failed), then each mention's own, then the surge counters'
    assert len(issues) == 1 and issues[0]["mention_count"]["N"] == "3"


def test_each_record_is_parsed_once_a_batch_and_a_poison_one_still_fails_alone(queue, repository, monkeypatch):
    """The batch's key read and each mention's triage share one parse of its body (issue 14: the cost of a
    mention); a body that does not parse is still parsed by its own handling, and set aside."""
    parses: list[str] = []
    shipped = Mention.model_validate_json.__func__

    def counting(cls, body, *args, **kwargs):
        parses.append(body)
        return shipped(cls, body, *args, **kwargs)

    monkeypatch.setattr(Mention, "model_validate_json", classmethod(counting))
    queue.send([_mention(f"c{i}", text=f"Zip broke again, order {i}") for i in range(4)])
    client("sqs").send_message(QueueUrl=queue.url, MessageBody='{"platform": "x"}')  # not a Mention
    event = drain_ingest_queue()
    parses.clear()

    assert process_batch(event, pipeline()) == {"batchItemFailures": []}
    assert sorted(parses) == sorted([r["body"] for r in event["Records"]] + ['{"platform": "x"}'])
    assert repository.count() == 4
