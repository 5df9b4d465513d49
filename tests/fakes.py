"""In-memory adapters for the services' unit tests (the real ones are exercised on moto in integration tests)."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.domain.models import Mention


class FakeMentionRepository:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def add(self, mention: Mention) -> bool:
        if mention.key in self.items:
            return False
        self.items[mention.key] = {**mention.model_dump(mode="json"), "status": "visible"}
        return True

    def apply_edit(self, mention: Mention) -> None:
        previous = self.items.get(mention.key, {})
        self.items[mention.key] = {**mention.model_dump(mode="json"), "status": previous.get("status", "visible"),
                                   "created_at": previous.get("created_at", mention.created_at.isoformat()),
                                   "edited": True}

    def mark(self, platform: str, external_id: str, status: str) -> None:
        key = f"{platform}#{external_id}"
        self.items[key] = {**self.items.get(key, {"platform": platform, "external_id": external_id}),
                           "status": status}

    def get(self, platform: str, external_id: str) -> dict | None:
        return self.items.get(f"{platform}#{external_id}")


class FakeMentionQueue:
    def __init__(self) -> None:
        self.sent: list[Mention] = []

    def send(self, mentions: Iterable[Mention]) -> int:
        batch = list(mentions)
        self.sent.extend(batch)
        return len(batch)
