"""Hot keys at internet scale, simulated from counts: writes and write units per item per second at a viral peak.

Every mention touches a few items that every other mention touches too: the surge counters of the hour and the
day, and the issues table's index partitions of the day (``by_day``: ``first_seen_day``), of the open issues
of a category (``by_status_category``) and of a person's issues (``by_assignee_shard``). DynamoDB serves at most
1,000 write units a second per partition key value, in a table or an index. This scenario runs the real surge
counter code (``DynamoSurgeStore.add``, with its write shards) on simulated batches at ``rate`` mentions a second
against an in-memory stand-in for DynamoDB that keeps each item's attributes, so every write is charged the write
units DynamoDB would charge (the larger of the item before and after, per started KB).

The issues table is simulated write by write (:func:`issue_indexes`): each mention opens an issue or joins a live
one at the demo replay's rates, an opened issue of a category with a protocol moves to in progress when its first
step goes out, and each write's item before and after (the real item, ``triage_table.issue_item``, with the index
keys the real shard functions of ``domain/index_shards.py`` give) is charged to the template's real index
definitions as DynamoDB charges a global secondary index: a new entry one write, a changed one one write (every
attribute is projected), a moved key a delete and a put, each the entry's size in started KB.

``.venv/bin/python -m bench.hotkeys`` prints the figures; ``make bench`` records them (``bench/bench.py``).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.pipeline import item_size
from chalicelib.domain.index_shards import (
    ASSIGNEE_SHARDS,
    DAY_SHARDS,
    STATUS_CATEGORY_SHARDS,
    assignee_shard,
    first_seen_day,
    status_category,
)
from chalicelib.domain.surge import Observation, keys_for
from chalicelib.settings import MENTION_BATCH_SIZE

DYNAMODB_ITEM_WCU_PER_S = 1000  # per partition key value, table or index
RATE = 10_000  # mentions a second: a viral crisis at internet scale
SECONDS = 10
BATCH = MENTION_BATCH_SIZE  # mentions per SQS batch (the ingest queue's batch size)
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


# The busiest category's share of issues (routine responses: ~70 % in the demo); the rest split among the others.
CATEGORY_SHARES = {"routine_response": 0.70, "no_action": 0.20, "high_priority": 0.08, "crisis": 0.02}
LIVE_POOL = 20_000  # joins go to one of the most recently opened issues (uniformly: no single viral issue here)
ISSUE_SECONDS = 3  # simulated seconds of issue writes (30,000 mentions: every shard's figure settles)


def _issue_item(category: str, plan: Any) -> dict[str, Any]:
    """An issue of ``category`` as triage writes it (its real item: description, SLA clocks, assignee...)."""
    from chalicelib.adapters.triage_table import issue_item
    from chalicelib.domain.issues import Issue
    from chalicelib.domain.plan import Severity

    at = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
    team = plan.categories[category].team
    excerpt = "my order arrived broken and nobody answers, third time this month, I want a refund now " * 2
    issue = Issue(
        issue_id="iss-20261130T150000-00000000",
        description=f'{plan.categories[category].label}: product line 07 model x on x from @someone_42: "{excerpt}"',
        category=category,
        severity=Severity.MEDIUM,
        team=team,
        assigned_to=plan.teams[team].members[0].email if team else None,
        follow_up_required=True,
        reach=1500,
        first_seen=at,
        last_seen=at,
        topic="delivery",
        products=("product line 07 model x",),
        platform="x",
        rule="complaint",
        plan_version=3,
        sla_first_response_due=at,
        sla_resolution_due=at,
        escalation_case=False,
    )
    return issue_item(issue)


def _index_writes(
    before: dict[str, Any] | None, after: dict[str, Any], indexes: list[tuple[str, str, str]]
) -> list[tuple[str, str, int]]:
    """What DynamoDB writes to each index for one item write: (index, partition key value, write units)."""
    out = []
    for name, hash_key, range_key in indexes:
        old = (
            (before[hash_key]["S"], before[range_key]["S"]) if before and {hash_key, range_key} <= set(before) else None
        )
        new = (after[hash_key]["S"], after[range_key]["S"]) if {hash_key, range_key} <= set(after) else None
        if old is not None and old == new:
            if before != after:  # every attribute is projected: any change rewrites the entry
                out.append((name, new[0], math.ceil(item_size(after) / 1024)))
            continue
        if old is not None:  # the key moved (or left the index): the old entry is deleted
            out.append((name, old[0], math.ceil(item_size(before) / 1024)))
        if new is not None:
            out.append((name, new[0], math.ceil(item_size(after) / 1024)))
    return out


def issue_indexes(rate: int = RATE, seconds: int = SECONDS, sharded: bool = True) -> dict[str, Any]:
    """Index writes and write units per partition key value and second on the issues table, and writes per issue
    item, at ``rate`` mentions a second: opens, protocol starts and joins written one by one (see the module).
    ``sharded=False``: every index key in its shard 0, the plain value (as before the shards)."""
    from pathlib import Path

    from chalicelib.domain.issues import assignee
    from chalicelib.domain.plan import load_plan_yaml
    from infra.template import build_template

    day_shards, status_shards, assignee_shards = (
        (DAY_SHARDS, STATUS_CATEGORY_SHARDS, ASSIGNEE_SHARDS) if sharded else (1, 1, 1)
    )
    plan = load_plan_yaml((Path(__file__).resolve().parents[1] / "chalicelib" / "plans" / "default.yaml").read_text())
    definitions = build_template("prod")["Resources"]["IssuesTable"]["Properties"]["GlobalSecondaryIndexes"]
    indexes = [
        (d["IndexName"], d["KeySchema"][0]["AttributeName"], d["KeySchema"][1]["AttributeName"]) for d in definitions
    ]
    with_protocol = {name for name, category in plan.categories.items() if category.protocol}
    templates = {category: _issue_item(category, plan) for category in CATEGORY_SHARES}
    rng = random.Random(14)
    categories, weights = list(CATEGORY_SHARES), list(CATEGORY_SHARES.values())
    start = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
    items: dict[str, dict[str, Any]] = {}
    live: list[str] = []
    writes: Counter[tuple[str, str, int]] = Counter()  # (index, partition value, second)
    units: Counter[tuple[str, str, int]] = Counter()
    item_writes: Counter[tuple[str, int]] = Counter()
    opened = 0

    def write(issue_id: str, after: dict[str, Any], second: int, counted: bool) -> None:
        before = items.get(issue_id)
        items[issue_id] = after
        if not counted:
            return
        item_writes[(issue_id, second)] += 1
        for index, value, charged in _index_writes(before, after, indexes):
            writes[(index, value, second)] += 1
            units[(index, value, second)] += charged

    def open_one(at: datetime, second: int, counted: bool) -> None:
        nonlocal opened
        opened += counted
        issue_id = f"iss-{at:%Y%m%dT%H%M%S}-{rng.getrandbits(32):08x}"
        category = rng.choices(categories, weights)[0]
        item = dict(templates[category])
        team = plan.categories[category].team
        item.update(
            issue_id={"S": issue_id},
            first_seen={"S": at.isoformat()},
            last_seen={"S": at.isoformat()},
            status_category={"S": status_category("open", category, issue_id, status_shards)},
            first_seen_day={"S": first_seen_day(at, issue_id, day_shards)},
        )
        if team:
            person = str(assignee(plan, team, issue_id))
            item["assigned_to"] = {"S": person}
            item["assignee_shard"] = {"S": assignee_shard(person, issue_id, assignee_shards)}
        write(issue_id, item, second, counted)
        if category in with_protocol:  # the protocol's first step goes out: open -> in progress (start_work)
            moved = dict(item)
            moved["status"] = {"S": "in_progress"}
            moved["status_category"] = {"S": status_category("in_progress", category, issue_id, status_shards)}
            write(issue_id, moved, second, counted)
        live.append(issue_id)
        if len(live) > LIVE_POOL:
            items.pop(live.pop(0))

    for n in range(LIVE_POOL):  # what was opened before the scenario (not counted)
        open_one(start - timedelta(seconds=(LIVE_POOL - n) / rate), 0, counted=False)
    for n in range(rate * seconds):
        at, second = start + timedelta(seconds=n / rate), n // rate
        if rng.random() < ISSUE_OPENS_PER_MENTION:
            open_one(at, second, counted=True)
        else:  # joins the issue: last_seen (the sort key of two indexes), mention_count and reach
            issue_id = rng.choice(live)
            joined = dict(items[issue_id])
            joined["last_seen"] = {"S": at.isoformat()}
            joined["mention_count"] = {"N": str(int(joined["mention_count"]["N"]) + 1)}
            joined["reach"] = {"N": str(int(joined["reach"]["N"]) + 300)}
            write(issue_id, joined, second, counted=True)

    mentions = rate * seconds
    out: dict[str, Any] = {"mentions_per_s": rate, "seconds": seconds, "indexes": {}}
    for index, _, _ in indexes:
        mine = {key: n for key, n in writes.items() if key[0] == index}
        hottest = max(mine, key=lambda key: units[key])
        out["indexes"][index] = {
            "shards": {
                "by_day": day_shards,
                "by_status_category": status_shards,
                "by_assignee_shard": assignee_shards,
            }.get(index, 1),
            "partition_values": len({value for _, value, _ in mine}),
            "hottest_partition": hottest[1],
            "max_writes_per_partition_per_s": max(mine.values()),
            "max_write_units_per_partition_per_s": max(units[key] for key in mine),
            "writes_per_mention": round(sum(mine.values()) / mentions, 2),
        }
    out["max_writes_per_issue_item_per_s"] = max(item_writes.values())
    out["issues_opened_per_s"] = round(opened / seconds)
    return out


def peak_held(
    shards: int, write_units_per_batch_write: float, batch: int = BATCH, limit: float = DYNAMODB_ITEM_WCU_PER_S
) -> int:
    """Mentions a second at which a counter shard reaches DynamoDB's per-item limit."""
    return int(limit * shards * batch / write_units_per_batch_write)


