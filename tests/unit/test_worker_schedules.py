"""The local worker as EventBridge: schedule expressions read as AWS reads them, events shaped as AWS sends them,
and every schedule the app defines fired through the worker without an error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from infra.local.schedules import (
    CronSchedule,
    RateSchedule,
    UnsupportedSchedule,
    parse_schedule,
    rule_name,
    scheduled_event,
)
from infra.local.worker import sqs_event


def at(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def fires(expression: str, moment: datetime) -> bool:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, CronSchedule)
    return schedule.matches(moment)


def firings(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule = parse_schedule(expression)
    moments, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        moments.append(moment)
    return moments


# -- rate -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, seconds",
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
        (" rate(15 minutes) ", 900),
    ],
)
def test_rate_expressions_become_periods(expression, seconds):
    assert parse_schedule(expression) == RateSchedule(expression.strip(), seconds)


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("rate(1 minutes)", "rate(1 minute)"),  # EventBridge wants the singular for 1 ...
        ("rate(5 minute)", "rate(5 minutes)"),  # ... and the plural above
        ("rate(0 minutes)", "positive"),
        ("rate(5 seconds)", "minute(s), hour(s) or day(s)"),
        ("rate(1 week)", "minute(s), hour(s) or day(s)"),
        ("rate(five minutes)", "<value> <unit>"),
        ("rate(-1 minutes)", "<value> <unit>"),
        ("at(2026-11-23T08:00:00)", "EventBridge Scheduler"),
        ("every 5 minutes", "rate(...) or cron(...)"),
    ],
)
def test_rate_expressions_aws_refuses_are_refused_with_the_reason(expression, reason):
    with pytest.raises(UnsupportedSchedule, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_schedule(expression)


# -- cron -------------------------------------------------------------------------------------------------


def test_weekly_cron_fires_on_monday_at_eight_only():
    monday_8 = at(2026, 11, 23, 8)
    assert fires("cron(0 8 ? * MON *)", monday_8)
    assert not fires("cron(0 8 ? * MON *)", monday_8.replace(minute=1))
    assert not fires("cron(0 8 ? * MON *)", at(2026, 11, 24, 8))
    assert fires("cron(0 8 ? * 2 *)", monday_8)  # EventBridge numbers Monday 2
    assert fires("cron(0 8 ? * mon *)", monday_8)  # names in any case


def test_hourly_digest_schedule_of_the_app_fires_at_five_past_every_hour():
    assert firings("cron(5 * * * ? *)", at(2026, 11, 23, 8, 5), 3) == [
        at(2026, 11, 23, 9, 5),
        at(2026, 11, 23, 10, 5),
        at(2026, 11, 23, 11, 5),
    ]


def test_ranges_lists_and_steps():
    assert firings("cron(0/15 9-10 ? * MON-FRI *)", at(2026, 11, 20, 10, 50), 3) == [  # Friday 10:50
        at(2026, 11, 23, 9, 0),
        at(2026, 11, 23, 9, 15),
        at(2026, 11, 23, 9, 30),
    ]  # then Monday
    assert firings("cron(*/20 1,13 * * ? *)", at(2026, 1, 1, 1, 40), 2) == [
        at(2026, 1, 1, 13, 0),
        at(2026, 1, 1, 13, 20),
    ]
    assert firings("cron(10-30/10 0 1 JAN-MAR/2 ? *)", at(2026, 1, 1, 0, 30), 3) == [
        at(2026, 3, 1, 0, 10),
        at(2026, 3, 1, 0, 20),
        at(2026, 3, 1, 0, 30),
    ]
    assert firings("cron(0 0 1 1 ? 2027-2029/2)", at(2026, 6, 1), 2) == [at(2027, 1, 1), at(2029, 1, 1)]
    assert parse_schedule("cron(0 0 1 1 ? 2027)").next_after(at(2027, 1, 1)) is None  # never again


def test_last_day_and_nearest_weekday_of_the_month():
    assert firings("cron(0 12 L * ? *)", at(2028, 1, 31, 13), 2) == [at(2028, 2, 29, 12), at(2028, 3, 31, 12)]
    # 2026-11-01 is a Sunday: 1W is Monday the 2nd (never the previous month's Friday)
    assert firings("cron(0 9 1W * ? *)", at(2026, 10, 31), 1) == [at(2026, 11, 2, 9)]
    # 2026-11-15 is a Sunday: 15W is Monday the 16th; 2026-11-14 (Saturday): 14W is Friday the 13th
    assert firings("cron(0 9 15W * ? *)", at(2026, 11, 1), 1) == [at(2026, 11, 16, 9)]
    assert firings("cron(0 9 14W * ? *)", at(2026, 11, 1), 1) == [at(2026, 11, 13, 9)]
    # 2026-05-31 is a Sunday: the last weekday of May 2026 is Friday the 29th
    assert firings("cron(0 9 LW * ? *)", at(2026, 5, 1), 1) == [at(2026, 5, 29, 9)]


def test_nth_and_last_weekday_of_the_month():
    # the second Tuesday of each month (Patch Tuesday)
    assert firings("cron(0 18 ? * TUE#2 *)", at(2026, 11, 1), 2) == [at(2026, 11, 10, 18), at(2026, 12, 8, 18)]
    assert firings("cron(0 18 ? * 3#2 *)", at(2026, 11, 1), 1) == [at(2026, 11, 10, 18)]
    # the last Friday of the month
    assert firings("cron(0 17 ? * 6L *)", at(2026, 11, 1), 2) == [at(2026, 11, 27, 17), at(2026, 12, 25, 17)]
    assert firings("cron(0 17 ? * FRIL *)", at(2026, 11, 1), 1) == [at(2026, 11, 27, 17)]
    # L alone in day-of-week is its last day: Saturday
    assert firings("cron(0 0 ? * L *)", at(2026, 11, 23), 1) == [at(2026, 11, 28)]


def test_next_after_agrees_with_matching_minute_by_minute():
    expressions = [
        "cron(5 * * * ? *)",
        "cron(0/7 */5 ? * MON-FRI *)",
        "cron(30 23 L * ? *)",
        "cron(0 12 ? * 2#1,3 *)".replace("2#1,3", "2#1"),
        "cron(0 6 10W * ? *)",
    ]
    start = at(2026, 11, 20, 22, 0)
    for expression in expressions:
        schedule = parse_schedule(expression)
        following = schedule.next_after(start)
        moment = start + timedelta(minutes=1)
        while moment < following:
            assert not schedule.matches(moment), (expression, moment)
            moment += timedelta(minutes=1)
        assert schedule.matches(following)


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("cron(0 8 * * MON *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 8 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 8 * * ?)", "six fields"),
        ("cron(0 8 * * ? * *)", "six fields"),
        ("cron(60 8 * * ? *)", "minutes field: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours field: 24 is outside 0-23"),
        ("cron(0 8 32 * ? *)", "day-of-month field: 32 is outside 1-31"),
        ("cron(0 8 * 13 ? *)", "month field: 13 is outside 1-12"),
        ("cron(0 8 * FOO ? *)", "month field: 'FOO' is not a number"),
        ("cron(0 8 ? * 8 *)", "day-of-week field: 8 is outside 1-7"),
        ("cron(0 8 ? * MON#6 *)", "1 to 5"),
        ("cron(0 8 * * ? 1969)", "year field: 1969 is outside 1970-2199"),
        ("cron(0 22-2 * * ? *)", "runs backwards"),
        ("cron(0/0 8 * * ? *)", "step"),
        ("cron(0 8 L-3 * ? *)", "L-n"),
        ("cron(0 8 L,15 * ? *)", "stand alone"),
        ("cron(0 8 ? * MON#1,FRI *)", "stand alone"),
        ("cron(, 8 * * ? *)", "empty"),
    ],
)
def test_cron_expressions_aws_refuses_or_the_worker_cannot_honour_are_refused_by_field(expression, reason):
    with pytest.raises(UnsupportedSchedule) as refused:
        parse_schedule(expression)
    assert reason in str(refused.value) and expression in str(refused.value)


# -- the events EventBridge sends -------------------------------------------------------------------------


def test_scheduled_event_has_every_field_eventbridge_sends():
    event = scheduled_event(
        rule_name("social-response", "local", "check_slas"), "us-east-1", "123456789012", at(2026, 11, 23, 8, 5)
    )
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["version"] == "0" and event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1" and event["detail"] == {}
    assert event["time"] == "2026-11-23T08:05:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/social-response-local-check_slas"]
    assert event["id"] != scheduled_event("r", "us-east-1", "123456789012")["id"]


def test_sqs_event_has_what_lambda_sends():
    event = sqs_event(
        [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}", "MD5OfBody": "x"}],
        "arn:aws:sqs:us-east-1:123456789012:q",
        "us-east-1",
    )
    record = event["Records"][0]
    assert record["messageId"] == "m1" and record["receiptHandle"] == "r1" and record["eventSource"] == "aws:sqs"


# -- every schedule of the app, through the worker --------------------------------------------------------


def test_every_schedule_of_the_app_parses():
    from chalice.app import ScheduledEventConfig

    from app import app
    from infra.local.worker import expression_of

    schedules = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig)]
    assert {s.name for s in schedules} >= {"check_slas", "check_dead_letter_queues", "send_alert_digest"}
    for source in schedules:
        parse_schedule(expression_of(source))


def test_every_schedule_the_app_defines_fires_through_the_worker_without_error(aws):
    from chalice.app import ScheduledEventConfig

    from app import app
    from infra.local.worker import Worker

    worker = Worker()
    defined = {s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig)}
    assert {s.name for s in worker.schedules} == defined and set(worker.timetable) == defined
    for name in sorted(defined):
        worker.fire(name)  # raises what the handler raised (before the fix: KeyError 'account')
    assert all(worker.counts[f"{name}.succeeded"] == 1 for name in defined)
    assert not any(key.endswith(".failed") for key in worker.counts) and worker.errors == []


def test_a_blueprints_schedule_registered_into_the_app_is_fired_by_the_worker_with_eventbridges_event():
    """Schedules added later (surveys, reports) may live in a blueprint: the worker serves whatever the app holds."""
    from chalice import Blueprint, Chalice, Rate
    from moto import mock_aws

    from infra.local.worker import Worker

    blueprint = Blueprint(__name__)
    seen: list[dict] = []

    @blueprint.schedule(Rate(1, unit=Rate.HOURS))
    def send_weekly_report(event):
        seen.append(event.to_dict())
        return {"sent": True}

    app = Chalice(app_name="social-response")
    app.register_blueprint(blueprint)
    with mock_aws():
        worker = Worker(app)
        assert [s.name for s in worker.schedules] == ["send_weekly_report"]
        assert worker.timetable["send_weekly_report"] == RateSchedule("rate(1 hour)", 3600)
        assert worker.fire("send_weekly_report") == {"sent": True}
    (event,) = seen
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["account"] == "123456789012" and event["resources"][0].endswith(
        f"rule/{rule_name('social-response', worker.stage, 'send_weekly_report')}"
    )
