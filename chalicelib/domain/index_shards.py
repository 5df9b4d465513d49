"""Write shards of the issues table's index partitions (pure: no boto3, no pydantic, so any handler may import it).

Every new issue of a day lands in that day's ``by_day`` partition, and every opened or joined issue of a category
in one ``by_status_category`` partition; each index write there counts against DynamoDB's 1,000 write units a
second per partition key value (in an index too). So both keys are spread over shards (:data:`DAY_SHARDS`,
:data:`STATUS_CATEGORY_SHARDS`), chosen from the planned peak: shard 0 is the plain value (items written before
the shards keep working, in shard 0), shard ``s`` appends ``#s``. One person's issues share one ``by_assignee``
partition too; ``assigned_to`` is shown to people and cannot carry a suffix, so the index is keyed on its own
attribute, ``assignee_shard`` (:func:`assignee_shard`, :data:`ASSIGNEE_SHARDS`), written and removed with
``assigned_to``. An issue's shard
is a stable digest of its id (:func:`index_shard`), so every writer (Python, or a protocol's Step Functions
machine, which takes the digest with ``States.Hash`` and picks the shard with a Choice on its last hex digit)
writes the same value; a listing queries every shard and merges by the sort key.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

EXPECTED_PEAK_MENTIONS_PER_S = 10_000  # the peak the design is planned for (as the surge counters' shards are)
PARTITION_WRITES_TARGET = 750  # index writes a second per partition key value at the peak: DynamoDB takes 1,000
# Index writes on the hottest partition of each index, per mention (bench/hotkeys.py counts them write by write
# at the demo replay's rates: 0.54 issues opened and 0.46 joined per mention, 80 % of them in a category with a
# protocol, 70 % in the busiest category; every attribute is projected, so any change to an issue rewrites its
# entries, and a moved key is a delete and a put):
# * by_day, the day's partition: an open (1), its protocol's start (1) and every join (1): 1.43;
# * by_status_category, ``in_progress#<busiest category>``: 70 % of the starts (1) and of the joins (2, last_seen
#   is the sort key): 1.02;
# * by_assignee_shard, the busiest person's (one of customer service's three, who take the routine responses):
#   their share of that category's opens (1), starts (1, the status rewrites the entry) and joins (2): 0.49.
DAY_WRITES_PER_MENTION = 1.45
STATUS_CATEGORY_WRITES_PER_MENTION = 1.05
ASSIGNEE_WRITES_PER_MENTION = 0.5
SHARD_DIGITS = "0123456789abcdef"  # Step Functions picks a shard by the digest's last hex digit (see below)


def index_shards_for(
    writes_per_mention: float,
    peak_mentions_per_s: float = EXPECTED_PEAK_MENTIONS_PER_S,
    per_partition: float = PARTITION_WRITES_TARGET,
    divides: int | None = None,
) -> int:
    """Shards per index partition so that, at the peak, each takes at most ``per_partition`` writes a second. With
    ``divides``, the smallest divisor of it that is enough (the status-category shard must be chosen from one hex
    digit in a Step Functions Choice, evenly only for a divisor of 16). A listing queries every shard of each
    partition it walks, so shards cost reads: no more than the peak needs."""
    needed = max(1, math.ceil(peak_mentions_per_s * writes_per_mention / per_partition))
    if divides is None:
        return needed
    enough = [n for n in range(needed, divides + 1) if divides % n == 0]
    if not enough:
        raise ValueError(f"{needed} shards needed; a divisor of {divides} can be at most {divides}")
    return enough[0]


DAY_SHARDS = index_shards_for(DAY_WRITES_PER_MENTION)  # 20; written by triage only, in Python
STATUS_CATEGORY_SHARDS = index_shards_for(STATUS_CATEGORY_WRITES_PER_MENTION, divides=len(SHARD_DIGITS))  # 16
ASSIGNEE_SHARDS = index_shards_for(ASSIGNEE_WRITES_PER_MENTION)  # 7; written in Python only (no protocol assigns)


def index_shard(issue_id: str, shards: int) -> int:
    """The issue's shard among ``shards``: its id's SHA-256 (as a number) modulo ``shards``. For a divisor of 16
    that is the digest's last hex digit modulo ``shards``, which a Step Functions Choice can pick."""
    return int(hashlib.sha256(issue_id.encode()).hexdigest(), 16) % shards


def shard_suffix(shard: int) -> str:
    """What shard ``shard`` appends to a key value: nothing for shard 0 (the value written before the shards)."""
    return f"#{shard}" if shard else ""


def index_key_values(value: str, shards: int) -> list[str]:
    """Every shard's value of one index partition (``open#routine``, ``open#routine#1``, ...), shard 0 first."""
    return [value + shard_suffix(shard) for shard in range(shards)]


def status_category(
    status: str, category: str, issue_id: str | None = None, shards: int = STATUS_CATEGORY_SHARDS
) -> str:
    """The issues table's ``by_status_category`` key, in the issue's shard (shard 0, the plain value, when no id is
    given). Every writer of ``status`` or ``category`` writes it too (the protocols' ``ResolveIssue`` state builds
    the same string with ``States.Format`` and the shard its Choice picks)."""
    return f"{status}#{category}" + (shard_suffix(index_shard(issue_id, shards)) if issue_id else "")


def first_seen_day(first_seen: datetime, issue_id: str | None = None, shards: int = DAY_SHARDS) -> str:
    """The issues table's ``by_day`` key: the day an issue was first seen (of ``first_seen`` as stored: UTC), in
    the issue's shard (shard 0 when no id is given)."""
    return first_seen.date().isoformat() + (shard_suffix(index_shard(issue_id, shards)) if issue_id else "")


def assignee_shard(assigned_to: str, issue_id: str, shards: int = ASSIGNEE_SHARDS) -> str:
    """The issues table's ``by_assignee_shard`` key: the person's address in the issue's shard. Every writer of
    ``assigned_to`` writes it too, and removes it with it (an unassigned issue leaves the index)."""
    return assigned_to + shard_suffix(index_shard(issue_id, shards))