def run() -> dict[str, Any]:
    counters = surge_counters()
    unsharded = surge_counters(shards=1)
    per_write = counters["max_write_units_per_item_per_s"] / counters["max_writes_per_item_per_s"]
    indexes = issue_indexes(seconds=ISSUE_SECONDS)
    before = issue_indexes(seconds=ISSUE_SECONDS, sharded=False)
    return {
        "surge_counters": counters,
        "surge_counters_unsharded": unsharded,
        "surge_counters_peak_mentions_per_s": peak_held(counters["shards"], per_write),
        "issue_indexes": indexes,
        "issue_indexes_unsharded": before,
        "issue_indexes_peak_mentions_per_s": index_peaks(indexes),
        "limit_write_units_per_item_per_s": DYNAMODB_ITEM_WCU_PER_S,
    }


def index_peaks(indexes: dict[str, Any], limit: float = DYNAMODB_ITEM_WCU_PER_S) -> dict[str, int]:
    """Mentions a second at which each index's hottest partition reaches DynamoDB's per-partition limit (writes
    scale with mentions; the hottest shard measured, so the hash's unevenness counts)."""
    rate = indexes["mentions_per_s"]
    return {
        name: int(rate * limit / figures["max_write_units_per_partition_per_s"])
        for name, figures in indexes["indexes"].items()
    }


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The README's bench rows."""
    c, u = results["surge_counters"], results["surge_counters_unsharded"]
    i, b = results["issue_indexes"], results["issue_indexes_unsharded"]
    peaks = results["issue_indexes_peak_mentions_per_s"]

    def hottest(figures: dict[str, Any], index: str) -> str:
        return f"{index} {figures['indexes'][index]['max_write_units_per_partition_per_s']:,}"

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
            f"surge counting per mention (batches of {c['batch']})",
            f"{c['calls_per_mention']:.2f} calls (the read goes with triage's), "
            f"{c['write_units_per_mention']:.2f} write units",
            f"hottest item {c['hottest_item_kb']} KB",
            "",
            "≤ 0.3 calls, ≤ 2 units",
        ),
        ("peak the surge counters hold", f"{results['surge_counters_peak_mentions_per_s']:,} mentions/s", "", "", ""),
        (
            f"issues' index partitions at {i['mentions_per_s']:,} mentions/s (simulated write by write): write "
            f"units on the hottest partition a second, by_day {i['indexes']['by_day']['shards']} shards, "
            f"by_status_category {i['indexes']['by_status_category']['shards']}, "
            f"by_assignee_shard {i['indexes']['by_assignee_shard']['shards']}",
            f"{hottest(i, 'by_day')}, {hottest(i, 'by_status_category')}, {hottest(i, 'by_assignee_shard')}; "
            f"issue item {i['max_writes_per_issue_item_per_s']} writes",
            f"unsharded: {hottest(b, 'by_day')}, {hottest(b, 'by_status_category')}, {hottest(b, 'by_assignee_shard')}",
            "",
            "< 1,000 a second per partition",
        ),
        (
            "peak the issues' indexes hold (the lowest of the three)",
            f"{min(peaks.values()):,} mentions/s",
            f"by_day {peaks['by_day']:,}, by_status_category {peaks['by_status_category']:,}, "
            f"by_assignee_shard {peaks['by_assignee_shard']:,}",
            "",
            "",
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
