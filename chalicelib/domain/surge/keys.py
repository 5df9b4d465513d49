"""What is counted: the surge keys one mention increments."""

from __future__ import annotations

BRAND_KEY = "brand"
EXCLUDED_TOPICS = frozenset({"other", ""})
KINDS = ("brand", "product", "topic")


def key_kind(key: str) -> str:
    """``brand``, ``product`` or ``topic``."""
    if key == BRAND_KEY:
        return "brand"
    kind, sep, _ = key.partition(":")
    if not sep or kind not in ("product", "topic"):
        raise ValueError(f"not a surge key: {key!r}")
    return kind


def keys_for(*, product: str | None, topic: str | None, complaint: bool) -> list[str]:
    """The counters one mention increments (see :mod:`chalicelib.domain.surge` for why)."""
    keys = [BRAND_KEY]
    if complaint:
        name = (product or "").strip().lower()
        if name:
            keys.append(f"product:{name}")
        t = (topic or "").strip().lower()
        if t not in EXCLUDED_TOPICS:
            keys.append(f"topic:{t}")
    return keys
