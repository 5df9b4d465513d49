"""Text normalization and feature extraction, shared by training and inference.

One implementation on purpose: `tools/train_signals.py` builds its vocabulary from exactly these
strings, so the shipped weights line up with what `analyze` computes at run time. Pure standard
library so it costs nothing in the Lambda package.
"""

from __future__ import annotations

import html
import math
import re
from functools import lru_cache
from pathlib import Path

# Brand and product names of the training sets (airlines, the customer-support accounts of twcs, Amazon).
# Folding them to one placeholder keeps the model from learning "mentions JetBlue/Chipotle" as a cue that
# would never fire for other brands: the product is judged on brands it has never seen.
_TRAINING_BRANDS = frozenset(
    {
        "jetblue",
        "southwestair",
        "southwest",
        "usairways",
        "virginamerica",
        "virgin",
        "americanair",
        "united",
        "delta",
        "deltaassist",
        "americanairlines",
        "aa",
        "usair",
        "alaska",
        "alaskaair",
        "british_airways",
        "airasia",
        "amazon",
        "amazonhelp",
        "amzl",
        "apple",
        "applesupport",
        "chipotle",
        "chipotletweets",
        "chipotles",
        "boorito",
        "booritos",
        "uber",
        "ubereats",
        "lyft",
        "tesco",
        "comcast",
        "comcastcares",
        "xfinity",
        "verizon",
        "fios",
        "sprint",
        "sprintcare",
        "tmobile",
        "t-mobile",
        "spectrum",
        "cox",
        "centurylink",
        "att",
        "spotify",
        "hulu",
        "xbox",
        "playstation",
        "psn",
        "paypal",
        "ebay",
        "walmart",
        "argos",
        "morrisons",
        "sainsburys",
        "newegg",
        "ups",
        "usps",
        "fedex",
        "postmates",
        "doordash",
        "papajohns",
        "adobe",
        "lightroom",
        "dropbox",
        "airbnb",
        "wellsfargo",
        "citi",
        "amex",
        "bofa",
        "tesla",
        "nike",
        "kindle",
        "alexa",
        "iphone",
        "ipad",
        "ios",
    }
)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w+")
_DIGITS = re.compile(r"\d+(?:[.,:]\d+)*")
_ELONGATED = re.compile(r"(\w)\1{2,}")
# Words (with inner apostrophes), runs of ! or ?, and any other single non-space symbol (emoji).
_TOKEN = re.compile(r"[a-z_][a-z0-9_'\-]*|0|!+|\?+|[^\sa-z0-9_]")
_CURLY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\ufe0f": None})

USER, URL, NUM, BRAND = "_user_", "_url_", "0", "_brand_"

# The complaint head is an ensemble of two linear models over two views of these features, averaged in
# logit space: "word" (w/b/n prefixes: words, bigrams, negations) and "char" (c: in-word 4-grams). The
# aggregate cues (x prefix) belong to both. Each view is scaled by 1/sqrt(#its distinct features).
VIEWS = ("word", "char")
_WORD_ONLY, _CHAR_ONLY, _BOTH = ("word",), ("char",), ("word", "char")


def view_of(feature: str) -> tuple[str, ...]:
    """The complaint views a feature string belongs to."""
    head = feature[0]
    return _CHAR_ONLY if head == "c" else _BOTH if head == "x" else _WORD_ONLY


# Negation: words after a negator (up to punctuation or 4 words) also emit a "not_" copy, so
# "not working" / "never arrived" differ from "working" / "arrived".
_NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "cannot",
        "cant",
        "can't",
        "dont",
        "don't",
        "doesnt",
        "doesn't",
        "didnt",
        "didn't",
        "isnt",
        "isn't",
        "wasnt",
        "wasn't",
        "wont",
        "won't",
        "havent",
        "haven't",
        "hasnt",
        "hasn't",
        "aint",
        "ain't",
        "nothing",
        "nobody",
        "couldnt",
        "couldn't",
        "wouldnt",
        "wouldn't",
        "arent",
        "aren't",
        "without",
    }
)
_CLAUSE_END = frozenset({".", ",", "!", "!!", "?", "??", ";", ":", "but"})

