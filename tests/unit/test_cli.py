"""The command line as users and acceptance checks call it: a subprocess, JSONL in and out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.offline_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {"id", "complaint", "complaint_score", "sentiment", "topic", "category", "severity"}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return run_cli(args, stdin, timeout=60)


def test_classify_answers_one_line_per_input_in_order_with_the_contract_fields():
    rows = [
        {"id": "a", "text": "My Lina trench coat ripped after one wear and support never answered"},
        {"id": 7, "text": "Love the new Sol dress!", "platform": "instagram"},
        {"id": "c", "text": "I will sue you if I don't get my refund", "author": {"handle": "h", "followers": 2}},
    ]
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


def test_classify_answers_every_line_after_one_it_cannot_read_or_write():
    deep = '{"id": "d", "text": ' + "[" * 100_000 + "]" * 100_000 + "}"  # past the JSON decoder's recursion limit
    lone_surrogate = '{"id": "\\ud800", "text": "hi"}'  # valid JSON that UTF-8 cannot carry back out
    done = run("classify", stdin="\n".join((deep, lone_surrogate, '{"id": "c", "text": "still here?"}')) + "\n")
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and len(out) == 3 and "Traceback" not in done.stderr
    assert "recursion" in out[0]["error"] and out[1]["id"] == "\ud800" and "error" in out[1]
    assert out[2]["id"] == "c" and "category" in out[2]


def test_classify_writes_no_terminal_control_character_raw():
    # an id with a C1 CSI, DEL and a line separator: valid UTF-8, echoed back escaped, the same value once parsed
    done = run("classify", stdin='{"id": "a\\u009b2Jb\\u007fc\\u2028d", "text": "fine"}\n')
    assert not any(ch in done.stdout for ch in "\x9b\x7f\u2028")
    assert json.loads(done.stdout)["id"] == "a\x9b2Jb\x7fc\u2028d"


def test_plan_validate_names_every_problem(tmp_path):
    broken = (
        (ROOT / "chalicelib/plans/default.yaml")
        .read_text()
        .replace("default_category: no_action", "default_category: nothing")
    )
    (tmp_path / "plan.yaml").write_text(broken)
    done = run("plan", "validate", str(tmp_path / "plan.yaml"))
    assert done.returncode == 1 and "default_category: unknown category 'nothing'" in done.stdout
    assert run("plan", "validate", str(ROOT / "chalicelib/plans/default.yaml")).returncode == 0


def test_plan_validate_refuses_offline_a_plan_too_large_to_store(tmp_path):
    bundled = (ROOT / "chalicelib/plans/default.yaml").read_text()
    big = bundled.replace("\ndescription: >\n", "\ndescription: >\n  " + "x" * 210_000 + "\n", 1)
    assert big != bundled
    (tmp_path / "big.yaml").write_text(big)
    done = run("plan", "validate", str(tmp_path / "big.yaml"))
    assert done.returncode == 1 and "too large to store" in done.stdout


def test_unknown_command_shows_usage():
    done = run("frobnicate")
    assert done.returncode == 2 and "classify" in done.stderr


def test_help_at_every_level_describes_the_commands():
    top = run("--help")
    assert top.returncode == 0 and top.stderr == ""
    for command in ("classify", "detect-surges", "issues", "metrics", "plan", "ops-token"):
        assert command in top.stdout
    assert "list, show, assign, resolve and note" in top.stdout  # a one-line description each
    for path in (
        ["issues"],
        ["issues", "assign"],
        ["plan", "validate"],
        ["ops-token", "create"],
        ["metrics"],
        ["detect-surges"],
        ["classify"],
    ):
        done = run(*path, "--help")
        assert done.returncode == 0 and "usage: social-response " + " ".join(path) in done.stdout, path
    assert "--stage" in run("ops-token", "list", "--help").stdout
    assert "--endpoint-url" in run("plan", "upload", "--help").stdout


def test_a_token_name_refused_says_why():
    done = run("ops-token", "create", "--name", "admin", "--role", "viewer")
    assert done.returncode == 1 and "reserved" in done.stderr and "Traceback" not in done.stderr
    done = run("ops-token", "create", "--name", "bad name!", "--role", "viewer")
    assert done.returncode == 1 and "letters, digits" in done.stderr
    done = run("ops-token", "create", "--name", "x" * 65, "--role", "viewer")
    assert done.returncode == 1 and "at most 64" in done.stderr


def test_usage_errors_exit_2_and_bad_input_1_one_line_each_never_a_traceback(tmp_path):
    for args in (["issues"], ["ops-token", "create", "--name", "x"], ["plan", "frobnicate"], ["--nope"]):
        done = run(*args)
        assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr, args
    done = run("plan", "validate", str(tmp_path / "missing.yaml"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "missing.yaml" in done.stderr
    done = run("issues", "list", "--token", "t", "--api-url", "http://127.0.0.1:9")
    assert done.returncode == 1 and "cannot reach the ops API" in done.stderr and "Traceback" not in done.stderr


def test_aws_commands_refuse_a_deployed_stage_unless_named_and_a_local_one_without_an_endpoint():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "STAGE": "prod", "AWS_DEFAULT_REGION": "us-east-1"}
    done = run_cli(["ops-token", "list"], timeout=60, env=env)
    assert done.returncode == 1 and "--stage prod" in done.stderr
    # the refusal as written, not an exception's class (`python -m` loads the CLI module twice)
    assert "error: STAGE=prod is a deployed stage" in done.stderr and "CliError" not in done.stderr
    env = {k: v for k, v in env.items() if k != "STAGE"} | {"MOTO_PORT": "9"}  # nothing listens there
    done = run_cli(["plan", "list"], timeout=60, env=env)  # the local stage: make run's moto, by default
    assert done.returncode == 1 and "http://127.0.0.1:9" in done.stderr and "--endpoint-url" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli(["plan", "list"], timeout=60, env=env | {"STAGE": "test"})  # no stack serves the test stage
    assert done.returncode == 1 and "lives on the local stack" in done.stderr


def test_plan_validate_lists_field_and_reference_problems_in_one_pass_with_lines(tmp_path):
    text = (ROOT / "chalicelib/plans/default.yaml").read_text()
    broken = text.replace("default_category: no_action", "default_category: nothing") + "\ninfluencer_followers: -1\n"
    (tmp_path / "plan.yaml").write_text(broken)
    done = run("plan", "validate", str(tmp_path / "plan.yaml"))
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    line_of = next(i for i, line in enumerate(broken.splitlines(), 1) if line.startswith("default_category:"))
    assert f"{tmp_path / 'plan.yaml'}:{line_of}: default_category: unknown category 'nothing'" in lines
    assert any(
        line.endswith(": influencer_followers: Input should be greater than or equal to 0") for line in lines
    )  # the field problem, in the same run


def test_detect_surges_refuses_out_of_order_input_with_its_line_or_sorts_it():
    rows = [
        '{"id": "1", "created_at": "2026-11-20T10:00:00Z", "text": "ok"}',
        '{"id": "2", "created_at": "2026-11-20T09:00:00Z", "text": "ok"}',
    ]
    done = run("detect-surges", stdin="\n".join(rows) + "\n")
    assert done.returncode == 1 and "line 2" in done.stderr and "--sort" in done.stderr
    done = run("detect-surges", "--sort", stdin="\n".join(rows) + "\n")
    assert done.returncode == 0 and "2 lines read, 0 skipped, 0 alerts" in done.stderr


# Every leaf command: (command, action) -> does it touch AWS directly (needs --stage/--endpoint-url), does it only
# read (needs --json). The ops API commands (issues, metrics) take --api-url/--token instead of AWS options.
AWS_COMMANDS = {
    ("plan", "upload"),
    ("plan", "list"),
    ("plan", "show"),
    ("plan", "activate"),
    ("plan", "retire"),
    ("plan", "review"),
    ("ops-token", "create"),
    ("ops-token", "list"),
    ("ops-token", "revoke"),
    ("alerts", None),
    ("dlq", "list"),
    ("dlq", "redrive"),
    ("erase", None),
    ("backfill-assignee-shard", None),
    ("report", None),
}
READING = {
    ("issues", "list"),
    ("issues", "show"),
    ("metrics", None),
    ("plan", "list"),
    ("plan", "show"),
    ("ops-token", "list"),
    ("alerts", None),
    ("dlq", "list"),
}
SKIPPED = {"detect-surges", "report"}  # the surge and report engineers' commands, checked in their tests


def leaves():
    """(command, action, parser) for every leaf of the argparse tree, each command's module loaded."""
    import argparse

    from chalicelib.cli import COMMANDS, build_parser

    for name in COMMANDS:
        _, subparsers = build_parser(name)
        parser = subparsers[name]
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            yield name, None, parser
            continue
        for action, sub in actions[0].choices.items():
            yield name, action, sub


