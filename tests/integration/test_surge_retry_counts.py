"""A batch's surge count retried in place counts each mention once, whatever other processors write meanwhile.

``count_surges`` retries a failed count in place. When the failure comes after the batch's counter ADDs went through
(here the history read, or the batch's second UpdateItem, is throttled once) and another processor's batch lands on
the same write shard during the backoff, the item's ``last_batch`` names that other batch, so its condition alone
would let the retry count the batch a second time (reviewer 2's defect #2: 75 counted for 50 mentions, the links
duplicated). The store remembers the items the batch was counted into and the retry writes only the others.
Counters on moto.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

import chalicelib.services.surges as surges
from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.surge_table import LINKS_ATTRIBUTE, SHARDS, DynamoSurgeStore, batch_digest, key_id, shard_key
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.surge import BRAND_KEY, Observation, counter_fields, day_of, hour_of
from chalicelib.services.processor import is_permanent
from chalicelib.settings import resources

BATCH = 25


def throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, operation)


def batches(now: float) -> tuple[list[Observation], list[Observation]]:
    """This processor's batch, and another processor's whose digest names the same write shard."""
    mine = [Observation(at=now - 5, mention=f"x#a{i}", keys=(BRAND_KEY,)) for i in range(BATCH)]
    shard = int(batch_digest(mine), 16) % SHARDS
    n = 0
    while True:
        other = [Observation(at=now - 5, mention=f"x#b{n}-{i}", keys=(BRAND_KEY,)) for i in range(BATCH)]
        if int(batch_digest(other), 16) % SHARDS == shard:
            return mine, other
        n += 1


def stored(pk: str) -> dict:
    return client("dynamodb").get_item(TableName=resources().surges_table, Key={"pk": {"S": pk}}).get("Item", {})


def brand_counts(at: float) -> tuple[int, int]:
    """The brand's hourly count (day items) and 5-minute count (hour items) at ``at``, over the shards."""
    hour_field, fine_field = counter_fields(at)
    hourly = fine = 0
    for shard in range(SHARDS):
        day_item, hour_item = (
            stored(shard_key(f"day#{day_of(at)}", shard)),
            stored(shard_key(f"hour#{hour_of(at)}", shard)),
        )
        hourly += int(day_item.get(key_id(BRAND_KEY) + hour_field, {"N": "0"})["N"])
        fine += int(hour_item.get(key_id(BRAND_KEY) + fine_field, {"N": "0"})["N"])
    return hourly, fine


def links(at: float) -> list[str]:
    out: list[str] = []
    for shard in range(SHARDS):
        out += [
            link["S"] for link in stored(shard_key(f"hour#{hour_of(at)}", shard)).get(LINKS_ATTRIBUTE, {"L": []})["L"]
        ]
    return out


def count(batch: list[Observation], store: DynamoSurgeStore, now: float) -> None:
    names = resources()
    surges.count_surges(batch, store, DynamoTriageStore(names), DynamoPlanStore(names.plans_table), now, is_permanent)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(surges, "SURGE_BACKOFF_SECONDS", (0.0, 0.0))


def test_a_count_retried_after_its_adds_counts_the_batch_once_when_another_batch_wrote_its_items(aws):
    now = time.time()
    mine, other = batches(now)
    table = resources().surges_table
    elsewhere = DynamoSurgeStore(table)  # another processor

    class ReadThrottledOnce(DynamoSurgeStore):
        failed = False

        def read(self, keys, days, hours, at=None):
            if not self.failed:
                self.failed = True
                elsewhere.add(other)  # the other processor's batch commits while this one backs off
                raise throttled("BatchGetItem")
            return super().read(keys, days, hours, at)

    store = ReadThrottledOnce(table)
    count(mine, store, now)

    assert store.failed, "the read never failed: the retry this test is about never happened"
    assert brand_counts(now - 5) == (2 * BATCH, 2 * BATCH)
    linked = links(now - 5)
    assert len(linked) == len(set(linked)) == 2 * BATCH  # every mention linked once


class UpdatesThrottled:
    """The DynamoDB client, with the ``fail``-th UpdateItem from now throttled (after botocore's retries), once;
    ``meanwhile`` runs just before it fails."""

    def __init__(self, fail: int, meanwhile) -> None:
        self._client, self._left, self._meanwhile = client("dynamodb"), fail, meanwhile
        self.exceptions = self._client.exceptions
        self.failed = False

    def update_item(self, **kwargs):
        self._left -= 1
        if self._left == 0:
            self.failed = True
            self._meanwhile()
            raise throttled("UpdateItem")
        return self._client.update_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_count_whose_second_write_failed_writes_only_that_item_again(aws):
    """The day item's ADD went through, the hour item's was throttled: the retry writes the hour item only, though
    another processor's batch wrote the day item since."""
    now = time.time()
    mine, other = batches(now)
    table = resources().surges_table
    elsewhere = DynamoSurgeStore(table)
    dynamodb = UpdatesThrottled(2, lambda: elsewhere.add(other))
    store = DynamoSurgeStore(table, dynamodb=dynamodb)

    count(mine, store, now)

    assert dynamodb.failed, "no update failed: the retry this test is about never happened"
    assert brand_counts(now - 5) == (2 * BATCH, 2 * BATCH)
    linked = links(now - 5)
    assert len(linked) == len(set(linked)) == 2 * BATCH


def test_the_next_batch_is_counted_in_full(aws):
    """What the store remembers of a batch does not hold back the next one (a different digest)."""
    now = time.time()
    mine, other = batches(now)
    store = DynamoSurgeStore(resources().surges_table)
    assert store.add(mine) == 2
    assert store.add(mine) == 0  # a retry of a batch counted in full writes nothing
    assert store.add(other) == 2
    assert brand_counts(now - 5) == (2 * BATCH, 2 * BATCH)
