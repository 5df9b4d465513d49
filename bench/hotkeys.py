"""Hot keys at internet scale, simulated from counts: writes and write units per item per second at a viral peak.

Every mention touches a few items that every other mention touches too: the surge counters of the hour and the
day, and the issues table's index partitions of the day (``by_day``: ``first_seen_day``) and of the open issues
of a category (``by_status_category``). DynamoDB serves at most 1,000 write units a second per partition key
value, in a table or an index. This scenario runs the real surge counter code (``DynamoSurgeStore.add``, with its
write shards) on simulated batches at ``rate`` mentions a second against an in-memory stand-in for DynamoDB that
keeps each item's attributes, so every write is charged the write units DynamoDB would charge (the larger of the
item before and after, per started KB). The issues' index partitions are computed from counts per mention
(``ISSUE_WRITES_PER_MENTION``), with the shards they have (one today) and those they would need.

``.venv/bin/python -m bench.hotkeys`` prints the figures; ``make bench`` records them (``bench/bench.py``).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

from bench.pipeline import item_size
from chalicelib.domain.surge import Observation, keys_for

DYNAMODB_ITEM_WCU_PER_S = 1000  # per partition key value, table or index
RATE = 10_000  # mentions a second: a viral crisis at internet scale
SECONDS = 10
BATCH = 10  # mentions per SQS batch (the ingest queue's batch size)
COMPLAINT_SHARE = 0.3
PRODUCTS = [f"product line {i:02d} model x" for i in range(20)]  # ~25-character names, as real ones are
TOPICS = ["delivery", "billing_refunds", "product_quality", "customer_service", "safety", "account"]
# Index writes per mention on the issues table, from the demo replay: 145 issues opened for 270 mentions (each
# puts an item into that day's by_day partition and into its open category's by_status_category partition) and
# 125 joins (each moves the issue's last_seen, the sort key of by_status_category: one index write).
ISSUE_OPENS_PER_MENTION = 145 / 270
ISSUE_JOINS_PER_MENTION = 125 / 270


class ConditionalCheckFailed(Exception):
    pass


class CountingDynamoDB:
    """What the surge store calls (``update_item``, ``batch_get_item``), in memory, charging write units by item size
    as DynamoDB does, and counting them per item and second."""

    class exceptions:  # noqa: N801 - the shape of a boto3 client's ``exceptions``
        ConditionalCheckFailedException = ConditionalCheckFailed

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.second = 0
        self.writes: Counter[tuple[str, int]] = Counter()
        self.wcu: Counter[tuple[str, int]] = Counter()
        self.calls = 0

    def update_item(
        self,
        *,
        Key: dict,
        ExpressionAttributeNames: dict,
        ExpressionAttributeValues: dict,  # noqa: N803
        UpdateExpression: str,
        ConditionExpression: str = "",
        **_: Any,
    ) -> dict:
        self.calls += 1
        pk = Key["pk"]["S"]
        item = self.items.setdefault(pk, {"pk": {"S": pk}})
        names, values = ExpressionAttributeNames, ExpressionAttributeValues
        if ":batch" in values and item.get("last_batch") == values[":batch"]:
            raise ConditionalCheckFailed(pk)
        before = item_size(item)
        sets, _, adds = UpdateExpression.removeprefix("SET ").partition(" ADD ")
        for part in re.split(r", (?=#)", sets):  # each assignment starts with a name placeholder
            target, _, expression = part.partition(" = ")
            name = names[target]
            if "list_append" in expression:
                token = expression.rsplit(", ", 1)[1].rstrip(")")
                item[name] = {"L": item.get(name, {"L": []})["L"] + values[token]["L"]}
            elif "if_not_exists" in expression:
                item.setdefault(name, values[expression.rsplit(", ", 1)[1].rstrip(")")])
            else:
                item[name] = values[expression]
        for part in filter(None, adds.split(", ")):
            target, token = part.split(" ")
            name = names[target]
            item[name] = {"N": str(int(item.get(name, {"N": "0"})["N"]) + int(values[token]["N"]))}
        units = math.ceil(max(before, item_size(item)) / 1024)
        self.writes[(pk, self.second)] += 1
        self.wcu[(pk, self.second)] += units
        return {}

    def batch_get_item(self, *, RequestItems: dict) -> dict:  # noqa: N803
        self.calls += 1
        ((table, request),) = RequestItems.items()
        found = [self.items[key["pk"]["S"]] for key in request["Keys"] if key["pk"]["S"] in self.items]
        return {"Responses": {table: found}}


def _observations(rng: random.Random, at: float, start: int) -> list[Observation]:
    out = []
    for i in range(BATCH):
        complaint = rng.random() < COMPLAINT_SHARE
        product = PRODUCTS[min(int(rng.paretovariate(1.2)) - 1, len(PRODUCTS) - 1)]
        keys = keys_for(product=product, topic=rng.choice(TOPICS), complaint=complaint)
        mention = f"x#{1_900_000_000_000_000_000 + start + i}"
        out.append(Observation(at=at + i / RATE, mention=mention, keys=tuple(keys)))
    return out


def surge_counters(rate: int = RATE, seconds: int = SECONDS, shards: int | None = None) -> dict[str, Any]:
    """The real counter writes of ``rate`` mentions a second for ``seconds``, late in a UTC day (the day item then
    holds nearly 24 hours of fields: its largest)."""
    from chalicelib.adapters.surge_table import SHARDS, DynamoSurgeStore

    shards = shards or SHARDS
    rng = random.Random(14)
    dynamodb = CountingDynamoDB()
    store = DynamoSurgeStore("surges", shards=shards, dynamodb=dynamodb)
    start = datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc).timestamp()
    # the day so far: every key counted in each earlier hour (what a day item holds by 23:00)
    for hour in range(23):
        for shard_batch in range(4 * shards):
            store.add(_observations(rng, start - (23 - hour) * 3600 + shard_batch, 10**9 + hour * 1000 + shard_batch))
    dynamodb.writes.clear()
    dynamodb.wcu.clear()
    dynamodb.calls = 0
    batches = rate * seconds // BATCH
    mentions = batches * BATCH
    for index in range(batches):
        at = start + 1200 + index * BATCH / rate
        dynamodb.second = int(index * BATCH / rate)
        store.add(_observations(rng, at, index * BATCH))
    per_item_writes = defaultdict(list)
    per_item_wcu = defaultdict(list)
    for (pk, _second), n in dynamodb.writes.items():
        per_item_writes[pk].append(n)
        per_item_wcu[pk].append(dynamodb.wcu[(pk, _second)])
    hottest = max(per_item_wcu, key=lambda pk: max(per_item_wcu[pk]))
    return {
        "mentions_per_s": rate,
        "seconds": seconds,
        "batch": BATCH,
        "shards": shards,
        "items_written": len(per_item_writes),
        "max_writes_per_item_per_s": max(max(v) for v in per_item_writes.values()),
        "max_write_units_per_item_per_s": max(max(v) for v in per_item_wcu.values()),
        "hottest_item": hottest,
        "hottest_item_kb": round(item_size(dynamodb.items[hottest]) / 1024, 1),
        "write_units_per_mention": round(sum(dynamodb.wcu.values()) / mentions, 2),
        "calls_per_mention": round(dynamodb.calls / mentions, 3),
        "keys_counted": len({name[:6] for name in dynamodb.items[hottest] if name[6:7] in ("h", "f")}),
    }


def issue_index_partitions(rate: int = RATE, shards: int = 1) -> dict[str, Any]:
    """Index writes a second on the hottest partition of the issues table's day and open-category indexes."""
    day = rate * ISSUE_OPENS_PER_MENTION / shards  # every new issue of the day: one partition per day
    # the open issues of the busiest category (routine responses: ~70 % of issues in the demo)
    category = rate * 0.7 * (ISSUE_OPENS_PER_MENTION + ISSUE_JOINS_PER_MENTION) / shards
    needed = {
        name: math.ceil(rate * per / (DYNAMODB_ITEM_WCU_PER_S * 0.4))
        for name, per in (
            ("by_day", ISSUE_OPENS_PER_MENTION),
            ("by_status_category", 0.7 * (ISSUE_OPENS_PER_MENTION + ISSUE_JOINS_PER_MENTION)),
        )
    }
    return {
        "shards": shards,
        "by_day_writes_per_s": round(day),
        "by_status_category_writes_per_s": round(category),
        "shards_needed_at_40_percent_of_the_limit": needed,
    }


