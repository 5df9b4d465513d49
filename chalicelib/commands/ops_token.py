"""``social-response ops-token``: ops API tokens besides ``OPS_ADMIN_TOKEN`` (also: POST/GET/DELETE /tokens).

  ops-token create --name NAME --role viewer|responder|admin [--days 90]   prints the new token once
  ops-token list [--json]                                                  names, roles, ids; never the tokens
  ops-token revoke (--name NAME | --id TOKEN_ID)                           deletes them

Only a token's SHA-256 is stored, in the stage's ops-tokens table (--stage, --endpoint-url).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import TextIO

from chalicelib.cli import CliError
from chalicelib.commands.common import aws_options, emit, json_option, table, use_stage
from chalicelib.domain.ops import Role


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    create = actions.add_parser("create", help="make a token and print it once", description="Make a token.")
    create.add_argument("--name", required=True, help="who or what holds it (the actor on the audit trail)")
    create.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="viewer reads; responder also works issues; admin also manages tokens and plans",
    )
    create.add_argument("--days", type=int, default=90, help="valid for this many days, 1 to 366 (default 90)")
    json_option(create)
    listing = actions.add_parser("list", help="the tokens' names, roles and ids", description="List tokens.")
    json_option(listing)
    revoke = actions.add_parser("revoke", help="delete tokens by name or id", description="Revoke tokens.")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="every token of that name")
    which.add_argument("--id", dest="token_id", help="the token with that id (ops-token list shows it)")
    for sub in (create, listing, revoke):
        aws_options(sub)
        sub.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    if args.action == "create" and not 1 <= args.days <= 366:
        raise CliError("--days: 1 to 366")
    if args.action == "create":
        from pydantic import ValidationError

        from chalicelib.domain.ops import TokenRequest

        try:
            TokenRequest(name=args.name, role=args.role, days=args.days)
        except ValidationError as bad:
            said = "; ".join(error["msg"].removeprefix("Value error, ") for error in bad.errors(include_url=False))
            if any(error["type"] == "string_pattern_mismatch" for error in bad.errors(include_url=False)):
                said = "letters, digits and _.@:+- only"
            raise CliError(f"--name: {said}") from None
    use_stage(args)
    from chalicelib.bootstrap import ops_tokens

    tokens = ops_tokens()
    if args.action == "create":
        token, record = tokens.create(args.name, Role(args.role), args.days, datetime.now(timezone.utc))
        if args.json:
            emit(stdout, {"token": token, **record})
        else:
            stdout.write(token + "\n")
        return 0
    if args.action == "list":
        records = tokens.list()
        if args.json:
            emit(stdout, records)
        else:
            table(stdout, records, ["token_id", "name", "role", "created_at", "expires_at"])
        return 0
    removed = tokens.revoke(name=args.name, token_id=args.token_id)
    if not removed:
        raise CliError(f"no token {'named ' + args.name if args.name else 'with id ' + args.token_id}")
    stdout.write(f"revoked {removed} token(s)\n")
    return 0
