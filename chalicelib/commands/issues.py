"""``social-response issues``: work issues through the ops API, with your token (its name is the actor on the
audit trail).

  issues list [--status open] [--assignee EMAIL] [--q TEXT] ...   a page of issues (--cursor for the next)
  issues show ID                                                  one issue, its mentions and its trail
  issues assign ID EMAIL                                          assign it (responder)
  issues resolve ID --note TEXT                                   resolve it with a resolution note (responder)
  issues note ID TEXT                                             add a note to its trail (responder)
  issues merge ID DUPLICATE_ID                                    fold a duplicate issue into ID (responder)
  issues split ID MENTION_KEY                                     a mention (platform#id) opens its own issue
"""

from __future__ import annotations

import argparse
from typing import TextIO
from urllib.parse import quote, urlencode

from chalicelib.commands.common import api, api_options, emit, json_option, table
from chalicelib.domain.text_safety import printable

FILTERS = (
    "status",
    "category",
    "assignee",
    "severity",
    "team",
    "platform",
    "product",
    "q",
    "since",
    "until",
    "limit",
    "cursor",
)
COLUMNS = ["issue_id", "status", "category", "severity", "assigned_to", "mention_count", "first_seen", "description"]


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    listing = actions.add_parser("list", help="a page of issues, filtered", description="A page of issues.")
    for name in FILTERS:
        listing.add_argument(f"--{name}", help=f"the {name} filter of GET /issues")
    listing.add_argument("--follow-up-required", choices=["true", "false"], help="only issues that do (not) need it")
    show = actions.add_parser("show", help="one issue with its mentions and trail", description="One issue.")
    show.add_argument("issue_id")
    assign = actions.add_parser("assign", help="assign an issue to someone", description="Assign an issue.")
    assign.add_argument("issue_id")
    assign.add_argument("assignee", help="an email or a name")
    resolve = actions.add_parser("resolve", help="resolve an issue with a note", description="Resolve an issue.")
    resolve.add_argument("issue_id")
    resolve.add_argument("--note", required=True, help="how it was resolved")
    note = actions.add_parser("note", help="add a note to an issue's trail", description="Add a note.")
    note.add_argument("issue_id")
    note.add_argument("text")
    merge = actions.add_parser("merge", help="fold a duplicate issue into this one", description="Merge issues.")
    merge.add_argument("issue_id", help="the issue that stays")
    merge.add_argument("from_issue", help="the duplicate: its mentions move over, it is closed as merged")
    split = actions.add_parser("split", help="split a mention off an issue into its own", description="Split.")
    split.add_argument("issue_id")
    split.add_argument("mention", help="the mention's key, <platform>#<external id> (issues show lists them)")
    for sub in (listing, show, assign, resolve, note, merge, split):
        api_options(sub)
        json_option(sub)
        sub.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    if args.action == "list":
        params = {name: getattr(args, name) for name in FILTERS if getattr(args, name) is not None}
        if args.follow_up_required:
            params["follow_up_required"] = args.follow_up_required
        page, _ = api(args, "GET", "/issues" + (f"?{urlencode(params)}" if params else ""))
        if args.json:
            emit(stdout, page)
        else:
            table(stdout, page["items"], COLUMNS)
            if page.get("next_cursor"):
                stdout.write(f"more: --cursor {printable(page['next_cursor'])}\n")
        return 0
    path = f"/issues/{quote(args.issue_id, safe='')}"
    if args.action == "show":
        detail, _ = api(args, "GET", path)
        if args.json:
            emit(stdout, detail)
            return 0
        for name, value in detail["issue"].items():  # authors' words: one line each, no control characters
            stdout.write(f"{printable(name)}: {'-' if value is None else printable(value)}\n")
        stdout.write("\nmentions (split one off with: issues split ID PK):\n")
        table(stdout, detail["mentions"], ["pk", "author_handle", "created_at", "text"])
        stdout.write("\nhistory:\n")
        table(stdout, detail["history"], ["at", "type", "actor", "details"])
        return 0
    if args.action == "assign":
        done, _ = api(args, "PATCH", path, {"assigned_to": args.assignee})
    elif args.action == "resolve":
        done, _ = api(args, "PATCH", path, {"status": "resolved", "resolution_note": args.note})
    elif args.action == "merge":
        done, _ = api(args, "POST", f"{path}/merge", {"from_issue": args.from_issue})
    elif args.action == "split":
        done, _ = api(args, "POST", f"{path}/split", {"mention": args.mention})
    else:
        done, _ = api(args, "POST", f"{path}/notes", {"text": args.text})
    if args.json:
        emit(stdout, done)
    else:
        stdout.write(
            printable(
                f"{done['issue_id']}: {done['status']}, assigned to {done.get('assigned_to') or 'nobody'}, "
                f"version {done['version']}"
            )
            + "\n"
        )
    return 0
