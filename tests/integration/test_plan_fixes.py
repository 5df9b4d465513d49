"""Plan versions on moto through the ops API (Chalice's test client): numbering after a rollback, and two uploads at
once never sharing a number."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.plans import DEFAULT_PLAN, DynamoPlanStore
from chalicelib.services.errors import PlanConflict
from chalicelib.settings import resources
from tests.ops_client import call

PLAN = DEFAULT_PLAN.read_text(encoding="utf-8")
DESCRIPTION = "description: >\n  Who answers what, how fast, and who must sign off before the brand speaks in public.\n"


def variant(number: int) -> str:
    """The bundled plan with a description of its own: uploading the active version's YAML again writes nothing."""
    return PLAN.replace(DESCRIPTION, f"description: variant {number}\n", 1)


def listed(ops) -> dict[int, str]:
    status, body = call(ops, "get", "/plans")
    assert status == 200
    return {item["version"]: item["status"] for item in body["items"]}


def test_a_plan_uploads_after_rolling_back_to_an_older_version(ops):
    for expected in (1, 2, 3):
        assert call(ops, "post", "/plans", {"yaml": variant(expected)}) == (201, {"version": expected})
    assert call(ops, "post", "/plans/1/activate")[0] == 200

    # active + 1 = 2 is taken: the next number follows the highest stored, and the rollback's plan is retired
    assert call(ops, "post", "/plans", {"yaml": variant(4)}) == (201, {"version": 4})
    assert listed(ops) == {1: "retired", 2: "retired", 3: "retired", 4: "active"}
    assert call(ops, "post", "/plans", {"yaml": variant(5)}) == (201, {"version": 5})
    assert listed(ops)[5] == "active" and listed(ops)[4] == "retired"
    assert DynamoPlanStore(resources().plans_table).active()[1] == 5


def test_two_uploads_at_once_never_take_the_same_number(aws):
    first, second = DynamoPlanStore(resources().plans_table), DynamoPlanStore(resources().plans_table)
    assert first.upload(variant(1), "ana@brand.example") == 1

    # the second reads the pointer and the highest number (1), then the first writes version 2 before it writes
    def first_uploads_meanwhile(dynamodb):
        highest = DynamoPlanStore._highest_version(second, dynamodb)
        assert first.upload(variant(2), "ana@brand.example") == 2
        return highest

    second._highest_version = first_uploads_meanwhile
    with pytest.raises(PlanConflict, match="version 2 was taken"):
        second.upload(variant(3), "ben@brand.example")
    versions = {v["version"]: (v["status"], v["uploaded_by"]) for v in first.versions()}
    assert versions == {1: ("retired", "ana@brand.example"), 2: ("active", "ana@brand.example")}
    del second._highest_version
    assert second.upload(variant(3), "ben@brand.example") == 3  # trying again takes the next free number


def test_every_version_is_listed_past_one_megabyte_of_plans(ops):
    store = DynamoPlanStore(resources().plans_table)
    large = PLAN.replace(DESCRIPTION, f"description: {'x' * 100_000}\n", 1)
    assert len(large) > 100_000
    for number in range(12):  # about 12 x 230 KB of YAML and document: three pages of a Query
        store.upload(f"{large}# upload {number}\n", "ana@brand.example")  # each its own: a repeat writes nothing

    versions = store.versions()
    assert [v["version"] for v in sorted(versions, key=lambda v: v["version"])] == list(range(1, 13))
    assert all(
        set(v) == {"version", "status", "uploaded_by", "uploaded_at", "reviewed_by", "reviewed_on"} for v in versions
    )
    assert listed(ops) == {**dict.fromkeys(range(1, 12), "retired"), 12: "active"}


