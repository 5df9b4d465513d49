"""``python -m chalicelib.cli ops-token``: tokens for the ops API besides ``OPS_ADMIN_TOKEN``.

* ``ops-token create --name NAME [--role issues:read ...] [--days 90]``: prints the new token once; only its
  SHA-256 is stored (the stage's ops-tokens table; ``STAGE``, and ``AWS_ENDPOINT_URL`` for the local stack).
* ``ops-token revoke --name NAME``: deletes every token of that name.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import TextIO

from chalicelib.domain.ops import Role


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli ops-token", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create")
    create.add_argument("--name", required=True, help="who or what holds it (shown on the audit trail)")
    create.add_argument("--role", action="append", choices=[r.value for r in Role], default=None,
                        help=f"repeatable; default {Role.ISSUES_READ.value}")
    create.add_argument("--days", type=int, default=90, help="valid for this many days (default 90)")
    commands.add_parser("revoke").add_argument("--name", required=True)
    args = parser.parse_args(argv)

    from chalicelib.adapters.ops_tokens import DynamoOpsTokens
    from chalicelib.settings import resources

    tokens = DynamoOpsTokens(resources().ops_tokens_table)
    if args.command == "create":
        if not 1 <= args.days <= 366:
            parser.error("--days: 1 to 366")
        roles = [Role(r) for r in (args.role or [Role.ISSUES_READ.value])]
        stdout.write(tokens.create(args.name, roles, args.days, datetime.now(timezone.utc)) + "\n")
        return 0
    removed = tokens.revoke(args.name)
    stdout.write(f"revoked {removed} token(s) named {args.name}\n")
    return 0 if removed else 1
