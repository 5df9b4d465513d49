"""Write shards of the issues table's index partitions (pure: no boto3, no pydantic, so any handler may import it).

Every new issue of a day lands in that day's ``by_day`` partition, and every opened or joined issue of a category
in one ``by_status_category`` partition; each index write there counts against DynamoDB's 1,000 write units a
second per partition key value (in an index too). So both keys are spread over ``INDEX_SHARDS`` values: shard 0
is the plain value (items written before the shards keep working), shard ``s`` appends ``#s``. An issue's shard
is a stable digest of its id (:func:`index_shard`), so every writer (Python, or a protocol's Step Functions
machine, which takes the digest with ``States.Hash`` and picks the shard with a Choice on its last hex digit)
writes the same value; a listing queries every shard and merges by the sort key.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

EXPECTED_PEAK_MENTIONS_PER_S = 10_000  # the peak the design is planned for (as the surge counters' shards are)
# Index writes a second on the hottest partition, per mention a second: on the day's ``by_day`` partition an
# opened issue is one write, a joined one is one more (``last_seen``, ``mention_count`` and ``reach`` are projected)
# and a protocol's start (open -> in_progress) one more: 0.54 + 0.46 + 0.38 in the demo replay
# (bench/hotkeys.py counts them from the writes themselves). ``by_status_category`` takes fewer per partition.
INDEX_WRITES_PER_MENTION = 1.4
INDEX_WRITES_TARGET = 900  # per partition value a second at the peak: under DynamoDB's 1,000
SHARD_DIGITS = "0123456789abcdef"  # the digest's last hex digit names the shard, so shards divide 16
MAX_INDEX_SHARDS = len(SHARD_DIGITS)


def index_shards_for(
    peak_mentions_per_s: float = EXPECTED_PEAK_MENTIONS_PER_S,
    writes_per_mention: float = INDEX_WRITES_PER_MENTION,
    per_partition: float = INDEX_WRITES_TARGET,
) -> int:
    """Shards per index partition so that, at the peak, each takes at most ``per_partition`` writes a second: the
    power of two at or above what the peak needs (one hex digit picks the shard evenly only for a divisor of 16).
    A listing queries every shard, so shards cost reads: 16 at most."""
    needed = max(1, math.ceil(peak_mentions_per_s * writes_per_mention / per_partition))
    shards = 1 << (needed - 1).bit_length()
    if shards > MAX_INDEX_SHARDS:
        raise ValueError(f"{needed} shards needed; one hex digit names at most {MAX_INDEX_SHARDS}")
    return shards


INDEX_SHARDS = index_shards_for()


def index_shard(issue_id: str, shards: int = INDEX_SHARDS) -> int:
    """The issue's shard: the last hex digit of its id's SHA-256, modulo ``shards`` (a divisor of 16)."""
    return SHARD_DIGITS.index(hashlib.sha256(issue_id.encode()).hexdigest()[-1]) % shards


def shard_suffix(shard: int) -> str:
    """What shard ``shard`` appends to a key value: nothing for shard 0 (the value written before the shards)."""
    return f"#{shard}" if shard else ""


def index_key_values(value: str, shards: int = INDEX_SHARDS) -> list[str]:
    """Every shard's value of one index partition (``open#routine``, ``open#routine#1``, ...), shard 0 first."""
    return [value + shard_suffix(shard) for shard in range(shards)]


def status_category(status: str, category: str, issue_id: str | None = None) -> str:
    """The issues table's ``by_status_category`` key, in the issue's shard (shard 0, the plain value, when no id is
    given). Every writer of ``status`` or ``category`` writes it too (the protocols' ``ResolveIssue`` state builds
    the same string with ``States.Format`` and the shard its Choice picks)."""
    return f"{status}#{category}" + (shard_suffix(index_shard(issue_id)) if issue_id else "")


def first_seen_day(first_seen: datetime, issue_id: str | None = None) -> str:
    """The issues table's ``by_day`` key: the UTC day an issue was first seen, in the issue's shard."""
    return first_seen.date().isoformat() + (shard_suffix(index_shard(issue_id)) if issue_id else "")