def test_a_brand_on_several_lines_is_refused_and_a_folded_one_trimmed_so_the_weekly_report_goes_out(ops):
    from datetime import datetime, timezone

    from chalicelib import bootstrap
    from chalicelib.services.reports import run_scheduled

    literal = PLAN.replace("brand: Aurelle\n", "brand: |\n  Aurelle\n  Paris\n", 1)
    for path in ("/plans/validate", "/plans"):
        status, body = call(ops, "post", path, {"yaml": literal})
        assert status == 400 and "brand" in body["error"]
        assert [(p["place"], p["line"]) for p in body["problems"]] == [("brand", 3)]
        assert "one line" in body["problems"][0]["problem"]

    folded = PLAN.replace("brand: Aurelle\n", "brand: >\n  Aurelle\n", 1)  # YAML reads 'Aurelle\n'
    assert call(ops, "post", "/plans/validate", {"yaml": folded})[1]["brand"] == "Aurelle"
    assert call(ops, "post", "/plans", {"yaml": folded}) == (201, {"version": 1})
    bootstrap.reset()
    delivery = run_scheduled(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc), bootstrap.report_deps())
    assert delivery is not None and delivery.week == "2026-W47" and delivery.emailed


def test_a_stored_plan_whose_brand_has_a_line_break_is_still_read(aws):
    """A version stored before the brand was checked: triage and the schedules keep reading it, on one line."""
    from chalicelib.adapters.aws import client

    store = DynamoPlanStore(resources().plans_table)
    assert store.upload(PLAN, "ana@brand.example") == 1
    key = {"pk": {"S": "plan"}, "sk": {"S": "v00000001"}}
    item = client("dynamodb").get_item(TableName=resources().plans_table, Key=key)["Item"]
    document = json.loads(item["document"]["S"])
    document["brand"] = "Aurelle\nParis\n"
    client("dynamodb").update_item(
        TableName=resources().plans_table,
        Key=key,
        UpdateExpression="SET document = :d",
        ExpressionAttributeValues={":d": {"S": json.dumps(document)}},
    )
    assert DynamoPlanStore(resources().plans_table).active()[0].brand == "Aurelle Paris"


def test_a_plan_too_large_to_store_is_refused_413_naming_the_limit_and_nothing_is_written(ops):
    from chalicelib.domain.plan import MAX_STORED_PLAN_BYTES, PlanTooLarge

    big = PLAN.replace(DESCRIPTION, f"description: {'x' * 210_000}\n", 1)  # 221 KB of YAML: the API takes 256 KiB
    for path in ("/plans/validate", "/plans"):
        status, body = call(ops, "post", path, {"yaml": big})
        assert status == 413 and f"at most {MAX_STORED_PLAN_BYTES:,} are allowed" in body["error"]
    with pytest.raises(PlanTooLarge, match=f"{MAX_STORED_PLAN_BYTES:,}"):  # the CLI's plan upload
        DynamoPlanStore(resources().plans_table).upload(big, "ana@brand.example")
    assert listed(ops) == {}


def test_a_plan_just_under_the_limit_is_stored_read_and_reviewed(ops):
    from chalicelib.domain.plan import MAX_STORED_PLAN_BYTES, load_plan_yaml, stored_plan_bytes

    def plan(characters: int) -> str:  # 'é': 2 bytes of YAML, 6 in the document a review writes (\\u00e9)
        return PLAN.replace(DESCRIPTION, f'description: "{"é" * characters}"\n', 1)

    empty = stored_plan_bytes(load_plan_yaml(plan(0)), plan(0))
    text = plan((MAX_STORED_PLAN_BYTES - empty) // 8)
    assert MAX_STORED_PLAN_BYTES - 8 < stored_plan_bytes(load_plan_yaml(text), text) <= MAX_STORED_PLAN_BYTES
    assert call(ops, "post", "/plans/validate", {"yaml": text})[0] == 200
    assert call(ops, "post", "/plans", {"yaml": text}) == (201, {"version": 1})
    status, body = call(ops, "post", "/plans/1/review", {"reviewed_by": "head-of-social@aurelle.example"})
    assert status == 200 and body["changed"]
    status, body = call(ops, "get", "/plans/1")
    assert status == 200 and body["yaml"] == text and body["reviewed_by"] == "head-of-social@aurelle.example"
    assert DynamoPlanStore(resources().plans_table).active()[0].description.startswith("é")
