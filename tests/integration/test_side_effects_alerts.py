"""Alerts retry safely: an SNS publish that fails gives the claim back (and its place in the hourly cap), so the
retry or the next check sends it; a check that died between claim and publish is taken over once its lease is
over; after a send, nothing more goes out. Faults come from botocore hooks on the real (moto) SNS client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.alerts import DynamoLiveIssues, SnsAlerts
from chalicelib.adapters.outbox import SEND_LEASE_SECONDS
from chalicelib.adapters.plans import bundled_plan
from chalicelib.services.errors import SendInProgress
from chalicelib.services.monitoring import CheckFailed, alert_issue_records, check_slas, send_last_hours_digest
from chalicelib.settings import resources
from tests.helpers import drain_stream
from tests.integration.test_alerts import NOW, alert, inbox, put_issue, received  # noqa: F401 - fixture
from tests.integration.test_side_effects_retry import Crash, claiming, fail_calls, lose_answers, marking_sent

LEASE = timedelta(seconds=SEND_LEASE_SECONDS + 1)


def test_sns_failing_once_then_succeeding_sends_exactly_one_alert(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=1)
    fail_calls("sns", "Publish", times=1)
    with pytest.raises(Exception, match="Throttling"):
        alerts.raise_alert(alert(), NOW)
    assert received(inbox) == []
    # The failed attempt took no place in the hour's cap of one: the retry is sent, not deferred to the digest.
    assert alerts.raise_alert(alert(), NOW) == "sent"
    assert alerts.raise_alert(alert(), NOW) == "duplicate"
    assert [m["issue_id"] for m in received(inbox)] == ["iss-1"]


def test_a_check_that_died_mid_publish_is_taken_over_after_its_lease(inbox):  # noqa: F811
    alerts = SnsAlerts(resources())
    fail_calls("sns", "Publish", times=1, error=Crash)
    with pytest.raises(Crash):
        alerts.raise_alert(alert(), NOW)
    with pytest.raises(SendInProgress):  # it might still be publishing: not a duplicate, not sent twice
        alerts.raise_alert(alert(), NOW + timedelta(seconds=1))
    assert received(inbox) == []
    assert alerts.raise_alert(alert(), NOW + LEASE) == "sent"
    assert alerts.raise_alert(alert(), NOW + 2 * LEASE) == "duplicate"
    assert len(received(inbox)) == 1


def test_an_alert_whose_sent_mark_fails_at_first_is_not_sent_again(inbox):  # noqa: F811
    alerts = SnsAlerts(resources())
    fail_calls("dynamodb", "UpdateItem", times=2, when=marking_sent(resources().alerts_table))
    assert alerts.raise_alert(alert(), NOW) == "sent"
    assert alerts.raise_alert(alert(), NOW + LEASE) == "duplicate"
    assert len(received(inbox)) == 1


def test_an_alert_whose_claims_answer_was_lost_is_still_sent_once(inbox):  # noqa: F811
    alerts = SnsAlerts(resources())
    lost = lose_answers("dynamodb", "UpdateItem", when=claiming(resources().alerts_table))
    assert alerts.raise_alert(alert(), NOW) == "sent"
    assert lost == [1]
    assert alerts.raise_alert(alert(), NOW + LEASE) == "duplicate"
    assert len(received(inbox)) == 1


def test_the_digest_fails_once_then_goes_out_once(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=0)
    assert alerts.raise_alert(alert("iss-a"), NOW) == "deferred"
    later = NOW + timedelta(hours=1)
    fail_calls("sns", "Publish", times=1)
    with pytest.raises(Exception, match="Throttling"):
        send_last_hours_digest(later, alerts)
    assert send_last_hours_digest(later, alerts) == "sent"
    assert send_last_hours_digest(later, alerts) == "duplicate"
    [digest] = received(inbox)
    assert digest["kind"] == "digest" and [a["issue_id"] for a in digest["details"]["alerts"]] == ["iss-a"]


def test_a_digest_run_that_died_mid_publish_is_sent_by_a_later_run(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=0)
    alerts.raise_alert(alert("iss-a"), NOW)
    later = NOW + timedelta(hours=1)
    fail_calls("sns", "Publish", times=1, error=Crash)
    with pytest.raises(Crash):
        send_last_hours_digest(later, alerts)
    assert send_last_hours_digest(later + LEASE, alerts) == "sent"
    assert [m["kind"] for m in received(inbox)] == ["digest"]


def test_a_stream_batch_whose_alert_failed_is_retried_and_alerts_once(inbox):  # noqa: F811
    put_issue("iss-hp", "high_priority", NOW)
    records = drain_stream(resources().issues_table)
    alerts = SnsAlerts(resources())
    fail_calls("sns", "Publish", times=1)
    with pytest.raises(CheckFailed):  # the stream's event source mapping retries the batch
        alert_issue_records(records, bundled_plan(), alerts, NOW)
    assert alert_issue_records(records, bundled_plan(), alerts, NOW) == {"sent": 1}
    assert alert_issue_records(records, bundled_plan(), alerts, NOW) == {"duplicate": 1}
    assert [(m["kind"], m["issue_id"]) for m in received(inbox)] == [("new_issue", "iss-hp")]


def test_an_sla_check_that_died_mid_publish_is_completed_by_the_next_check(inbox):  # noqa: F811
    put_issue("iss-late", "crisis", NOW - timedelta(minutes=31))
    names = resources()
    fail_calls("sns", "Publish", times=1, error=Crash)
    with pytest.raises(Crash):
        check_slas(NOW, DynamoLiveIssues(names), SnsAlerts(names), bundled_plan())
    assert check_slas(NOW + timedelta(minutes=5), DynamoLiveIssues(names), SnsAlerts(names), bundled_plan()) == {
        "sent": 1
    }
    assert [(m["kind"], m["issue_id"]) for m in received(inbox)] == [("sla_breach", "iss-late")]
