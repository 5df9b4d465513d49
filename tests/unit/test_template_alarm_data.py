"""The template's alarms and checks have data: what the code emits and checks is what the template watches.

* ``SlaBreachRateAlarm`` watches ``SlaBreaches``: ``check_slas`` emits it, one per breach raised for the first time.
* every dead-letter queue of the template is read by ``check_dead_letter_queues``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.alerts import Alert
from chalicelib.observability import metrics
from chalicelib.services.monitoring import check_dead_letter_queues, check_slas
from chalicelib.settings import Resources
from infra.template import DEAD_LETTER_QUEUES, METRICS_NAMESPACE, RATE_ALARMS, build_template

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
PLAN = bundled_plan()


class Sink:
    def __init__(self) -> None:
        self.raised: dict[str, Alert] = {}

    def raise_alert(self, alert: Alert, now: datetime) -> str:
        if alert.dedup_key in self.raised:
            return "duplicate"
        self.raised[alert.dedup_key] = alert
        return "sent"

    def send_digest(self, hour: str, now: datetime) -> str:
        return "empty"


class Issues:
    def __init__(self, *issues: dict) -> None:
        self.issues = issues

    def with_status(self, status: str, category: str):
        return [i for i in self.issues if i["status"] == status and i["category"] == category]


def issue(issue_id: str, category: str, opened: datetime) -> dict:
    sla = PLAN.categories[category].sla
    return {
        "issue_id": issue_id,
        "category": category,
        "status": "open",
        "severity": "high",
        "first_seen": opened.isoformat(),
        "sla_first_response_due": (opened + timedelta(minutes=sla.first_response_minutes)).isoformat(),
        "sla_resolution_due": (opened + timedelta(minutes=sla.resolution_minutes)).isoformat(),
    }


def emitted(name: str) -> float:
    values = metrics.metric_set.get(name, {}).get("Value", [])
    return sum(values if isinstance(values, list) else [values])


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def test_check_slas_emits_the_metric_the_breach_rate_alarm_watches_once_per_new_breach():
    metric, _, _, _ = RATE_ALARMS["SlaBreachRateAlarm"]
    alarm = build_template("dev")["Resources"]["SlaBreachRateAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (METRICS_NAMESPACE, metric) == ("SocialResponse", "SlaBreaches")
    issues = Issues(
        issue("iss-late", "crisis", NOW - timedelta(minutes=31)),
        issue("iss-warn", "high_priority", NOW - timedelta(minutes=50)),
    )
    sink = Sink()
    assert check_slas(NOW, issues, sink, PLAN) == {"sent": 2}
    assert emitted("SlaBreaches") == 1  # the crisis is breached; the other is only warned
    metrics.clear_metrics()
    assert check_slas(NOW + timedelta(minutes=5), issues, sink, PLAN) == {"duplicate": 2}
    assert emitted("SlaBreaches") == 0  # the same breach again is not a new one
    assert check_slas(NOW + timedelta(minutes=11), issues, sink, PLAN) == {"sent": 1, "duplicate": 1}
    assert emitted("SlaBreaches") == 1


def test_every_dead_letter_queue_of_the_template_is_checked():
    names = Resources.for_stage("dev")
    resources = build_template("dev")["Resources"]
    template_dlqs = {resources[logical]["Properties"]["QueueName"] for logical in DEAD_LETTER_QUEUES}
    assert names.issues_stream_dlq in template_dlqs and names.schedule_dlq in template_dlqs
    read = []

    def depth(queue: str) -> int:
        read.append(queue)
        return 2 if queue == names.issues_stream_dlq else 0

    sink = Sink()
    assert check_dead_letter_queues(NOW, sink, names, queue_depth=depth) == {"sent": 1}
    assert set(read) == template_dlqs
    [alert] = sink.raised.values()
    assert alert.details["queue"] == names.issues_stream_dlq


def test_each_deployed_stage_alarms_on_its_own_metric_series():
    """Two stages in one account emit one namespace: the service dimension (POWERTOOLS_SERVICE_NAME) keeps their
    series, and so their rate alarms, apart."""
    from infra.stage_config import StageConfig

    services = {}
    for stage in ("dev", "prod"):
        alarm = build_template(stage)["Resources"]["SlaBreachRateAlarm"]["Properties"]
        (dimension,) = alarm["Dimensions"]
        assert dimension == {"Name": "service", "Value": StageConfig.load(stage).environment["POWERTOOLS_SERVICE_NAME"]}
        services[stage] = dimension["Value"]
    assert services["dev"] != services["prod"]
