"""The command line as users and acceptance checks call it: a subprocess, JSONL in and out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {"id", "complaint", "complaint_score", "sentiment", "topic", "category", "severity"}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "AWS_ACCESS_KEY_ID": "none", "AWS_SECRET_ACCESS_KEY": "none",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # any AWS call would fail
    return subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)


def test_classify_answers_one_line_per_input_in_order_with_the_contract_fields():
    rows = [{"id": "a", "text": "My Lina trench coat ripped after one wear and support never answered"},
            {"id": 7, "text": "Love the new Sol dress!", "platform": "instagram"},
            {"id": "c", "text": "I will sue you if I don't get my refund", "author": {"handle": "h", "followers": 2}}]
    done = run("classify", stdin="".join(json.dumps(r) + "\n" for r in rows))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "c"]
    for line in out:
        assert set(line) == CONTRACT_KEYS
        assert isinstance(line["complaint"], bool) and 0 <= line["complaint_score"] <= 1
        assert -1 <= line["sentiment"] <= 1 and line["severity"] in {"low", "medium", "high", "critical"}
    assert out[1]["category"] == "no_action" and out[2]["category"] == "high_priority"


def test_classify_keeps_its_place_for_a_bad_line_and_exits_1():
    done = run("classify", stdin='{"id": "a", "text": "fine"}\nnot json\n{"id": "c"}\n')
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and len(out) == 3
    assert "error" in out[1] and out[2]["id"] == "c" and "text" in out[2]["error"]


def test_plan_validate_names_every_problem(tmp_path):
    broken = (ROOT / "chalicelib/plans/default.yaml").read_text().replace("default_category: no_action",
                                                                          "default_category: nothing")
    (tmp_path / "plan.yaml").write_text(broken)
    done = run("plan", "validate", str(tmp_path / "plan.yaml"))
    assert done.returncode == 1 and "default_category: unknown category 'nothing'" in done.stdout
    assert run("plan", "validate", str(ROOT / "chalicelib/plans/default.yaml")).returncode == 0


def test_unknown_command_shows_usage():
    done = run("frobnicate")
    assert done.returncode == 2 and "classify" in done.stderr
