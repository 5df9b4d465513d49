"""Surge counters and states in DynamoDB, shaped so a whole batch costs two writes and no read of its own: what it
evaluates is read with the batch's dedup keys (:meth:`DynamoSurgeStore.prefetch`), in the triage store's call.

* ``day#YYYY-MM-DD``: hourly counts of every key, attributes ``<id>h13`` (``<id>``: :func:`key_id`, a short
  digest of the key), and ``first_ts`` (when counting began, the detector's warm-up).
* ``hour#YYYY-MM-DDTHH``: 5-minute counts of every key, ``<id>f157`` (the bucket's index within the day, as
  :func:`chalicelib.domain.surge.counter_fields` names it), and some mentions counted, in one list ``m`` of
  ``<id><mention>``, so a surge can link them. A batch writes one hour item (its latest hour), so a batch
  straddling an hour is still one write.
* A batch straddling midnight writes the previous day's counts into the latest day's items too, under the
  previous day's letters (``<id>y13`` for an hourly count, ``<id>z280`` for a 5-minute one: :data:`PREVIOUS_DAY`);
  a read files them under that day. So every batch is two writes (counts older than the previous day, which
  only a late delivery has, go to their own day's items).
* Write shards: every batch of every processor writes the day and hour items, so at internet scale they are hot
  keys (DynamoDB takes at most 1,000 write units a second per item). Each is spread over ``shards`` items (shard
  0 keeps the plain key, shard ``s`` adds ``#s``), chosen from the expected peak (:func:`shards_for`); a batch
  writes the shard its digest names (so a retried batch meets its own ``last_batch`` again), and a read sums
  the shards.
* ``state#<key>``: the detector's :class:`~chalicelib.domain.surge.SurgeState`, with a version for
  conditional updates, and ``issue_id``, the Crisis the key belongs to: of two processors that see the same surge,
  the one whose write wins opens the Crisis its state names (while the state's ``opening`` holds the alert, the
  Crisis may not be open yet, and whoever reads it opens it again, idempotently).

Counts are atomic ``ADD``s aggregated per batch; the day and hour items of a batch are two UpdateItems. A batch
retried after a failure part-way (the pipeline retries a failed count in place) never counts an item twice: the
store remembers which items its last batch (a digest of the mentions it counts) was counted into, and a retry of
that batch writes only the others. An update also names its batch in ``last_batch`` and is conditional on that not
being the item's last batch already: for an update DynamoDB applied whose answer was lost, which botocore resends
(the store cannot know it went through; another processor's write in between would let the resend count again).

An update is charged by the size of the whole item, so the items stay small: short attribute names, and at most
:data:`LINKS_PER_KEY_HOUR` linked mentions per key and :data:`LINKS_PER_HOUR_ITEM` in all per hour item (the
complaint keys' first: they are sparse and what a product Crisis needs). Without a cap, a viral hour (the very
moment detection matters) would grow the hour item towards DynamoDB's 400 KB limit and every write of the hour
would pay for it. Each processor knows the list lengths from its last read and its own writes; concurrent
processors may overshoot by a batch each, which the limits absorb.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.adapters.aws import CombinedReads, client
from chalicelib.adapters.codec import plain_item
from chalicelib.domain.surge import (
    BRAND_KEY,
    Observation,
    SurgeState,
    counter_fields,
    day_epoch,
    day_of,
    hour_of,
    hour_start,
)
from chalicelib.services.errors import StateConflict
from chalicelib.settings import MENTION_BATCH_SIZE

RETENTION_SECONDS = 15 * 24 * 3600  # the baseline reads nine days; keep two weeks
LINKS_PER_KEY_HOUR = 25  # mention ids kept per key and hour item (SurgeHistory.mentions reads at most 100)
LINKS_PER_HOUR_ITEM = 60  # and per hour item in all: its size is what every write of the hour pays for
KEY_ID_LENGTH = 6  # hex digits of a key's digest naming its attributes (about 100 keys: a clash is ~1 in 3,000)
ITEM_WRITE_UNITS_PER_SECOND = 1000  # DynamoDB's limit per item (partition key value)
ITEM_WRITE_UNITS_TARGET = 800  # what one shard is planned to take at the expected peak: headroom for retries
UNITS_PER_COUNTER_WRITE = 4  # a day item late in the day, 3.5 KB (bench/hotkeys.py measures it)
EXPECTED_PEAK_MENTIONS_PER_S = 10_000  # a viral crisis at internet scale
BATCH_SIZE = MENTION_BATCH_SIZE  # mentions per SQS batch: each batch writes one day and one hour item
# A day item this long past its day's end takes only late mentions' counts: a warm processor keeps it for a while
# instead of reading it again every batch (a batch reads 15 days × the shards; all but today's are settled).
SETTLED_AFTER_SECONDS = 2 * 3600
SETTLED_CACHE_SECONDS = 900  # a late mention's count in a settled day is seen within this long
SETTLED_CACHE_ITEMS = 4096  # about 12 MB at most: 15 days × 4 shards for a few dozen keys' batches
# A batch counts into the item of its latest hour: once an hour has been over this long, the batches still counting
# into it are late ones (a retry), whose counts a kept copy shows within SETTLED_CACHE_SECONDS.
SETTLING_SECONDS = 300
# A prefetch's copies serve the batch that asked for them: a copy this old (processing time) is read again.
PREFETCH_FRESH_SECONDS = 10
STAMPED_ITEMS = 1024  # counter items a processor remembers having written: a few days' worth
LINKS_ATTRIBUTE = "m"  # an hour item's linked mentions, each ``<id><mention>`` (<id>: the key's, KEY_ID_LENGTH long)
PREVIOUS_DAY = {"h": "y", "f": "z"}  # the previous day's counters, kept in the latest day's items
OF_PREVIOUS_DAY = {v: k for k, v in PREVIOUS_DAY.items()}


def shards_for(
    peak_mentions_per_s: float = EXPECTED_PEAK_MENTIONS_PER_S,
    batch_size: int = BATCH_SIZE,
    units_per_write: float = UNITS_PER_COUNTER_WRITE,
    per_item: float = ITEM_WRITE_UNITS_TARGET,
) -> int:
    """Write shards per counter item so that, at the peak, each shard takes at most ``per_item`` write units a
    second (one write of ``units_per_write`` units per batch of ``batch_size`` mentions). A read fetches every
    shard of the days it needs (15 days x shards items in one BatchGetItem of at most 100 keys), so shards are
    not free: 4 serve 10,000 mentions a second and keep the read to one call."""
    return max(1, math.ceil(peak_mentions_per_s / batch_size * units_per_write / per_item))


# The shards a stage writes and reads. Never fewer than a deployed stage ever wrote: a read sums only shards
# 0..SHARDS-1, so items of a higher shard written before would drop out of the baseline for their 15 days. 4 were
# written while batches were 10 mentions (shards_for at batch 10); at batches of 25, 2 would do, and 4 leave room
# to twice the expected peak.
SHARDS = max(4, shards_for())


def shard_key(pk: str, shard: int) -> str:
    return pk if shard == 0 else f"{pk}#{shard}"


def key_id(key: str) -> str:
    """The short prefix of a key's attributes: ``<id>h13`` (hourly count), ``<id>f157`` (5-minute count), and of its
    linked mentions (``<id><mention>``). A write unit is a kilobyte of the whole item, so the names are kept short:
    with the key's own name (``product:nova sneakers|h13``) a busy day item costs twice as much to update."""
    return hashlib.sha1(key.encode()).hexdigest()[:KEY_ID_LENGTH]


