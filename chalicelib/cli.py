"""``social-response <command>`` (or ``python -m chalicelib.cli <command>``): the project's command line.

One argparse tree: every command and subcommand has a one-line description, so ``--help`` helps at every level.
Each command lives in ``chalicelib/commands`` and is imported only when called (``--help`` at the top imports
none). Errors go to stderr, one per line; the exit status is 1 for bad input or a refused request, 2 for a usage
error; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TextIO

PROG = "social-response"

# name -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "classify": ("chalicelib.commands.classify", "classify JSONL mentions from stdin, offline"),
    "detect-surges": ("chalicelib.commands.detect_surges", "replay JSONL mentions in event time, print surge alerts"),
    "issues": ("chalicelib.commands.issues", "list, show, assign, resolve and note issues (ops API)"),
    "metrics": ("chalicelib.commands.metrics", "volume, response times, SLA, CSAT and recurrence (ops API)"),
    "plan": ("chalicelib.commands.plan", "validate, upload and list response plan versions"),
    "ops-token": ("chalicelib.commands.ops_token", "create, list and revoke ops API tokens"),
    "alerts": ("chalicelib.commands.alerts", "list the stored alerts"),
    "dlq": ("chalicelib.commands.dlq", "list and redrive dead-letter queue messages (bodies redacted)"),
    "erase": ("chalicelib.commands.erase", "erase an author's personal data everywhere it is stored (idempotent)"),
    "backfill-assignee-shard": (
        "chalicelib.commands.backfill_assignee_shard",
        "set assignee_shard on issues assigned before it, so their person's listing finds them (idempotent)",
    ),
    "report": ("chalicelib.commands.report", "the weekly report (HTML with charts, JSON, CSV) from the live store"),
}


class CliError(Exception):
    """Bad input or a refused request: its message goes to stderr, the exit status is 1."""


class Parser(argparse.ArgumentParser):
    """Usage errors: one line to stderr, exit 2 (argparse's own default, with our prefix)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def build_parser(chosen: str | None = None) -> tuple[Parser, dict[str, Parser]]:
    parser = Parser(
        prog=PROG,
        description="Runs a brand's social media response plan: the operator's commands.",
        epilog="Each command has --help.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    subparsers = {}
    for name, (module, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        subparsers[name] = sub
        if name == chosen:
            command = importlib.import_module(module)
            sub.description = command.__doc__ or summary
            sub.formatter_class = argparse.RawDescriptionHelpFormatter
            command.configure(sub)
    return parser, subparsers


def chosen_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if arg in COMMANDS), None)


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        parser, _ = build_parser(chosen_command(argv))
        args = parser.parse_args(argv)
        return int(args.run(args, stdin, stdout) or 0)
    except SystemExit as leaving:  # argparse: --help (0) or a usage error (2)
        return leaving.code if isinstance(leaving.code, int) else 2
    except CliError as refused:
        for line in str(refused).splitlines() or ["failed"]:
            print(f"{PROG}: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as failed:  # noqa: BLE001 - an operator gets one line, never a traceback
        message = " ".join(str(failed).split()) or type(failed).__name__
        if type(failed).__name__ == "EndpointConnectionError":  # botocore's, not imported for every command
            message += " (is make run serving the local stack? else give --endpoint-url)"
        print(f"{PROG}: error: {type(failed).__name__}: {message}", file=sys.stderr)
        return 1


def console() -> None:
    """The ``social-response`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    # `python -m chalicelib.cli` runs this file as __main__, a second copy of the module: the commands raise
    # chalicelib.cli's CliError, so the canonical module's main must be the one that catches it.
    from chalicelib.cli import main as canonical_main

    sys.exit(canonical_main())
