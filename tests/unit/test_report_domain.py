"""The weekly report's pure parts (``chalicelib.domain.report``): ISO weeks in a time zone, when a report is due,
approval cycles read from an audit trail, drill-down links."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain.report import (
    BadWeek,
    due_week,
    issue_link,
    last_full_week,
    parse_week,
    previous_week,
    step_cycles,
    week_bounds,
)

Z = timezone.utc


def test_iso_weeks_and_their_bounds_in_a_time_zone():
    assert parse_week("2026-W48") == (2026, 48) and previous_week("2026-W01") == "2025-W52"
    assert week_bounds("2026-W48") == (datetime(2026, 11, 23, tzinfo=Z), datetime(2026, 11, 30, tzinfo=Z))
    # Paris is UTC+1 in November: its Monday midnight is 23:00Z the day before
    assert week_bounds("2026-W48", "Europe/Paris")[0] == datetime(2026, 11, 22, 23, tzinfo=Z)
    assert previous_week("2021-W01") == "2020-W53"  # 2020 had 53 ISO weeks


@pytest.mark.parametrize("bad", ["2026-48", "2026-W00", "2025-W53", "1999-W10", "", "2026-W4", "2026-W48x"])
def test_what_is_not_an_iso_week_is_refused(bad):
    with pytest.raises(BadWeek):
        parse_week(bad)


def test_the_report_is_due_once_this_weeks_slot_has_passed():
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=Z)
    assert last_full_week(monday) == "2026-W48"
    assert due_week(monday, "mon", 8, "UTC") == "2026-W48"
    assert due_week(monday.replace(hour=7, minute=59), "mon", 8, "UTC") is None
    assert due_week(monday, "tue", 9, "UTC") is None  # the plan moved it to Tuesday
    assert due_week(datetime(2026, 12, 1, 9, tzinfo=Z), "tue", 9, "UTC") == "2026-W48"
    # 08:00 in Tokyo on Monday is 23:00Z on Sunday: due then, for the week that ended in Tokyo
    assert due_week(datetime(2026, 11, 29, 23, tzinfo=Z), "mon", 8, "Asia/Tokyo") == "2026-W48"


def test_approval_cycles_start_at_the_first_request_and_restart_after_a_rejection():
    def event(minute: int, kind: str, step: str) -> dict:
        return {"at": datetime(2026, 11, 24, 9, minute, tzinfo=Z).isoformat(), "type": kind, "details": {"step": step}}

    history = {
        "i1": [
            event(0, "step_initial", "draft"),
            event(10, "step_submitted", "draft"),
            event(10, "step_initial", "review"),
            event(30, "step_rejected", "review"),
            event(31, "step_initial", "draft"),
            event(41, "step_reminder", "draft"),
            event(50, "step_submitted", "draft"),
            event(50, "step_initial", "review"),
            event(55, "step_escalated", "review"),
        ]
    }  # review still waiting at the end
    cycles = step_cycles([{"issue_id": "i1", "category": "high_priority"}], history, {"high_priority": "hp"})
    assert cycles[("hp", "draft")].seconds == [600, 1140]
    assert cycles[("hp", "draft")].timed_out == ["i1"] and cycles[("hp", "draft")].escalated == []
    assert cycles[("hp", "review")].seconds == [1200]  # the open cycle has no time yet, but it escalated
    assert cycles[("hp", "review")].escalated == ["i1"] and cycles[("hp", "review")].timed_out == ["i1"]


def test_issue_links_are_url_safe():
    assert issue_link("iss-1") == "/issues/iss-1" and issue_link("a/b?c") == "/issues/a%2Fb%3Fc"
