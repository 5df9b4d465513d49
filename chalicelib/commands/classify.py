"""``social-response classify``: JSONL mentions on stdin → JSONL classifications on stdout.

Input lines need ``{"id", "text"}``; any generic-webhook field may be present (``platform``, ``author``,
``rating``, ``product`` ...) and joins the text signals in the plan's rules, as the live triage reads them. Lines
come from real exports, so a field classification does not read (``created_at``, ``url``, the author's id and
name) never costs a line its classification: an unusable one is ignored (times are read in the common forms:
:mod:`chalicelib.domain.event_times`); a ``platform`` is normalised to a name (``"My Shop"`` -> ``my-shop``).
Output, one line per input, same order:
``{"id", "complaint", "complaint_score", "sentiment", "topic", "category", "severity"}``. A line that cannot be
classified (not a JSON object, no ``id`` or string ``text``, a value classification reads that is out of its bounds:
a rating of 11, a negative follower count) gives ``{"id": ..., "error": "..."}`` in its place and the exit status 1.
Offline: no AWS calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from pydantic import ValidationError

from chalicelib.commands.common import classified, load_plan, offline_mention
from chalicelib.domain.models import Mention
from chalicelib.domain.plan import ResponsePlan
from chalicelib.domain.signals import TextSignals
from chalicelib.domain.text_safety import escape_json_controls
from chalicelib.domain.validation import describe_validation_error


def to_mention(row: dict[str, Any]) -> Mention:
    """The mention a line stands for (:func:`chalicelib.commands.common.offline_mention`)."""
    return offline_mention(row)


def classify_row(row: dict[str, Any], plan: ResponsePlan, analyze: Callable[[str], TextSignals]) -> dict[str, Any]:
    _mention, result = classified(row, plan, analyze)
    return {
        "id": row["id"],
        "complaint": result.complaint,
        "complaint_score": result.complaint_score,
        "sentiment": result.sentiment,
        "topic": result.topic,
        "category": result.category,
        "severity": result.severity.value,
    }


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help="a response plan YAML file (default: the bundled plan)")
    parser.set_defaults(run=run)


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    from chalicelib.cli import main as cli

    return cli(["classify", *argv], stdin, stdout)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from chalicelib.domain.signals import analyze_one

    plan = load_plan(args.plan)
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        row: Any = None
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("each line must be a JSON object")
            out = classify_row(row, plan, analyze_one)
        except (ValueError, ValidationError, TypeError, RecursionError) as error:  # RecursionError: deep nesting
            status = 1
            message = (
                describe_validation_error(error, limit=None)
                if isinstance(error, ValidationError)
                else str(error).splitlines()[0]
            )
            out = {"id": row.get("id") if isinstance(row, dict) else None, "error": f"line {number}: {message}"}
            print(f"classify: line {number}: {message}", file=sys.stderr)
        stdout.write(json_line(out))
    return status


def json_line(out: dict[str, Any]) -> str:
    """One output line, UTF-8 as read; escaped where the input held what UTF-8 cannot carry (a lone surrogate,
    ``"\\ud800"``), so one odd id never stops the stream."""
    line = escape_json_controls(json.dumps(out, ensure_ascii=False))  # DEL, C1: escaped, never raw to a terminal
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(out)
    return line + "\n"
