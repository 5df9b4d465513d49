"""``python -m chalicelib.cli plan``: check, upload and list response plan versions.

* ``plan validate FILE``: every problem, with its place; exit 1 when there is one. Offline.
* ``plan upload FILE --by EMAIL``: validate, store as the next version, make it active, retire the previous one.
* ``plan list``: the versions and their status. ``upload`` and ``list`` use the stage's DynamoDB
  (``STAGE``; ``AWS_ENDPOINT_URL`` for the local stack).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TextIO

from chalicelib.domain.plan import PlanError, load_plan_yaml


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli plan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate").add_argument("file")
    upload = commands.add_parser("upload")
    upload.add_argument("file")
    upload.add_argument("--by", required=True, help="who uploads (kept with the version)")
    commands.add_parser("list")
    args = parser.parse_args(argv)

    if args.command == "list":
        from chalicelib.api.dependencies import plan_store

        for version in sorted(plan_store().versions(), key=lambda v: v["version"]):
            stdout.write(json.dumps(version) + "\n")
        return 0
    text = open(args.file, encoding="utf-8").read()
    try:
        plan = load_plan_yaml(text)
    except PlanError as error:
        stdout.write(f"invalid plan: {error}\n")
        return 1
    if plan.review.overdue(date.today()):
        stdout.write(f"warning: the plan's review is overdue (last reviewed {plan.review.reviewed_on})\n")
    if args.command == "validate":
        stdout.write(f"valid: {plan.brand}, {len(plan.categories)} categories, {len(plan.rules)} rules, "
                     f"{len(plan.protocols)} protocols\n")
        return 0
    from chalicelib.api.dependencies import plan_store

    version = plan_store().upload(text, args.by)
    stdout.write(f"uploaded version {version}; it is now active\n")
    return 0
