"""Erasure reaches the alerts held back for the hourly digest (review C7): a deferred alert's message, cut short
for the digest, never keeps a fragment of the author's words that erasure could not recognise."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.alerts import SnsAlerts
from chalicelib.adapters.aws import client
from chalicelib.adapters.erasure import DynamoErasure
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.alerts import hour_key, sla_alerts
from chalicelib.services.erasure import erase_author
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention

HER_WORDS = (
    "The Cortez jacket I bought for my daughter Maria Lopez at 14 Rue Cler burned her skin, "
    "we will sue unless you call us back on our home number today please"
)


def test_an_alert_held_back_for_the_digest_keeps_nothing_of_the_erased_authors_words(aws):
    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    result = triage_mention(mention("2", HER_WORDS, author="ana"), store, plans, fixed_analyzer)
    issue = plain_item(
        client("dynamodb").get_item(TableName=names.issues_table, Key={"issue_id": {"S": result.issue_id}})["Item"]
    )
    now = datetime.fromisoformat(str(issue["sla_first_response_due"])) + timedelta(minutes=1)
    (alert, *_) = sla_alerts(issue, now)
    assert len(alert.message) > 300 and HER_WORDS[:60] in alert.message  # the message is cut for the digest
    assert SnsAlerts(names, per_hour=0).raise_alert(alert, now) == "deferred"
    hour = {"pk": {"S": f"hour#{hour_key(now)}"}}
    assert "from ana" in str(client("dynamodb").get_item(TableName=names.alerts_table, Key=hour)["Item"])

    erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), now)

    held = str(client("dynamodb").get_item(TableName=names.alerts_table, Key=hour)["Item"])
    words = HER_WORDS.split()
    assert [" ".join(words[i : i + 3]) for i in range(len(words) - 2) if " ".join(words[i : i + 3]) in held] == []
    assert " ana" not in held and "from [erased]" in held
