"""Backfills: index keys that items written before a release lack, derived from what those items hold.

``assignee_shard`` (the ``by_assignee_shard`` key, :func:`~chalicelib.domain.index_shards.assignee_shard`) came
after issues were already assigned: such an issue is missing from its person's listing until the key is set. The
backfill scans the issues table in parallel segments and sets the key on each assigned issue whose key is absent or
not the one its address and id give, each with one conditional UpdateItem: the issue must still be assigned to the
address the scan read, so a reassignment made meanwhile (which writes its own key) is never overwritten. Run again,
it finds every key right and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chalicelib.domain.index_shards import assignee_shard
from chalicelib.services.ports import AssignedPage, AssigneeShardBackfill

MAX_SEGMENTS = 32  # one thread each; DynamoDB allows far more segments, one process gains little past this


@dataclass(frozen=True)
class BackfillSummary:
    """What a backfill run found and did (counts only: never an address or an id)."""

    dry_run: bool
    segments: int
    scanned: int  # items read
    needing_update: int  # assigned issues whose key was absent or wrong when read
    updated: int  # keys written (0 in a dry run)
    skipped: int  # items that needed nothing: unassigned, or their key already right
    conflicts: int  # needed an update, but were reassigned, unassigned or removed before it: left as they are now


def backfill_assignee_shards(
    issues: AssigneeShardBackfill, segments: int = 4, dry_run: bool = False
) -> BackfillSummary:
    """Set ``assignee_shard`` wherever an assigned issue lacks it or holds a wrong one; ``dry_run`` counts only.
    Segment 0's first page is read on the calling thread before the others start: the adapter's client is then
    made once (making a boto3 client is not thread-safe, using one is)."""
    if not 1 <= segments <= MAX_SEGMENTS:
        raise ValueError(f"segments: from 1 to {MAX_SEGMENTS}")
    first = issues.assigned_page(0, segments, None)
    with ThreadPoolExecutor(max_workers=segments) as pool:
        counted = list(
            pool.map(
                lambda segment: _segment(issues, segment, segments, dry_run, first if segment == 0 else None),
                range(segments),
            )
        )
    total: Counter[str] = sum(counted, Counter())
    return BackfillSummary(
        dry_run=dry_run,
        segments=segments,
        scanned=total["scanned"],
        needing_update=total["needing_update"],
        updated=total["updated"],
        skipped=total["scanned"] - total["needing_update"],
        conflicts=total["conflicts"],
    )


def _segment(
    issues: AssigneeShardBackfill, segment: int, segments: int, dry_run: bool, first: AssignedPage | None
) -> Counter[str]:
    counts: Counter[str] = Counter()
    page = first or issues.assigned_page(segment, segments, None)
    while True:
        counts["scanned"] += page.scanned
        for issue in page.issues:
            wanted = assignee_shard(issue.assigned_to, issue.issue_id)
            if issue.assignee_shard == wanted:
                continue
            counts["needing_update"] += 1
            if dry_run:
                continue
            counts[
                "updated" if issues.set_assignee_shard(issue.issue_id, issue.assigned_to, wanted) else "conflicts"
            ] += 1
        if page.next_start is None:
            return counts
        page = issues.assigned_page(segment, segments, page.next_start)