def batch_digest(observations: list[Observation]) -> str:
    """Names a batch by the mentions it counts: the same observations retried give the same name."""
    joined = "\n".join(sorted(o.mention for o in observations))
    return hashlib.sha256(joined.encode()).hexdigest()[:24]


class DynamoSurgeStore:
    def __init__(
        self,
        table_name: str,
        links_per_key_hour: int = LINKS_PER_KEY_HOUR,
        shards: int = SHARDS,
        dynamodb: Any = None,
        clock: Callable[[], float] = time.time,
        age_clock: Callable[[], float] | None = None,
        reads: CombinedReads | None = None,
    ) -> None:
        """``clock``: what time it is (epoch seconds), against which hours are settled; ``age_clock``: how old a
        kept copy is (seconds, default ``clock``; a bench that replays a stream at its own pace runs ``clock``
        with the stream and ages copies in processing time); ``reads``: the reads this store's :meth:`prefetch`
        joins (the composition root shares one with the triage store, whose read of a batch's dedup keys then
        brings the surge history along)."""
        self.table = table_name
        self.links_per_key_hour = links_per_key_hour
        self.shards = shards
        self._dynamodb = dynamodb  # None: the shared client (a bench passes a counting one)
        self._reads = reads if reads is not None else CombinedReads(dynamodb)
        # what a prefetch read for this batch (pk → item, None: absent), this processor's counts added since; when
        # it was read (age clock); the prefetch's delivery while it waits to be sent
        self._prefetched: dict[str, dict[str, Any] | None] = {}
        self._prefetched_at = -math.inf
        self._deferred: Callable[[list[dict[str, Any]]], None] | None = None
        self._linked: dict[str, dict[str, int]] = {}  # hour → key attribute → mention ids stored (as last known)
        self._clock = clock
        self._age_clock = age_clock or clock
        # kept counter items, oldest read first: pk → (when read, until when its counts were settled then, the item
        # or None: absent)
        self._settled: OrderedDict[str, tuple[float, float, dict[str, Any] | None]] = OrderedDict()
        self._stamped: set[str] = set()  # counter items this processor has written (their expiry is set)
        # the last batch this store counted (its digest) and the counter items its counts are in already: a batch
        # retried in place (``count_surges``) writes only the items it has not, whatever another processor's batch
        # wrote to them since (the item's own ``last_batch`` then names that batch, and its condition passes)
        self._applied: tuple[str, set[str]] = ("", set())

    # -- counting ----------------------------------------------------------------------------------------
    def add(self, observations: list[Observation]) -> int:
        """ADD the batch's counts; returns the number of UpdateItem calls made."""
        day_adds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        day_first: dict[str, float] = {}
        hour_adds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        hour_mentions: dict[str, list[str]] = defaultdict(list)
        # One hour item per day of the batch (its latest hour): the 5-minute fields are named by their index in
        # the day, so a batch straddling an hour still makes one write, and a read of the last hours finds them.
        # The previous day's counts go to the latest day's items under their own letters (a batch straddling
        # midnight is still two writes).
        latest_hour: dict[str, str] = {}
        latest_day = max(day_of(o.at) for o in observations)
        previous_day = day_of(_epoch(latest_day) - 1)

        def home(day: str) -> str:  # the day whose items hold this day's counts
            return latest_day if day == previous_day else day

        for observation in observations:
            day, hour = home(day_of(observation.at)), hour_of(observation.at)
            latest_hour[day] = max(latest_hour.get(day, hour), hour)  # the latest day's own hours sort last
        for observation in observations:
            hour_field, fine_field = counter_fields(observation.at)
            day = home(day_of(observation.at))
            if day != day_of(observation.at):
                hour_field = PREVIOUS_DAY["h"] + hour_field[1:]
                fine_field = PREVIOUS_DAY["f"] + fine_field[1:]
            hour = latest_hour[day]
            day_first[day] = min(day_first.get(day, observation.at), observation.at)
            for key in observation.keys:
                kid = key_id(key)
                day_adds[day][kid + hour_field] += 1
                hour_adds[hour][kid + fine_field] += 1
        # the mentions a Crisis would link: the complaint keys' first (they are sparse), then the brand's
        planned = {hour: dict(self._linked.get(hour, {})) for hour in latest_hour.values()}
        for brand_pass in (False, True):
            for observation in observations:
                hour = latest_hour[home(day_of(observation.at))]
                linked = planned[hour]
                for key in observation.keys:
                    name = key_id(key) + "m"
                    if (
                        (key == BRAND_KEY) is brand_pass
                        and linked.get(name, 0) < self.links_per_key_hour
                        and sum(linked.values()) < LINKS_PER_HOUR_ITEM
                    ):
                        linked[name] = linked.get(name, 0) + 1
                        hour_mentions[hour].append(name[:KEY_ID_LENGTH] + observation.mention)
        for old_hour in sorted(self._linked)[:-3]:  # a processor only ever needs the last hours
            del self._linked[old_hour]
        batch = batch_digest(observations)
        shard = int(batch, 16) % self.shards
        if self._applied[0] != batch:
            self._applied = (batch, set())
        applied = self._applied[1]
        calls = 0
        for day, adds in day_adds.items():
            pk, expiry = shard_key(f"day#{day}", shard), _epoch(day) + RETENTION_SECONDS
            if pk in applied:
                continue  # counted by this batch's earlier try
            self._forget_if_changed(pk, adds)
            self._update(pk, adds, [], day_first[day], expiry, batch)
            applied.add(pk)
            calls += 1
        for hour, adds in hour_adds.items():
            pk = shard_key(f"hour#{hour}", shard)
            if pk in applied:
                continue  # counted and linked by this batch's earlier try
            self._forget_if_changed(pk, adds)
            self._update(pk, adds, hour_mentions[hour], None, _epoch(hour[:10]) + RETENTION_SECONDS, batch)
            self._linked[hour] = planned[hour]  # known stored once the write went through
            applied.add(pk)
            calls += 1
        return calls

    def _forget_if_changed(self, pk: str, adds: dict[str, int]) -> None:
        """Drop the kept copy of an item this batch counts into where the copy holds settled counts: a late
        mention in a settled hour is then read back by this processor's next batch, not 15 minutes later."""
        kept = self._settled.get(pk)
        if kept is None:
            return
        start, _end = _period(pk)
        for attribute in adds:
            letter, index = attribute[KEY_ID_LENGTH], attribute[KEY_ID_LENGTH + 1 :]
            in_kept_hours = letter == "h" and start + int(index) * 3600 < kept[1]
            if pk.startswith("hour#") or letter in OF_PREVIOUS_DAY or in_kept_hours:
                del self._settled[pk]
                return

    def _update(
        self,
        pk: str,
        adds: dict[str, int],
        links: list[str],
        first_ts: float | None,
        ttl: int,
        batch: str,
    ) -> None:
        """One conditional UpdateItem: the counts ADDed, the links appended, the batch named. An update is charged
        by the whole item and costs by its actions, so what never changes is set by a processor's first write of
        the item only (its expiry, and for a day item when counting began: ``if_not_exists`` keeps the first)."""
        names: dict[str, str] = {"#batch": "last_batch"}
        values: dict[str, Any] = {":batch": {"S": batch}}
        add_parts, set_parts = [], ["#batch = :batch"]
        if pk not in self._stamped:
            names["#ttl"] = "ttl"
            values[":ttl"] = {"N": str(ttl)}
            set_parts.append("#ttl = :ttl")
            if first_ts is not None:
                names["#first"] = "first_ts"
                values[":first"] = {"N": repr(first_ts)}
                set_parts.append("#first = if_not_exists(#first, :first)")
        for i, (attribute, count) in enumerate(adds.items()):
            names[f"#a{i}"] = attribute
            values[f":a{i}"] = {"N": str(count)}
            add_parts.append(f"#a{i} :a{i}")
        if links:
            names["#links"] = LINKS_ATTRIBUTE
            values[":links"] = {"L": [{"S": link} for link in links]}
            values[":empty"] = {"L": []}
            set_parts.append("#links = list_append(if_not_exists(#links, :empty), :links)")
        dynamodb = self._client()
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": pk}},
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ConditionExpression="attribute_not_exists(#batch) OR #batch <> :batch",
                UpdateExpression="SET " + ", ".join(set_parts) + " ADD " + ", ".join(add_parts),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            # this batch was counted here already (a retry after a later step failed): so was the item's expiry. A
            # prefetched copy may predate that count (botocore retried an update DynamoDB had applied): read it again
            self._prefetched.pop(pk, None)
        else:
            self._count_into_prefetched(pk, adds, links, first_ts, batch)
        if len(self._stamped) >= STAMPED_ITEMS:
            self._stamped.clear()
        self._stamped.add(pk)

    # -- reading -----------------------------------------------------------------------------------------
    def prefetch(self, keys: list[str], days: list[str], hours: list[str], at: float | None = None) -> None:
        """Say what the batch's :meth:`read` will need, before its counts are added. The items go with the next
        read of the shared :class:`~chalicelib.adapters.aws.CombinedReads` (the triage store's read of the batch's
        dedup keys), and :meth:`add` counts the batch into the copies. :meth:`read` answers from them what they
        hold and reads the rest (a batch's duplicates, not counted, can move the time it is evaluated at). The
        copies miss what other processors count in between, as a read made that much earlier would."""
        self._drop_prefetch()
        wanted = self._plan_read(keys, days, hours, at)[1]
        if not wanted:
            return

        def deliver(items: list[dict[str, Any]]) -> None:
            found = {item["pk"]["S"]: plain_item(item) for item in items}
            self._prefetched = {pk: found.get(pk) for pk in wanted}
            self._prefetched_at = self._age_clock()
            self._deferred = None

        self._deferred = deliver
        self._reads.defer(self.table, [{"pk": {"S": pk}} for pk in wanted], deliver, ConsistentRead=True)

    def _drop_prefetch(self) -> None:
        if self._deferred is not None:
            self._reads.cancel(self._deferred)
            self._deferred = None
        self._prefetched = {}

    def _count_into_prefetched(
        self, pk: str, adds: dict[str, int], links: list[str], first_ts: float | None, batch: str
    ) -> None:
        """What an update just did, done to the prefetched copy of its item."""
        if pk not in self._prefetched:
            return
        item = self._prefetched[pk] or {"pk": pk}
        for attribute, count in adds.items():
            item[attribute] = item.get(attribute, 0) + count
        if links:
            item[LINKS_ATTRIBUTE] = [*item.get(LINKS_ATTRIBUTE, []), *links]
        if first_ts is not None and "first_ts" not in item:
            item["first_ts"] = Decimal(repr(first_ts))  # as written, and as a read gives it back
        item["last_batch"] = batch
        self._prefetched[pk] = item

    def read(self, keys: list[str], days: list[str], hours: list[str], at: float | None = None) -> SurgeHistory:
        """One BatchGetItem (none when a :meth:`prefetch` brought what it needs): the day items, the hour items and
        the keys' states.

        A warm processor keeps the counter items whose counts it needs are settled, and takes them from its last
        read while that is under :data:`SETTLED_CACHE_SECONDS` old, so a batch reads the current hour's items and
        the states, not two weeks of history every time. Only a late (or retried) mention changes a settled count,
        and it is seen a few minutes later.

        * Without ``at``: the day items of days before the day evaluated that ended :data:`SETTLED_AFTER_SECONDS`
          ago by the clock.
        * With ``at`` (the evaluation's event time, as the detector's windows are) within :data:`SETTLING_SECONDS`
          of the clock (live: not a backlog, a replay or a late batch, whose hours other processors may still be
          counting into): also the hours before ``at``'s hour. The baseline reads a day item's hourly counts only
          for hours before its test windows, so today's day items are read once an hour, and the last hour's
          items once it is over (a batch counts into the item of its latest hour, so that item is settled
          :data:`SETTLING_SECONDS` after its hour ends). A kept day item holds only the hours that were settled
          when it was read: a later hour's count (which no baseline reads) is left out, so an answer never
          depends on when the copy was taken.

        A copy is used only where this read, too, finds what it needs settled, and this processor's own count in
        a settled hour drops its copy (:meth:`add`)."""
        items, wanted, (today, settled_at, now, read_at) = self._plan_read(keys, days, hours, at)
        prefetched = self._prefetched if read_at - self._prefetched_at <= PREFETCH_FRESH_SECONDS else {}
        self._drop_prefetch()  # one batch's: a retried count reads afresh
        unread = [pk for pk in wanted if pk not in prefetched]
        if unread:
            for item in self._reads.get(self.table, [{"pk": {"S": pk}} for pk in unread], ConsistentRead=True):
                plain = plain_item(item)
                items[plain["pk"]] = plain
        items.update({pk: copy for pk in wanted if (copy := prefetched.get(pk)) is not None})
        for pk in wanted:
            if pk.startswith("state#"):
                continue
            complete = self._complete_through(pk, today, settled_at, now)
            if complete is not None:
                self._settled[pk] = (read_at, complete, _settled_part(items.get(pk), complete))
                self._settled.move_to_end(pk)
        while len(self._settled) > SETTLED_CACHE_ITEMS:
            self._settled.popitem(last=False)
        linked: dict[str, dict[str, int]] = {hour: {} for hour in hours}
        for pk, item in items.items():
            if pk.startswith("hour#"):  # the mentions linked in that hour, over its shards
                stored = linked.setdefault(_period_name(pk), {})
                for link in item.get(LINKS_ATTRIBUTE, []):
                    name = link[:KEY_ID_LENGTH] + "m"
                    stored[name] = stored.get(name, 0) + 1
        self._linked.update(linked)
        return SurgeHistory(items)

    def _plan_read(
        self, keys: list[str], days: list[str], hours: list[str], at: float | None
    ) -> tuple[dict[str, dict[str, Any]], list[str], tuple[str | None, int | None, float, float]]:
        """The items a read takes from the kept copies, the keys it must read, and what it decided that on (the
        day evaluated, until when hours are settled, the clock, the age clock)."""
        now = self._clock()
        live = at is not None and now - at <= SETTLING_SECONDS
        settled_at = hour_start(min(at, now) - SETTLING_SECONDS) if at is not None and live else None
        today = max(days) if days else None
        read_at = self._age_clock()
        while self._settled and read_at - next(iter(self._settled.values()))[0] >= SETTLED_CACHE_SECONDS:
            self._settled.popitem(last=False)  # read longest ago: expired
        items: dict[str, dict[str, Any]] = {}
        wanted: list[str] = []
        pks = [shard_key(f"day#{day}", shard) for day in days for shard in range(self.shards)]
        pks += [shard_key(f"hour#{hour}", shard) for hour in hours for shard in range(self.shards)]
        for pk in pks:
            cached, needed = self._settled.get(pk), self._needed(pk, at)
            settled_now = self._complete_through(pk, today, settled_at, now)
            if cached and cached[1] >= needed and settled_now is not None and settled_now >= needed:
                if cached[2] is not None:
                    items[pk] = cached[2]
            else:
                wanted.append(pk)
        wanted += [f"state#{k}" for k in keys]
        return items, wanted, (today, settled_at, now, read_at)

    @staticmethod
    def _needed(pk: str, at: float | None) -> float:
        """Until when a counter item's counts must be complete for this read: a day item's hours before ``at``'s
        hour (all of it without ``at``), an hour item's whole hour."""
        start, end = _period(pk)
        if at is None or pk.startswith("hour#"):
            return end
        return max(start, min(end, hour_start(at)))

    @staticmethod
    def _complete_through(pk: str, today: str | None, settled_at: int | None, now: float) -> float | None:
        """Until when the counts of a counter item read now are settled (``None``: nothing worth keeping)."""
        start, end = _period(pk)
        if settled_at is None:  # by the clock alone: a day before the one evaluated, over for a while
            day = _period_name(pk)
            earlier = pk.startswith("day#") and today is not None and day < today
            return end if earlier and end + SETTLED_AFTER_SECONDS <= now else None
        if pk.startswith("hour#"):
            return end if end <= settled_at else None
        complete = min(end, settled_at)
        return complete if complete > start else None

    def _client(self) -> Any:
        return self._dynamodb if self._dynamodb is not None else client("dynamodb")

    # -- states ------------------------------------------------------------------------------------------
    def save_state(self, key: str, state: SurgeState, expected_version: int, issue_id: str | None = None) -> int:
        """Write the key's new state (and the Crisis it belongs to) if nobody else did since we read it."""
        dynamodb = self._client()
        item = {
            "pk": {"S": f"state#{key}"},
            "state": {"S": json.dumps(state.to_dict())},
            "version": {"N": str(expected_version + 1)},
        }
        if issue_id:
            item["issue_id"] = {"S": issue_id}
        try:
            dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version = :v",
                ExpressionAttributeValues={":v": {"N": str(expected_version)}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as error:
            raise StateConflict(key) from error
        return expected_version + 1


class SurgeHistory:
    """The items one read returned, re-shaped per key for :meth:`BucketCounts.from_day_items`."""

    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items

    def day_items(self, key: str) -> list[dict[str, Any]]:
        per_day: dict[str, dict[str, Any]] = {}
        prefix = key_id(key)
        for pk, item in self.items.items():
            if not pk.startswith(("day#", "hour#")):
                continue
            day = pk.split("#", 1)[1][:10]
            previous = day_of(_epoch(day) - 1)
            for attribute, value in item.items():
                if not attribute.startswith(prefix):
                    continue
                letter = attribute[KEY_ID_LENGTH : KEY_ID_LENGTH + 1]
                if letter in ("h", "f"):
                    record = per_day.setdefault(day, {"day": day})
                    name = attribute[KEY_ID_LENGTH:]
                elif letter in OF_PREVIOUS_DAY:  # the previous day's counts of a batch straddling midnight
                    record = per_day.setdefault(previous, {"day": previous})
                    name = OF_PREVIOUS_DAY[letter] + attribute[KEY_ID_LENGTH + 1 :]
                else:
                    continue
                record[name] = record.get(name, 0) + value  # the write shards of one day add up
        return list(per_day.values())

    def mentions(self, key: str, limit: int = 100) -> list[str]:
        out: list[str] = []
        for pk in sorted((pk for pk in self.items if pk.startswith("hour#")), reverse=True):
            prefix = key_id(key)
            links = self.items[pk].get(LINKS_ATTRIBUTE, [])
            out += [link[KEY_ID_LENGTH:] for link in reversed(links) if link.startswith(prefix)]
        return out[:limit]

    def data_start(self) -> float | None:
        firsts = [
            float(item["first_ts"]) for pk, item in self.items.items() if pk.startswith("day#") and "first_ts" in item
        ]
        return min(firsts) if firsts else None

    def state(self, key: str) -> tuple[SurgeState, int, str | None]:
        item = self.items.get(f"state#{key}")
        if not item:
            return SurgeState(), 0, None
        return SurgeState.from_dict(json.loads(item["state"])), int(item["version"]), item.get("issue_id")


_epoch = functools.lru_cache(maxsize=1024)(day_epoch)  # every batch names the same weeks of days (strptime is slow)


def _period_name(pk: str) -> str:
    """``YYYY-MM-DD`` of ``day#YYYY-MM-DD[#shard]``, ``YYYY-MM-DDTHH`` of ``hour#YYYY-MM-DDTHH[#shard]``."""
    return pk.split("#", 2)[1]


def _period(pk: str) -> tuple[int, int]:
    """The time a counter item counts: ``day#YYYY-MM-DD[#shard]`` a day, ``hour#YYYY-MM-DDTHH[#shard]`` an hour."""
    name = _period_name(pk)
    if pk.startswith("hour#"):
        start = _epoch(name[:10]) + int(name[11:13]) * 3600
        return start, start + 3600
    start = _epoch(name)
    return start, start + 86400


def _settled_part(item: dict[str, Any] | None, complete: float) -> dict[str, Any] | None:
    """A day item without the hourly counts of hours not settled by ``complete`` (an hour item as it is)."""
    if item is None or not item["pk"].startswith("day#"):
        return item
    base = _epoch(item["pk"][4:14])
    return {
        name: value
        for name, value in item.items()
        if not (
            len(name) > KEY_ID_LENGTH + 1
            and name[KEY_ID_LENGTH] == "h"
            and name[KEY_ID_LENGTH + 1 :].isdigit()
            and base + int(name[KEY_ID_LENGTH + 1 :]) * 3600 >= complete
        )
    }
