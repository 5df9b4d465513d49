"""A digest whose scheduled run failed (and its retries) is sent by a later run, once: each hourly run sends every
hour's digest still owed from the last day, oldest first, not only the previous hour's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.alerts import SnsAlerts
from chalicelib.adapters.aws import client
from chalicelib.services.monitoring import DIGEST_CATCH_UP_HOURS, send_last_hours_digest
from chalicelib.settings import resources
from tests.integration.test_alerts import NOW, alert, inbox, received  # noqa: F401 - fixture
from tests.integration.test_side_effects_retry import fail_calls


def test_a_digest_whose_runs_all_failed_is_sent_by_the_next_hours_run(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=1)  # NOW is 10:30: the 10:00 hour's digest is due at 11:05
    outcomes = [alerts.raise_alert(alert(f"iss-{n}"), NOW + timedelta(minutes=n)) for n in range(3)]
    assert outcomes == ["sent", "deferred", "deferred"]
    assert [m["issue_id"] for m in received(inbox)] == ["iss-0"]

    fail_calls("sns", "Publish", times=3)  # the 11:05 run and Lambda's two retries
    for minutes in (5, 6, 8):
        with pytest.raises(Exception, match="Throttling"):
            send_last_hours_digest(NOW + timedelta(minutes=30 + minutes), alerts)
    assert received(inbox) == []

    assert alerts.raise_alert(alert("iss-late-0"), NOW + timedelta(hours=1)) == "sent"  # 11:30: the 11:00 hour
    assert alerts.raise_alert(alert("iss-late-1"), NOW + timedelta(hours=1, minutes=1)) == "deferred"
    assert [m["issue_id"] for m in received(inbox)] == ["iss-late-0"]

    at_noon = NOW + timedelta(hours=1, minutes=35)  # 12:05: the 11:00 hour's digest, and the 10:00 hour's still owed
    assert send_last_hours_digest(at_noon, alerts) == "sent"
    digests = received(inbox)
    assert [m["kind"] for m in digests] == ["digest", "digest"]
    assert [[a["issue_id"] for a in m["details"]["alerts"]] for m in digests] == [
        ["iss-1", "iss-2"],  # the older hour first
        ["iss-late-1"],
    ]
    assert send_last_hours_digest(at_noon + timedelta(hours=1), alerts) == "empty"  # each once
    assert send_last_hours_digest(at_noon, alerts) == "duplicate"
    assert received(inbox) == []


def test_a_digest_owed_longer_than_the_catch_up_is_no_longer_looked_for(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=0)
    assert alerts.raise_alert(alert("iss-old"), NOW) == "deferred"
    too_late = NOW + timedelta(hours=DIGEST_CATCH_UP_HOURS + 1)
    assert send_last_hours_digest(too_late, alerts) == "empty"
    assert received(inbox) == []
    assert send_last_hours_digest(too_late - timedelta(hours=1), alerts) == "empty"  # the previous hour's: empty
    assert [m["kind"] for m in received(inbox)] == ["digest"]  # the oldest hour of its day: still sent


def test_a_run_finds_the_earlier_hours_owed_in_one_read(inbox):  # noqa: F811
    alerts = SnsAlerts(resources(), per_hour=0)
    assert alerts.raise_alert(alert("iss-a"), NOW) == "deferred"  # the 10:00 hour owes a digest
    calls: list[str] = []
    events = client("dynamodb").meta.events

    def count(model, **_):
        calls.append(model.name)

    events.register("before-call.dynamodb", count)
    try:
        assert alerts.owed_digests(["2026-11-24T09", "2026-11-24T10", "2026-11-24T11"]) == ["2026-11-24T10"]
        calls.clear()
        at_one = NOW + timedelta(hours=2, minutes=35)  # 13:05: the 10:00 hour is an earlier one
        assert send_last_hours_digest(at_one, alerts) == "empty"
    finally:
        events.unregister("before-call.dynamodb", count)
    assert [m["kind"] for m in received(inbox)] == ["digest"]
    # one read of the 23 earlier hours, the owed hour's claim and its mark, the previous hour's claim and read
    assert calls.count("BatchGetItem") == 1 and len(calls) <= 6, calls
