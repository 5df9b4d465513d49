"""Surges detected as mentions are processed: a burst of complaints about one product, after a day and a half
of ordinary traffic, opens exactly one Crisis issue linking its mentions; the burst going on reopens nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.services.monitoring import alert_issue_records
from chalicelib.services.processor import Pipeline, process_batch
from chalicelib.settings import resources
from infra.local.worker import sqs_event
from tests.helpers import drain_stream
from tests.triage_fixtures import T0 as START
from tests.triage_fixtures import fixed_analyzer, mention

CHATTER = [
    "Love the new Sol dress",
    "The Luna tote is gorgeous",
    "Where is your Paris store?",
    "Nice window display today",
    "The Pima tee fits perfectly",
]


def stream() -> list:
    out = []
    for i in range(36 * 4):  # 36 hours, a mention every 15 minutes, a complaint about something else now and then
        text = "My parcel arrived late again" if i % 11 == 0 else CHATTER[i % len(CHATTER)]
        out.append(mention(f"bg-{i}", text, author=f"fan{i % 40}", minutes=i * 15))
    burst_start = 36 * 60 + 7
    for j in range(20):  # then 20 complaints about the Nova sneakers within 40 minutes, from 20 people
        out.append(
            mention(
                f"burst-{j}",
                f"The sole of my Nova sneakers broke after {j + 2} days",
                author=f"buyer{j}",
                minutes=burst_start + j * 2,
            )
        )
    return out


def test_a_burst_opens_exactly_one_crisis_issue_linking_its_mentions_and_alerts_once(aws):
    sqs, sns = client("sqs"), client("sns")
    reader = sqs.create_queue(QueueName="ops-alerts")["QueueUrl"]
    reader_arn = sqs.get_queue_attributes(QueueUrl=reader, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=resources().alerts_topic)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=reader_arn, Attributes={"RawMessageDelivery": "true"})
    pipeline = Pipeline(
        bootstrap.mention_repository(),
        bootstrap.triage_store(),
        bootstrap.plan_store(),
        bootstrap.surge_store(),
        analyze=fixed_analyzer,
    )
    mentions = stream()
    for start in range(0, len(mentions), 10):
        batch = mentions[start : start + 10]
        event = sqs_event(
            [{"MessageId": m.external_id, "ReceiptHandle": m.external_id, "Body": m.model_dump_json()} for m in batch],
            "arn:aws:sqs:us-east-1:123456789012:ingest",
            "us-east-1",
        )
        assert process_batch(event, pipeline) == {"batchItemFailures": []}

    issues = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    crises = [i for i in issues if i["category"]["S"] == "crisis"]
    assert len(crises) == 1, [(i["rule"]["S"], i["first_seen"]["S"]) for i in crises]
    crisis = crises[0]
    assert crisis["rule"]["S"] == "surge:product:nova sneakers" and crisis["severity"]["S"] == "critical"
    linked = [m["S"] for m in crisis["linked_mentions"]["L"]]
    assert len(linked) >= 4 and all(m.startswith("x#burst-") for m in linked)
    detected = datetime.fromisoformat(crisis["last_seen"]["S"])
    assert detected - (START + timedelta(minutes=36 * 60 + 7)) <= timedelta(minutes=15)
    assert (
        len(
            client("dynamodb").scan(
                TableName=resources().escalations_table,
                ScanFilter={"issue_id": {"AttributeValueList": [crisis["issue_id"]], "ComparisonOperator": "EQ"}},
            )["Items"]
        )
        == 1
    )
    audit = client("dynamodb").query(
        TableName=resources().audit_table,
        KeyConditionExpression="issue_id = :i",
        ExpressionAttributeValues={":i": crisis["issue_id"]},
    )["Items"]
    trail = sorted(audit, key=lambda a: a["sk"]["S"])
    assert trail[0]["type"]["S"] == "surge_detected"
    assert json.loads(trail[0]["details"]["S"])["key"] == "product:nova sneakers"
    # the same surge lifted the topic and the brand too: recorded on this Crisis, not opened as others
    assert {json.loads(a["details"]["S"])["key"] for a in trail[1:]} <= {"topic:product_quality", "brand"}
    assert all(a["type"]["S"] == "surge_widened" for a in trail[1:])
    # the issues stream's handler alerts: once, as a surge, with attributes to filter on
    records = drain_stream(resources().issues_table)
    plan, _ = bootstrap.plan_store().active()
    alert_issue_records(records, plan, bootstrap.alerts(), datetime.now(timezone.utc))
    alert_issue_records(records, plan, bootstrap.alerts(), datetime.now(timezone.utc))  # a stream retry
    received = sqs.receive_message(QueueUrl=reader, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    kinds = [m["MessageAttributes"]["kind"]["StringValue"] for m in received.get("Messages", [])]
    assert kinds.count("surge") == 1
    surge = next(m for m in received["Messages"] if m["MessageAttributes"]["kind"]["StringValue"] == "surge")
    assert surge["MessageAttributes"]["category"]["StringValue"] == "crisis"
    assert surge["MessageAttributes"]["severity"]["StringValue"] == "critical"
    # nothing fired during the quiet day and a half
    assert not [i for i in issues if i["category"]["S"] == "crisis" and i["issue_id"] != crisis["issue_id"]]


def test_a_viral_hour_stores_a_bounded_list_of_mentions_but_counts_them_all(aws):
    from chalicelib.adapters.surge_table import DynamoSurgeStore, Observation
    from chalicelib.domain.surge import counter_fields, day_of

    store = DynamoSurgeStore(resources().surges_table, links_per_key_hour=25)
    at = START.timestamp() + 600
    for batch in range(8):  # 80 mentions in one hour: more than a Crisis would ever link
        observations = [Observation(at=at + i, mention=f"x#{batch}-{i}", keys=("brand",)) for i in range(10)]
        store.add(observations)
        if batch == 3:
            store = DynamoSurgeStore(resources().surges_table, links_per_key_hour=25)  # a cold processor
            store.read(["brand"], [], [datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H")])
    hour = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H")
    history = store.read(["brand"], [day_of(at)], [hour])
    assert len(history.mentions("brand")) == 25
    hour_field, fine_field = counter_fields(at)
    counts = {name: value for item in history.day_items("brand") for name, value in item.items()}
    assert counts[hour_field] == 80 and counts[fine_field] == 80


def test_a_batch_straddling_midnight_is_two_writes_and_a_read_files_each_day_its_counts(aws):
    from chalicelib.adapters.surge_table import DynamoSurgeStore, Observation
    from chalicelib.domain.surge import BucketCounts, day_of, hour_of

    store = DynamoSurgeStore(resources().surges_table, shards=1)
    midnight = datetime(2026, 11, 30, tzinfo=timezone.utc).timestamp()
    times = [midnight - 600 + 120 * i for i in range(10)]  # 23:50 .. 00:08: five on each day
    calls = store.add(
        [Observation(at=t, mention=f"x#m{i}", keys=("brand", "product:nova")) for i, t in enumerate(times)]
    )
    assert calls == 2
    history = store.read(["brand"], [day_of(midnight - 1), day_of(midnight)], [hour_of(midnight)])
    counts = BucketCounts.from_day_items(history.day_items("brand"))
    assert counts.hour(int(midnight) - 3600) == 5 and counts.hour(int(midnight)) == 5
    assert counts.window(int(midnight) - 600, int(midnight) + 600) == 10
    assert counts.bucket(int(midnight) - 600) == 3 and counts.bucket(int(midnight)) == 3
    assert len(history.mentions("product:nova")) == 10  # linked in the one hour item the batch wrote
    assert history.data_start() == times[0]


def _counts_and_crises() -> tuple[dict, list]:
    table = client("dynamodb").scan(TableName=resources().surges_table)["Items"]
    counts = {
        item["pk"]["S"]: {name: value for name, value in item.items() if name[6:7] in ("h", "f", "y", "z")}
        for item in table
        if item["pk"]["S"].startswith(("day#", "hour#"))
    }
    issues = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    crises = sorted(
        (i["issue_id"]["S"], len(i["linked_mentions"]["L"])) for i in issues if i["category"]["S"] == "crisis"
    )
    return counts, crises


def _replay(pipeline: Pipeline) -> None:
    mentions = stream()
    for start in range(0, len(mentions), 10):
        event = sqs_event(
            [
                {"MessageId": m.external_id, "ReceiptHandle": m.external_id, "Body": m.model_dump_json()}
                for m in mentions[start : start + 10]
            ],
            "arn:aws:sqs:us-east-1:123456789012:ingest",
            "us-east-1",
        )
        assert process_batch(event, pipeline) == {"batchItemFailures": []}


def test_surge_counting_that_fails_part_way_is_retried_without_counting_twice_or_opening_a_second_crisis(
    aws, monkeypatch
):
    """Every surge write fails once, after the one before it succeeded: counts and the Crisis equal a clean run."""
    from botocore.exceptions import ClientError

    import chalicelib.services.surges as surges

    monkeypatch.setattr(surges, "SURGE_BACKOFF_SECONDS", (0, 0))
    pipeline = Pipeline(
        bootstrap.mention_repository(),
        bootstrap.triage_store(),
        bootstrap.plan_store(),
        bootstrap.surge_store(),
        analyze=fixed_analyzer,
    )
    _replay(pipeline)
    clean_counts, clean_crises = _counts_and_crises()
    assert len(clean_crises) == 1

    for table in (
        resources().surges_table,
        resources().issues_table,
        resources().mentions_table,
        resources().issue_keys_table,
    ):  # start again on empty tables, the same stream
        dynamodb = client("dynamodb")
        key_names = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        for item in dynamodb.scan(TableName=table)["Items"]:
            dynamodb.delete_item(TableName=table, Key={name: item[name] for name in key_names})

    # a fresh processor for the second run: the first one's memory of what it linked belongs to emptied tables
    from dataclasses import replace

    from chalicelib.adapters.surge_table import DynamoSurgeStore

    pipeline = replace(pipeline, surges=DynamoSurgeStore(resources().surges_table))
    failed: set[str] = set()

    def fail_each_write_once(params, **_):
        """A batch's first hour item (after its day item was counted) and the Crisis transaction each fail once."""
        if params.get("TableName") == resources().surges_table and params["Key"]["pk"]["S"].startswith("hour#"):
            marker = "hour#" + params["ExpressionAttributeValues"][":batch"]["S"]
        elif any("surge_detected" in json.dumps(item) for item in params.get("TransactItems", [])):
            marker = "crisis" + json.dumps(params["TransactItems"][0]["Put"]["Item"]["issue_id"])
        else:
            return
        if marker not in failed:
            failed.add(marker)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "UpdateItem")

    events = client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.UpdateItem", fail_each_write_once)
    events.register("before-parameter-build.dynamodb.TransactWriteItems", fail_each_write_once)
    try:
        _replay(pipeline)
    finally:
        events.unregister("before-parameter-build.dynamodb.UpdateItem", fail_each_write_once)
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", fail_each_write_once)
    assert any(m.startswith("hour#") for m in failed) and any(m.startswith("crisis") for m in failed)
    assert _counts_and_crises() == (clean_counts, clean_crises)
