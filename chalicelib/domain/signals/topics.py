"""Topic of a mention: weighted keyword rules over normalized text.

Rules, not a learned head: none of the training sets carries brand-neutral topic labels, and rules
are auditable by the people who write triage rules. Safety and legal win over everything when
present because they are the costly ones to miss.
"""

from __future__ import annotations

import re
from functools import cache

from chalicelib.domain.signals.features import normalize
from chalicelib.domain.signals.risk import risk_flags

TOPICS: tuple[str, ...] = (
    "product_quality",
    "delivery",
    "billing_refunds",
    "customer_service",
    "safety",
    "legal",
    "other",
)

_KEYWORDS: dict[str, str] = {
    "billing_refunds": (
        r"refunds?|refunded|refunding|money back|charg(?:e|ed|es|ing)|overcharg\w*|bill|billed|billing|"
        r"invoice|payments?|paid|pay|fees?|price|pricing|prices|credit card|debit|reimburs\w*|"
        r"compensation|voucher|subscription|cost|costs|expensive|discount|coupon|receipt|"
        r"transactions?|bank account|money"
    ),
    "delivery": (
        r"deliver(?:y|ed|ing|ies|s)?|package|parcel|shipping|shipped|shipment|ship|tracking|courier|"
        r"arriv(?:e|ed|al)|late|delay(?:s|ed)?|cancel(?:l?ed|lation)?|missed (?:my )?(?:connection|flight)|"
        r"rebook\w*|on time|still (?:waiting|hasn't|haven't|not)|lost (?:my )?(?:package|luggage|bag|bags|"
        r"baggage|parcel|order)|luggage|baggage|bags|dispatch(?:ed)?|postman|ups|fedex|usps|dhl|"
        r"order (?:hasn't|never|didn't|still)|where is my (?:order|package|parcel)"
    ),
    "customer_service": (
        r"customer (?:service|care|support)|support team|agents?|reps?|representatives?|on hold|hold for|"
        r"call cent(?:er|re)|no (?:one|body) (?:answer|respond|repl|help|call)\w*|rude|staff|employees?|"
        r"manager|supervisor|(?:no|any) (?:response|reply)|respond\w*|replied|reply|chat|hung up|"
        r"called|calling|phone call|emails?|dm|dms|contact|helpful|unhelpful|attendants?|crew|"
        r"service desk|complaint"
    ),
    "product_quality": (
        r"broken|broke|breaks|defective|faulty|doesn't work|does not work|not working|stopped working|"
        r"won't (?:work|turn|charge|load|start|connect)|quality|damaged|crash(?:es|ed|ing)?|bug|bugs|"
        r"buggy|glitch\w*|error|slow|battery|screen|update|app|wifi|wi-fi|internet|outage|down|"
        r"taste[sd]?|stale|cold|undercooked|raw|dirty|smell\w*|seats?|leak(?:s|ing)?|cheap|flimsy|"
        r"ripped|torn|scratch\w*|missing|wrong (?:item|size|order|product)|fake|product|device|"
        r"freez\w*|lag\w*|buffering|signal|connection|works|working"
    ),
}


@cache
def _compiled() -> dict[str, re.Pattern[str]]:
    # Compiled on first use, not at import (cold starts that never classify skip it).
    return {topic: re.compile(rf"(?<![\w$£€])(?:{p})(?![\w])") for topic, p in _KEYWORDS.items()}


# Ties go to the earlier entry: money and logistics words are more specific than "app"/"service".
_ORDER = ("billing_refunds", "delivery", "customer_service", "product_quality")


def topic_of(text: str, flags: frozenset[str] | None = None) -> str:
    """One of :data:`TOPICS` for ``text`` (``flags``: its :func:`risk_flags`, when the caller has them already)."""
    flags = risk_flags(text) if flags is None else flags
    if flags & {"safety", "health"}:
        return "safety"
    if flags & {"legal_threat", "discrimination", "data_leak"}:
        return "legal"
    norm = normalize(text or "")
    best, best_hits = "other", 0
    for topic in _ORDER:
        hits = len(_compiled()[topic].findall(norm))
        if hits > best_hits:
            best, best_hits = topic, hits
    return best
