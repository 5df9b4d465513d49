"""Recurrence: a new issue that repeats one resolved in the last ``window_days`` (the plan's, 30 by default).

A new issue recurs when a resolved issue of the window has, tried in this order (the first rule that matches is
the one stored on the issue):

1. :data:`SAME_AUTHOR`: the same author on the same platform (a repeat contact);
2. :data:`SAME_PRODUCT_TOPIC`: the same product and the same topic (a recurring problem);
3. :data:`NEAR_DUPLICATE`: near-duplicate text (``dedup``'s MinHash signatures, at the plan's
   ``dedup.text_similarity``).

Resolved issues are found through lookup keys (:func:`lookup_keys`), each pointing at the latest resolved issue
that had it. Pure: the store keeps the keys, the service reads them.

**Recurrence rate**, defined here and only here (:func:`recurrence_rate`; the README quotes this):
issues resolved in the period that a later issue recurred within the window ÷ issues resolved in the period,
shown overall and separately for the same author (repeat contact) and for the same product and topic (recurring
problem). An issue recurred by several later issues counts once; by rule, it counts under each rule that linked it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.dedup import BANDS, ROWS, signature_of, similarity


class RecurrenceRule(StrEnum):
    SAME_AUTHOR = "same_author"
    SAME_PRODUCT_TOPIC = "same_product_topic"
    NEAR_DUPLICATE = "near_duplicate_text"


SAME_AUTHOR = RecurrenceRule.SAME_AUTHOR
SAME_PRODUCT_TOPIC = RecurrenceRule.SAME_PRODUCT_TOPIC
NEAR_DUPLICATE = RecurrenceRule.NEAR_DUPLICATE


@dataclass(frozen=True)
class IssueFacts:
    """What recurrence compares: an issue's author, product(s), topic and text (of its first mention)."""

    issue_id: str
    at: datetime  # a new issue: when it was first seen; a resolved one: when it was resolved
    author: str | None = None  # ``<platform>#<author id or handle>``
    products: tuple[str, ...] = ()
    topic: str = ""
    signature: tuple[int, ...] | None = None

    @classmethod
    def of(
        cls,
        issue_id: str,
        at: datetime,
        platform: str,
        author: str | None,
        products: Iterable[str],
        topic: str,
        text: str,
    ) -> IssueFacts:
        return cls(
            issue_id=issue_id,
            at=at,
            author=f"{platform}#{author}" if author and platform else None,
            products=tuple(p.lower() for p in products if p),
            topic=topic or "",
            signature=signature_of(text),
        )


@dataclass(frozen=True)
class RecurrenceLink:
    """``issue_id`` recurs ``recurs_issue_id`` (resolved ``gap_seconds`` before it was first seen) by ``rule``."""

    issue_id: str
    recurs_issue_id: str
    rule: RecurrenceRule
    gap_seconds: int


def _subject_keys(facts: IssueFacts) -> list[str]:
    # "other" is no topic: two issues about nothing in particular are no recurring problem.
    if not facts.topic or facts.topic == "other":
        return []
    return [f"subject#{product}#{facts.topic}" for product in facts.products]


def _text_keys(signature: tuple[int, ...] | None) -> list[str]:
    if not signature:
        return []
    return [
        f"text#{band}#" + "-".join(f"{r:x}" for r in signature[band * ROWS : (band + 1) * ROWS])
        for band in range(BANDS)
    ]


def lookup_keys(facts: IssueFacts) -> dict[str, RecurrenceRule]:
    """The keys an issue is found by once resolved (and looks for when new), each with the rule it stands for."""
    keys: dict[str, RecurrenceRule] = {}
    if facts.author:
        keys[f"author#{facts.author}"] = SAME_AUTHOR
    keys.update(dict.fromkeys(_subject_keys(facts), SAME_PRODUCT_TOPIC))
    keys.update(dict.fromkeys(_text_keys(facts.signature), NEAR_DUPLICATE))
    return keys


_ORDER = {SAME_AUTHOR: 0, SAME_PRODUCT_TOPIC: 1, NEAR_DUPLICATE: 2}


