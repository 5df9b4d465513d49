"""The command line as a user runs it: a subprocess from the checkout, offline unless told otherwise."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# AWS unreachable: any AWS call the command makes fails, so an offline command is proven offline
OFFLINE = {
    "PATH": "/usr/bin:/bin",
    "HOME": str(ROOT),
    "AWS_ACCESS_KEY_ID": "none",
    "AWS_SECRET_ACCESS_KEY": "none",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


def run_cli(
    argv: Sequence[str], stdin: str = "", timeout: float = 120, env: Mapping[str, str] = OFFLINE
) -> subprocess.CompletedProcess:
    """``python -m chalicelib.cli *argv`` with ``env`` as its whole environment, ``stdin`` in, text out."""
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(env),
        timeout=timeout,
    )
