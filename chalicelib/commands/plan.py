"""``social-response plan``: check, upload and list response plan versions.

  plan validate FILE            every problem in one pass, each as FILE:LINE: place: problem; exit 1 if any. Offline.
  plan upload FILE --by EMAIL   validate, store as the next version, make it active, retire the previous one
  plan list [--json]            the versions and their status
  plan show VERSION [--json]    one version (retired ones too) with its YAML
  plan activate VERSION         make a stored version active again (the active one is retired)
  plan retire VERSION           retire a version that is not active (it stays readable)
  plan review VERSION [--by EMAIL] [--on YYYY-MM-DD] [--note TEXT]
                                record a review: the plan's review block moves to that day (an audit event)

Each change is an audit event under ``plan`` (``--by``, default ``cli:<user>``, is its actor). The review is due
every ``review.review_every_days`` (90 by default): an overdue plan alerts on SNS and shows on the weekly report.

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
    validate = actions.add_parser(
        "validate",
        help="list every problem of a plan file, offline",
        description="Every problem of a plan file, with its line. Offline.",
    )
    validate.add_argument("file")
    upload = actions.add_parser(
        "upload",
        help="validate, store and activate a plan file",
        description="Validate, store as the next version, activate.",
    )
    upload.add_argument("file")
    upload.add_argument("--by", required=True, help="who uploads (kept with the version)")
    listing = actions.add_parser("list", help="the stored versions and their status", description="Plan versions.")
    json_option(listing)
    show = actions.add_parser("show", help="one stored version with its YAML", description="One plan version.")
    show.add_argument("version", type=int)
    json_option(show)
    changes = []
    for name, summary in (
        ("activate", "make a stored version the active plan"),
        ("retire", "retire a version that is not active (it stays readable)"),
        ("review", "record a review of a version (its review block moves to that day)"),
    ):
        change = actions.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        change.add_argument("version", type=int)
        change.add_argument("--by", help="who acts (and, for review, who reviewed); default cli:<user>")
        json_option(change)
        changes.append(change)
    changes[2].add_argument("--on", type=date.fromisoformat, help="the day of the review (default: today, UTC)")
    changes[2].add_argument("--note", help="what was decided")
    for sub in (upload, listing, show, *changes):
        aws_options(sub)
    for sub in (validate, upload, listing, show):
        sub.set_defaults(run=run)
    for sub in changes:
        sub.set_defaults(run=run_change)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read: {error}") from None


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    if args.action == "show":
        use_stage(args)
        from chalicelib.bootstrap import plan_lifecycle

        found = plan_lifecycle().get(args.version)
        if found is None:
            raise CliError(f"no plan version {args.version}")
        shown = {k: v for k, v in found.items() if k not in ("document", "pk", "sk")}
        if args.json:
            emit(stdout, shown)
        else:
            for name in ("version", "status", "uploaded_by", "uploaded_at", "reviewed_by", "reviewed_on"):
                stdout.write(f"{name}: {shown.get(name, '-')}\n")
            stdout.write("\n" + str(shown.get("yaml", "")))
        return 0
    if args.action == "list":
        use_stage(args)
        from chalicelib.bootstrap import plan_store

        versions = sorted(plan_store().versions(), key=lambda v: v["version"])
        if args.json:
            emit(stdout, versions)
        else:
            table(
                stdout,
                versions,
                [
                    k
                    for k in ("version", "status", "uploaded_by", "uploaded_at", "reviewed_on")
                    if any(k in v for v in versions)
                ]
                or ["version"],
            )
        return 0
    text = _read(args.file)
    problems = plan_problems(text)
    if problems:
        for problem in problems:
            stdout.write(f"{args.file}:{problem.line}: {problem.place}: {problem.problem}\n")
        stdout.write(f"invalid plan: {len(problems)} problem(s)\n")
        return 1
    from chalicelib.domain.plan import PlanTooLarge, check_stored_size, load_plan_yaml

    plan = load_plan_yaml(text)
    try:
        check_stored_size(plan, text)  # what upload would refuse: say so offline too
    except PlanTooLarge as too_large:
        stdout.write(f"{args.file}: {too_large}\ninvalid plan: 1 problem(s)\n")
        return 1
    if plan.review.overdue(date.today()):
        stdout.write(f"warning: the plan's review is overdue (last reviewed {plan.review.reviewed_on})\n")
    if args.action == "validate":
        stdout.write(
            f"valid: {plan.brand}, {len(plan.categories)} categories, {len(plan.rules)} rules, "
            f"{len(plan.protocols)} protocols\n"
        )
        return 0
    use_stage(args)
    from chalicelib.bootstrap import plan_store

    version = plan_store().upload(text, args.by)
    stdout.write(f"uploaded version {version}; it is now active\n")
    return 0


def run_change(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    import getpass
    from datetime import datetime, timezone

    use_stage(args)
    from chalicelib.bootstrap import plan_lifecycle
    from chalicelib.domain.plan_upkeep import PlanVersionConflict, PlanVersionMissing
    from chalicelib.services import upkeep

    actor = args.by or f"cli:{getpass.getuser()}"
    now = datetime.now(timezone.utc)
    try:
        if args.action == "activate":
            done = upkeep.activate_version(args.version, actor, plan_lifecycle(), now)
        elif args.action == "retire":
            done = upkeep.retire_version(args.version, actor, plan_lifecycle(), now)
        else:
            review = upkeep.ReviewBody(reviewed_by=args.by, reviewed_on=args.on, note=args.note)
            done = upkeep.record_review(args.version, review, actor, plan_lifecycle(), now)
    except (PlanVersionMissing, PlanVersionConflict, ValueError) as refused:
        raise CliError(str(refused)) from None
    if args.json:
        emit(stdout, done.model_dump(mode="json"))
    elif args.action == "review":
        assert done.review is not None
        stdout.write(
            f"version {done.version}: reviewed by {done.review.reviewed_by} on {done.review.reviewed_on}; "
            f"next review due by {done.review.due_on}\n"
        )
    elif not done.changed:
        stdout.write(f"version {done.version} is {done.status} already; nothing changed\n")
    else:
        replaced = f" (version {done.replaced} retired)" if done.replaced else ""
        stdout.write(f"version {done.version} is now {done.status}{replaced}\n")
    return 0


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    from chalicelib.cli import main as cli

    return cli(["plan", *argv], stdin, stdout)