# Small hand-made lexicons (brand-independent cues of a breach of expectations vs. satisfaction).
# They fire as aggregate features, so a cue seen rarely in training still carries the lexicon's weight.
_PROBLEM = frozenset(
    [
        "still",
        "again",
        "never",
        "waiting",
        "waited",
        "wait",
        "hours",
        "days",
        "weeks",
        "late",
        "delay",
        "delayed",
        "delays",
        "cancel",
        "cancelled",
        "canceled",
        "cancellation",
        "refund",
        "refunds",
        "refunded",
        "charged",
        "charge",
        "charges",
        "overcharged",
        "billed",
        "bill",
        "fee",
        "fees",
        "broken",
        "broke",
        "break",
        "breaks",
        "crash",
        "crashes",
        "crashed",
        "crashing",
        "error",
        "errors",
        "bug",
        "bugs",
        "glitch",
        "glitchy",
        "glitches",
        "freeze",
        "freezes",
        "frozen",
        "fail",
        "failed",
        "fails",
        "failure",
        "issue",
        "issues",
        "problem",
        "problems",
        "wrong",
        "missing",
        "lost",
        "stolen",
        "damaged",
        "defective",
        "faulty",
        "down",
        "outage",
        "outages",
        "slow",
        "useless",
        "rude",
        "unhelpful",
        "terrible",
        "horrible",
        "awful",
        "worst",
        "worse",
        "bad",
        "poor",
        "sucks",
        "suck",
        "crap",
        "trash",
        "garbage",
        "disgusting",
        "disgraceful",
        "ridiculous",
        "unacceptable",
        "joke",
        "disappointed",
        "disappointing",
        "disappointment",
        "frustrated",
        "frustrating",
        "annoyed",
        "annoying",
        "angry",
        "furious",
        "fuming",
        "upset",
        "unhappy",
        "ruined",
        "ruin",
        "scam",
        "fraud",
        "lied",
        "lie",
        "lying",
        "ignored",
        "ignore",
        "hold",
        "stuck",
        "stranded",
        "nowhere",
        "hung",
        "dropped",
        "drops",
        "keeps",
        "kept",
        "fix",
        "fixed",
        "fixing",
        "complain",
        "complaint",
        "complaints",
        "shame",
        "shameful",
        "pathetic",
        "incompetent",
        "ripoff",
        "rip",
        "dead",
        "dies",
        "died",
        "smh",
        "wtf",
        "fuck",
        "fucking",
        "shit",
        "ugh",
        "nope",
        "hate",
        "hated",
        "mess",
        "messed",
        "screwed",
    ]
)
_PRAISE = frozenset(
    [
        "thanks",
        "thank",
        "thx",
        "ty",
        "love",
        "loved",
        "loving",
        "great",
        "awesome",
        "amazing",
        "excellent",
        "best",
        "wonderful",
        "fantastic",
        "perfect",
        "happy",
        "glad",
        "appreciate",
        "appreciated",
        "kudos",
        "shoutout",
        "shout",
        "enjoy",
        "enjoyed",
        "enjoying",
        "nice",
        "fun",
        "delicious",
        "yummy",
        "favorite",
        "favourite",
        "beautiful",
        "cool",
        "brilliant",
        "superb",
        "helpful",
        "friendly",
        "recommend",
        "smooth",
        "congrats",
        "congratulations",
    ]
)


