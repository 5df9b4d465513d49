"""The interfaces the use cases need from the outside world (Cosmic Python's 'ports').

Adapters in ``chalicelib/adapters`` implement them on AWS; ``tests/fakes.py`` implements them in memory for the
services' unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from chalicelib.domain.models import Mention


class StoreOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    EDITED = "edited"
    REMOVED = "removed"
    HIDDEN = "hidden"


class MentionRepository(Protocol):
    def add(self, mention: Mention) -> bool:
        """Store a new mention; ``False`` (and no write) when its identity is already stored."""

    def apply_edit(self, mention: Mention) -> None:
        """Replace the content of a mention with its edited version (stores it if it was never seen)."""

    def mark(self, platform: str, external_id: str, status: str) -> None:
        """Set the visibility status (``removed``, ``hidden``) of a mention, known or not yet seen."""

    def get(self, platform: str, external_id: str) -> dict | None:
        """The stored record, or ``None``."""


class MentionQueue(Protocol):
    def send(self, mentions: Iterable[Mention]) -> int:
        """Enqueue mentions for processing; returns how many were sent."""
