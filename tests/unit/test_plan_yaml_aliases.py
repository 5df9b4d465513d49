"""A plan's YAML is read without anchors or aliases, nested at most MAX_PLAN_NESTING deep and no larger than a
version may store (review r3): an alias repeats its anchored node wherever it appears, so 18 KB of aliases of
aliases read as 360 MB of plan, and a viewer's POST /plans/validate took 5.6 s and 1.3 GB before its 413. Each is
refused as the YAML is read, with the line where it is, before anything is built."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from chalicelib.cli import main
from chalicelib.domain.plan import (
    MAX_STORED_PLAN_BYTES,
    PlanError,
    PlanTooLarge,
    load_plan_yaml,
    read_yaml,
)
from chalicelib.services.plan_check import plan_problems
from tests.plan_texts import plan_with

BUNDLED = Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml"
PLAN = BUNDLED.read_text(encoding="utf-8")
REFUSED = "a plan may not use YAML anchors or aliases"


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def amplified(rules: int, topics: int, word: int = 1000) -> str:
    """The reviewer's plan: one rule repeated ``rules`` times by aliases, its topics ``topics`` aliases of one
    ``word``-character string (``rules * topics * word`` characters once expanded)."""
    head, _, rest = PLAN.partition("rules:\n")
    listed = "[" + ", ".join([f"&w {'a' * word}", *["*w"] * (topics - 1)]) + "]"
    rule = f"  - &r {{name: bomb, when: {{topic_in: {listed}}}, category: high_priority, severity: critical}}\n"
    return head + "rules:\n" + rule + "".join("  - *r\n" for _ in range(rules - 1)) + rest


# Plans that are valid once their anchors and aliases are written out: harmless here, refused all the same (a plan
# never needs them, and telling a small alias from an amplifying one would mean expanding it).
SHARED_LIST = plan_with(
    "  - name: data leak\n    when: {risk_flags_any: [data_leak]}",
    "  - name: data leak\n    when: {risk_flags_any: *legal}",
    plan_with("when: {risk_flags_any: [legal_threat]}", "when: {risk_flags_any: &legal [legal_threat]}"),
)
MERGED = plan_with(
    "  - name: data leak\n    when: {risk_flags_any: [data_leak]}",
    "  - <<: *first\n    name: data leak",
    plan_with("rules:\n  - name: legal threat\n", "rules:\n  - &first\n    name: legal threat\n"),
)


@pytest.mark.parametrize(
    ("text", "marker", "used"),
    [
        (SHARED_LIST, "&legal", "an anchor (&legal)"),
        (MERGED, "&first", "an anchor (&first)"),
        (amplified(300, 300), "&r", "an anchor (&r)"),
        ("brand: acme\nteams: *nowhere\n", "*nowhere", "an alias (*nowhere)"),
    ],
    ids=["shared-list", "merge-key", "amplified", "alias"],
)
def test_anchors_and_aliases_are_refused_with_their_line(text, marker, used):
    line = line_of(text, marker)
    with pytest.raises(
        PlanError, match=rf"not valid YAML: found {used.replace('(', '.').replace(')', '.')}: {REFUSED}"
    ):
        load_plan_yaml(text)
    problems = plan_problems(text)  # what POST /plans/validate answers and `plan validate` prints
    assert [(p.line, p.place) for p in problems] == [(line, "plan")]
    assert f"line {line}," in problems[0].problem and REFUSED in problems[0].problem


def test_plan_validate_names_the_file_line_and_the_anchor(tmp_path):
    (tmp_path / "plan.yaml").write_text(SHARED_LIST, encoding="utf-8")
    out = io.StringIO()
    assert main(["plan", "validate", str(tmp_path / "plan.yaml")], io.StringIO(), out) == 1
    first, summary = out.getvalue().splitlines()
    line = line_of(SHARED_LIST, "&legal")
    assert first.startswith(f"{tmp_path / 'plan.yaml'}:{line}: plan: not valid YAML: found an anchor (&legal): ")
    assert summary == "invalid plan: 1 problem(s)"


def nested(depth: int) -> str:
    """A plan with lists ``depth`` collections deep, counting the plan's own mapping."""
    return plan_with("rules:\n", f"deep: {'[' * (depth - 1)}x{']' * (depth - 1)}\nrules:\n")


def test_nesting_past_the_bound_is_refused_with_its_line():
    from chalicelib.domain.plan import MAX_PLAN_NESTING

    assert isinstance(read_yaml(nested(MAX_PLAN_NESTING)), dict)  # read (the plan's checks refuse the field, later)
    text = nested(MAX_PLAN_NESTING + 1)
    with pytest.raises(PlanError, match=f"nested too deeply: a plan's values nest at most {MAX_PLAN_NESTING} levels"):
        read_yaml(text)
    assert [(p.line, p.place) for p in plan_problems(text)] == [(line_of(text, "deep: ["), "plan")]


def test_yaml_too_large_to_store_is_refused_before_it_is_read():
    text = "[unclosed: " + "é" * (MAX_STORED_PLAN_BYTES // 2)  # 300,011 bytes: not YAML, and never parsed
    with pytest.raises(PlanTooLarge, match=f"its YAML alone takes 300,011 bytes, at most {MAX_STORED_PLAN_BYTES:,}"):
        read_yaml(text)
    read_yaml("brand: " + "x" * (MAX_STORED_PLAN_BYTES - 7))  # at the bound: read


def test_the_bundled_plan_still_loads():
    assert load_plan_yaml(PLAN).brand
    assert plan_problems(PLAN) == []
