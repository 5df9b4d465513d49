"""``python -m chalicelib.cli <command>``: the project's command line.

Commands: ``classify`` and ``detect-surges`` (offline, JSONL in and out, see CONTRACTS.md), ``plan`` (validate,
upload, list response plans), ``ops-token`` (create and revoke ops API tokens). Each command lives in ``chalicelib/commands`` and is imported only when called.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "classify": "chalicelib.commands.classify",
    "detect-surges": "chalicelib.commands.detect_surges",
    "plan": "chalicelib.commands.plan",
    "ops-token": "chalicelib.commands.ops_token",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m chalicelib.cli {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    return module.main(sys.stdin, sys.stdout, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
