"""Shared fixtures for the platform module tests: secrets, clocks, request building and the shared samples."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chalicelib.platforms.base import WebhookRequest

# tests/unit/platforms/conftest.py → parents[3] is the repository root; shared data sits beside it.
SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
WEBHOOK_SAMPLES = SHARED_DATA / "webhooks"

SECRETS = {
    "META_APP_SECRET": "meta-app-secret-for-tests",
    "META_VERIFY_TOKEN": "meta-verify-token-for-tests",
    "X_CONSUMER_SECRET": "x-consumer-secret-for-tests",
    "YOUTUBE_HUB_SECRET": "youtube-hub-secret-for-tests",
    "TRUSTPILOT_WEBHOOK_SECRET": "trustpilot-secret-for-tests",
    "GENERIC_WEBHOOK_SECRET": "generic-secret-for-tests",
}

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def secret(name: str) -> str:
    return SECRETS[name]


def wrong_secret(name: str) -> str:
    return SECRETS[name] + "-but-wrong"


def post(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest.build("POST", headers=headers, raw_body=body)


def get(query: dict[str, str]) -> WebhookRequest:
    return WebhookRequest.build("GET", query=query)


@pytest.fixture
def webhook_sample() -> Callable[[str], bytes]:
    """Reads a published sample byte-exact from ``../shared/data/webhooks``; skips when shared data is absent."""

    def load(name: str) -> bytes:
        path = WEBHOOK_SAMPLES / name
        if not path.is_file():
            pytest.skip(f"shared webhook sample {name} not found at {WEBHOOK_SAMPLES} (../shared is not checked out)")
        return path.read_bytes()

    return load
