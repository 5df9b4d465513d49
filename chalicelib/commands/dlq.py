"""``social-response dlq``: the dead-letter queues (--stage, --endpoint-url).

dlq list [--json]                    each queue's messages: ids, failure, receive count; never the bodies
dlq redrive QUEUE [--message-id ID]  send one message (or all) back to the queue it came from
"""

from __future__ import annotations

import argparse
from typing import TextIO

from chalicelib.commands.common import aws_options, emit, json_option, table, use_stage


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    listing = actions.add_parser(
        "list",
        help="each queue's messages, bodies redacted to ids",
        description="Each dead-letter queue's messages, bodies redacted to ids.",
    )
    json_option(listing)
    redrive = actions.add_parser(
        "redrive",
        help="send messages back to their source queue",
        description="Send one message (or all) back to the queue it came from.",
    )
    redrive.add_argument("queue", help="the dead-letter queue's name (dlq list shows them)")
    redrive.add_argument("--message-id", help="only this message (default: all)")
    for sub in (listing, redrive):
        aws_options(sub)
        sub.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from chalicelib.cli import CliError

    use_stage(args)
    from chalicelib.bootstrap import dead_letters

    letters = dead_letters()
    if args.action == "list":
        peeked = {queue: letters.peek(queue, 50) for queue in letters.sources}
        if args.json:
            emit(
                stdout,
                [
                    {"queue": queue, "source": letters.sources[queue], "messages": messages}
                    for queue, messages in peeked.items()
                ],
            )
            return 0
        rows = [
            {**message, "ids": " ".join(f"{k}={v}" for k, v in message["ids"].items())}
            for messages in peeked.values()
            for message in messages
        ]
        table(stdout, rows, ["queue", "message_id", "receive_count", "failure", "ids"])
        return 0
    if args.queue not in letters.sources:
        raise CliError(f"queue: not one of {', '.join(letters.sources)}")
    try:
        moved = letters.redrive(args.queue, args.message_id)
    except LookupError as none:
        raise CliError(str(none)) from None
    if args.message_id and not moved:
        raise CliError(f"no message {args.message_id} in {args.queue}")
    stdout.write(f"redrove {moved} message(s) from {args.queue}\n")
    return 0
