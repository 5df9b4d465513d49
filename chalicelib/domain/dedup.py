"""Folding mentions into issues: which open issue a new mention belongs to.

Three ways a mention joins an issue, tried in this order:

1. **Conversation**: a reply (same author) under a post or comment that already belongs to an issue.
2. **Author**: the same author on the same product and topic (or, naming no product, the same topic) within
   ``author_window_hours``: someone who complains three times about one order is one issue.
3. **Near-duplicate text**: many authors posting near-identical text (copy-paste campaigns, retweets, quotes)
   within ``text_window_hours``: MinHash signatures over word shingles, banded for lookup (LSH) and checked
   against the stored signature so a band collision alone never merges two issues.

Each way is a *key*. A mention reads the keys it could join through, and writes (claims) the keys later mentions
will find it by. Claims are conditional writes in the store, so two processors that see near-duplicates at the
same instant cannot open two issues: the second one's claim fails, it reads again, and it joins.
Pure: times are event times (the mention's ``created_at``), so the same logic runs offline in ``make eval``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.classification import Classification
from chalicelib.domain.models import Mention
from chalicelib.domain.plan import DedupSettings

SIGNATURE_SIZE = 12
BANDS = 4  # 4 bands of 3 rows: pairs above ~0.6 Jaccard share a band with high probability
ROWS = SIGNATURE_SIZE // BANDS
MIN_TOKENS = 5  # "thank you" from a thousand people is not a campaign
CONVERSATION_WINDOW = timedelta(days=7)

_RETWEET = re.compile(r"^\s*rt\s+@\w+:?\s*", re.I)
_NOISE = re.compile(r"https?://\S+|@\w+|#|&amp;|[^\w\s]")
_SEEDS = tuple(0x9E3779B1 * (i + 1) & 0xFFFFFFFF for i in range(SIGNATURE_SIZE))


@dataclass(frozen=True)
class KeyClaim:
    """A dedup key pointing at an issue until ``expires_at`` (event time)."""

    key: str
    kind: str  # conversation | author | text
    issue_id: str
    expires_at: datetime
    author: str | None = None
    signature: tuple[int, ...] | None = None
    # A snapshot of the issue when the key was claimed: lets a joining mention see that it outranks the issue
    # without reading the issue first (one read per mention, not two).
    category: str = ""
    severity_rank: int = 0
    # Written over a key an issue no longer takes mentions through (resolved or closed): the write is conditional
    # on the key still naming that issue, so a live issue's key is never stolen.
    replaces: str | None = None


@dataclass(frozen=True)
class Candidate:
    key: str
    kind: str
    author: str | None = None  # conversation keys only join the same author
    signature: tuple[int, ...] | None = None  # text keys verify similarity


@dataclass(frozen=True)
class Plan:
    """What to read before deciding, and what to claim afterwards."""

    lookups: tuple[Candidate, ...]
    claims: tuple[Candidate, ...]
    signature: tuple[int, ...] | None


def tokens(text: str) -> list[str]:
    text = _RETWEET.sub("", text.lower())
    return _NOISE.sub(" ", text).split()


def signature_of(text: str) -> tuple[int, ...] | None:
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    shingles = {" ".join(words[i : i + 2]) for i in range(len(words) - 1)} | set(words)
    hashed = [zlib.crc32(s.encode()) for s in shingles]
    return tuple(min(((h ^ seed) * 2654435761) & 0xFFFFFFFF for h in hashed) for seed in _SEEDS)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=False)) / len(a)


def _author_id(mention: Mention) -> str | None:
    return mention.author.id or mention.author.handle


def plan_keys(mention: Mention, classification: Classification) -> Plan:
    platform = mention.platform
    author = _author_id(mention)
    lookups: list[Candidate] = []
    claims: list[Candidate] = [Candidate(f"conv#{platform}#{mention.external_id}", "conversation", author)]
    for parent in dict.fromkeys(filter(None, (mention.parent_id, mention.thread_id))):
        lookups.append(Candidate(f"conv#{platform}#{parent}", "conversation", author))
    if author:
        subject = f"topic:{classification.topic}"
        if classification.products:
            subject = f"product:{classification.products[0].lower()}#{subject}"
        author_key = Candidate(f"author#{platform}#{author}#{subject}", "author", author)
        lookups.append(author_key)
        claims.append(author_key)
    signature = signature_of(mention.text)
    if signature:
        for band in range(BANDS):
            rows = signature[band * ROWS : (band + 1) * ROWS]
            key = Candidate(f"text#{band}#" + "-".join(f"{r:x}" for r in rows), "text", signature=signature)
            lookups.append(key)
            claims.append(key)
    return Plan(tuple(lookups), tuple(claims), signature)


_PRIORITY = {"conversation": 0, "author": 1, "text": 2}


def choose_issue(
    mention: Mention,
    plan: Plan,
    found: dict[str, KeyClaim],
    settings: DedupSettings,
    excluded: frozenset[str] = frozenset(),
) -> tuple[str | None, str | None]:
    """The issue this mention joins (and through which kind of key), or ``(None, None)`` for a new issue."""
    author = _author_id(mention)
    best: tuple[int, str, str] | None = None
    for candidate in plan.lookups:
        claim = found.get(candidate.key)
        if claim is None or claim.issue_id in excluded or mention.created_at > claim.expires_at:
            continue
        if candidate.kind == "conversation" and claim.author != author:
            continue
        if candidate.kind == "text" and (
            plan.signature is None
            or claim.signature is None
            or similarity(plan.signature, claim.signature) < settings.text_similarity
        ):
            continue
        option = (_PRIORITY[candidate.kind], candidate.kind, claim.issue_id)
        best = option if best is None or option < best else best
    return (best[2], best[1]) if best else (None, None)


def window(kind: str, settings: DedupSettings) -> timedelta:
    return {
        "conversation": CONVERSATION_WINDOW,
        "author": timedelta(hours=settings.author_window_hours),
        "text": timedelta(hours=settings.text_window_hours),
    }[kind]


def claims_for(
    mention: Mention,
    plan: Plan,
    issue_id: str,
    found: dict[str, KeyClaim],
    settings: DedupSettings,
    category: str = "",
    severity_rank: int = 0,
    stale: frozenset[str] = frozenset(),
) -> list[KeyClaim]:
    """The keys this mention (now in ``issue_id``) claims: free, expired or already its issue's keys, and the keys
    of issues in ``stale`` (resolved or closed: they take no more mentions, so the next duplicate joins this one).

    A key still held by another live issue is left alone: the mention chose a better match, and overwriting would
    steal the other issue's future joins.
    """
    out = []
    for candidate in plan.claims:
        held = found.get(candidate.key)
        replaces = held.issue_id if held and held.issue_id in stale and held.issue_id != issue_id else None
        if held and held.issue_id != issue_id and mention.created_at <= held.expires_at and replaces is None:
            continue
        out.append(
            KeyClaim(
                key=candidate.key,
                kind=candidate.kind,
                issue_id=issue_id,
                expires_at=mention.created_at + window(candidate.kind, settings),
                author=candidate.author,
                signature=candidate.signature,
                category=category,
                severity_rank=severity_rank,
                replaces=replaces,
            )
        )
    return out


# -- One mention, several events: which copy wins -------------------------------------------------------------
# Platforms deliver a mention's creation, edits and removal in any order, and each of them more than once. The
# stored copy must end as the true order leaves it, whatever the arrival order: the newest content wins (an edit
# always outranks the original; of two edits the later by its event time; a tie is broken by the content itself
# so that every order picks the same one), the earliest time seen is the mention's creation time, and a removal
# sticks (see ``mentions_table``). The version is a string whose order is that precedence, so storage compares
# it in a condition.

_CONTENT_FIELDS = ("title", "rating", "url", "parent_id", "thread_id", "product")
_AUTHOR_FIELDS = ("id", "handle", "name", "followers", "verified")


def carries_content(mention: Mention) -> bool:
    """Text or a title: something to read and triage (a removal, a hide or an unhide carries none)."""
    return bool(mention.text.strip() or (mention.title or "").strip())


def content_version(mention: Mention) -> str:
    """``<0 original | 1 edit>#<event time, fixed width UTC>#<content digest>``: greater is newer."""
    from datetime import timezone
    from hashlib import sha256

    from chalicelib.domain.models import MentionEvent

    at = mention.created_at.astimezone(timezone.utc)
    digest = sha256(f"{mention.title or ''}\x00{mention.text}".encode()).hexdigest()[:16]
    rank = 1 if mention.event is MentionEvent.EDITED else 0
    return f"{rank}#{at.year:04d}-{at:%m-%dT%H:%M:%S}.{at.microsecond:06d}#{digest}"


def settle(incoming: Mention, stored: Mention | None, stored_version: str | None) -> tuple[Mention, str]:
    """The content to keep of an incoming event and what an earlier-arriving one stored, and its version.

    The newer content's fields win; what it leaves out (an edit rarely repeats the author's reach) comes from the
    older; the creation time is the earliest either knew.
    """
    version = content_version(incoming)
    if stored is None:
        return incoming, version
    if carries_content(incoming) != carries_content(stored):  # an unhide has no content to compare: the other wins
        newer, older = (incoming, stored) if carries_content(incoming) else (stored, incoming)
        if newer is stored:
            version = stored_version or content_version(stored)
    elif stored_version is not None and stored_version > version:
        newer, older, version = stored, incoming, stored_version
    else:
        newer, older = incoming, stored
    fill = {name: getattr(older, name) for name in _CONTENT_FIELDS if getattr(newer, name) is None}
    author = newer.author.model_copy(
        update={name: getattr(older.author, name) for name in _AUTHOR_FIELDS if getattr(newer.author, name) is None}
    )
    merged = newer.model_copy(update={**fill, "author": author, "created_at": min(newer.created_at, older.created_at)})
    return merged, version
