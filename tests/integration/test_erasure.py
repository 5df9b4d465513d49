"""Right to erasure on moto: after ``erase``, a scan of every table of the stage finds no trace of the author's
handle, name, id or words; other people's data stays; the audit trail shows who erased what (redacted); a second
run changes nothing."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.erasure import DynamoErasure
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.erasure import author_reference
from chalicelib.domain.issues import AuditEvent
from chalicelib.services.erasure import ERASURES, erase_author
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention

NOW = datetime(2026, 11, 21, 9, tzinfo=timezone.utc)
HER_WORDS = ["Your Alba boots burned my skin, I will sue", "Still waiting for my refund on the Alba boots"]
HIS_WORDS = "@ana same here, my parcel never arrived"


def everything(names) -> dict[str, list[dict]]:
    dynamodb = client("dynamodb")
    tables = {}
    for table in dynamodb.list_tables()["TableNames"]:
        if table.startswith(names.prefix + "-"):
            items = [
                plain_item(i) for p in dynamodb.get_paginator("scan").paginate(TableName=table) for i in p["Items"]
            ]
            tables[table] = items
    return tables


def traces(names) -> list[str]:
    """Every stored string that still names the author or holds her words."""
    handle = re.compile(r"(?<![\w.@-])@?ana(?![\w@-]|\.\w)", re.IGNORECASE)
    found = []
    for table, items in everything(names).items():
        if table == names.plans_table:
            continue  # the plan names staff, not authors
        for item in items:
            text = json.dumps(item, default=str)
            if "id-ana" in text or handle.search(text) or any(w in text for w in HER_WORDS):
                found.append(f"{table}: {text[:200]}")
    return found


@pytest.fixture
def stored(aws):
    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    hers = [
        triage_mention(mention(f"a-{i}", text, author="ana", minutes=i), store, plans, fixed_analyzer)
        for i, text in enumerate(HER_WORDS)
    ]
    his = triage_mention(mention("b-1", HIS_WORDS, author="ben", minutes=3), store, plans, fixed_analyzer)
    issue = hers[0].issue_id
    # a published reply and an approval's draft, as their adapters store them (what they hold is what matters)
    client("dynamodb").put_item(
        TableName=names.outbox_table,
        Item={
            "outbox_id": {"S": "out-1"},
            "issue_id": {"S": issue},
            "platform": {"S": "x"},
            "in_reply_to": {"S": "a-0"},
            "recipient": {"S": "ana"},
            "channel": {"S": "public_reply"},
            "approved_by": {"S": "pr@aurelle.example"},
            "text": {"S": "@ana we are so sorry about the Alba boots"},
            "published_at": {"S": NOW.isoformat()},
            "published_day": {"S": NOW.date().isoformat()},
        },
    )
    client("dynamodb").put_item(
        TableName=names.approvals_table,
        Item={
            "approval_id": {"S": "appr-1"},
            "issue_id": {"S": issue},
            "created_at": {"S": NOW.isoformat()},
            "person": {"S": "legal@aurelle.example"},
            "draft": {"S": 'Dear @ana, we hear you: "' + HER_WORDS[0] + '"'},
        },
    )
    DynamoIssues(names).append(
        AuditEvent(
            issue_id=issue,
            at=NOW,
            type="note",
            actor="ops",
            details={"text": 'Called Ana (@ana): "' + HER_WORDS[1] + '"'},
        )
    )
    return {"names": names, "hers": [r.issue_id for r in hers], "his": his.issue_id}


def test_erasure_leaves_no_trace_in_any_table_and_the_audit_trail_shows_it(stored):
    names = stored["names"]
    before = traces(names)
    tables_with_her = {line.split(":")[0] for line in before}
    assert {
        names.mentions_table,
        names.issues_table,
        names.issue_keys_table,
        names.audit_table,
        names.outbox_table,
        names.approvals_table,
    } <= tables_with_her  # the test sees her everywhere she was
    his_before = client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#b-1"}})["Item"]

    result = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)

    assert result.mentions == 2 and set(result.issues) == set(stored["hers"])
    assert traces(names) == []
    # other people's data stays, with her handle taken out of it
    his_after = plain_item(
        client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#b-1"}})["Item"]
    )
    assert his_after["text"] == "[erased] same here, my parcel never arrived"
    assert his_after["author_handle"] == his_before["author_handle"]["S"] == "ben"
    # her mentions keep their identity (a platform's re-delivery is still a duplicate) and issue, no content
    hers = plain_item(client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "x#a-0"}})["Item"])
    assert hers["issue_id"] in stored["hers"] and "text" not in hers and "author_id" not in hers
    # the issues stay, and their trail says who erased what, without saying whose
    issue = client("dynamodb").get_item(TableName=names.issues_table, Key={"issue_id": {"S": stored["hers"][0]}})
    assert "Item" in issue
    trail = client("dynamodb").query(
        TableName=names.audit_table,
        KeyConditionExpression="issue_id = :e",
        ExpressionAttributeValues={":e": {"S": ERASURES}},
    )["Items"]
    (event,) = [plain_item(e) for e in trail]
    details = json.loads(event["details"])
    assert event["actor"] == "dpo@aurelle.example" and event["type"] == "author_erased"
    assert details["author"] == author_reference("x", "id-ana") and details["mentions"] == 2
    assert details["redacted"]["issues"] >= 1 and details["redacted"]["outbox"] == 1
    on_issue = client("dynamodb").query(
        TableName=names.audit_table,
        KeyConditionExpression="issue_id = :i",
        ExpressionAttributeValues={":i": {"S": stored["hers"][0]}},
    )["Items"]
    assert "author_erased" in {e["type"]["S"] for e in on_issue}
    # the plan (staff names) is untouched and still loads
    assert DynamoPlanStore(names.plans_table).active()[0].brand == "Aurelle"

    snapshot = everything(names)
    again = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(names), NOW)
    assert again.mentions == 0 and again.redacted == {} and everything(names) == snapshot


def test_erasure_reaches_the_reports_already_written_and_their_earlier_versions(stored):
    """A weekly report delivered before the erasure quotes her (the issue descriptions): its HTML, CSV and JSON are
    written again without her, and the bucket's earlier versions of them are gone."""
    from chalicelib import bootstrap
    from chalicelib.services.reports import deliver_report
    from chalicelib.settings import report_bucket

    s3, bucket = client("s3"), report_bucket()
    deliver_report("2026-W47", bootstrap.report_deps(), NOW)
    deliver_report("2026-W47", bootstrap.report_deps(), NOW)  # a re-run: the bucket keeps the earlier version

    def texts() -> dict[str, str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="reports/").get("Contents", [])]
        return {
            key: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            for key in keys
            if key.endswith((".html", ".csv", ".json"))
        }

    quoting = [key for key, text in texts().items() if "Alba boots burned" in text or "from ana" in text]
    assert quoting  # the test sees her in the reports

    result = erase_author("x", "id-ana", "dpo@aurelle.example", DynamoErasure(stored["names"]), NOW)

    assert result.redacted.get("reports") == len(quoting)
    for key, text in texts().items():
        assert "Alba boots burned" not in text and "from ana:" not in text, key
    for key in quoting:
        versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        assert [v["Key"] for v in versions] == [key]  # only the redacted one
