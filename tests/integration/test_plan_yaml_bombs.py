"""Plan uploads that cost far more to read than they weigh, through the ops API on moto (review r3): a viewer's
POST /plans/validate of 18 KB of YAML aliases (one rule repeated by aliases, its topics aliases of one 1,000-character
string) read as 360 MB and took 5.6 s and 1.3 GB before the 413 said it was too large. Now anchors and aliases are
a 400 naming their line, before anything is expanded; YAML too large to store is a 413 before it is parsed; and a
plan too large to store is a 413 before the read-back check writes and reads its whole document again."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.plans import DEFAULT_PLAN
from chalicelib.domain.plan import MAX_STORED_PLAN_BYTES
from tests.ops_client import call

PLAN = DEFAULT_PLAN.read_text(encoding="utf-8")
REFUSED = "a plan may not use YAML anchors or aliases"
DESCRIPTION = "description: >\n  Who answers what, how fast, and who must sign off before the brand speaks in public.\n"


def amplified(rules: int, topics: int, word: int = 1000) -> str:
    """One rule repeated ``rules`` times by aliases, its topics ``topics`` aliases of one ``word``-character string."""
    head, _, rest = PLAN.partition("rules:\n")
    listed = "[" + ", ".join([f"&w {'a' * word}", *["*w"] * (topics - 1)]) + "]"
    rule = f"  - &r {{name: bomb, when: {{topic_in: {listed}}}, category: high_priority, severity: critical}}\n"
    return head + "rules:\n" + rule + "".join("  - *r\n" for _ in range(rules - 1)) + rest


def viewer(ops) -> dict[str, str]:
    status, made = call(ops, "post", "/tokens", {"name": "viewer one", "role": "viewer"})
    assert status == 201
    return {"Authorization": f"Bearer {made['token']}", "Content-Type": "application/json"}


def post(ops, path: str, text: str, headers: dict[str, str]):
    answer = ops.http.post(path, body=json.dumps({"yaml": text}), headers=headers)
    return answer.status_code, json.loads(answer.body)


def stored(ops) -> list:
    status, body = call(ops, "get", "/plans")
    assert status == 200
    return body["items"]


def test_a_viewers_alias_bomb_is_a_400_naming_the_anchor_and_its_line_and_an_admins_upload_stores_nothing(ops):
    text = amplified(200, 200)  # 15 KB; 40 MB once expanded
    line = text[: text.index("&r")].count("\n") + 1
    for path, headers in (("/plans/validate", viewer(ops)), ("/plans", ops.admin)):
        status, body = post(ops, path, text, headers)
        assert status == 400, (path, status, body)
        assert [(p["line"], p["place"]) for p in body["problems"]] == [(line, "plan")]
        assert REFUSED in body["problems"][0]["problem"] and "found an anchor (&r)" in body["error"]
    assert stored(ops) == []


def test_yaml_too_large_to_store_is_a_413_before_it_is_parsed(ops, monkeypatch):
    import chalicelib.services.plan_check as plan_check

    def parsed(text):
        raise AssertionError("parsed a plan too large to store")

    monkeypatch.setattr(plan_check, "plan_problems", parsed)
    text = PLAN.replace(DESCRIPTION, f'description: "{"é" * 150_000}"\n', 1)  # 160,939 characters, 310,940 bytes
    assert len(text) < 256 * 1024 < len(text.encode("utf-8"))  # within the body limit, past what may be stored
    for path, headers in (("/plans/validate", viewer(ops)), ("/plans", ops.admin)):
        status, body = post(ops, path, text, headers)
        assert status == 413, (path, status, body)
        assert (
            "its YAML alone takes" in body["error"]
            and f"at most {MAX_STORED_PLAN_BYTES:,} are allowed" in body["error"]
        )
    assert stored(ops) == []


@pytest.mark.parametrize("path", ["/plans/validate", "/plans"])
def test_the_stored_size_is_checked_before_the_read_back(ops, monkeypatch, path):
    import chalicelib.domain.plan as domain

    read_back = []
    monkeypatch.setattr(domain, "check_reads_back", read_back.append)
    big = PLAN.replace(
        DESCRIPTION, f"description: {'x' * 210_000}\n", 1
    )  # 221 KB of YAML, twice that with its document
    status, body = post(ops, path, big, ops.admin)
    assert status == 413 and f"at most {MAX_STORED_PLAN_BYTES:,} are allowed" in body["error"]
    assert read_back == []  # refused before the whole document was written and read again
    status, _ = post(ops, "/plans/validate", PLAN, ops.admin)
    assert status == 200 and len(read_back) == 1  # a plan that fits is still checked
