"""The shipped text model: loads the committed artifact, no network, no ../shared needed."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain.signals import TOPICS, TextSignals, analyze, analyze_one
from chalicelib.domain.signals.features import features, tokens
from chalicelib.domain.signals.model import ARTIFACT

COMPLAINTS = [
    "@acme my order still hasn't arrived after 3 weeks and nobody answers the phone. Worst service ever",
    "@shopco you charged me twice and still no refund. Unacceptable!",
    "@telco internet has been down all day again, I'm paying for nothing #fail",
    "@Airline lost my luggage and the agent was incredibly rude",
]
PRAISE = [
    "@acme thank you so much, the support team was amazing and fixed it in minutes!",
    "Love my new headphones from @soundco, best purchase this year 😍",
    "@Airline great flight, friendly crew, landed early. Thanks!",
]


def test_artifact_is_small_and_shipped() -> None:
    assert ARTIFACT.is_file()
    assert ARTIFACT.stat().st_size < 5_000_000


def test_obvious_complaints_score_high() -> None:
    for sig in analyze(COMPLAINTS):
        assert sig.complaint, sig
        assert sig.complaint_score > 0.6
        assert sig.sentiment < 0


def test_praise_scores_low() -> None:
    for sig in analyze(PRAISE):
        assert not sig.complaint, sig
        assert sig.complaint_score < 0.3
        assert sig.sentiment > 0.3


def test_signal_shape_and_ranges() -> None:
    sig = analyze_one("@brand where is my package?")
    assert isinstance(sig, TextSignals)
    assert 0.0 <= sig.complaint_score <= 1.0
    assert -1.0 <= sig.sentiment <= 1.0
    assert sig.topic in TOPICS
    assert isinstance(sig.risk_flags, frozenset)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sig.topic = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("@shop I want a refund, you overcharged my credit card", "billing_refunds"),
        ("@courier my package was never delivered, tracking says delivered", "delivery"),
        ("@telco waited on hold for 2 hours and the agent hung up on me", "customer_service"),
        ("@gadgetco the screen is broken and it stopped working after one day", "product_quality"),
        ("@gadgetco my charger caught fire last night", "safety"),
        ("@bank I will sue you, my lawyer is on it", "legal"),
        ("good morning everyone, nice weather today", "other"),
    ],
)
def test_topics_for_clear_examples(text: str, topic: str) -> None:
    assert analyze_one(text).topic == topic


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("@acme I will sue you for this", "legal_threat"),
        ("@gadgetco my phone caught fire on the nightstand", "safety"),
        ("@shop you leaked my data to spammers", "data_leak"),
        ("@foodco your burger gave me food poisoning", "health"),
        ("@bank unauthorized charges on my card, this is fraud", "fraud"),
        ("@cafe the manager was openly racist to my friend", "discrimination"),
        ("@telco I'm switching to another provider and closing my account", "churn"),
        ("@airline I'm contacting the press about this", "media"),
    ],
)
def test_risk_flags(text: str, flag: str) -> None:
    assert flag in analyze_one(text).risk_flags


def test_risk_flags_are_precise() -> None:
    for text in PRAISE + ["I love fire emojis 🔥", "the new season is data heavy", "suede shoes"]:
        assert analyze_one(text).risk_flags == frozenset(), text


def test_normalization_hides_brand_specifics() -> None:
    toks = tokens("@JetBlue flight 123 http://t.co/x soooo late")
    assert toks[0] == "_user_" and "_url_" in toks and "0" in toks and "soo" in toks
    # A different handle yields the same features: no per-brand cue.
    assert features("@united my bag is lost") == features("@somebrand my bag is lost")


def test_deterministic_and_order_preserving() -> None:
    texts = COMPLAINTS + PRAISE + ["", "   ", "🙂"]
    first, second = analyze(texts), analyze(list(texts))
    assert first == second
    assert [analyze_one(t) for t in texts] == first


def test_empty_text_is_neutral() -> None:
    sig = analyze_one("")
    assert not sig.complaint and sig.topic == "other" and sig.risk_flags == frozenset()


def test_batch_of_a_thousand_runs() -> None:
    texts = [f"@brand order {i} arrived broken, I want a refund" for i in range(500)]
    texts += [f"thanks @brand for order {i}, love it" for i in range(500)]
    out = analyze(texts)
    assert len(out) == 1000
    assert sum(s.complaint for s in out[:500]) > 450
    assert sum(s.complaint for s in out[500:]) < 50


def test_negation_and_brand_folding_features() -> None:
    feats = features("@acme my order has not arrived, Amazon is late")
    assert "narrived" in feats and "w_brand_" in feats and "wamazon" not in feats
    assert "xprob2" in feats or "xprob3" in feats


def test_label_file_is_ids_only_and_disjoint() -> None:
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "tools" / "signals_labels.json").read_text())
    lists = [set(doc[k]) for k in ("complaint", "not_complaint", "excluded")]
    assert all(isinstance(i, int) for s in lists for i in s)
    assert not (lists[0] & lists[1]) and not (lists[0] & lists[2]) and not (lists[1] & lists[2])
    assert len(lists[0]) + len(lists[1]) >= 1200


def test_twcs_test_split_is_never_trained_on() -> None:
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tools"))
    import train_signals

    if not (train_signals.DATA / "twcs" / "twcs_first5001.csv").is_file():
        pytest.skip("../shared/data/twcs not available")
    train, test = train_signals.twcs_split()
    assert not {t.tweet_id for t in train} & {t.tweet_id for t in test}
    assert len(test) >= 350 and {t.group for t in test} >= {"food", "retail", "tech", "telecom", "transport"}
    assert train_signals.legacy_test_ids() <= {t.tweet_id for t in test}


def test_complaint_views_partition_features() -> None:
    from chalicelib.domain.signals.features import VIEWS, view_of

    feats = features("@acme my order has not arrived, still waiting?")
    assert all(set(view_of(f)) <= set(VIEWS) and view_of(f) for f in feats)
    assert {view_of(f) for f in feats if f.startswith("c")} == {("char",)}
    assert {view_of(f) for f in feats if f.startswith("x")} == {("word", "char")}
    assert {view_of(f) for f in feats if f[0] in "wbn"} == {("word",)}