# What makes a complaint beyond a negative mood: it is aimed at a company (a support-style handle, "you/your"
# after an @-address), names the thing that was expected (an order, a delivery, a refund, the service, an
# account ...) and often asks for a remedy. Negative tweets about sport, politics or the weather have the mood
# but none of these; the conjunctions below let a linear model tell the two apart.
_CORP_HANDLE = re.compile(
    r"^(?:ask|team|hey)|support|help|care|service|assist|official|airways|airlines?$|air$", re.IGNORECASE
)
_SERVICE = frozenset(
    [
        "order",
        "orders",
        "ordered",
        "delivery",
        "deliver",
        "delivered",
        "deliveries",
        "package",
        "packages",
        "parcel",
        "parcels",
        "shipment",
        "shipping",
        "shipped",
        "tracking",
        "courier",
        "refund",
        "refunds",
        "refunded",
        "return",
        "returned",
        "exchange",
        "replacement",
        "replace",
        "warranty",
        "receipt",
        "account",
        "accounts",
        "bill",
        "bills",
        "billing",
        "billed",
        "invoice",
        "charge",
        "charged",
        "charges",
        "payment",
        "payments",
        "paid",
        "pay",
        "subscription",
        "subscribed",
        "membership",
        "plan",
        "contract",
        "service",
        "services",
        "customer",
        "customers",
        "support",
        "agent",
        "agents",
        "rep",
        "reps",
        "representative",
        "staff",
        "manager",
        "driver",
        "store",
        "branch",
        "app",
        "website",
        "site",
        "update",
        "login",
        "password",
        "email",
        "card",
        "internet",
        "wifi",
        "connection",
        "network",
        "signal",
        "phone",
        "device",
        "router",
        "modem",
        "cable",
        "outage",
        "coverage",
        "data",
        "flight",
        "flights",
        "booking",
        "booked",
        "reservation",
        "ticket",
        "tickets",
        "seat",
        "luggage",
        "baggage",
        "bag",
        "gate",
        "boarding",
        "item",
        "items",
        "product",
        "products",
        "purchase",
        "purchased",
        "bought",
        "buy",
        "battery",
        "screen",
        "call",
        "called",
        "calling",
        "chat",
        "hold",
        "line",
        "queue",
        "appointment",
        "technician",
        "engineer",
    ]
)
_REMEDY = frozenset(
    [
        "please",
        "pls",
        "plz",
        "help",
        "fix",
        "sort",
        "resolve",
        "respond",
        "response",
        "reply",
        "answer",
        "contact",
        "dm",
        "explain",
        "assist",
        "cancel",
        "refund",
        "replace",
        "compensation",
        "compensate",
        "escalate",
    ]
)
_YOU = frozenset({"you", "your", "you're", "youre", "u", "ur", "yall", "y'all", "guys"})
_WAIT = frozenset(
    {
        "still",
        "yet",
        "waiting",
        "waited",
        "wait",
        "hours",
        "days",
        "weeks",
        "week",
        "months",
        "since",
        "again",
        "already",
        "ago",
    }
)


# An expectation breached, said in so many words: "where's my …", "why can't …", "still not …", "never
# arrived", "no longer", "supposed to" … (matched on the joined tokens). Words of a broken expectation
# ("anymore", "promised", "supposed", "instead" …) count when the text is aimed at someone.
_BREACH_PHRASE = re.compile(
    r"\b(?:where(?:'s| is| are)? (?:my|our|the)|why (?:is|are|do|does|did|can't|cant|won't|wont|isn't|doesn't|"
    r"don't|would|has|have)|how (?:come|long|do i|can i get)|no longer|not anymore|supposed to|"
    r"still (?:no|not|haven't|hasn't|waiting|nothing)|"
    r"(?:hasn't|haven't|has not|have not|never|didn't|did not|not) (?:arrived|received|come|shown|been|working|"
    r"work|load|loading|updated|delivered|refunded|heard|responded|replied|got|gotten)|"
    r"can't (?:get|log|access|connect|sign|use|even|find|load|download|watch|play)|"
    r"(?:doesn't|does not|won't|will not|isn't|is not|not) (?:work|working|load|loading|connect|connecting|open|"
    r"accept|let)|what (?:is going on|happened|the hell|the heck|is wrong)|wrong (?:address|order|item|size)|"
    r"(?:fix|sort) (?:this|it|your)|(?:get|got) (?:charged|billed|cancelled|canceled|kicked|dropped))\b"
)
_BREACH_OPENERS = frozenset(
    [
        "where",
        "where's",
        "why",
        "how",
        "no",
        "not",
        "still",
        "hasn't",
        "haven't",
        "has",
        "have",
        "never",
        "didn't",
        "did",
        "can't",
        "doesn't",
        "does",
        "won't",
        "will",
        "isn't",
        "is",
        "what",
        "wrong",
        "fix",
        "sort",
        "get",
        "got",
        "supposed",
    ]
)
_MY_THING = re.compile(r"\bmy (\S+)")
_EXPECT = frozenset(
    [
        "anymore",
        "longer",
        "supposed",
        "promised",
        "told",
        "expected",
        "expect",
        "expecting",
        "instead",
        "should",
        "shouldn't",
        "shouldnt",
        "why",
        "how",
        "come",
        "happened",
        "unable",
        "able",
        "received",
        "receive",
        "arrived",
        "arrive",
        "working",
        "work",
        "works",
        "worked",
    ]
)


