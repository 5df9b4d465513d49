"""The ops figures (``chalicelib.domain.metrics``): what each counts, and null rather than invented numbers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.metrics import median, percentile, summarize

SINCE = datetime(2026, 11, 16, tzinfo=timezone.utc)
UNTIL = SINCE + timedelta(days=7)
NOW = UNTIL + timedelta(days=1)


def issue(hour: int, **fields):
    first = SINCE + timedelta(hours=hour)
    return {"issue_id": f"i{hour}", "first_seen": first.isoformat(), "category": "routine", "severity": "low",
            "platform": "x", "status": "open", "mention_count": 1,
            **{k: (first + v).isoformat() if isinstance(v, timedelta) else v for k, v in fields.items()}}


def test_nearest_rank_percentiles_and_medians():
    assert percentile([], 0.9) is None and median([]) is None
    assert percentile(list(range(1, 11)), 0.9) == 9 and percentile([5], 0.9) == 5
    assert median([1, 3]) == 2 and median([3, 1, 2]) == 2


def test_an_empty_period_is_nulls_with_counts_of_zero():
    summary = summarize([], SINCE, UNTIL, NOW)
    assert summary.volume.issues == 0 and summary.response_time.median_seconds is None
    assert summary.sla.first_response.rate is None and summary.sla.first_response.count == 0
    assert summary.csat.satisfied_share is None and summary.csat.count == 0
    assert summary.recurrence.rate is None and summary.recurrence.count == 0


def test_figures_over_the_issues_first_seen_in_the_period():
    issues = [
        issue(1, response_time_seconds=600, first_response_at=timedelta(minutes=10),
              sla_first_response_due=timedelta(hours=1), resolved_at=timedelta(hours=2),
              sla_resolution_due=timedelta(hours=1), satisfaction_score=5, status="resolved"),  # response kept
        issue(2, response_time_seconds=7200, first_response_at=timedelta(hours=2),
              sla_first_response_due=timedelta(hours=1), satisfaction_score=3, reopened_count=1),  # missed, reopened
        issue(3, sla_first_response_due=timedelta(hours=1)),  # never answered, due long ago: missed
        issue(4, platform="meta"),  # no SLA: not applied
        issue(-2),  # before the period
        {**issue(5), "sla_first_response_due": (NOW + timedelta(hours=1)).isoformat()},  # still running
    ]
    summary = summarize(issues, SINCE, UNTIL, NOW)
    assert summary.volume.issues == 5 and summary.volume.by_platform == {"x": 4, "meta": 1}
    assert summary.response_time.count == 2 and summary.response_time.median_seconds == 3900
    assert summary.response_time.p90_seconds == 7200
    assert summary.resolution_time.count == 1 and summary.resolution_time.median_seconds == 7200
    assert summary.sla.first_response.count == 3 and summary.sla.first_response.rate == round(1 / 3, 4)
    assert summary.sla.resolution.count == 1 and summary.sla.resolution.rate == 0  # resolved after its due time
    assert summary.csat.count == 2 and summary.csat.satisfied_share == 0.5 and summary.csat.mean_score == 4
    assert summary.recurrence.count == 2 and summary.recurrence.rate == 0.5
