"""``social-response erase --platform P --author ID``: the right to erasure.

Removes or redacts the author's mentions, names, handles and texts everywhere the stage stores them (mentions,
issues, the audit trail's details, approvals, outbox, surveys, surge links, alerts; dedup keys naming the author
are deleted), and records a redacted audit event (under ``erasures`` and on each issue concerned) saying what was
erased and by whom. Idempotent: run again, it finds nothing left and writes nothing.

  erase --platform x --author 1234567 --by dpo@aurelle.example
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime, timezone
from typing import TextIO

from chalicelib.commands.common import aws_options, emit, json_option, use_stage
from chalicelib.domain import limits


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", required=True, help="where the author posted: x, facebook, instagram ...")
    parser.add_argument(
        "--author", required=True, help="the author's id on that platform (their handle when the platform gave no id)"
    )
    parser.add_argument("--by", help="who asks for the erasure (the audit trail's actor; default: cli:<user>)")
    aws_options(parser)
    json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from chalicelib.cli import CliError

    if not args.platform.strip() or not args.author.strip():
        raise CliError("--platform and --author: not empty")
    try:  # named as the webhooks store it: "Google Play" was stored as google-play
        platform = limits.platform_name(args.platform)
    except ValueError as bad:
        raise CliError(f"--platform: {bad}") from None
    use_stage(args)
    from chalicelib.bootstrap import erasure_store
    from chalicelib.services.erasure import erase_author

    actor = args.by or f"cli:{getpass.getuser()}"
    result = erase_author(platform, args.author, actor, erasure_store(), datetime.now(timezone.utc))
    if args.json:
        emit(stdout, result.model_dump(mode="json"))
    elif not result.mentions:
        stdout.write(
            f"nothing to erase: no stored mention of {result.author} on {result.platform} "
            "(erased already, or never stored)\n"
        )
    else:
        where = ", ".join(f"{table} {count}" for table, count in sorted(result.redacted.items())) or "nowhere else"
        stdout.write(
            f"erased {result.mentions} mention(s) of {result.author} on {result.platform}; "
            f"issues {', '.join(result.issues) or '-'}; redacted: {where}\n"
        )
    if platform in limits.BUILT_IN_PLATFORMS and not result.mentions:
        stdout.write(f"(mentions a generic webhook sent as {platform} are stored as generic-{platform})\n")
    if result.left:
        stdout.write(f"{result.left} more arrived while this ran: run erase again\n")
    return 0