def normalize(text: str) -> str:
    """Lower-cased text with handles, URLs, numbers and elongations made brand- and domain-neutral."""
    text = html.unescape(text).translate(_CURLY)
    text = _URL.sub(f" {URL} ", text)
    text = _HANDLE.sub(f" {USER} ", text)
    text = text.lower().replace("#", " ")
    text = _DIGITS.sub(f" {NUM} ", text)
    # "soooo" and "sooo" are the same word; keep two letters so "too"/"good" survive.
    return _ELONGATED.sub(r"\1\1", text)


def tokens(text: str) -> list[str]:
    """Normalized tokens, with training brands folded and repeated handles/!/? collapsed."""
    out: list[str] = []
    for tok in _TOKEN.findall(normalize(text)):
        if tok in _TRAINING_BRANDS or (tok.endswith("'s") and tok[:-2] in _TRAINING_BRANDS):
            tok = BRAND
        elif tok[0] == "!":
            tok = "!" if len(tok) == 1 else "!!"
        elif tok[0] == "?":
            tok = "?" if len(tok) == 1 else "??"
        if out and tok == out[-1] and tok in (USER, BRAND, URL):
            continue  # "@a @b @c" carries no more meaning than one handle
        out.append(tok)
    return out


# ---------------------------------------------------------------- hashtags
# A hashtag's body is split into words ("#neverWorks", "#neverworks" -> never works; "#usairwaysfail" -> _brand_
# fail): camelCase first, then each lower-case run by a dynamic-programming segmentation over a word list ranked by
# frequency (``segment_words.txt``, written by tools/train_signals.py from its training texts with hashtags removed;
# cost of a word = log of its rank, Zipf). Bounded: runs of 4-30 letters, words of at most 15, results cached; only
# when "#" occurs. A listed word stays whole; a run no listed words cover stays whole.
SEGMENT_WORDS = Path(__file__).with_name("segment_words.txt")
_HASHTAG = re.compile(r"#([A-Za-z][A-Za-z0-9_]*)")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_MAX_BODY, _MAX_WORD = 30, 15
_seg_cost: dict[str, float] | None = None


def _costs() -> dict[str, float]:
    global _seg_cost
    if _seg_cost is None:
        try:
            words = SEGMENT_WORDS.read_text(encoding="utf-8").split()
        except FileNotFoundError:
            words = []
        _seg_cost = {w: math.log(r + 2.0) for r, w in enumerate(words)}
    return _seg_cost


def reset_segmenter() -> None:
    """Forget the loaded word list (after the trainer rewrites it)."""
    global _seg_cost
    _seg_cost = None
    _split_lower.cache_clear()
    hashtag_words.cache_clear()


@lru_cache(maxsize=4096)
def _split_lower(run: str) -> tuple[str, ...]:
    """Cheapest segmentation of a lower-case run into listed words (the run itself if none covers it)."""
    cost = _costs()
    n = len(run)
    if n < 4 or n > _MAX_BODY or run in cost:  # a listed word stays whole
        return (run,)
    unknown = 1e9
    best = [0.0] + [unknown] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - _MAX_WORD), j):
            c = cost.get(run[i:j])
            if c is not None and best[i] + c < best[j]:
                best[j], back[j] = best[i] + c, i
    if best[n] >= unknown:
        return (run,)
    out = []
    j = n
    while j:
        out.append(run[back[j] : j])
        j = back[j]
    return tuple(reversed(out))


