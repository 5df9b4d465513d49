"""A warm processor reads settled days' counter items once per few minutes, not every batch (issue 14: the cost
of surge counting). Today's items and the states are read every time; a late mention's count in a settled day is
seen once the kept copy is older than ``SETTLED_CACHE_SECONDS``."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.surge_table import SETTLED_CACHE_SECONDS, DynamoSurgeStore, Observation
from chalicelib.domain.surge import counter_fields, day_of
from chalicelib.settings import resources
from tests.helpers import Clock, batch_get_keys_requested

TODAY = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc).timestamp()
LAST_WEEK = TODAY - 6 * 86400


def brand_count(store: DynamoSurgeStore, at: float) -> int:
    days = sorted({day_of(LAST_WEEK), day_of(TODAY)})
    items = store.read(["brand"], days, []).day_items("brand")
    hour_field, _fine = counter_fields(at)
    return sum(item.get(hour_field, 0) for item in items if item["day"] == day_of(at))


def test_a_settled_day_is_read_once_and_a_late_count_in_it_is_seen_after_the_cache_time(aws):
    clock = Clock(TODAY + 600)
    store = DynamoSurgeStore(resources().surges_table, shards=2, clock=clock)
    writer = DynamoSurgeStore(resources().surges_table, shards=2)  # another processor
    writer.add([Observation(at=LAST_WEEK + i, mention=f"x#old-{i}", keys=("brand",)) for i in range(5)])
    writer.add([Observation(at=TODAY + i, mention=f"x#new-{i}", keys=("brand",)) for i in range(3)])
    asked = batch_get_keys_requested()

    assert brand_count(store, LAST_WEEK) == 5 and brand_count(store, TODAY) == 3
    first, second = asked
    assert any(pk.startswith(f"day#{day_of(LAST_WEEK)}") for pk in first)
    assert not any(pk.startswith(f"day#{day_of(LAST_WEEK)}") for pk in second)  # kept from the first read
    assert any(pk.startswith(f"day#{day_of(TODAY)}") for pk in second)  # today is read every time

    writer.add([Observation(at=LAST_WEEK + 60 + i, mention=f"x#late-{i}", keys=("brand",)) for i in range(2)])
    writer.add([Observation(at=TODAY + 60 + i, mention=f"x#now-{i}", keys=("brand",)) for i in range(4)])
    assert brand_count(store, TODAY) == 7  # today's count at once
    assert brand_count(store, LAST_WEEK) == 5  # the late mentions not yet ...
    clock.now += SETTLED_CACHE_SECONDS
    assert brand_count(store, LAST_WEEK) == 7  # ... and then


def test_a_replay_of_past_days_reads_the_day_it_evaluates_every_time(aws):
    """By the clock every day of a replay is over; the day under evaluation (the latest asked) is still read."""
    store = DynamoSurgeStore(resources().surges_table, shards=1, clock=Clock(TODAY + 30 * 86400))
    writer = DynamoSurgeStore(resources().surges_table, shards=1)
    writer.add([Observation(at=TODAY + i, mention=f"x#a-{i}", keys=("brand",)) for i in range(3)])
    assert brand_count(store, TODAY) == 3
    writer.add([Observation(at=TODAY + 60 + i, mention=f"x#b-{i}", keys=("brand",)) for i in range(2)])
    assert brand_count(store, TODAY) == 5
