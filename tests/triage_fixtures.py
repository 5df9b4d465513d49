"""Mentions and a fixed text analyzer for triage tests (so they test our rules, not the model's mood)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.models import Author, Mention, MentionKind
from chalicelib.domain.signals import TextSignals

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def fixed_analyzer(text: str) -> TextSignals:
    lowered = text.lower()
    complaint = any(word in lowered for word in ("broke", "never", "refund", "worst", "sue", "ripped", "late"))
    flags = frozenset({"legal_threat"} if "sue" in lowered else set())
    topic = "delivery" if ("never" in lowered or "late" in lowered) else "product_quality" if complaint else "other"
    return TextSignals(
        complaint=complaint,
        complaint_score=0.9 if complaint else 0.1,
        sentiment=-0.7 if complaint else 0.6,
        topic=topic,
        risk_flags=flags,
    )


def mention(
    external_id: str,
    text: str,
    *,
    author: str = "ana",
    minutes: float = 0,
    followers: int = 100,
    parent: str | None = None,
    platform: str = "x",
) -> Mention:
    return Mention(
        platform=platform,
        external_id=external_id,
        text=text,
        kind=MentionKind.REPLY if parent else MentionKind.POST,
        author=Author(id=f"id-{author}", handle=author, name=author.title(), followers=followers),
        created_at=T0 + timedelta(minutes=minutes),
        parent_id=parent,
        thread_id=parent,
    )


def triaged_issue_ids(texts: list[tuple[str, str, str]]) -> list[str]:
    """Each ``(mention id, text, author)`` triaged a minute apart on the stage's tables (inside the ``aws``
    fixture): the issue each opened, one an issue."""
    from chalicelib.adapters.plans import DynamoPlanStore
    from chalicelib.adapters.triage_table import DynamoTriageStore
    from chalicelib.services.triage import triage_mention
    from chalicelib.settings import resources

    names = resources()
    store, plans = DynamoTriageStore(names), DynamoPlanStore(names.plans_table)
    ids = [
        triage_mention(mention(mid, text, author=who, minutes=i), store, plans, fixed_analyzer).issue_id
        for i, (mid, text, who) in enumerate(texts)
    ]
    assert len(set(ids)) == len(texts)
    return ids