@lru_cache(maxsize=4096)
def hashtag_words(body: str) -> tuple[str, ...]:
    """The words of a hashtag body (lower case, training brands folded); () if it is one word."""
    parts: list[str] = []
    for piece in _CAMEL.findall(body) or [body]:
        piece = piece.lower()
        parts.extend(_split_lower(piece) if piece.isalpha() else (NUM,))
    if len(parts) < 2:
        return ()
    return tuple(BRAND if p in _TRAINING_BRANDS else p for p in parts)


def _aim_cues(
    text: str, toks: list[str], n_problem: int, n_praise: int = 0, seg: tuple[str, ...] = (), hash_neg: bool = False
) -> list[str]:
    """Brand-independent cues of a breach aimed at a company, and their conjunctions with problem words."""
    corp = any(_CORP_HANDLE.search(h[1:]) for h in _HANDLE.findall(text))
    addressed = bool(toks) and toks[0] in (USER, BRAND)
    words = set(toks)
    words.update(seg)
    n_service = len(words & _SERVICE)
    remedy = bool(words & _REMEDY)
    you = bool(words & _YOU)
    wait = bool(words & _WAIT) or (
        NUM in words and bool(words & {"hours", "days", "weeks", "months", "mins", "minutes"})
    )
    problem = n_problem > 0
    cues = ["xserv" + str(min(n_service, 2))]
    if corp:
        cues.append("xcorp")
    if addressed:
        cues.append("xaddr")
    if remedy:
        cues.append("xremedy")
    if you and (addressed or corp):
        cues.append("xyouaddr")
    if wait:
        cues.append("xwait")
    if problem and n_service:
        cues.append("xbreach")
    if problem and (addressed or corp or BRAND in words):
        cues.append("xaimed")
    if problem and n_service and (corp or BRAND in words or (addressed and you)):
        cues.append("xbreachaimed")
    if problem and not n_service and not corp and BRAND not in words:
        cues.append("xmoodonly")
    if wait and n_service:
        cues.append("xwaitserv")
    if remedy and (problem or n_service):
        cues.append("xremedyprob")
    # Aimed at someone: a company handle, an opening address, a training brand or any @handle in the text.
    aimed = corp or addressed or BRAND in words or USER in words
    joined = " ".join(toks)
    # The phrase regex only when one of its opening words is there (most texts), the "my …" scan only after "my".
    if not words.isdisjoint(_BREACH_OPENERS) and _BREACH_PHRASE.search(joined):
        cues.append("xbreachph")
        if aimed:
            cues.append("xbreachphaimed")
    if "my" in words and any(w in _SERVICE or w == BRAND for w in _MY_THING.findall(joined)):
        cues.append("xmyserv")
        if aimed:
            cues.append("xmyservaimed")
    if aimed and not words.isdisjoint(_EXPECT):
        cues.append("xexpectaimed")
    if aimed and "?" in words and (problem or "xbreachph" in cues):
        cues.append("xprobq")
    cues.extend(_sarcasm_cues(text, joined, words, problem, n_praise, hash_neg, aimed))
    return cues


