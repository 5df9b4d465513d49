"""The ``assignee_shard`` backfill's use case over an in-memory issues table: every segment is read to its end,
each issue is counted once whatever the segments, only missing or wrong keys are written, a dry run writes
nothing, and a write refused because the issue moved on is a conflict, not an update."""

from __future__ import annotations

import threading
import zlib
from typing import Any

import pytest

from chalicelib.domain.index_shards import assignee_shard
from chalicelib.services.backfill import MAX_SEGMENTS, backfill_assignee_shards
from chalicelib.services.ports import AssignedIssue, AssignedPage

PAGE = 3


class MemoryIssues:
    """Issues by id (``assigned_to``, ``assignee_shard``), scanned in pages of PAGE per segment."""

    def __init__(self, issues: dict[str, dict[str, str]], moved_meanwhile: dict[str, str] | None = None) -> None:
        self.issues = issues
        self.moved_meanwhile = moved_meanwhile or {}  # issue -> who it is reassigned to once the scan has read it
        self.writes: list[str] = []
        self.lock = threading.Lock()

    def assigned_page(self, segment: int, segments: int, start: dict[str, Any] | None) -> AssignedPage:
        ids = sorted(i for i in self.issues if zlib.crc32(i.encode()) % segments == segment)
        at = start["at"] if start else 0
        read = ids[at : at + PAGE]
        page = AssignedPage(
            issues=[
                AssignedIssue(i, self.issues[i]["assigned_to"], self.issues[i].get("assignee_shard"))
                for i in read
                if self.issues[i].get("assigned_to")
            ],
            scanned=len(read),
            next_start={"at": at + PAGE} if at + PAGE < len(ids) else None,
        )
        with self.lock:
            for i in read:
                if i in self.moved_meanwhile:
                    person = self.moved_meanwhile.pop(i)
                    self.issues[i] = {"assigned_to": person, "assignee_shard": assignee_shard(person, i)}
        return page

    def set_assignee_shard(self, issue_id: str, assigned_to: str, value: str) -> bool:
        with self.lock:
            if self.issues[issue_id].get("assigned_to") != assigned_to:
                return False
            self.issues[issue_id]["assignee_shard"] = value
            self.writes.append(issue_id)
            return True


def old_table() -> dict[str, dict[str, str]]:
    issues: dict[str, dict[str, str]] = {}
    for n in range(20):
        issue_id = f"iss-{n:02d}"
        if n % 4 == 0:
            issues[issue_id] = {}  # unassigned
        elif n % 4 == 1:
            issues[issue_id] = {"assigned_to": "ana@x", "assignee_shard": assignee_shard("ana@x", issue_id)}  # right
        elif n % 4 == 2:
            issues[issue_id] = {"assigned_to": "ana@x"}  # written before the key
        else:
            issues[issue_id] = {"assigned_to": "ana@x", "assignee_shard": assignee_shard("ben@x", issue_id)}  # stale
    return issues


@pytest.mark.parametrize("segments", [1, 3, 7])
def test_every_issue_is_read_once_and_only_missing_or_wrong_keys_are_written(segments):
    table = MemoryIssues(old_table())
    summary = backfill_assignee_shards(table, segments=segments)
    assert (summary.scanned, summary.needing_update, summary.updated, summary.skipped, summary.conflicts) == (
        20,
        10,
        10,
        10,
        0,
    )
    assert sorted(table.writes) == sorted(i for i in table.issues if int(i[-2:]) % 4 in (2, 3))
    for issue_id, issue in table.issues.items():
        if issue:
            assert issue["assignee_shard"] == assignee_shard("ana@x", issue_id)
        else:
            assert "assignee_shard" not in issue
    again = backfill_assignee_shards(table, segments=segments)
    assert (again.needing_update, again.updated, again.skipped) == (0, 0, 20)


def test_a_dry_run_counts_and_writes_nothing():
    table = MemoryIssues(old_table())
    before = {i: dict(v) for i, v in table.issues.items()}
    summary = backfill_assignee_shards(table, segments=2, dry_run=True)
    assert summary.dry_run and (summary.needing_update, summary.updated, summary.conflicts) == (10, 0, 0)
    assert table.writes == [] and table.issues == before


def test_an_issue_reassigned_after_it_was_read_is_a_conflict_and_keeps_its_new_key():
    table = MemoryIssues(old_table(), moved_meanwhile={"iss-02": "cy@x"})
    summary = backfill_assignee_shards(table, segments=2)
    assert (summary.needing_update, summary.updated, summary.conflicts) == (10, 9, 1)
    assert table.issues["iss-02"] == {"assigned_to": "cy@x", "assignee_shard": assignee_shard("cy@x", "iss-02")}


def test_segments_out_of_range_are_refused():
    for segments in (0, MAX_SEGMENTS + 1):
        with pytest.raises(ValueError, match="segments"):
            backfill_assignee_shards(MemoryIssues({}), segments=segments)
