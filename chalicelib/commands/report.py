"""``social-response report [--week YYYY-Www] --out DIR``: the weekly report from the live store (--stage,
--endpoint-url), written into DIR as ``report-<week>.html`` (with its charts beside it,
``report-<week>-<chart>.png``), ``report-<week>.json`` (every figure, with its definitions) and
``report-<week>.csv`` (one row per issue of the week).

The week defaults to the last full ISO week, counted in the plan's report time zone. With ``--deliver`` it is
also stored in the report bucket (``reports/<week>/``, replacing an earlier run's files) and, unless that was done
already for the week, emailed to the plan's report recipients and announced on SNS.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from chalicelib.commands.common import aws_options, use_stage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", help="an ISO week, e.g. 2026-W47 (default: the last full week)")
    parser.add_argument(
        "--out", required=True, type=Path, help="the directory to write the files into (made if missing)"
    )
    parser.add_argument(
        "--deliver", action="store_true", help="also store it in S3 and email and announce it (each once per week)"
    )
    aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from chalicelib.cli import CliError
    from chalicelib.domain.report import BadWeek, parse_week

    if args.week:
        try:
            parse_week(args.week)
        except BadWeek as bad:
            raise CliError(str(bad)) from None
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out: {args.out} is not a directory")
    use_stage(args)
    from chalicelib import bootstrap

    bootstrap.reset()  # the stage and endpoint may have changed: build everything for them
    from chalicelib.services.reports import default_week, deliver_report, render_report

    now = datetime.now(timezone.utc)
    deps = bootstrap.report_deps()
    week = args.week or default_week(now, deps.plan)
    report, files = render_report(week, deps, now)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (body, _) in sorted(files.disk.items()):
        (args.out / name).write_bytes(body)
        stdout.write(f"{args.out / name}\n")
    stdout.flush()
    summary = report.summary.this_week
    print(
        f"report {week}: {report.volume.issues.this_week} issues (week before "
        f"{report.volume.issues.week_before}), {summary.sla.first_response.count} first-response SLAs applied, "
        f"{report.sla.breach_count.this_week} breaches",
        file=sys.stderr,
    )
    if args.deliver:
        delivery = deliver_report(week, deps, now, rendered=(report, files))
        print(
            f"stored {len(delivery.keys)} files under reports/{week}/; emailed {len(delivery.emailed)}; "
            f"announced: {'yes' if delivery.announced else 'no (already)'}",
            file=sys.stderr,
        )
    return 0
