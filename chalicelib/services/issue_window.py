"""Issues by the days they were first seen, over any span: the store answers at most a quarter a call; and the
issues a period's figures need (:func:`issues_for_period`), read the same way for the weekly report and for
``GET /metrics/summary`` so that they never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

CHUNK_DAYS = 90  # the store reads at most a quarter of days at a time (chalicelib/adapters/issues_table.py)


class IssuesByDay(Protocol):
    def first_seen_between(self, first_day: str, last_day: str) -> list[dict[str, Any]]: ...


class IssuesOfPeriod(IssuesByDay, Protocol):
    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict[str, Any]]: ...


def issues_first_seen(issues: IssuesByDay, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """Every issue first seen from ``first_day`` to ``last_day`` (UTC days, both included), each once."""
    found: list[dict[str, Any]] = []
    day = first_day
    while day <= last_day:
        chunk_end = min(day + timedelta(days=CHUNK_DAYS), last_day)
        found += issues.first_seen_between(day.isoformat(), chunk_end.isoformat())
        day = chunk_end + timedelta(days=1)
    return list({str(i["issue_id"]): i for i in found}.values())


def issues_for_period(
    issues: IssuesOfPeriod,
    categories: Iterable[str],
    since: datetime,
    until: datetime,
    now: datetime,
    recurrence_window: timedelta,
    lookback: timedelta,
) -> list[dict[str, Any]]:
    """Every issue the figures of ``since``..``until`` (and of any period inside it) need, each once:

    * first seen from ``lookback`` before ``since`` up to ``until`` plus the recurrence window (capped at now):
      the period's issues, and the later ones that may recur what it resolved (a recurrence is first seen after
      the resolution it recurs, within the window);
    * live now (open, in progress), whatever day they were first seen: with the next, every issue open at any
      moment from ``since`` on (one open then is live now, or was resolved or closed since);
    * resolved or closed from ``since``'s UTC day on, whatever day they were first seen: what the period resolved
      (``resolved_at`` stays when a resolved issue is closed).

    The last two come from the issues table's ``by_status_category`` index over ``categories`` (the plan's);
    the first-seen lookback also covers issues of a category the plan no longer has."""
    first_day = (since - lookback).astimezone(timezone.utc).date()
    last_day = max(
        until.astimezone(timezone.utc).date(), min(now, until + recurrence_window).astimezone(timezone.utc).date()
    )
    found = issues_first_seen(issues, first_day, last_day)
    since_day = since.astimezone(timezone.utc).date().isoformat()
    found += issues.live_or_settled_since(sorted(set(categories)), since_day)
    return list({str(i["issue_id"]): i for i in found}.values())