def test_every_leaf_has_help_a_description_and_the_options_its_kind_needs():
    seen = set()
    for command, action, parser in leaves():
        seen.add((command, action))
        options = {option for a in parser._actions for option in a.option_strings}
        assert parser.description and "-h" in options, (command, action)
        if command in SKIPPED:
            continue
        touches_aws = (command, action) in AWS_COMMANDS
        assert touches_aws == ({"--stage", "--endpoint-url"} <= options), (command, action)
        if (command, action) in READING:
            assert "--json" in options, (command, action)
    assert AWS_COMMANDS - {k for k in AWS_COMMANDS if k[0] in SKIPPED} <= seen
    for path in (["erase"], ["plan", "review"], ["issues", "merge"], ["issues", "split"], ["dlq", "redrive"]):
        done = run(*path, "--help")
        assert done.returncode == 0 and done.stderr == "" and "usage: social-response" in done.stdout, path


def test_erase_and_plan_changes_refuse_a_deployed_stage_unless_named():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "STAGE": "prod", "AWS_DEFAULT_REGION": "us-east-1"}
    for args in (["erase", "--platform", "x", "--author", "1"], ["plan", "activate", "2"], ["plan", "review", "1"]):
        done = run_cli(args, timeout=60, env=env)
        assert done.returncode == 1 and "--stage prod" in done.stderr and done.stderr.count("\n") == 1, args
    done = run("erase", "--platform", "x")
    assert done.returncode == 2 and "--author" in done.stderr and "Traceback" not in done.stderr
    done = run("plan", "review", "one")
    assert done.returncode == 2 and "invalid int value" in done.stderr
