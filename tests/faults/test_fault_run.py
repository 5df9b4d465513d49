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

import pytest

from bench.faults import SERVICES, FaultInjector, RunResult, run_stream
from infra.local.replay import load_rows

_ALL = load_rows()
ROWS = _ALL[:250:6] + _ALL[250:]
FAULT_RATE, SEED = 0.10, 8


@pytest.fixture(scope="module")
def clean() -> RunResult:
    return run_stream(ROWS)


@pytest.fixture(scope="module")
def faulty(clean) -> RunResult:  # after the clean run: one moto at a time
    return run_stream(ROWS, FaultInjector(rate=FAULT_RATE, seed=SEED))


def test_the_faults_hit_every_service_both_ways(faulty: RunResult):
    faults = faulty.faults
    assert 0.05 <= faults["share"] <= 0.15, faults
    kinds = set(faults["by_service"])
    assert {"dynamodb.raised", "dynamodb.retried", "ses.raised"} <= kinds, faults
    # Each service draws from its own seeded sequence; every one the app calls often enough gets faults.
    assert {kind.split(".")[0] for kind in kinds} >= {"dynamodb", "sqs", "ses", "stepfunctions"}, faults


def test_every_delivery_is_accepted_once_the_platform_retries(clean: RunResult, faulty: RunResult):
    assert faulty.outcomes["replay_statuses"] == clean.outcomes["replay_statuses"]
    assert [status for status, _n in clean.outcomes["replay_statuses"]] == [200]
    assert faulty.outcomes["forged_status"] == 401
    # A 5xx is only ever what the platform then retried; never a 4xx for a valid delivery.
    assert set(faulty.statuses) <= {200, 401, 500, 503}, faulty.statuses


def test_mentions_and_issues_are_neither_lost_nor_doubled(clean: RunResult, faulty: RunResult):
    for kind in ("mentions", "mention_states", "issues", "issue_shapes", "audit_events"):
        assert faulty.outcomes[kind] == clean.outcomes[kind], kind
    assert clean.outcomes["mentions"] == len(ROWS) and clean.outcomes["issues"] >= 30
    assert any(shape[0] == "crisis" for shape in clean.outcomes["issue_shapes"])


def test_nothing_is_left_in_a_dead_letter_queue_or_skipped_on_a_stream(faulty: RunResult):
    assert not any(faulty.dead_letters.values()), faulty.dead_letters
    assert faulty.stream_dropped == 0


def test_approval_emails_go_out_once_per_person_and_step(clean: RunResult, faulty: RunResult):
    assert clean.outcomes["emails"] > 0
    assert faulty.outcomes["approvals"] == clean.outcomes["approvals"]
    assert faulty.outcomes["email_shapes"] == clean.outcomes["email_shapes"]


def test_alerts_go_out_once(clean: RunResult, faulty: RunResult):
    assert clean.outcomes["alerts"] > 0
    assert faulty.outcomes["alert_shapes"] == clean.outcomes["alert_shapes"]


def test_the_protocols_wait_where_the_fault_free_run_waits(clean: RunResult, faulty: RunResult):
    assert {machine.rsplit("-protocol-", 1)[1] for (machine, _status, _state), _n in clean.outcomes["executions"]} \
        >= {"routine", "high-priority", "crisis"}
    assert faulty.outcomes["executions"] == clean.outcomes["executions"]
