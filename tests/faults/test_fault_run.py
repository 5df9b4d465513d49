"""The sample stream with 10 % of the app's AWS calls failing: nothing lost, nothing doubled, protocols resume.

Two in-process runs of the same slice of ``demo/sample_stream.jsonl`` (every sixth ordinary mention over its 29
hours, then all 20 demo rows: copy-paste campaign, thread, influencer, legal threat and surge, so Routine, High
Priority and Crisis protocols, approval emails and alerts all happen; 62 rows, to keep each run well under a
minute), one fault-free and one with :class:`bench.faults.FaultInjector`
on the app's DynamoDB, SQS, SNS, SES and Step Functions clients (seeded: half the faults raise past botocore's
retries, half are 5xx/throttling answers botocore retries). The platforms redeliver on a 5xx, as they do.
What each run produced is counted by clients the faults never touch, and compared.
"""

from __future__ import annotations

from collections import Counter

from bench.faults import FaultInjector, RunResult, run_stream
from infra.local.replay import load_rows

_ALL = load_rows()
ROWS = _ALL[:250:6] + _ALL[250:]
FAULT_RATE, SEED = 0.10, 8


def only_in(these: list, those: list) -> list:
    """What ``these`` hold more often than ``those`` (a multiset difference, shapes as text)."""
    return sorted((Counter(map(repr, these)) - Counter(map(repr, those))).elements())


def run_once() -> tuple[RunResult, RunResult]:
    """One pair of runs per test session (one test function, so pytest-xdist never runs them twice)."""
    clean = run_stream(ROWS)
    return clean, run_stream(ROWS, FaultInjector(rate=FAULT_RATE, seed=SEED))


def test_a_faulty_run_loses_and_doubles_nothing_and_the_protocols_resume():
    clean, faulty = run_once()

    # The faults hit every service the app calls often, both ways (raised past botocore, retried by it).
    faults = faulty.faults
    assert 0.05 <= faults["share"] <= 0.15, faults
    kinds = set(faults["by_service"])
    assert {"dynamodb.raised", "dynamodb.retried", "ses.raised"} <= kinds, faults
    assert {kind.split(".")[0] for kind in kinds} >= {"dynamodb", "sqs", "ses", "stepfunctions"}, faults

    # Every delivery is accepted once the platform retries a 5xx; the forged one is still refused.
    assert faulty.outcomes["replay_statuses"] == clean.outcomes["replay_statuses"]
    assert [status for status, _n in clean.outcomes["replay_statuses"]] == [200]
    assert faulty.outcomes["forged_status"] == 401
    assert set(faulty.statuses) <= {200, 401, 500, 503}, faulty.statuses

    # The fault-free run is the reference: it has every kind of outcome.
    assert clean.outcomes["mentions"] == len(ROWS) and clean.outcomes["issues"] >= 30
    assert any(shape[0] == "crisis" for shape in clean.outcomes["issue_shapes"])
    assert clean.outcomes["emails"] > 0 and clean.outcomes["alerts"] > 0
    assert {machine.rsplit("-protocol-", 1)[1] for (machine, _status, _state), _n in clean.outcomes["executions"]} >= {
        "routine",
        "high-priority",
        "crisis",
    }
    assert not any(clean.dead_letters.values()), clean.dead_letters

    # Nothing lost, nothing doubled: mentions, issues, audit events, approvals; protocols wait where they waited.
    # What differs, shape by shape (only in the clean run, only in the faulty one), so a failure names the issue,
    # email or alert that was lost or doubled rather than only a count.
    differences = {
        kind: (
            only_in(clean.outcomes[kind], faulty.outcomes[kind]),
            only_in(faulty.outcomes[kind], clean.outcomes[kind]),
        )
        for kind in ("issue_shapes", "email_shapes", "alert_shapes")
        if faulty.outcomes[kind] != clean.outcomes[kind]
    }
    for kind in ("mentions", "mention_states", "issues", "audit_events", "approvals", "executions"):
        assert faulty.outcomes[kind] == clean.outcomes[kind], (kind, differences)
    assert faulty.stream_dropped == 0
    assert not differences, differences
    assert not any(faulty.dead_letters.values()), faulty.dead_letters
