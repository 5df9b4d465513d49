"""Issues by the days they were first seen, over any span: the store answers at most a quarter a call."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Protocol

CHUNK_DAYS = 90  # the store reads at most a quarter of days at a time (chalicelib/adapters/issues_table.py)


class IssuesByDay(Protocol):
    def first_seen_between(self, first_day: str, last_day: str) -> list[dict[str, Any]]: ...


def issues_first_seen(issues: IssuesByDay, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """Every issue first seen from ``first_day`` to ``last_day`` (UTC days, both included), each once."""
    found: list[dict[str, Any]] = []
    day = first_day
    while day <= last_day:
        chunk_end = min(day + timedelta(days=CHUNK_DAYS), last_day)
        found += issues.first_seen_between(day.isoformat(), chunk_end.isoformat())
        day = chunk_end + timedelta(days=1)
    return list({str(i["issue_id"]): i for i in found}.values())
