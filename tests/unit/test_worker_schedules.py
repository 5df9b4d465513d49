"""The local worker's reading of EventBridge schedule expressions and its SQS event shape."""

from datetime import datetime, timezone

from infra.local.worker import cron_due, schedule_period, sqs_event


def test_rate_expressions_become_periods():
    assert schedule_period("rate(5 minutes)") == 300
    assert schedule_period("rate(1 hour)") == 3600
    assert schedule_period("cron(0 8 ? * MON *)") is None


def test_weekly_cron_fires_on_monday_at_eight_only():
    monday_8 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    assert cron_due("cron(0 8 ? * MON *)", monday_8)
    assert not cron_due("cron(0 8 ? * MON *)", monday_8.replace(minute=1))
    assert not cron_due("cron(0 8 ? * MON *)", datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc))
    assert cron_due("cron(0 8 ? * 2 *)", monday_8)  # EventBridge numbers Monday 2


def test_sqs_event_has_what_lambda_sends():
    event = sqs_event([{"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}", "MD5OfBody": "x"}],
                      "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    record = event["Records"][0]
    assert record["messageId"] == "m1" and record["receiptHandle"] == "r1" and record["eventSource"] == "aws:sqs"
