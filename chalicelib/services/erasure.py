"""Right to erasure: ``social-response erase --platform P --author ID``.

1. Find the author's stored mentions (their handles, names and texts are what to erase elsewhere).
2. Redact every other table first (issues, audit details, escalation cases, approvals, outbox, surge links,
   alerts, surveys ... whatever ``Resources`` names), deleting the author's dedup and recurrence keys (by the
   keys' layout, ``author#<platform>#<id>...``), never rewriting keys, enumerations or other authors' identities.
3. Then erase the mentions themselves, last: a run that stops half-way finds them again and finishes the job.
   Then look again: a mention of the author's stored while the run went on (the worker keeps processing) is
   erased by another round, its words redacted everywhere too (at most ``MAX_ROUNDS``; ``left`` counts any still
   arriving after that, for another run). An edit processed after the erasure stores nothing in an erased mention.
4. Record a redacted audit event (under ``erasures``, and on each issue that held the author's mentions): how much
   was erased where, by whom, and a digest of the author, never the author's id, handle or words.

Idempotent: a second run finds no mention left to erase and writes nothing. Reports are generated from the live
store, so a report not yet generated never holds what was erased; issues and their audit trail stay, redacted.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chalicelib.domain import limits
from chalicelib.domain.erasure import ErasureNeedles, author_reference
from chalicelib.domain.issues import AuditEvent
from chalicelib.services.ports import ErasureStore

ERASURES = "erasures"  # the audit trail's partition for erasure events
MAX_ROUNDS = 3  # rounds for the author's mentions stored while the run went on (one when none were)


class ErasureResult(BaseModel):
    platform: str
    author: str = Field(description="a digest of platform and author id (what the audit trail keeps)")
    mentions: int = Field(description="the author's mentions erased by this run (0: nothing was left)")
    issues: list[str] = Field(description="the issues that held them")
    redacted: dict[str, int] = Field(description="items redacted or deleted per table")
    left: int = Field(
        default=0,
        description="the author's mentions stored after this run's last look (it ran MAX_ROUNDS): run erase again",
    )


def erase_author(platform: str, author_id: str, actor: str, store: ErasureStore, now: datetime) -> ErasureResult:
    platform, author_id = platform.strip(), author_id.strip()
    if not platform or not author_id:
        raise ValueError("give a platform and an author id")
    platform = limits.platform_name(platform)  # as the webhooks stored it: "Google Play" as google-play
    reference = author_reference(platform, author_id)
    found = store.author_mentions(platform, author_id)
    if not found:
        return ErasureResult(platform=platform, author=reference, mentions=0, issues=[], redacted={})
    seen: list[dict] = []
    erased = 0
    redacted: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        # A mention of the author's stored while this round ran (the worker does not stop for an erasure) is found
        # by the next scan: another round, with its words too, as it may have opened an issue quoting them.
        seen += found
        needles = ErasureNeedles.of(
            author_id,
            [str(m.get("handle") or "") for m in seen],
            [str(m.get("name") or "") for m in seen],
            [str(m.get("text") or "") for m in seen],
            platform=platform,
        )
        redacted = _added(redacted, store.redact_everywhere(needles, keep_partition=ERASURES))
        redacted = _added(redacted, {"reports": store.redact_reports(needles)})
        erased += store.erase_mentions([str(m["key"]) for m in found], now)
        found = store.author_mentions(platform, author_id)
        if not found:
            break
    issues = sorted({str(m["issue_id"]) for m in seen if m.get("issue_id")})
    details = {"platform": platform, "author": reference, "mentions": erased, "redacted": redacted}
    events = [
        AuditEvent(issue_id=ERASURES, at=now, type="author_erased", actor=actor, details={**details, "issues": issues})
    ]
    events += [
        AuditEvent(issue_id=issue, at=now, type="author_erased", actor=actor, details=details) for issue in issues
    ]
    store.record(events)
    return ErasureResult(
        platform=platform, author=reference, mentions=erased, issues=issues, redacted=redacted, left=len(found)
    )


def _added(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Items changed per table over the rounds (a table with none is left out)."""
    total = {**counts}
    for table, count in more.items():
        if count:
            total[table] = total.get(table, 0) + count
    return total
