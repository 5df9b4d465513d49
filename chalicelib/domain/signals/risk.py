"""Risk flags: precise regular expressions over normalized text.

Precision over recall on purpose: a flag routes a mention to people (legal, safety, PR), so a false
alarm costs attention. Each pattern wants an explicit phrase, not a single vague word.
"""

from __future__ import annotations

import re
from functools import cache

from chalicelib.domain.signals.features import normalize

_PATTERNS: dict[str, str] = {
    "legal_threat": (
        r"\b(?:sue|suing|sued|lawsuit|law ?suit|lawyers?|attorneys?|solicitors?|legal action|legal team|"
        r"class action|small claims|take (?:you|this|them|it) to court|see you in court|"
        r"better business bureau|bbb|ftc|trading standards|ombudsman|consumer protection)\b"
    ),
    "safety": (
        r"\b(?:(?:caught|catch|catches|catching|on|set) fire|burst into flames|exploded|explodes|explosion|"
        r"smoke (?:came|coming|pouring)|sparks? (?:came|coming|flew|flying)|electric(?:al)? shock|"
        r"electrocuted|fire hazard|safety (?:hazard|issue|concern|risk)|unsafe|dangerous|injur(?:ed|y|ies)|"
        r"burn(?:ed|t) (?:me|my|him|her|his|our)|emergency landing|choking hazard|glass in (?:my|the|our)|"
        r"metal in (?:my|the|our)|(?:sexually )?assault(?:ed|ing)?|overheat(?:ed|ing|s))\b"
    ),
    "health": (
        r"\b(?:food poisoning|allergic reaction|anaphyla\w*|(?:made|making) (?:me|us|my \w+|him|her) "
        r"(?:sick|ill)|(?:got|get|getting|fell) (?:really |very )?(?:sick|ill) (?:after|from)|"
        r"hospitali[sz]ed|in (?:the )?hospital|(?:to|in) the er|vomit\w*|threw up|throwing up|ambulance|"
        r"salmonella|e\.? ?coli|listeria|poisoned)\b"
    ),
    "discrimination": (
        r"\b(?:racist|racism|racially|discriminat\w*|sexist|sexism|homophobic|transphobic|bigot\w*|"
        r"profiled|profiling|islamophob\w*|antisemit\w*|xenophob\w*|because (?:i'm|i am|we're|we are|she's|"
        r"he's) (?:black|gay|muslim|jewish|disabled|a woman|trans|asian|mexican|indian))\b"
    ),
    "data_leak": (
        r"\b(?:(?:leak|leaked|leaking|exposed|sold|shared) (?:my|our|customers?'?|users?'?|personal|private) "
        r"(?:\w+ )?(?:data|details|info|information|emails?|passwords?|address(?:es)?|card|records|photos)|"
        r"(?:data|details|info|information|passwords?) (?:was|were|got|has been|have been|is) "
        r"(?:leaked|exposed|stolen|compromised|hacked)|data breach|breach of (?:my |our )?(?:data|privacy)|"
        r"privacy (?:breach|violation)|gdpr|(?:account|accounts|email) (?:was |got |has been |have been )?"
        r"(?:hacked|compromised)|hacked my|someone (?:else )?(?:accessed|hacked|got into|logged into) my)\b"
    ),
    "fraud": (
        r"\b(?:fraud|fraudulent|scam|scammed|scammers?|scamming|unauthori[sz]ed (?:charges?|transactions?|"
        r"payments?|purchases?)|identity theft|counterfeit|"
        r"fake (?:items?|products?|goods)|stole (?:my|our)|stealing (?:my|our|money)|phishing|theft)\b"
    ),
    "media": (
        r"\b(?:(?:going|go|gone|went|goes) viral|journalists?|reporters?|newspapers?|tv station|news desk|"
        r"watchdog|(?:contact|contacting|call|calling|tell|telling|tipped off|email|emailing) (?:the )?"
        r"(?:press|media|news|local news)|(?:on|to) the (?:local )?news|retweet (?:this|if))\b"
    ),
    "churn": (
        r"\b(?:cancel(?:l?ing|l?ed)? my (?:account|subscription|membership|service|contract|plan|card)|"
        r"clos(?:e|ing) my account|"
        r"switch(?:ing|ed)? (?:over )?to (?:another|a different|_user_|[a-z]+ (?:instead|now))|"
        r"taking my (?:business|money) elsewhere|never (?:fly|flying|use|using|shop|shopping|buy|buying|order|"
        r"ordering|eat|eating|stay|staying) (?:with |at |from )?(?:you|_user_|_brand_|here|this)?\s?\w* ?again|"
        r"(?:lost|losing) (?:a|another|one) (?:loyal |long ?time )?customer|(?:lost|lose) me as a customer|"
        r"done with (?:you|_user_|_brand_)|port(?:ing)? my number|last time i (?:fly|use|shop|order|buy|eat)|"
        r"(?:find|finding|look for|looking for) (?:a )?(?:new|another|different) (?:provider|carrier|bank|"
        r"airline|company|service))\b"
    ),
}

RISK_FLAGS: frozenset[str] = frozenset(_PATTERNS)


@cache
def _compiled() -> dict[str, re.Pattern[str]]:
    # Compiled on first use, not at import: a cold start that never classifies (the webhook API) skips it.
    return {name: re.compile(p) for name, p in _PATTERNS.items()}


def risk_flags(text: str) -> frozenset[str]:
    """The set of risk flags whose phrase occurs in ``text``."""
    norm = normalize(text or "")
    return frozenset(name for name, pattern in _compiled().items() if pattern.search(norm))
