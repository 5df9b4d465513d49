"""``social-response classify``: JSONL mentions on stdin → JSONL classifications on stdout.

Input lines need ``{"id", "text"}``; any generic-webhook field may be present (``platform``, ``author``,
``rating``, ``product`` ...) and joins the text signals in the plan's rules. Output, one line per input, same order:
``{"id", "complaint", "complaint_score", "sentiment", "topic", "category", "severity"}``. A line that cannot be
read gives ``{"id": ..., "error": "..."}`` in its place and the exit status 1. Offline: no AWS calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from chalicelib.domain.classification import classify, model_text
from chalicelib.domain.models import Author, Mention
from chalicelib.domain.plan import ResponsePlan, load_plan_yaml
from chalicelib.domain.validation import describe_validation_error
from chalicelib.platforms.generic import kind_of


def to_mention(row: dict[str, Any]) -> Mention:
    if "id" not in row or not isinstance(row.get("text"), str):
        raise ValueError('each line needs "id" and a string "text"')
    author = row.get("author") or {}
    created = row.get("created_at") or datetime.now(timezone.utc).isoformat()
    return Mention(
        platform=str(row.get("platform") or "unknown").lower(),
        external_id=str(row["id"]),
        text=row["text"],
        title=row.get("title"),
        rating=row.get("rating"),
        url=row.get("url"),
        created_at=created,
        parent_id=row.get("in_reply_to"),
        kind=kind_of(row.get("rating"), row.get("in_reply_to")),  # as the generic webhook takes the same fields
        product=row.get("product"),
        author=Author(
            **{k: author[k] for k in ("id", "handle", "name", "followers", "verified") if author.get(k) is not None}
        )
        if isinstance(author, dict)
        else Author(),
    )


def classify_row(row: dict[str, Any], plan: ResponsePlan, analyze) -> dict[str, Any]:
    mention = to_mention(row)
    signals = analyze(model_text(mention))
    result = classify(mention, signals, plan)
    return {
        "id": row["id"],
        "complaint": signals.complaint,
        "complaint_score": signals.complaint_score,
        "sentiment": signals.sentiment,
        "topic": signals.topic,
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
    from chalicelib.bootstrap import bundled_plan
    from chalicelib.cli import CliError
    from chalicelib.domain.plan import PlanError
    from chalicelib.domain.signals import analyze_one

    try:
        plan = load_plan_yaml(Path(args.plan).read_text(encoding="utf-8")) if args.plan else bundled_plan()
    except (OSError, UnicodeDecodeError, PlanError) as bad:
        raise CliError(f"--plan {args.plan}: {bad}") from None
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
    line = json.dumps(out, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(out)
    return line + "\n"
