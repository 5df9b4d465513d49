"""Business hours: how much of a stretch of time fell inside a team's working week.

A team works in its own time zone (an IANA name, ``Europe/Paris``) on a weekly timetable: for each weekday, the
spans it works (``"09:00-17:30"``; ``"00:00-24:00"`` for the whole day; several spans for a lunch break). A
response time in business hours counts only the seconds inside those spans, measured on the wall clock of the
team's zone, so a daylight-saving change moves the working day with the team rather than by an hour.

Pure: no clock, no I/O; :mod:`zoneinfo` gives the zone's rules.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
MAX_DAYS = 400  # a stretch longer than this is counted at the timetable's weekly rate, not day by day

Span = Annotated[str, Field(pattern=SPAN.pattern, description="HH:MM-HH:MM on the team's clock, start before end")]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`ValueError` when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris or UTC)") from None


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class BusinessHours(BaseModel):
    """A working week: ``time_zone`` and, per weekday (``mon``..``sun``), the spans worked. A day not named is
    not worked. The default is Monday to Friday, 09:00 to 17:00 UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = "UTC"
    weekly: dict[str, list[Span]] = Field(
        default_factory=lambda: {day: ["09:00-17:00"] for day in WEEKDAYS[:5]},
        description="weekday (mon..sun) -> spans worked that day",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _spans_make_sense(self) -> BusinessHours:
        for day, spans in self.weekly.items():
            if day not in WEEKDAYS:
                raise ValueError(f"weekly: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            bounds = sorted((_minutes(s[:5]), _minutes(s[6:])) for s in spans)
            for start, end in bounds:
                if start >= end:
                    raise ValueError(f"weekly.{day}: a span must end after it starts")
            for (_, first_end), (second_start, _) in zip(bounds, bounds[1:], strict=False):
                if second_start < first_end:
                    raise ValueError(f"weekly.{day}: spans overlap")
        return self

    @cached_property
    def _zone(self) -> ZoneInfo:
        return zone(self.time_zone)

    @cached_property
    def _spans(self) -> dict[int, list[tuple[int, int]]]:
        return {
            WEEKDAYS.index(day): sorted((_minutes(s[:5]), _minutes(s[6:])) for s in spans)
            for day, spans in self.weekly.items()
        }

    @property
    def weekly_seconds(self) -> int:
        return sum((end - start) * 60 for spans in self._spans.values() for start, end in spans)

    def _day_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The spans worked on ``day`` (the team's calendar day), as UTC instants."""
        midnight = datetime.combine(day, time(0), tzinfo=self._zone)
        spans = []
        for start, end in self._spans.get(day.weekday(), []):
            opens = midnight.replace(hour=start // 60, minute=start % 60)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
                if end == 24 * 60
                else midnight.replace(hour=end // 60, minute=end % 60)
            )
            spans.append((opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)))
        return spans

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of ``start``..``end`` inside the working week (0 when ``end`` is not after ``start``). Both
        must carry a time zone."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("business hours need aware datetimes")
        if end <= start:
            return 0.0
        total = 0.0
        first_day = start.astimezone(self._zone).date()
        last_day = end.astimezone(self._zone).date()
        days = (last_day - first_day).days
        if days > MAX_DAYS:  # whole weeks in the middle at the weekly rate, the ends day by day
            weeks = (days - 14) // 7
            middle = first_day + timedelta(days=7)
            total += weeks * self.weekly_seconds
            return (
                total
                + self.seconds_between(start, datetime.combine(middle, time(0), tzinfo=self._zone))
                + self.seconds_between(
                    datetime.combine(middle + timedelta(days=7 * weeks), time(0), tzinfo=self._zone), end
                )
            )
        day = first_day
        while day <= last_day:
            for opens, closes in self._day_spans(day):
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += timedelta(days=1)
        return total


class TeamHours(BaseModel):
    """The working week of each team, and the one for issues of no team (or a team without its own)."""

    model_config = ConfigDict(frozen=True)

    default: BusinessHours = Field(default_factory=BusinessHours)
    teams: dict[str, BusinessHours] = Field(default_factory=dict)

    def of(self, team: str | None) -> BusinessHours:
        return self.teams.get(team or "", self.default)
