"""``social-response backfill-assignee-shard``: set ``assignee_shard`` on issues written before it.

An issue assigned before the person's index was write-sharded has ``assigned_to`` but no ``assignee_shard`` and is
missing from its person's listing (``GET /issues?assignee=``). This scans the issues table in parallel segments
and, for each assigned issue whose key is absent or wrong, sets it from its address and id, with one conditional
UpdateItem each: only if the issue is still assigned to the address read, so a reassignment made meanwhile is
never overwritten. Safe to run while the stage serves, and again: a second run updates nothing.

Prints one JSON line: {"dry_run", "segments", "scanned", "needing_update", "updated", "skipped", "conflicts"}
(counts only; conflicts: issues reassigned or unassigned between the read and the write, left as they are).

  backfill-assignee-shard --dry-run --endpoint-url http://127.0.0.1:5000   # count what a run would update
  backfill-assignee-shard --segments 8 --stage prod                        # write
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TextIO

from chalicelib.commands.common import aws_options, use_stage


def _segments(text: str) -> int:
    from chalicelib.services.backfill import MAX_SEGMENTS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 1 <= value <= MAX_SEGMENTS:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_SEGMENTS}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="count the issues that need the key; write nothing")
    parser.add_argument(
        "--segments",
        type=_segments,
        default=4,
        help="parallel Scan segments, one thread each (default: 4)",
    )
    aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    use_stage(args)
    from chalicelib.bootstrap import issues
    from chalicelib.services.backfill import backfill_assignee_shards

    summary = backfill_assignee_shards(issues(), segments=args.segments, dry_run=args.dry_run)
    stdout.write(json.dumps(asdict(summary)) + "\n")
    return 0