def peak_held(
    shards: int, write_units_per_batch_write: float, batch: int = BATCH, limit: float = DYNAMODB_ITEM_WCU_PER_S
) -> int:
    """Mentions a second at which a counter shard reaches DynamoDB's per-item limit."""
    return int(limit * shards * batch / write_units_per_batch_write)


def run() -> dict[str, Any]:
    counters = surge_counters()
    unsharded = surge_counters(shards=1)
    per_write = counters["max_write_units_per_item_per_s"] / counters["max_writes_per_item_per_s"]
    return {
        "surge_counters": counters,
        "surge_counters_unsharded": unsharded,
        "surge_counters_peak_mentions_per_s": peak_held(counters["shards"], per_write),
        "issue_indexes_today": issue_index_partitions(),
        "limit_write_units_per_item_per_s": DYNAMODB_ITEM_WCU_PER_S,
    }


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The README's bench rows."""
    c, u, i = results["surge_counters"], results["surge_counters_unsharded"], results["issue_indexes_today"]
    return [
        (
            f"hot keys at {c['mentions_per_s']:,} mentions/s (simulated): surge counter writes per item per second, "
            f"{c['shards']} shards",
            f"{c['max_writes_per_item_per_s']} writes, {c['max_write_units_per_item_per_s']} write units",
            f"1 shard: {u['max_writes_per_item_per_s']} writes, {u['max_write_units_per_item_per_s']} units",
            f"{c['max_write_units_per_item_per_s'] / results['limit_write_units_per_item_per_s']:.2f}× the limit",
            "< 1,000 a second per item",
        ),
        (
            "surge counting per mention (batches of 10)",
            f"{c['calls_per_mention']:.2f} calls (+0.1 read), {c['write_units_per_mention']:.2f} write units",
            f"hottest item {c['hottest_item_kb']} KB",
            "",
            "≤ 0.3 calls, ≤ 2 units",
        ),
        ("peak the surge counters hold", f"{results['surge_counters_peak_mentions_per_s']:,} mentions/s", "", "", ""),
        (
            f"issues' index partitions at {c['mentions_per_s']:,} mentions/s, unsharded",
            f"by_day {i['by_day_writes_per_s']:,}/s, by_status_category {i['by_status_category_writes_per_s']:,}/s",
            f"shards needed: {i['shards_needed_at_40_percent_of_the_limit']}",
            "",
            "< 1,000 a second per partition",
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
