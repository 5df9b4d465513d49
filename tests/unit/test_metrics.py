"""The ops figures (``chalicelib.domain.metrics``): what each counts, and null rather than invented numbers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.metrics import median, percentile, summarize

SINCE = datetime(2026, 11, 16, tzinfo=timezone.utc)
UNTIL = SINCE + timedelta(days=7)
NOW = UNTIL + timedelta(days=1)


def issue(hour: int, **fields):
    first = SINCE + timedelta(hours=hour)
    return {
        "issue_id": f"i{hour}",
        "first_seen": first.isoformat(),
        "category": "routine",
        "severity": "low",
        "platform": "x",
        "status": "open",
        "mention_count": 1,
        **{k: (first + v).isoformat() if isinstance(v, timedelta) else v for k, v in fields.items()},
    }


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
        issue(
            1,
            response_time_seconds=600,
            first_response_at=timedelta(minutes=10),
            sla_first_response_due=timedelta(hours=1),
            resolved_at=timedelta(hours=2),
            sla_resolution_due=timedelta(hours=1),
            satisfaction_score=5,
            status="resolved",
        ),  # response kept
        issue(
            2,
            response_time_seconds=7200,
            first_response_at=timedelta(hours=2),
            sla_first_response_due=timedelta(hours=1),
            satisfaction_score=3,
            reopened_count=1,
        ),  # missed, reopened
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


def test_means_and_business_hours_per_team():
    from chalicelib.domain.business_hours import BusinessHours, TeamHours

    hours = TeamHours(default=BusinessHours(), teams={"night": BusinessHours(weekly={"mon": ["00:00-24:00"]})})
    issues = [  # SINCE is Monday 16 Nov 2026 00:00 UTC
        issue(8, team="night", response_time_seconds=3600),  # Monday 08:00-09:00: an hour either way
        issue(20, team="day", response_time_seconds=14 * 3600),  # Monday 20:00 to Tuesday 10:00: 1 h of 09-17 UTC
    ]
    summary = summarize(issues, SINCE, UNTIL, NOW, hours)
    assert summary.response_time.mean_seconds == (3600 + 14 * 3600) / 2
    assert summary.response_time_business.model_dump() == {
        "count": 2,
        "median_seconds": 3600,
        "p90_seconds": 3600,
        "mean_seconds": 3600,
    }


def test_breaches_say_how_late_and_running_slas_are_no_breach():
    from chalicelib.domain.metrics import breaches

    found = breaches(
        [
            issue(1, sla_first_response_due=timedelta(hours=1), first_response_at=timedelta(hours=3)),  # 2 h late
            issue(2, sla_resolution_due=timedelta(hours=1)),  # never resolved: late until now
            {**issue(3), "sla_first_response_due": (NOW + timedelta(hours=1)).isoformat()},  # still running
        ],
        NOW,
    )
    assert [(b.issue_id, b.sla, b.late_seconds) for b in found] == [
        ("i1", "first_response", 7200),
        ("i2", "resolution", (NOW - SINCE - timedelta(hours=3)).total_seconds()),
    ]


def test_a_merged_duplicate_is_no_breach_and_closing_stops_the_clock():
    from chalicelib.domain.metrics import breaches, sla_rate

    due = {"sla_first_response_due": timedelta(hours=1), "sla_resolution_due": timedelta(hours=4)}
    issues = [
        issue(1, status="closed", merged_into="i9", **due),  # a duplicate: the issue it joined carries the promise
        issue(2, status="closed", closed_at=timedelta(hours=3), **due),  # closed, never answered: late until then
        issue(3, status="closed", closed_at=timedelta(minutes=30), **due),  # closed before anything was due
        issue(4, status="closed", **due),  # closed before close times were recorded: no clock
        issue(5, **due),  # live: late until now
    ]
    found = [(b.issue_id, b.sla, b.late_seconds) for b in breaches(issues, NOW)]
    assert found == [
        ("i2", "first_response", 7200),
        ("i5", "first_response", (NOW - SINCE - timedelta(hours=6)).total_seconds()),
        ("i5", "resolution", (NOW - SINCE - timedelta(hours=9)).total_seconds()),  # i2 closed before it was due
    ]
    assert sla_rate(issues, "first_response", NOW).count == 2  # i2 and i5 applied; the others not


def test_a_persons_score_wins_over_the_surveys_and_unanswered_surveys_lower_the_response_rate():
    from chalicelib.domain.metrics import csat_distribution, csat_response_rate

    issues = [
        issue(1, satisfaction="satisfied", satisfaction_rating=5),
        issue(2, satisfaction="dissatisfied", satisfaction_rating=3, satisfaction_score=1),
        issue(3, satisfaction="unanswered"),
        issue(4),
    ]
    summary = summarize(issues, SINCE, UNTIL, NOW)
    assert summary.csat.count == 2 and summary.csat.mean_score == 3 and summary.csat.satisfied_share == 0.5
    assert csat_response_rate(issues).model_dump() == {"count": 3, "rate": 0.6667}
    assert csat_distribution(issues) == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1}


def test_recurrence_by_kind_counts_resolved_issues_a_later_issue_recurred_within_the_window():
    issues = [
        issue(1, resolved_at=timedelta(hours=2)),
        issue(2, resolved_at=timedelta(hours=3)),
        issue(3, resolved_at=timedelta(hours=4)),
        issue(30, recurs_issue_id="i1", recurrence_rule="same_author", recurrence_gap_seconds=3600),
        issue(40, recurs_issue_id="i2", recurrence_rule="same_product_topic", recurrence_gap_seconds=40 * 86400),
    ]  # outside the 30-day window
    kinds = summarize(issues, SINCE, UNTIL, NOW).recurrence_by_kind
    assert kinds.resolved == 3
    assert kinds.any_rule.rate == round(1 / 3, 4) and kinds.same_author.rate == round(1 / 3, 4)
    assert kinds.same_product_topic.rate == 0


def test_a_closed_issue_was_open_until_it_closed_so_older_weeks_keep_their_figures():
    from chalicelib.domain.metrics import is_open_at, past_sla_at

    closed_later = issue(1, status="closed", closed_at=timedelta(days=8), sla_resolution_due=timedelta(days=1))
    week_end = SINCE + timedelta(days=7)
    assert is_open_at(closed_later, week_end) and past_sla_at(closed_later, week_end)  # open at that week's end
    assert not is_open_at(closed_later, SINCE + timedelta(days=9))
    assert not is_open_at(issue(2, status="closed"), week_end)  # closed before close times were kept


def test_the_csv_says_an_sla_stopped_by_closing_and_none_for_a_merged_duplicate():
    from chalicelib.domain.report import _sla_word

    due = {"sla_resolution_due": timedelta(days=3)}
    closed = issue(1, status="closed", closed_at=timedelta(hours=2), **due)
    merged = issue(2, status="closed", merged_into="i1", **due)
    live = issue(3, **due)
    now = SINCE + timedelta(days=1)
    assert [_sla_word(i, "resolution", now) for i in (closed, merged, live)] == ["stopped", "none", "running"]


def test_the_reopened_rate_counts_closed_issues_as_its_definition_says():
    from chalicelib.domain.metrics import reopened_rate

    issues = [
        issue(1, status="resolved", resolved_at=timedelta(hours=2)),
        issue(2, status="closed"),  # closed without a resolution: settled too
        issue(3, status="open", reopened_count=1),
        issue(4, status="closed", merged_into="i1"),  # a duplicate: its issue counts
    ]
    found = reopened_rate(issues)
    assert (found.count, found.rate) == (3, 0.3333)


def test_resolving_without_a_reply_stops_the_first_response_clock():
    from chalicelib.domain.metrics import breaches, sla_outcome

    due = {"sla_first_response_due": timedelta(hours=4)}
    early = issue(1, status="resolved", resolved_at=timedelta(minutes=30), **due)  # resolved before the reply was due
    late = issue(2, status="resolved", resolved_at=timedelta(hours=6), **due)  # left waiting 2 h past due first
    assert sla_outcome(early, "first_response", NOW) is None and sla_outcome(late, "first_response", NOW) is False
    assert [(b.issue_id, b.late_seconds) for b in breaches([early, late], NOW)] == [("i2", 7200)]
