"""The README's command-line examples that touch AWS or the ops API, run as written (the endpoints swapped for this
stack's ports, ``<issue_id>`` and ``<token>`` filled in) against the real local stack, in the README's order; each
answers in the shape the README describes."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.local import deliveries
from infra.local.replay import keys_of, load_rows, post_delivery, shift_to_now
from infra.local.stack import LocalStack
from tests.unit.test_readme_examples import ROOT, filled, readme_examples

pytestmark = pytest.mark.e2e

# What each example prints (stdout), by command and action; an example not listed must simply succeed.
SHAPES = {
    ("ops-token", "create"): r"^\S{20,}\n$",  # the token, once, alone on its line
    ("issues", "list"): r"^ISSUE_ID\s+STATUS\s+CATEGORY",
    ("issues", "show"): r"^issue_id: iss-",
    ("issues", "assign"): r"^iss-\S+: \w+, assigned to \S+, version \d+\n$",
    ("issues", "note"): r"^iss-\S+: \w+, assigned to \S+, version \d+\n$",
    ("issues", "resolve"): r"^iss-\S+: resolved, assigned to \S+, version \d+\n$",
    ("issues", "merge"): r"^iss-\S+: \w+, assigned to \S+, version \d+\n$",
    ("issues", "split"): r"^iss-\S+: open, assigned to \S+, version \d+\n$",
    ("metrics", None): r"\S",
    ("alerts", None): r"^AT\s+KIND",
    ("dlq", "list"): r"\S|^$",
    ("plan", "review"): r"^version \d+: reviewed by \S+ on \d{4}-\d{2}-\d{2}; next review due by",
    ("erase", None): r"^(erased \d+ mention|nothing to erase)",
}
OFFLINE = ("classify", "detect-surges")  # run by tests/unit/test_readme_examples.py


def console(stack: LocalStack, argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "social-response"
    prefix = [str(command)] if command.exists() else [sys.executable, "-m", "chalicelib.cli"]
    return subprocess.run(
        [*prefix, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**stack.environment(), **env},
        timeout=120,
    )


def stored_issue(stack: LocalStack, row: dict, suffix: str, text: str, author: str) -> dict:
    """Deliver a complaint of its own (its own author) and answer its stored mention, once triaged."""
    complaint = {
        **row,
        "id": row["id"] + suffix,
        "text": text,
        "author": {**row["author"], "id": f"{author}-id", "handle": author, "name": author.title()},
    }
    delivery = deliveries.build(complaint)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    return next(
        item
        for item in stack.wait_until_stored(keys_of(delivery), timeout=60)
        if item["pk"] in keys_of(delivery) and item.get("issue_id")
    )


def test_the_readme_command_line_examples_run_against_the_local_stack(stack: LocalStack, tmp_path):
    row = next(r for r in shift_to_now(load_rows(), datetime.now(timezone.utc)) if r["route"] == "generic")
    first = stored_issue(
        stack,
        row,
        "-readme",
        "@aurelle my Lina trench coat ripped after one wear and support never answered",
        "readme_rita",
    )
    other = stored_issue(stack, row, "-readme-2", "Still no refund for my broken Luna tote strap", "readme_omar")
    assert first["issue_id"] != other["issue_id"]
    (tmp_path / "my-plan.yaml").write_text((ROOT / "chalicelib/plans/default.yaml").read_text())

    values = {
        "<issue_id>": first["issue_id"],
        "<other_issue_id>": other["issue_id"],
        "<mention>": other["pk"],
        "my-plan.yaml": str(tmp_path / "my-plan.yaml"),
        "<author_id>": "readme_rita-id",
        "<platform>": first["platform"],
    }
    env: dict[str, str] = {}
    ran = []
    for example in readme_examples():
        if example.command in OFFLINE or "--stage" in example.argv and "dev" in example.argv:
            continue
        argv = [
            word.replace("http://127.0.0.1:5000", stack.moto_url).replace("http://127.0.0.1:8000", stack.api_url)
            for word in filled(example.argv, values)
        ]
        if "SOCIAL_RESPONSE_TOKEN" not in env and example.command in ("issues", "metrics"):
            pytest.fail(f"README line {example.line}: an ops API example before any token was made")
        done = console(stack, argv, {**env, "SOCIAL_RESPONSE_API_URL": stack.api_url})
        assert done.returncode == 0, f"README line {example.line}: {example.text}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        action = example.argv[1] if len(example.argv) > 1 and not example.argv[1].startswith("-") else None
        shape = SHAPES.get((example.command, action), SHAPES.get((example.command, None)))
        if shape:
            assert re.search(shape, done.stdout, re.MULTILINE), f"README line {example.line}: {done.stdout!r}"
        if (example.command, action) == ("ops-token", "create"):
            env["SOCIAL_RESPONSE_TOKEN"] = done.stdout.strip()  # the README's `export ... SOCIAL_RESPONSE_TOKEN=`
        ran.append(example.text)
    assert len(ran) >= 8, ran
