"""EventBridge schedule expressions and the events they send, for the local worker.

``parse_schedule`` reads ``rate(...)`` and ``cron(...)`` exactly as EventBridge rules accept them, and refuses with
:class:`UnsupportedSchedule` (naming the field and the reason) what EventBridge would refuse or this module does
not implement, so a schedule is never silently ignored:

* ``rate(1 minute)``, ``rate(N minutes|hours|days)``: singular unit for 1, plural above (as EventBridge insists).
* ``cron(minutes hours day-of-month month day-of-week year)``, UTC: ``*``, values, ``a-b`` ranges, lists ``a,b``,
  steps ``a/n``, ``*/n`` and ``a-b/n``, names ``JAN``-``DEC`` and ``SUN``-``SAT`` (day-of-week 1 = SUN ... 7 = SAT),
  ``?`` in exactly one of day-of-month and day-of-week, ``L`` (last day of the month; alone in day-of-week:
  Saturday; ``nL``: the month's last weekday n), ``W`` (``nW``: the weekday nearest day n, within the month;
  ``LW``: the month's last weekday) and ``#`` (``n#k``: the k-th weekday n of the month).

``scheduled_event`` builds what EventBridge passes to the target for one firing.
"""

from __future__ import annotations

import calendar
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
# EventBridge numbers days of the week 1 (SUN) to 7 (SAT).
WEEKDAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
LAST_YEAR = 2199


class UnsupportedSchedule(ValueError):
    """A schedule expression EventBridge would refuse, or that the local worker cannot honour."""


@dataclass(frozen=True)
class RateSchedule:
    expression: str
    period_seconds: int


@dataclass(frozen=True)
class CronSchedule:
    """The six fields, expanded: plain sets, plus the day rules (L, W, #) that depend on the month."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: tuple[str, ...] | None  # None: "?"; else items: "*", "<n>", "L", "LW", "<n>W"
    day_of_week: tuple[str, ...] | None  # None: "?"; else items: "*", "<n>", "<n>L", "<n>#<k>"

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires in the minute of ``moment`` (UTC)."""
        moment = moment.astimezone(timezone.utc)
        return moment.minute in self.minutes and moment.hour in self.hours and self._day_fits(moment.date())

    def _day_fits(self, day) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        if self.day_of_month is not None:
            return any(_day_of_month_fits(item, day, last) for item in self.day_of_month)
        weekday = day.isoweekday() % 7 + 1
        return any(_day_of_week_fits(item, day, weekday, last) for item in self.day_of_week or ())

    def next_after(self, moment: datetime) -> datetime | None:
        """The first minute strictly after ``moment`` in which the schedule fires (None: never again)."""
        candidate = moment.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        while candidate.year <= max(self.years):
            if not self._day_fits(candidate.date()):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        return None


Schedule = RateSchedule | CronSchedule


def parse_schedule(expression: str) -> Schedule:
    text = expression.strip()
    rate = re.fullmatch(r"rate\((.*)\)", text)
    if rate:
        return _parse_rate(text, rate.group(1))
    cron = re.fullmatch(r"cron\((.*)\)", text)
    if cron:
        return _parse_cron(text, cron.group(1))
    raise UnsupportedSchedule(
        f"{expression!r}: a rule's schedule is rate(...) or cron(...)"
        + ("; at(...) is EventBridge Scheduler's one-time schedule, not a rule's" if text.startswith("at(") else "")
    )


def _parse_rate(expression: str, inner: str) -> RateSchedule:
    match = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", inner)
    if not match:
        raise UnsupportedSchedule(f"{expression!r}: rate takes '<value> <unit>', e.g. rate(5 minutes)")
    value, unit = int(match.group(1)), match.group(2)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in RATE_UNITS:
        raise UnsupportedSchedule(f"{expression!r}: the unit is minute(s), hour(s) or day(s), not {unit!r}")
    if value < 1:
        raise UnsupportedSchedule(f"{expression!r}: the value must be a positive whole number")
    if (value == 1) != (unit == singular):
        wanted = singular if value == 1 else singular + "s"
        raise UnsupportedSchedule(f"{expression!r}: EventBridge wants rate({value} {wanted})")
    return RateSchedule(expression, value * RATE_UNITS[singular])


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


MINUTES = _Field("minutes", 0, 59)
HOURS = _Field("hours", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31)
MONTH = _Field("month", 1, 12, MONTHS)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, WEEKDAYS)
YEAR = _Field("year", 1970, LAST_YEAR)


