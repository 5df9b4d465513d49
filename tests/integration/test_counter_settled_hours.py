"""With the evaluation's event time, a warm processor keeps the settled hours too (issue 14: the cost of surge
counting): today's day items once an hour, the last hour's items once it is over, while the current hour's items
and the states are read every batch."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.aws import client
from chalicelib.adapters.surge_table import SETTLED_CACHE_SECONDS, SETTLING_SECONDS, DynamoSurgeStore, Observation
from chalicelib.domain.surge import BucketCounts, day_of, hour_of
from chalicelib.settings import resources
from tests.helpers import Clock, batch_get_keys_requested

TEN = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc).timestamp()
HOUR = 3600


def count(writer: DynamoSurgeStore, at: float, n: int, name: str) -> None:
    writer.add([Observation(at=at + i, mention=f"x#{name}-{i}", keys=("brand",)) for i in range(n)])


def read(store: DynamoSurgeStore, at: float) -> BucketCounts:
    """What an evaluation at ``at`` reads: today's day items and the last two hours' items."""
    store._clock.now = at  # type: ignore[attr-defined]  # live: the clock and the event time go together
    hours = sorted({hour_of(at - HOUR), hour_of(at)})
    return BucketCounts.from_day_items(store.read(["brand"], [day_of(at)], hours, at=at).day_items("brand"))


def test_today_is_read_once_an_hour_and_the_last_hour_once_it_is_over(aws):
    store = DynamoSurgeStore(resources().surges_table, shards=2, clock=Clock(TEN))
    writer = DynamoSurgeStore(resources().surges_table, shards=2)  # the other processors
    count(writer, TEN - HOUR + 60, 4, "nine")  # 09:01
    count(writer, TEN + 60, 3, "ten")  # 10:01
    asked = batch_get_keys_requested()

    first = read(store, TEN + 10 * 60)  # 10:10: nine o'clock is settled
    assert first.hour(int(TEN - HOUR)) == 4 and first.window(int(TEN), int(TEN + HOUR)) == 3
    count(writer, TEN + 15 * 60, 2, "later")  # 10:15
    second = read(store, TEN + 20 * 60)
    day_items = [pk for pk in asked[1] if pk.startswith("day#")]
    hour_items = {pk.split("#")[1] for pk in asked[1] if pk.startswith("hour#")}
    assert day_items == [] and hour_items == {hour_of(TEN)}  # the settled copies, the current hour fresh
    assert second.hour(int(TEN - HOUR)) == 4 and second.window(int(TEN), int(TEN + HOUR)) == 5
    # a kept day item holds the settled hours only: the hour still counting is the hour items' business
    assert second.hour(int(TEN)) == 0

    # in the first minutes of eleven o'clock, ten is still settling: today's items are read again
    read(store, TEN + HOUR + SETTLING_SECONDS - 60)
    assert any(pk.startswith("day#") for pk in asked[2])
    after = read(store, TEN + HOUR + SETTLING_SECONDS + 60)
    assert after.hour(int(TEN)) == 5  # ten o'clock, complete, from a read after it settled
    read(store, TEN + HOUR + SETTLING_SECONDS + 120)
    assert any(pk.startswith("day#") for pk in asked[3]) and not any(pk.startswith("day#") for pk in asked[4])


def test_a_late_count_in_a_settled_hour_is_seen_once_the_copy_is_old(aws):
    store = DynamoSurgeStore(resources().surges_table, shards=1, clock=Clock(TEN))
    writer = DynamoSurgeStore(resources().surges_table, shards=1)
    count(writer, TEN - HOUR + 60, 4, "nine")
    at = TEN + 10 * 60
    assert read(store, at).window(int(TEN - HOUR), int(TEN)) == 4
    count(writer, TEN - HOUR + 120, 2, "retried")  # a batch of nine o'clock, retried late
    assert read(store, at + 60).window(int(TEN - HOUR), int(TEN)) == 4  # not yet ...
    assert read(store, at + SETTLED_CACHE_SECONDS).window(int(TEN - HOUR), int(TEN)) == 6  # ... and then


def test_a_replay_keeps_hours_settled_by_the_event_time_not_the_clock(aws):
    """By the clock a replay's every hour is over; by its event time the hour evaluated is not."""
    replay = datetime(2015, 2, 24, 10, 0, tzinfo=timezone.utc).timestamp()
    store = DynamoSurgeStore(resources().surges_table, shards=1, clock=Clock(TEN))
    writer = DynamoSurgeStore(resources().surges_table, shards=1)
    count(writer, replay + 60, 3, "a")
    hours = [hour_of(replay)]
    first = store.read(["brand"], [day_of(replay)], hours, at=replay + 120).day_items("brand")
    count(writer, replay + 180, 2, "b")
    second = store.read(["brand"], [day_of(replay)], hours, at=replay + 240).day_items("brand")
    assert BucketCounts.from_day_items(first).window(int(replay), int(replay + HOUR)) == 3
    assert BucketCounts.from_day_items(second).window(int(replay), int(replay + HOUR)) == 5


def test_a_processor_sets_what_never_changes_with_its_first_write_of_an_item_only(aws):
    """An update costs by its actions: an item's expiry and start of counting are set once per processor."""
    expressions: list[str] = []
    client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", lambda params, **_: expressions.append(params["UpdateExpression"])
    )
    store = DynamoSurgeStore(resources().surges_table, shards=1)
    count(store, TEN + 60, 3, "a")
    count(store, TEN + 120, 2, "b")
    first, second = expressions[:2], expressions[2:]
    assert all("#ttl" in e for e in first) and not any("#ttl" in e or "#first" in e for e in second)
    day = client("dynamodb").get_item(TableName=resources().surges_table, Key={"pk": {"S": f"day#{day_of(TEN)}"}})
    assert int(day["Item"]["ttl"]["N"]) > TEN and float(day["Item"]["first_ts"]["N"]) == TEN + 60
    other = DynamoSurgeStore(resources().surges_table, shards=1)  # another processor: its own first write
    count(other, TEN + 180, 1, "c")
    assert all("#ttl" in e for e in expressions[4:])


def test_a_late_batch_sees_its_own_counts_in_an_hour_kept_as_settled(aws):
    """A processor keeps nine o'clock at 10:06; at 10:07 it counts a retried batch of 09:55-09:58 and evaluates at
    09:58: the hour is not settled for that evaluation, and its own write dropped the copy anyway."""
    store = DynamoSurgeStore(resources().surges_table, shards=1, clock=Clock(TEN))
    count(store, TEN - HOUR + 60, 3, "nine")
    read(store, TEN + 6 * 60)
    store._clock.now = TEN + 7 * 60  # type: ignore[attr-defined]
    store.add([Observation(at=TEN - 300 + 60 * i, mention=f"x#late-{i}", keys=("brand",)) for i in range(4)])
    late = store.read(["brand"], [day_of(TEN)], [hour_of(TEN - HOUR)], at=TEN - 120).day_items("brand")
    assert BucketCounts.from_day_items(late).window(int(TEN - 900), int(TEN)) == 4
    # and a live evaluation right after it reads the hour again (its own count dropped the copy)
    assert read(store, TEN + 7 * 60).window(int(TEN - HOUR), int(TEN)) == 7


def test_a_backlog_keeps_no_hours(aws):
    """Draining a backlog (event times hours behind the clock, batches out of order across processors), an hour is
    not settled by the event time: a kept copy would hide another processor's batch of it."""
    clock = Clock(TEN + 9 * HOUR)
    first, other = (DynamoSurgeStore(resources().surges_table, shards=1, clock=clock) for _ in range(2))
    count(other, TEN - HOUR + 60, 4, "nine-early")
    count(first, TEN + 10 * 60, 2, "ten")

    def nine(at: float) -> int:
        hours = sorted({hour_of(at - HOUR), hour_of(at)})
        items = first.read(["brand"], [day_of(at)], hours, at=at).day_items("brand")
        return BucketCounts.from_day_items(items).hour(int(TEN - HOUR))

    assert nine(TEN + 10 * 60) == 4
    count(other, TEN - HOUR + 50 * 60, 3, "nine-late")  # the other processor's batch of 09:50, drained later
    assert nine(TEN + 11 * 60) == 7
