"""Right to erasure: ``social-response erase --platform P --author ID``.

1. Find the author's stored mentions (their handles, names and texts are what to erase elsewhere).
2. Redact every other table first (issues, audit details, escalation cases, approvals, outbox, surge links,
   alerts, surveys ... whatever ``Resources`` names), deleting the author's dedup and recurrence keys (by the
   keys' layout, ``author#<platform>#<id>...``), never rewriting keys, enumerations or other authors' identities.
3. Then redact the mentions themselves, last: a run that stops half-way finds them again and finishes the job.
4. Record a redacted audit event (under ``erasures``, and on each issue that held the author's mentions): how much
   was erased where, by whom, and a digest of the author, never the author's id, handle or words.

Idempotent: a second run finds no mention left to erase and writes nothing. Reports are generated from the live
store, so a report not yet generated never holds what was erased; issues and their audit trail stay, redacted.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chalicelib.domain.erasure import ErasureNeedles, author_reference
from chalicelib.domain.issues import AuditEvent
from chalicelib.services.ports import ErasureStore

ERASURES = "erasures"  # the audit trail's partition for erasure events


class ErasureResult(BaseModel):
    platform: str
    author: str = Field(description="a digest of platform and author id (what the audit trail keeps)")
    mentions: int = Field(description="the author's mentions erased by this run (0: nothing was left)")
    issues: list[str] = Field(description="the issues that held them")
    redacted: dict[str, int] = Field(description="items redacted or deleted per table")


def erase_author(platform: str, author_id: str, actor: str, store: ErasureStore, now: datetime) -> ErasureResult:
    platform, author_id = platform.strip().lower(), author_id.strip()
    if not platform or not author_id:
        raise ValueError("give a platform and an author id")
    reference = author_reference(platform, author_id)
    found = store.author_mentions(platform, author_id)
    if not found:
        return ErasureResult(platform=platform, author=reference, mentions=0, issues=[], redacted={})
    needles = ErasureNeedles.of(
        author_id,
        [str(m.get("handle") or "") for m in found],
        [str(m.get("name") or "") for m in found],
        [str(m.get("text") or "") for m in found],
        platform=platform,
    )
    redacted = store.redact_everywhere(needles, keep_partition=ERASURES)
    reports = store.redact_reports(needles)
    if reports:
        redacted = {**redacted, "reports": reports}
    erased = store.erase_mentions([str(m["key"]) for m in found], now)
    issues = sorted({str(m["issue_id"]) for m in found if m.get("issue_id")})
    details = {"platform": platform, "author": reference, "mentions": erased, "redacted": redacted}
    events = [
        AuditEvent(issue_id=ERASURES, at=now, type="author_erased", actor=actor, details={**details, "issues": issues})
    ]
    events += [
        AuditEvent(issue_id=issue, at=now, type="author_erased", actor=actor, details=details) for issue in issues
    ]
    store.record(events)
    return ErasureResult(platform=platform, author=reference, mentions=erased, issues=issues, redacted=redacted)
