"""``social-response alerts [--limit 50] [--json]``: the stored alerts (sent, or deferred into the hour's digest),
newest first, from the stage's alerts table (--stage, --endpoint-url)."""

from __future__ import annotations

import argparse
from typing import TextIO

from chalicelib.commands.common import aws_options, emit, json_option, table, use_stage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    aws_options(parser)
    json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from chalicelib.cli import CliError

    if not 1 <= args.limit <= 500:
        raise CliError("--limit: 1 to 500")
    use_stage(args)
    from chalicelib.bootstrap import stored_alerts

    alerts = stored_alerts().recent(args.limit)
    if args.json:
        emit(stdout, alerts)
    else:
        table(stdout, alerts, ["at", "kind", "state", "key"])
    return 0
