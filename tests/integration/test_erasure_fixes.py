"""Erasure touches only the erased author's data (review C8, C10): an item is deleted for its key's layout, never
because a ``#``-part of someone else's key equals the id; a short display name or handle rewrites nothing of
anybody else (enumerations such as ``platform``, ``status``, ``category`` are never rewritten)."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.aws import client
from chalicelib.adapters.erasure import DynamoErasure
from chalicelib.adapters.mentions_table import plain_item
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.models import Author
from chalicelib.services.erasure import erase_author
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.triage_fixtures import fixed_analyzer, mention

NOW = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
BOBS_WORDS = "My Cortez jacket broke after a week, refund please"


def _scan(table: str) -> list[dict]:
    return [
        plain_item(i) for p in client("dynamodb").get_paginator("scan").paginate(TableName=table) for i in p["Items"]
    ]


def _by(table: str, name: str) -> dict[str, dict]:
    return {item[name]: item for item in _scan(table)}


def _store():
    names = resources()
    return names, DynamoTriageStore(names), DynamoPlanStore(names.plans_table)


def test_another_authors_mention_and_keys_stay_when_a_part_of_their_key_is_the_erased_id(aws):
    names, store, plans = _store()
    dora = mention("5", "hello there, my order is late", platform="forum").model_copy(
        update={"author": Author(id="1001", handle="dora", name="Dora")}
    )
    # Bob's mention's own id is 1001 (its key is forum#1001, its conversation claim conv#forum#1001) ...
    bob = mention("1001", BOBS_WORDS, platform="forum").model_copy(
        update={"author": Author(id="2002", handle="bob", name="Bob")}
    )
    # ... and on another platform an author whose id is 1001 too is someone else
    other = mention("9", "Where is my parcel, ordered two weeks ago?", platform="facebook").model_copy(
        update={"author": Author(id="1001", handle="carl", name="Carl")}
    )
    for m in (dora, bob, other):
        triage_mention(m, store, plans, fixed_analyzer)
    mentions_before = _by(names.mentions_table, "pk")
    keys_before = set(_by(names.issue_keys_table, "key"))
    doras_keys = {k for k in keys_before if k.startswith(("author#forum#1001#", "conv#forum#5"))}
    assert len(doras_keys) == 2

    result = erase_author("forum", "1001", "dpo@aurelle.example", DynamoErasure(names), NOW)

    assert result.mentions == 1
    mentions = _by(names.mentions_table, "pk")
    assert mentions["forum#1001"] == mentions_before["forum#1001"]  # Bob's mention, whole
    assert mentions["facebook#9"] == mentions_before["facebook#9"]  # Carl's, whose id is 1001 elsewhere
    assert "text" not in mentions["forum#5"]  # Dora's is erased
    assert set(_by(names.issue_keys_table, "key")) == keys_before - doras_keys


def test_a_one_letter_name_and_a_short_handle_rewrite_nothing_of_anybody_else(aws):
    names, store, plans = _store()
    leaving = mention("1", "The zip of my Lina coat broke on day one", author="zed").model_copy(
        update={"author": Author(id="id-zed", handle="jo", name="X")}
    )
    mine = triage_mention(leaving, store, plans, fixed_analyzer)
    bobs = triage_mention(mention("2", BOBS_WORDS + " (x jo X)", author="bob"), store, plans, fixed_analyzer)
    tables = [t for t in client("dynamodb").list_tables()["TableNames"] if t.startswith(names.prefix + "-")]
    before = {t: _scan(t) for t in tables}
    bobs_issue = _by(names.issues_table, "issue_id")[bobs.issue_id]

    erase_author("x", "id-zed", "dpo@aurelle.example", DynamoErasure(names), NOW)

    assert _by(names.mentions_table, "pk")["x#2"] == _by_list(before[names.mentions_table], "pk")["x#2"]
    issues = _by(names.issues_table, "issue_id")
    assert issues[bobs.issue_id] == bobs_issue  # platform "x", status, category ... and Bob's words as they were
    hers = issues[mine.issue_id]
    assert hers["platform"] == "x" and hers["status"] == bobs_issue["status"]
    assert " jo" not in hers["description"] and "Lina coat" not in hers["description"]
    assert hers["description"].endswith('from [erased]: "[erased]"')
    for table in tables:  # no enumeration anywhere became "[erased]"
        for item in _scan(table):
            for name in ("platform", "status", "category", "severity", "kind", "channel", "team"):
                assert item.get(name) != "[erased]", (table, name)


def _by_list(items: list[dict], name: str) -> dict[str, dict]:
    return {item[name]: item for item in items}
