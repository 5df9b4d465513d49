"""What every part of the local stack shares: where the project is, the stage and region it runs, and its error."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = "local"
REGION = "us-east-1"


class StackError(RuntimeError):
    """The stack cannot start or go on: a port in use, a child that died, a step that failed."""