# Sarcasm: praise words beside a problem ("lovely comcast subscriber #neverworks", "playing up wonderfully"),
# set phrases ("thanks for nothing", "so much for"), scare quotes. A linear model cannot form the conjunction of
# its praise and problem counts itself.
_IRONIC_POS = frozenset(
    {"lovely", "wonderfully", "yay", "genius", "fabulous", "impressive", "shoutout", "effort", "cheers", "thanx"}
)
_SARC_OPENERS = frozenset(
    {
        "thanks",
        "thank",
        "great",
        "way",
        "love",
        "nothing",
        "much",
        "effort",
        "oh",
        "yeah",
        "said",
        "shoutout",
        "lasted",
        "needed",
        "more",
        "another",
        "good",
        "nice",
    }
)
_SARC_PHRASE = re.compile(
    r"\b(?:thanks? (?:a lot|for nothing|again)|(?:thanks|thank you|shoutout|shout out) (?:to \S+ )?for "
    r"(?:\S+ ){0,3}(?:ruining|wasting|losing|nothing|never|not|breaking|charging|cancell?ing|delaying|making me)|"
    r"great job|way to go|just what i (?:needed|wanted)|love (?:how|it when|that)|nothing like|so much for|"
    r"real effort|what a (?:great|lovely|wonderful|nice)|(?:should|could) (?:\S+ ){0,3}more|another day|"
    r"while it lasted|oh (?:great|good|joy)|yeah right|said no one|good job|nice one|nice job)\b"
)
_SCARE = re.compile(r"(?:^|\s)[\"'][A-Za-z][^\"\s]{1,20}(?: [^\"\s]{1,20})?[\"'](?=[\s.,!?]|$)")


def _sarcasm_cues(
    text: str, joined: str, words: set[str], problem: bool, n_praise: int, hash_neg: bool, aimed: bool
) -> list[str]:
    cues = []
    pos = n_praise > 0 or not words.isdisjoint(_IRONIC_POS)
    if pos and problem:
        cues.append("xsarc")
        if aimed:
            cues.append("xsarcaimed")
    if pos and hash_neg:
        cues.append("xsarchash")
    if hash_neg:
        cues.append("xhashprob")
    if not words.isdisjoint(_SARC_OPENERS) and _SARC_PHRASE.search(joined):
        cues.append("xsarcph")
    if ('"' in text or "'" in text) and _SCARE.search(text.translate(_CURLY)):
        cues.append("xscare")
    return cues


def features(text: str) -> list[str]:
    """Word unigrams, bigrams, negated words, lexicon cues and in-word character 4-grams."""
    toks = tokens(text)
    feats = ["w" + t for t in toks]
    prev = "<s>"
    for t in toks:
        feats.append("b" + prev + " " + t)
        prev = t
    feats.append("b" + prev + " </s>")
    negated = 0
    n_problem = n_praise = 0
    for t in toks:
        if t in _CLAUSE_END:
            negated = 0
        elif t in _NEGATORS:
            negated = 4
            n_problem += 1
        else:
            if negated:
                feats.append("n" + t)
                negated -= 1
            if t in _PROBLEM:
                n_problem += 1
            elif t in _PRAISE:
                n_praise += 1
    seg: list[str] = []
    hash_neg = False
    if "#" in text:
        for body in _HASHTAG.findall(text):
            low = body.lower()
            if low in _PROBLEM:
                hash_neg = True
            parts = hashtag_words(body)
            if not parts:
                continue
            prev = "<h>"
            negated = 0
            for t in parts:
                feats.append("w" + t)
                feats.append("b" + prev + " " + t)
                prev = t
                if negated:
                    feats.append("n" + t)
                    negated -= 1
                if t in _NEGATORS:
                    negated = 4
                    n_problem += 1
                    hash_neg = True
                elif t in _PROBLEM:
                    n_problem += 1
                    hash_neg = True
                elif t in _PRAISE:
                    n_praise += 1
            seg.extend(parts)
    feats.append("xprob" + str(min(n_problem, 3)))
    feats.extend(_aim_cues(text, toks, n_problem, n_praise, tuple(seg), hash_neg))
    feats.append("xpraise" + str(min(n_praise, 2)))
    if toks and toks[-1] in ("?", "??"):
        feats.append("xendq")
    feats.append("xlen" + str(min(len(toks) // 8, 4)))
    for t in set(toks):
        if len(t) > 3 and t[0] != "_":
            padded = "<" + t + ">"
            feats.extend("c" + padded[i : i + 4] for i in range(len(padded) - 3))
    return feats
