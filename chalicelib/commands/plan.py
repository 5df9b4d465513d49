"""``social-response plan``: check, upload and list response plan versions.

  plan validate FILE            every problem in one pass, each as FILE:LINE: place: problem; exit 1 if any. Offline.
  plan upload FILE --by EMAIL   validate, store as the next version, make it active, retire the previous one
  plan list [--json]            the versions and their status

A field's problems and the plan's cross-references (a rule's unknown category ...) are reported together: the
parts with field problems are set aside and the rest is checked again, so fixing one kind never reveals the other.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import TextIO

from chalicelib.cli import CliError
from chalicelib.commands.common import aws_options, emit, json_option, table, use_stage
from chalicelib.services.plan_check import plan_problems

def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    validate = actions.add_parser("validate", help="list every problem of a plan file, offline",
                                  description="Every problem of a plan file, with its line. Offline.")
    validate.add_argument("file")
    upload = actions.add_parser("upload", help="validate, store and activate a plan file",
                                description="Validate, store as the next version, activate.")
    upload.add_argument("file")
    upload.add_argument("--by", required=True, help="who uploads (kept with the version)")
    listing = actions.add_parser("list", help="the stored versions and their status", description="Plan versions.")
    json_option(listing)
    for sub in (upload, listing):
        aws_options(sub)
    for sub in (validate, upload, listing):
        sub.set_defaults(run=run)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read: {error}") from None


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    if args.action == "list":
        use_stage(args)
        from chalicelib.bootstrap import plan_store

        versions = sorted(plan_store().versions(), key=lambda v: v["version"])
        if args.json:
            emit(stdout, versions)
        else:
            table(stdout, versions, [k for k in ("version", "status", "uploaded_by", "uploaded_at")
                                     if any(k in v for v in versions)] or ["version"])
        return 0
    text = _read(args.file)
    problems = plan_problems(text)
    if problems:
        for problem in problems:
            stdout.write(f"{args.file}:{problem.line}: {problem.place}: {problem.problem}\n")
        stdout.write(f"invalid plan: {len(problems)} problem(s)\n")
        return 1
    from chalicelib.domain.plan import load_plan_yaml

    plan = load_plan_yaml(text)
    if plan.review.overdue(date.today()):
        stdout.write(f"warning: the plan's review is overdue (last reviewed {plan.review.reviewed_on})\n")
    if args.action == "validate":
        stdout.write(f"valid: {plan.brand}, {len(plan.categories)} categories, {len(plan.rules)} rules, "
                     f"{len(plan.protocols)} protocols\n")
        return 0
    use_stage(args)
    from chalicelib.bootstrap import plan_store

    version = plan_store().upload(text, args.by)
    stdout.write(f"uploaded version {version}; it is now active\n")
    return 0


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    from chalicelib.cli import main as cli

    return cli(["plan", *argv], stdin, stdout)