def _to_the_second(moment: datetime) -> datetime:
    """Platforms date a post to the second (X's ``created_at``, Facebook's ``created_time``), and a new issue is
    first seen at its first post's time; a resolution time has milliseconds (Step Functions' ``EnteredTime``).
    Compared to the second, a post written in the second of the resolution, after it, is not taken for one
    written before it (while a post of the second before still is)."""
    return moment.replace(microsecond=0)


def find_recurrence(
    new: IssueFacts, found: dict[str, IssueFacts], window: timedelta, text_similarity: float
) -> RecurrenceLink | None:
    """The resolved issue ``new`` recurs, if any: ``found`` maps each of ``new``'s lookup keys that exists to the
    resolved issue it points at. Only issues resolved within ``window`` before ``new`` was first seen (compared to
    the second: :func:`_to_the_second`) count; a band collision alone never links (the signatures must be
    ``text_similarity`` alike); among matches the first rule wins, then the most recent resolution."""
    matches: list[tuple[int, float, RecurrenceLink]] = []
    for key, rule in lookup_keys(new).items():
        earlier = found.get(key)
        if earlier is None or earlier.issue_id == new.issue_id:
            continue
        gap = new.at - earlier.at
        if _to_the_second(new.at) < _to_the_second(earlier.at) or gap > window:
            continue
        if rule is NEAR_DUPLICATE and not (
            new.signature and earlier.signature and similarity(new.signature, earlier.signature) >= text_similarity
        ):
            continue
        link = RecurrenceLink(new.issue_id, earlier.issue_id, rule, max(0, int(gap.total_seconds())))
        matches.append((_ORDER[rule], -earlier.at.timestamp(), link))
    return min(matches, key=lambda m: (m[0], m[1]))[2] if matches else None


# -- the rate ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecurrenceRate:
    resolved: int  # issues resolved in the period
    recurred: int  # of them, recurred within the window (any rule)
    same_author: int  # ... by the same author (a repeat contact)
    same_product_topic: int  # ... by the same product and topic (a recurring problem)
    near_duplicate: int

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def rate(self) -> float | None:
        return self._share(self.recurred, self.resolved)

    @property
    def same_author_rate(self) -> float | None:
        return self._share(self.same_author, self.resolved)

    @property
    def same_product_topic_rate(self) -> float | None:
        return self._share(self.same_product_topic, self.resolved)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "resolved": self.resolved,
            "recurred": self.recurred,
            "rate": self.rate,
            "same_author": self.same_author,
            "same_author_rate": self.same_author_rate,
            "same_product_topic": self.same_product_topic,
            "same_product_topic_rate": self.same_product_topic_rate,
            "near_duplicate": self.near_duplicate,
        }


def recurrence_rate(
    resolved: Iterable[tuple[str, datetime]],
    links: Iterable[RecurrenceLink],
    start: datetime,
    end: datetime,
    window: timedelta,
) -> RecurrenceRate:
    """Issues resolved in ``[start, end)`` that a later issue recurred within ``window``, over issues resolved in
    ``[start, end)``; by rule too. ``resolved``: (issue id, resolved at) of every issue (others are ignored);
    ``links``: the recurrence links stored on issues first seen up to ``end + window``."""
    in_period = {issue_id for issue_id, at in resolved if start <= at < end}
    by_rule: dict[RecurrenceRule, set[str]] = {rule: set() for rule in RecurrenceRule}
    for link in links:
        if link.recurs_issue_id in in_period and link.gap_seconds <= window.total_seconds():
            by_rule[link.rule].add(link.recurs_issue_id)
    recurred = set().union(*by_rule.values())
    return RecurrenceRate(
        resolved=len(in_period),
        recurred=len(recurred),
        same_author=len(by_rule[SAME_AUTHOR]),
        same_product_topic=len(by_rule[SAME_PRODUCT_TOPIC]),
        near_duplicate=len(by_rule[NEAR_DUPLICATE]),
    )
