"""From a mention and its text signals to a category, severity and team, by the plan's rules.

Rules are tried in order and the first whose every condition holds wins; no match falls to the plan's default
(No Action). Author reach (followers, verified, known partner or influencer), platform, kind and review rating
join the text signals here. Pure: the plan and the signals are given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.domain.models import Mention, MentionKind
from chalicelib.domain.plan import Condition, Product, ResponsePlan, Severity
from chalicelib.domain.signals import TextSignals
from chalicelib.domain.text_safety import one_line

# A comment on the brand's post, a reply in its thread or a message to it is addressed to the brand, though its text
# names nobody: on Facebook and Instagram a comment carries no handle. The text model learnt "aimed at a company"
# from tweets that open with the company's handle, so such a text reads it in front. Measured on the held-out
# airline tweets with their opening handles taken away (as a comment reads): macro-F1 0.843 as written, 0.756
# without the handle, 0.843 with the addressee read in front; on the new-domain tune part 0.714 -> 0.729 (recall
# 0.52 -> 0.78). Reviews keep their text as it is (they have a rating, and read so, 5-star reviews were flagged
# 2.6 -> 9.7 %); posts and mentions may be about the brand without being addressed to it.
ADDRESSED_KINDS = frozenset({MentionKind.COMMENT, MentionKind.REPLY, MentionKind.MESSAGE})
ADDRESSEE = "@_addressee"  # any handle: the model folds every handle to one token
_OPENS_WITH_HANDLE = re.compile(r"\s*[.]?@\w")


def model_text(mention: Mention) -> str:
    """What the text model reads of ``mention``: its title and text, addressed to the brand when its kind is."""
    text = " ".join(filter(None, (mention.title, mention.text)))
    if mention.kind in ADDRESSED_KINDS and not _OPENS_WITH_HANDLE.match(text):
        return f"{ADDRESSEE} {text}"
    return text


@dataclass(frozen=True)
class Classification:
    category: str
    severity: Severity
    team: str | None
    rule: str | None  # the rule that matched; None when the plan's default applied
    opens_issue: bool
    follow_up_required: bool
    topic: str
    products: tuple[str, ...]
    complaint: bool
    complaint_score: float
    sentiment: float
    risk_flags: frozenset[str]
    author_kind: str | None  # partner, influencer, journalist ... when the plan knows the author


@dataclass(frozen=True)
class Facts:
    """Everything a rule condition can look at, for one mention."""

    signals: TextSignals
    risk_flags: frozenset[str]
    followers: int
    verified: bool
    known_partner: bool
    known_influencer: bool
    rating: float | None
    platform: str
    kind: str
    products: tuple[str, ...]
    text: str


@lru_cache(maxsize=64)
def _alias_pattern(products: tuple[Product, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    names: dict[str, str] = {}
    for product in products:
        for alias in (product.name, *product.aliases):
            names[alias.lower()] = product.name
    # Longest first, so "luna tote bag" wins over "tote bag"; word boundaries so "solar" is not "sol".
    alternatives = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(a) for a in alternatives) + r")(?![\w])", re.I)
    return pattern, names


def products_named(text: str, plan: ResponsePlan, declared: str | None = None) -> tuple[str, ...]:
    """Catalogue products the text names (by name or alias), plus a product the source declared.

    A declared product is the author's own words: it is kept on one line (its whitespace, line breaks included,
    folded to single spaces), since it heads the issue's description, its alerts' subjects and the approval email.
    """
    declared = one_line(declared) if declared else None
    found: list[str] = []
    if plan.products:
        pattern, names = _alias_pattern(tuple(plan.products))
        haystack = f"{declared or ''} {text}"
        found = [names[match.group(1).lower()] for match in pattern.finditer(haystack)]
    if declared and not found:
        found = [declared]
    return tuple(dict.fromkeys(found))


def holds(condition: Condition, facts: Facts) -> bool:
    signals = facts.signals
    checks = (
        condition.complaint is None or signals.complaint == condition.complaint,
        condition.complaint_score_gte is None or signals.complaint_score >= condition.complaint_score_gte,
        condition.sentiment_lte is None or signals.sentiment <= condition.sentiment_lte,
        condition.sentiment_gte is None or signals.sentiment >= condition.sentiment_gte,
        condition.topic_in is None or signals.topic in condition.topic_in,
        condition.risk_flags_any is None or bool(facts.risk_flags & set(condition.risk_flags_any)),
        condition.followers_gte is None or facts.followers >= condition.followers_gte,
        condition.verified is None or facts.verified == condition.verified,
        condition.known_partner is None or facts.known_partner == condition.known_partner,
        condition.known_influencer is None or facts.known_influencer == condition.known_influencer,
        condition.rating_lte is None or (facts.rating is not None and facts.rating <= condition.rating_lte),
        condition.rating_gte is None or (facts.rating is not None and facts.rating >= condition.rating_gte),
        condition.platform_in is None or facts.platform in condition.platform_in,
        condition.kind_in is None or facts.kind in condition.kind_in,
        condition.product_named is None or bool(facts.products) == condition.product_named,
        condition.text_matches is None or re.search(condition.text_matches, facts.text, re.I) is not None,
    )
    return all(checks)


def gather_facts(mention: Mention, signals: TextSignals, plan: ResponsePlan) -> tuple[Facts, str | None]:
    account = plan.known_account(mention.platform, mention.author.handle)
    followers = mention.author.followers or 0
    risk = set(signals.risk_flags)
    if account and account.kind == "journalist":
        risk.add("media")  # whatever a journalist complains about may be printed
    facts = Facts(
        signals=signals,
        risk_flags=frozenset(risk),
        followers=followers,
        verified=bool(mention.author.verified),
        known_partner=bool(account and account.kind == "partner"),
        known_influencer=bool(account and account.kind == "influencer") or followers >= plan.influencer_followers,
        rating=_five_star(mention),
        platform=mention.platform,
        kind=mention.kind.value,
        products=products_named(" ".join(filter(None, (mention.title, mention.text))), plan, mention.product),
        text=mention.text,
    )
    return facts, account.kind if account else None


def _five_star(mention: Mention) -> float | None:
    # Platforms rate out of 5; a rating above 5 came from a 10-point scale.
    if mention.rating is None:
        return None
    return mention.rating / 2 if mention.rating > 5 else mention.rating


def classify(mention: Mention, signals: TextSignals, plan: ResponsePlan) -> Classification:
    facts, author_kind = gather_facts(mention, signals, plan)
    rule = next((r for r in plan.rules if holds(r.when, facts)), None)
    category_name = rule.category if rule else plan.default_category
    category = plan.categories[category_name]
    return Classification(
        category=category_name,
        severity=rule.severity if rule else plan.default_severity,
        team=category.team,
        rule=rule.name if rule else None,
        opens_issue=category.opens_issue,
        follow_up_required=category.follow_up_required,
        topic=signals.topic,
        products=facts.products,
        complaint=signals.complaint,
        complaint_score=signals.complaint_score,
        sentiment=signals.sentiment,
        risk_flags=facts.risk_flags,
        author_kind=author_kind,
    )
