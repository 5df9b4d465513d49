"""bench/cost.py: one million mentions a month at the dated us-east-1 prices, and at 10x and 100x."""

import json

import pytest

from bench.cost import PRICES, FunctionUse, MentionCounts, cost_report, monthly_cost, scaled


def _counts(**overrides):
    base = {
        "functions": [FunctionUse("f", 1.0, 1000.0, 1024)],
        "api_requests": 0,
        "dynamodb_write_units": 0,
        "dynamodb_read_units": 0,
        "sqs_requests": 0,
        "sfn_transitions": 0,
        "sns_publishes": 0,
        "ses_emails": 0,
        "consumed_queues": 0,
    }
    return MentionCounts(**{**base, **overrides})


def test_prices_are_dated_and_each_names_its_source():
    prices = json.loads(PRICES.read_text())
    assert prices["as_of"] == "2026-11" and prices["region"] == "us-east-1"
    assert all(entry["usd"] > 0 and entry["source"] for entry in prices["prices"].values())


def test_one_gb_second_per_mention_costs_lambda_s_published_price():
    cost = monthly_cost(_counts(), 1_000_000)
    # 1 GB-s at $0.0000166667 plus one request at $0.20 per million, a million times
    assert cost["lambda"] == pytest.approx(16.67 + 0.20, abs=0.01)
    assert cost["total"] == cost["lambda"]


def test_each_service_is_priced_per_unit():
    cost = monthly_cost(
        _counts(
            functions=[],
            dynamodb_write_units=2,
            dynamodb_read_units=4,
            sqs_requests=1,
            sfn_transitions=10,
            sns_publishes=1,
            ses_emails=1,
            api_requests=1,
        ),
        1_000_000,
    )
    assert cost["dynamodb"] == pytest.approx(2 * 0.625 + 4 * 0.125)
    assert cost["sqs"] == pytest.approx(0.40)
    assert cost["step_functions"] == pytest.approx(250.0)
    assert cost["sns"] == pytest.approx(0.50) and cost["ses"] == pytest.approx(100.0)
    assert cost["api_gateway"] == pytest.approx(3.50)


def test_volume_scales_linearly_except_the_pollers_fixed_cost():
    rows = scaled(_counts(consumed_queues=3, sqs_requests=1))
    assert rows["10x"]["lambda"] == pytest.approx(10 * rows["1x"]["lambda"], rel=1e-3)
    fixed = rows["1x"]["sqs"] - 0.40
    assert fixed > 0 and rows["100x"]["sqs"] == pytest.approx(100 * 0.40 + fixed, abs=0.01)


def test_report_from_bench_results_uses_the_measured_write_units():
    results = {
        "webhook": {"handler_p50_ms": 12.0},
        "pipeline": {
            "with_surge_detection": {"pipeline_mentions_per_s": 50.0, "dynamodb_write_units_per_mention": 15.0}
        },
    }
    report = cost_report(results)
    assert report["counts_per_mention"]["dynamodb_write_units"] == 15.0
    assert report["counts_per_mention"]["assumptions"]  # what is not measured is named
    assert report["monthly_usd"]["100x"]["mentions"] == 100_000_000


def test_measured_calls_replace_their_assumptions_and_the_table_says_what_is_still_assumed():
    results = {
        "webhook": {"handler_p50_ms": 12.0},
        "pipeline": {
            "with_surge_detection": {"pipeline_mentions_per_s": 50.0, "dynamodb_write_units_per_mention": 15.0}
        },
        "aws_calls": {
            "per_mention": {
                "dynamodb_read_requests": 3.5,
                "sqs_requests": 1.7,
                "sfn_executions": 0.02,
                "sns_publishes": 0.05,
                "ses_emails": 0.08,
            }
        },
    }
    counts = cost_report(results)["counts_per_mention"]
    assert (counts["dynamodb_read_units"], counts["sqs_requests"], counts["sns_publishes"], counts["ses_emails"]) == (
        3.5,
        1.7,
        0.05,
        0.08,
    )
    assert counts["sfn_transitions"] == pytest.approx(0.02 * 15)
    assert not {"dynamodb_read_units", "sqs_requests", "sns_publishes", "ses_emails"} & set(counts["assumptions"])
    from bench.cost import markdown

    text = markdown(cost_report(results))
    assert "| 1,000,000 |" in text and "| 100,000,000 |" in text and "sfn_transitions" in text


def test_the_counting_hooks_count_a_small_in_process_replay():
    """A dry run of make bench's cost measurement: every 20th row of the sample stream, in process on moto."""
    from bench.cost import measure_aws_calls

    measured = measure_aws_calls(every=20)
    assert measured["mentions"] > 5
    per_mention = measured["per_mention"]
    assert measured["batch_get_keys"] >= measured["mentions"]  # every mention reads its dedup keys
    assert measured["messages_sent"] >= measured["mentions"]  # and is queued
    assert per_mention["dynamodb_read_requests"] >= 1
    assert per_mention["sqs_requests"] >= 1  # every delivery is queued
    assert measured["calls"]["dynamodb.TransactWriteItems"] >= measured["mentions"] * 0.5
