"""The README's command examples are what the commands do: every example line parses with the real argument
parser, and the offline ones run and answer in the shape the README shows. (The examples that touch AWS or the
ops API run against the real local stack in ``tests/e2e/test_readme_examples.py``.)"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.offline_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
CLI_PREFIXES = ("social-response ", ".venv/bin/python -m chalicelib.cli ", "python -m chalicelib.cli ")


@dataclass
class Example:
    """One command line of a README ``bash`` block: what precedes the command (an ``echo ... |``), the command's
    arguments, its stdin redirection, and the lines the README shows as its output."""

    line: int
    text: str
    pipe_from: str | None
    argv: list[str]
    stdin_file: str | None
    shown: list[str] = field(default_factory=list)
    block: int = 0

    @property
    def command(self) -> str:
        return self.argv[0]


def _strip_comment(line: str) -> str:
    """The line without its trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote == ch else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_examples(readme: Path | None = None) -> list[Example]:
    """The README's command examples (``README_EXAMPLES_FILE``: check a draft of it before it replaces the README)."""
    readme = readme or Path(os.environ.get("README_EXAMPLES_FILE") or ROOT / "README.md")
    lines = readme.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    in_bash, block, i = False, 0, 0
    while i < len(lines):
        raw = lines[i]
        if raw.startswith("```"):
            in_bash = raw.strip() == "```bash" and not in_bash
            block += in_bash
            i += 1
            continue
        if not in_bash:
            i += 1
            continue
        start = i
        text = raw
        while text.endswith("\\") and i + 1 < len(lines):  # a command continued on the next line
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        i += 1
        command = _strip_comment(text.strip())
        head, _, tail = command.rpartition("| ") if "| " in command else ("", "", command)
        found = next((p for p in CLI_PREFIXES if tail.startswith(p)), None)
        if found is None:
            if (
                examples
                and examples[-1].block == block
                and command
                and not any(
                    command.startswith(w) for w in ("export", "curl", "make", "aws", "for", "done", "python", "#")
                )
            ):
                examples[-1].shown.append(command)  # an output line the README shows under the command
            continue
        words = shlex.split(tail[len(found) :])
        stdin_file = None
        if "<" in words:
            at = words.index("<")
            stdin_file, words = words[at + 1], words[:at] + words[at + 2 :]
        examples.append(
            Example(
                line=start + 1,
                text=command,
                pipe_from=head.strip() or None,
                argv=words,
                stdin_file=stdin_file,
                block=block,
            )
        )
    return examples


PLACEHOLDERS = {
    "<issue_id>": "iss-20261124T064001-b808f3fd",
    "<other_issue_id>": "iss-20261124T064501-44a92182",
    "<token>": "t" * 43,
    "<region>": "us-east-1",
    "<mention>": "x#1",
    "<author_id>": "1234",
    "<platform>": "x",
}


def filled(argv: list[str], values: dict[str, str] | None = None) -> list[str]:
    values = {**PLACEHOLDERS, **(values or {})}
    return [values.get(word, word) for word in argv]


def test_the_readme_has_command_examples_for_the_commands_it_documents():
    examples = readme_examples()
    from chalicelib.cli import COMMANDS

    assert {e.command for e in examples} >= {"classify", "detect-surges", "issues", "metrics", "plan", "ops-token"}
    assert all(e.command in COMMANDS for e in examples), [e.text for e in examples if e.command not in COMMANDS]


def test_every_readme_example_parses_with_the_real_argument_parser():
    from chalicelib.cli import build_parser

    for example in readme_examples():
        parser, _ = build_parser(example.command)
        try:
            args = parser.parse_args(filled(example.argv))
        except SystemExit as refused:  # pragma: no cover - the failure message names the line
            raise AssertionError(f"README line {example.line}: {example.text!r} is refused ({refused.code})") from None
        assert callable(args.run), example.text


def run(argv: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    return run_cli(argv, stdin)


def shape_matches(shown: str, answered: dict) -> list[str]:
    """Where ``answered`` differs from the JSON line the README shows (``...`` stands for any value)."""
    expected = json.loads(re.sub(r"(?<![\"\w])\.\.\.(?![\"\w])", "null", shown))
    problems = [] if set(expected) == set(answered) else [f"keys {sorted(expected)} != {sorted(answered)}"]
    for key, value in expected.items():
        if value not in (None, "...") and answered.get(key) != value:
            problems.append(f"{key}: README shows {value!r}, the command answers {answered.get(key)!r}")
    return problems


def test_the_offline_examples_answer_what_the_readme_shows(tmp_path):
    ran = 0
    for example in readme_examples():
        if example.command == "classify":
            assert example.pipe_from and example.pipe_from.startswith("echo "), example.text
            stdin = shlex.split(example.pipe_from)[1] + "\n"
            done = run(filled(example.argv), stdin)
            assert done.returncode == 0, done.stderr
            answered = [json.loads(line) for line in done.stdout.splitlines()]
            assert len(answered) == 1 and example.shown, example.text
            assert shape_matches(example.shown[0], answered[0]) == [], f"README line {example.line}"
            ran += 1
        elif example.command == "plan" and example.argv[1] == "validate":
            plan = tmp_path / example.argv[2]
            plan.write_text((ROOT / "chalicelib/plans/default.yaml").read_text())
            done = run(["plan", "validate", str(plan)])
            assert done.returncode == 0 and done.stdout.startswith("valid: Aurelle, "), done.stdout + done.stderr
            ran += 1
        elif example.command == "detect-surges":
            rows = [
                {
                    "id": f"m{i}",
                    "created_at": f"2026-11-24T06:{40 - i:02d}:00+00:00",
                    "text": "my Nova sneakers fell apart",
                    "product": "Nova Sneakers",
                }
                for i in range(3)
            ]
            done = run(filled(example.argv), "".join(json.dumps(r) + "\n" for r in rows))  # out of order
            if "--sort" in example.argv:
                assert done.returncode == 0, done.stderr
                assert all(
                    set(json.loads(line)) == {"key", "detected_at", "window_start", "count", "baseline"}
                    for line in done.stdout.splitlines()
                )
            else:
                assert done.returncode == 1 and "line 2" in done.stderr  # unsorted input is refused with its line
            ran += 1
    assert ran >= 3
