"""Business hours (``chalicelib.domain.business_hours``): seconds inside a team's working week, on its wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from chalicelib.adapters.plans import DEFAULT_PLAN
from chalicelib.domain.business_hours import BusinessHours, TeamHours
from chalicelib.domain.plan import load_plan_yaml

Z = timezone.utc
PARIS_OFFICE = BusinessHours(
    time_zone="Europe/Paris", weekly={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=Z)


def test_over_a_weekend_only_the_working_hours_count():
    # Friday 16:00 Paris (15:00Z) to Monday 10:00 Paris (09:00Z): one hour on Friday, one on Monday
    assert PARIS_OFFICE.seconds_between(utc(2026, 11, 20, 15), utc(2026, 11, 23, 9)) == 2 * 3600


def test_outside_hours_is_zero_and_a_reversed_stretch_is_zero():
    assert PARIS_OFFICE.seconds_between(utc(2026, 11, 21, 8), utc(2026, 11, 22, 20)) == 0  # a weekend
    assert PARIS_OFFICE.seconds_between(utc(2026, 11, 23, 10), utc(2026, 11, 23, 9)) == 0


def test_the_working_day_moves_with_daylight_saving_time():
    # 09:00-17:00 Paris is 07:00-15:00Z in summer, 08:00-16:00Z in winter (DST ended Sunday 25 October 2026)
    assert PARIS_OFFICE.seconds_between(utc(2026, 10, 23, 7), utc(2026, 10, 23, 8)) == 3600  # Friday, summer
    assert PARIS_OFFICE.seconds_between(utc(2026, 10, 26, 7), utc(2026, 10, 26, 8)) == 0  # Monday, winter: 08:00 Paris
    assert PARIS_OFFICE.seconds_between(utc(2026, 10, 26, 15), utc(2026, 10, 26, 17)) == 3600


def test_split_days_whole_days_and_a_long_stretch():
    lunch = BusinessHours(weekly={"mon": ["09:00-12:00", "13:00-17:00"]})
    assert lunch.seconds_between(utc(2026, 11, 23, 11), utc(2026, 11, 23, 14)) == 2 * 3600
    always = BusinessHours(weekly={d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert always.seconds_between(utc(2026, 11, 23, 6), utc(2026, 11, 25, 6)) == 48 * 3600
    # two years: 523 weekdays of 8 hours (the middle weeks counted at the weekly rate)
    assert BusinessHours().seconds_between(utc(2020, 1, 1), utc(2022, 1, 1)) == 523 * 8 * 3600
    assert BusinessHours().weekly_seconds == 40 * 3600


@pytest.mark.parametrize(
    "bad",
    [
        {"time_zone": "Mars/Olympus"},
        {"weekly": {"mon": ["17:00-09:00"]}},
        {"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}},
        {"weekly": {"funday": ["09:00-17:00"]}},
        {"weekly": {"mon": ["9-17"]}},
    ],
)
def test_timetables_that_make_no_sense_are_refused(bad):
    with pytest.raises(ValidationError):
        BusinessHours(**bad)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        BusinessHours().seconds_between(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_each_team_its_own_week_and_the_plans_for_the_others():
    plan = load_plan_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"))
    hours = plan.team_hours()
    assert isinstance(hours, TeamHours)
    assert hours.of("social_media").weekly["sun"] == ["07:00-23:00"]
    assert hours.of("legal") == plan.business_hours == hours.of(None)
    assert plan.report.day == "mon" and plan.report.hour == 8 and plan.report.recipients
    start = utc(2026, 11, 29, 6)  # Sunday 07:00 Paris: the social desk works, customer service does not
    assert hours.of("social_media").seconds_between(start, start + timedelta(hours=1)) == 3600
    assert hours.of("customer_service").seconds_between(start, start + timedelta(hours=1)) == 0
