"""The surge store's prefetch (issue 14: the cost of a mention): what a batch will evaluate is read with another
adapter's read, before the batch's counts are added, and the copies are counted into. Where nothing read for it,
or the copies are stale, or a count is retried, the store reads on its own."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.aws import CombinedReads
from chalicelib.adapters.surge_table import PREFETCH_FRESH_SECONDS, DynamoSurgeStore, Observation
from chalicelib.domain.surge import day_of, hour_of
from chalicelib.settings import resources
from tests.helpers import Clock

NOW = datetime(2026, 11, 30, 15, 20, tzinfo=timezone.utc).timestamp()
DAYS, HOURS = [day_of(NOW)], [hour_of(NOW)]


def _batch(name: str, n: int = 3) -> list[Observation]:
    return [Observation(at=NOW - 60 + i, mention=f"x#{name}-{i}", keys=("brand",)) for i in range(n)]


def _brand_total(history) -> int:
    """The brand's 5-minute counts (the hour items'; a kept day item holds settled hours only)."""
    return sum(v for item in history.day_items("brand") for k, v in item.items() if k.startswith("f"))


def _reads_sent() -> list[list[str]]:
    """Each BatchGetItem's keys (any table's key attribute), in order."""
    from chalicelib.adapters.aws import client

    sent: list[list[str]] = []
    client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: sent.append(
            [next(iter(k.values()))["S"] for r in params["RequestItems"].values() for k in r["Keys"]]
        ),
    )
    return sent


def _store(clock: Clock, reads: CombinedReads) -> DynamoSurgeStore:
    return DynamoSurgeStore(resources().surges_table, shards=2, clock=clock, age_clock=clock, reads=reads)


def test_a_prefetch_goes_with_the_next_read_and_the_batch_is_counted_into_its_copies(aws):
    clock, reads = Clock(NOW), CombinedReads()
    other = DynamoSurgeStore(resources().surges_table, shards=2)  # another processor, counted before
    other.add(_batch("earlier", 4))
    store = _store(clock, reads)
    asked = _reads_sent()

    store.prefetch(["brand"], DAYS, HOURS, at=NOW)
    reads.get(resources().issue_keys_table, [{"key": {"S": "some-dedup-key"}}])  # the triage store's read
    store.add(_batch("mine"))
    history = store.read(["brand"], DAYS, HOURS, at=NOW)

    assert len(asked) == 1 and "state#brand" in asked[0]  # the history came with the dedup key read
    assert _brand_total(history) == 7  # the other processor's 4 and the batch's own 3
    assert sorted(history.mentions("brand")) == sorted(o.mention for o in [*_batch("earlier", 4), *_batch("mine")])


def test_a_prefetch_no_one_sent_is_read_by_the_store_itself(aws):
    clock, reads = Clock(NOW), CombinedReads()
    store = _store(clock, reads)
    asked = _reads_sent()

    store.prefetch(["brand"], DAYS, HOURS, at=NOW)
    store.add(_batch("mine"))
    history = store.read(["brand"], DAYS, HOURS, at=NOW)

    assert len(asked) == 1 and _brand_total(history) == 3  # one read, after the counts
    reads.get(resources().issue_keys_table, [{"key": {"S": "k"}}])
    assert len(asked) == 2 and not any(pk.startswith(("day#", "state#")) for pk in asked[1])  # not sent again


def test_stale_copies_are_read_again(aws):
    clock, reads = Clock(NOW), CombinedReads()
    store = _store(clock, reads)
    other = DynamoSurgeStore(resources().surges_table, shards=2)
    store.prefetch(["brand"], DAYS, HOURS, at=NOW)
    reads.get(resources().issue_keys_table, [{"key": {"S": "k"}}])
    other.add(_batch("meanwhile", 2))  # counted by another processor after the prefetch
    clock.now += PREFETCH_FRESH_SECONDS + 1  # the batch took long: its copies are not trusted

    history = store.read(["brand"], DAYS, HOURS, at=NOW)

    assert _brand_total(history) == 2


def test_a_retried_count_reads_afresh_and_counts_once(aws):
    clock, reads = Clock(NOW), CombinedReads()
    store = _store(clock, reads)
    store.prefetch(["brand"], DAYS, HOURS, at=NOW)
    reads.get(resources().issue_keys_table, [{"key": {"S": "k"}}])
    batch = _batch("mine")
    store.add(batch)
    assert _brand_total(store.read(["brand"], DAYS, HOURS, at=NOW)) == 3
    asked = _reads_sent()

    store.add(batch)  # the pipeline retries a failed count: the items remember the batch
    assert _brand_total(store.read(["brand"], DAYS, HOURS, at=NOW)) == 3
    assert len(asked) == 1  # the copies served one batch's read only


def test_a_count_found_applied_already_drops_its_copy(aws):
    """botocore retries an update DynamoDB applied (its answer was lost): the retry's condition fails, and the copy,
    read before that count, is read again rather than trusted."""
    clock, reads = Clock(NOW), CombinedReads()
    store = _store(clock, reads)
    batch = _batch("mine")
    store.prefetch(["brand"], DAYS, HOURS, at=NOW)
    reads.get(resources().issue_keys_table, [{"key": {"S": "k"}}])  # copies taken before the count
    _store(Clock(NOW), CombinedReads()).add(batch)  # the first, applied, attempt of the same updates

    store.add(batch)  # the retry: its conditions fail

    assert _brand_total(store.read(["brand"], DAYS, HOURS, at=NOW)) == 3