def _parse_cron(expression: str, inner: str) -> CronSchedule:
    fields = inner.split()
    if len(fields) != 6:
        raise UnsupportedSchedule(
            f"{expression!r}: cron takes six fields (minutes hours day-of-month month "
            f"day-of-week year), got {len(fields)}"
        )
    minutes, hours, day_of_month, month, day_of_week, year = (field.upper() for field in fields)
    if (day_of_month == "?") == (day_of_week == "?"):
        raise UnsupportedSchedule(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")

    def problem(field: _Field, reason: str) -> UnsupportedSchedule:
        return UnsupportedSchedule(f"{expression!r}: {field.name} field: {reason}")

    return CronSchedule(
        expression,
        minutes=_expand(minutes, MINUTES, problem),
        hours=_expand(hours, HOURS, problem),
        months=_expand(month, MONTH, problem),
        years=_expand(year, YEAR, problem),
        day_of_month=None if day_of_month == "?" else _day_of_month_items(day_of_month, problem),
        day_of_week=None if day_of_week == "?" else _day_of_week_items(day_of_week, problem),
    )


def _value(text: str, field: _Field, problem) -> int:
    if field.names and text in field.names:
        return field.names[text]
    if not text.isascii() or not text.isdigit():
        known = f" or one of {', '.join(field.names)}" if field.names else ""
        raise problem(field, f"{text!r} is not a number from {field.low} to {field.high}{known}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise problem(field, f"{value} is outside {field.low}-{field.high}")
    return value


def _expand(text: str, field: _Field, problem) -> frozenset[int]:
    """``*``, ``a``, ``a-b``, ``a/n``, ``*/n``, ``a-b/n`` and lists of them, into the values they select."""
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isascii() or not step_text.isdigit() or int(step_text) < 1:
                raise problem(field, f"the step in {item!r} must be a positive whole number")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            start, _, end = base.partition("-")
            low, high = _value(start, field, problem), _value(end, field, problem)
            if low > high:
                raise problem(
                    field,
                    f"the range {item!r} runs backwards; write it as two ranges "
                    f"({start}-{field.high},{field.low}-{end})",
                )
        elif base:
            low = _value(base, field, problem)
            high = field.high if step_text else low  # "a/n": from a, every n, to the end of the field
        else:
            raise problem(field, f"{item!r} is empty")
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _day_of_month_items(text: str, problem) -> tuple[str, ...]:
    items = text.split(",")
    special = [item for item in items if item in ("L", "LW") or item.endswith("W")]
    if special and len(items) > 1:
        raise problem(DAY_OF_MONTH, f"{text!r}: L and W stand alone, not in a list")
    if special:
        item = items[0]
        if item.endswith("W") and item != "LW":
            _value(item[:-1], DAY_OF_MONTH, problem)
        return (item,)
    if re.fullmatch(r"L-\d+", text):
        raise problem(DAY_OF_MONTH, f"{text!r}: offsets from the last day (L-n) are not supported")
    return tuple(str(day) for day in sorted(_expand(text, DAY_OF_MONTH, problem)))


def _day_of_week_items(text: str, problem) -> tuple[str, ...]:
    items = text.split(",")
    if any("#" in item or "L" in item for item in items):
        if len(items) > 1:
            raise problem(DAY_OF_WEEK, f"{text!r}: L and # stand alone, not in a list")
        item = items[0]
        if item == "L":
            return (str(WEEKDAYS["SAT"]),)
        if item.endswith("L"):
            return (f"{_value(item[:-1], DAY_OF_WEEK, problem)}L",)
        weekday, _, nth = item.partition("#")
        if not nth.isascii() or not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise problem(DAY_OF_WEEK, f"{item!r}: '#' takes the week of the month, 1 to 5")
        return (f"{_value(weekday, DAY_OF_WEEK, problem)}#{nth}",)
    return tuple(str(day) for day in sorted(_expand(text, DAY_OF_WEEK, problem)))


def _nearest_weekday(day, last: int):
    """The weekday (Mon-Fri) nearest ``day`` without leaving its month, as Quartz and EventBridge define W."""
    if day.weekday() == 5:  # Saturday: Friday before, unless that is in the previous month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:  # Sunday: Monday after, unless that is in the next month
        return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)
    return day


def _day_of_month_fits(item: str, day, last: int) -> bool:
    if item == "L":
        return day.day == last
    if item == "LW":
        return day == _nearest_weekday(day.replace(day=last), last)
    if item.endswith("W"):
        target = int(item[:-1])
        return target <= last and day == _nearest_weekday(day.replace(day=target), last)
    return day.day == int(item)


def _day_of_week_fits(item: str, day, weekday: int, last: int) -> bool:
    if item.endswith("L"):
        return weekday == int(item[:-1]) and day.day + 7 > last
    if "#" in item:
        wanted, nth = (int(part) for part in item.split("#"))
        return weekday == wanted and (day.day - 1) // 7 + 1 == nth
    return weekday == int(item)


# -- what EventBridge sends ---------------------------------------------------------------------------------


def rule_name(app_name: str, stage: str, function_name: str) -> str:
    """The name Chalice gives a schedule's EventBridge rule when it deploys (``<app>-<stage>-<function>``)."""
    return f"{app_name}-{stage}-{function_name}"


def scheduled_event(rule: str, region: str, account: str, at: datetime | None = None) -> dict[str, Any]:
    """One firing of a scheduled rule, shaped exactly as EventBridge delivers it to a Lambda target."""
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }
