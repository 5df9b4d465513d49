"""Data lifecycle on moto: raw mentions and dedup keys carry a TTL from the plan's retention, set on write;
issues and the audit trail carry none (they are kept)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.aws import client
from chalicelib.adapters.mentions_table import DynamoMentionRepository, plain_item
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.plan import Retention
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention


def scan(table: str) -> list[dict]:
    return [plain_item(i) for i in client("dynamodb").scan(TableName=table)["Items"]]


def test_mentions_and_dedup_keys_expire_after_the_plans_retention_issues_and_audit_are_kept(aws):
    names = resources()
    retention = Retention(mentions_days=30, dedup_keys_days=3)
    store = DynamoTriageStore(names, retention=lambda: retention)
    complaint = mention("m-1", "My parcel never arrived", author="ana")
    result = triage_mention(complaint, store, DynamoPlanStore(names.plans_table), fixed_analyzer)

    (stored,) = scan(names.mentions_table)
    assert int(stored["ttl"]) == int((complaint.created_at + timedelta(days=30)).timestamp())
    claims = scan(names.issue_keys_table)
    assert claims and all(int(c["ttl"]) == int(c["expires_at"]) + 3 * 86400 for c in claims)
    assert all("ttl" not in item for item in scan(names.issues_table) + scan(names.audit_table))
    assert result.issue_id in {i["issue_id"] for i in scan(names.issues_table)}

    raw = mention("m-2", "Love the new Sol dress", author="ben")
    assert DynamoMentionRepository(names.mentions_table).add(raw)  # without a plan: the plan's default, 90 days
    added = plain_item(client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": raw.key}})["Item"])
    assert int(added["ttl"]) == int((raw.created_at + timedelta(days=90)).timestamp())
    # the deployed tables expire items by that attribute (moto's CloudFormation does not apply TTL settings)
    from infra.template import build_template

    tables = build_template("test")["Resources"]
    for logical in ("MentionsTable", "IssueKeysTable"):
        assert tables[logical]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    for kept in ("IssuesTable", "AuditTable"):
        assert "TimeToLiveSpecification" not in tables[kept]["Properties"]
