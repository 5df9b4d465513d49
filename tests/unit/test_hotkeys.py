"""Hot keys: the counters' write shards keep every item under DynamoDB's per-item limit, and reads add them up."""

from __future__ import annotations

from datetime import datetime, timezone

from bench.hotkeys import CountingDynamoDB, surge_counters
from chalicelib.adapters.surge_table import DynamoSurgeStore, shards_for
from chalicelib.domain.surge import BucketCounts, Observation, counter_fields, day_of, hour_of


def test_at_ten_thousand_mentions_a_second_no_counter_item_passes_the_per_item_limit() -> None:
    sharded = surge_counters(rate=10_000, seconds=2)
    unsharded = surge_counters(rate=10_000, seconds=2, shards=1)
    assert sharded["max_writes_per_item_per_s"] < 1000 and sharded["max_write_units_per_item_per_s"] < 1000
    assert unsharded["max_write_units_per_item_per_s"] > 1000  # what the shards are for
    assert sharded["calls_per_mention"] <= 0.2 and sharded["write_units_per_mention"] <= 2


def test_shards_follow_the_expected_peak() -> None:
    assert shards_for(100) == 1
    assert shards_for(10_000, batch_size=25) == 2  # the deployed batch: a write carries 25 mentions' counts
    assert shards_for(10_000, batch_size=10) > shards_for(10_000, batch_size=25)
    assert shards_for(40_000) > shards_for(10_000)


def test_the_stage_never_reads_fewer_shards_than_it_wrote_before() -> None:
    from chalicelib.adapters.surge_table import SHARDS

    # 4 shards were written at batches of 10: reading fewer would drop their counts from 15 days of baseline
    assert SHARDS >= 4 and shards_for() <= SHARDS
    dynamodb = CountingDynamoDB()
    at = datetime(2026, 11, 30, 12, 7, tzinfo=timezone.utc).timestamp()
    before = DynamoSurgeStore("surges", shards=4, dynamodb=dynamodb)
    for b in range(16):
        before.add([Observation(at=at + b, mention=f"x#{b}-{i}", keys=("brand",)) for i in range(5)])
    history = DynamoSurgeStore("surges", dynamodb=dynamodb).read(["brand"], [day_of(at)], [hour_of(at)])
    assert BucketCounts.from_day_items(history.day_items("brand")).hour(int(at) - int(at) % 3600) == 80


def test_a_read_adds_up_the_shards_and_a_batch_retried_in_place_counts_once() -> None:
    dynamodb = CountingDynamoDB()
    store = DynamoSurgeStore("surges", shards=4, dynamodb=dynamodb)
    at = datetime(2026, 11, 30, 12, 7, tzinfo=timezone.utc).timestamp()
    batches = [
        [Observation(at=at + b, mention=f"x#{b}-{i}", keys=("brand", "product:nova")) for i in range(10)]
        for b in range(12)
    ]
    for batch in batches:
        store.add(batch)
    store.add(batches[-1])  # the pipeline's in-place retry of a batch already counted
    assert len({pk for pk in dynamodb.items if pk.startswith("day#")}) > 1  # spread over shards
    history = store.read(["brand", "product:nova"], [day_of(at)], [hour_of(at)])
    hour_field, fine_field = counter_fields(at)
    counts = BucketCounts.from_day_items(history.day_items("brand"))
    assert counts.hour(int(at) - int(at) % 3600) == 120
    assert {name: value for item in history.day_items("product:nova") for name, value in item.items()}[
        fine_field
    ] == 120
    assert len(history.mentions("product:nova")) == 25  # the links are capped per key and hour
