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


def test_followups_train_only_on_training_threads_and_carry_their_group(monkeypatch) -> None:
    """Follow-up labels are ids only, disjoint from the first-in-thread labels; only follow-ups of a training
    thread become rows, with their thread's brand and group, so a held-out brand/domain leaves them out with it."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tools"))
    import train_signals

    doc = train_signals.load_labels()
    first = set(doc["complaint"]) | set(doc["not_complaint"]) | set(doc["excluded"])
    lists = [set(doc[k]) for k in ("followup_complaint", "followup_not_complaint", "followup_excluded")]
    assert all(isinstance(i, int) for s in lists for i in s)
    assert sum(map(len, lists)) == len(set().union(*lists)) and not set().union(*lists) & first
    if not (train_signals.DATA / "twcs" / "twcs_first5001.csv").is_file():
        pytest.skip("../shared/data/twcs not available")
    train, test = train_signals.twcs_split()
    followups = train_signals.twcs_followups(train)
    assert len(followups) >= 800
    test_ids = {t.tweet_id for t in test}
    assert not {f.first.tweet_id for f in followups} & test_ids
    thread_first = train_signals._thread_first(train_signals._twcs_rows())
    assert all(thread_first[f.tweet_id] == f.first.tweet_id for f in followups)
    # Fewer training threads (as if the split moved some to test): their follow-ups go with them.
    odd = [t for t in train if t.tweet_id % 2]
    kept = train_signals.twcs_followups(odd)
    assert 0 < len(kept) < len(followups) and {f.first.tweet_id for f in kept} <= {t.tweet_id for t in odd}
    monkeypatch.setenv("FOLLOWUP_W", "2")
    rows, source, brands = train_signals.complaint_rows(train, followups)
    at = [i for i, s in enumerate(source) if s.startswith("followup:")]  # the new sources' rows (v7) come after
    assert [rows.texts[i] for i in at] == [f.text for f in followups]
    assert [source[i] for i in at] == ["followup:" + f.first.group for f in followups]
    assert [brands[i] for i in at] == [f.first.brand for f in followups]
    assert [rows.weights[i] for i in at] == [2.0] * len(followups)
    monkeypatch.setenv("FOLLOWUP_W", "0")
    assert not any(s.startswith("followup:") for s in train_signals.complaint_rows(train, followups)[1])


def test_brand_held_out_folds_keep_every_row_of_a_brand_on_one_side() -> None:
    """The reporting figures hold a brand out by its key: every twcs tweet has one (the support account that answered
    it, else its first @handle), the airline set's rows carry the same keys, and a brand's rows share one fold."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tools"))
    import train_signals

    if not (train_signals.DATA / "twcs" / "twcs_first5001.csv").is_file():
        pytest.skip("../shared/data not available")
    train, test = train_signals.twcs_split()
    assert all(t.brand and t.brand == t.brand.lower() for t in train + test)
    assert {"amazonhelp", "applesupport", "southwestair"} <= {t.brand for t in test} & {t.brand for t in train}
    rows, source, brands = train_signals.complaint_rows(train)
    assert len(brands) == len(rows.texts) == len(source)
    airline = [b for b, s in zip(brands, source, strict=True) if s == "airline"]
    assert len(airline) == sum(s == "airline" for s in source) and "southwestair" in airline
    assert "delta" not in airline  # Delta is the held-out airline of the airline set
    assert [b for b, s in zip(brands, source, strict=True) if s.startswith("twcs:")] == [t.brand for t in train]
    assert len({train_signals.brand_fold(b) for b in {t.brand for t in test}}) == train_signals.BRAND_FOLDS


def test_held_out_summary_separates_ranking_from_threshold() -> None:
    """The held-out reports give AUC and the true vs predicted complaint rate beside macro-F1: a perfect ranking
    with a threshold above every score still shows AUC 1.0 and a predicted rate of 0, so the two causes of a low
    macro-F1 can be told apart."""
    import sys
    from pathlib import Path

    pytest.importorskip("sklearn")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import train_signals

    labels, scores = [0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]
    summary = train_signals.held_out_summary(labels, scores, threshold=0.9)
    assert summary["auc"] == 1.0 and summary["predicted_positive_rate"] == 0.0 and summary["positive_rate"] == 0.5
    assert summary["macro_f1"] < 0.5
    at_cut = train_signals.held_out_summary(labels, scores, threshold=0.25)
    assert at_cut["macro_f1"] == 1.0 and at_cut["predicted_positive_rate"] == 0.5 and at_cut["n"] == 4
    assert "auc" not in train_signals.held_out_summary([1, 1], [0.2, 0.8], threshold=0.5)  # one class: no AUC


def test_complaint_views_partition_features() -> None:
    from chalicelib.domain.signals.features import VIEWS, view_of

    feats = features("@acme my order has not arrived, still waiting?")
    assert all(set(view_of(f)) <= set(VIEWS) and view_of(f) for f in feats)
    assert {view_of(f) for f in feats if f.startswith("c")} == {("char",)}
    assert {view_of(f) for f in feats if f.startswith("x")} == {("word", "char")}
    assert {view_of(f) for f in feats if f[0] in "wbn"} == {("word",)}


# Negative mood with no company and no expectation breached: not complaints (issue 14). (Known limit: the
# same mood addressed to an @handle with problem words, "@user lost again, terrible season", still often is.)
GENERAL_NEGATIVE = [
    "I hate Mondays, worst day ever",
    "the refs completely ruined the game tonight smh",
    "so sad, my grandma passed away this morning",
    "ugh it's raining again and I'm stuck at home",
]
# Aimed at a company, an expectation breached, a remedy asked: complaints even when politely worded.
AIMED_BREACHES = [
    "@ShopHelp my order was supposed to arrive on Monday and it's still not here, can you check?",
    "@BankCare I was charged twice for the same payment, please refund me",
    "@TelcoSupport waited 2 hours on hold and nobody answered, please fix my internet",
]


def test_general_negative_tweets_are_not_complaints() -> None:
    for text in GENERAL_NEGATIVE:
        sig = analyze_one(text)
        assert not sig.complaint, (text, sig)


def test_breaches_aimed_at_a_company_are_complaints() -> None:
    for text in AIMED_BREACHES:
        assert analyze_one(text).complaint, text


def test_aim_cues_mark_company_service_and_remedy() -> None:
    aimed = features("@AmazonHelp my order still has not arrived, please help")
    assert {"xcorp", "xaddr", "xremedy", "xbreach", "xbreachaimed"} <= set(aimed)
    mood = features("I hate mondays, worst day ever")
    assert "xmoodonly" in mood and not {"xcorp", "xbreach", "xaimed"} & set(mood)


def test_breach_phrases_and_ownership_cues() -> None:
    """An expectation breached in so many words and the customer's own order/account, aimed or not."""
    asked = set(features("@ShopHelp where's my order? it has not arrived"))
    assert {"xbreachph", "xbreachphaimed", "xmyserv", "xmyservaimed", "xprobq"} <= asked
    unaimed = set(features("why is it always raining on my birthday"))
    assert "xbreachph" in unaimed and not {"xbreachphaimed", "xmyserv", "xprobq"} & unaimed


def test_complaints_with_no_handle_still_count() -> None:
    """Mentions from a brand's own page or reviews often name no company: a breach is still a complaint."""
    for text in ("My order is late again", "My order arrived broken and support is ignoring me"):
        assert analyze_one(text).complaint, text
    # Known miss of v7 (threshold 0.48, v6 0.43): "Still waiting for my refund" scores 0.47, just under it; kept
    # here so a later model that drops it further fails. It still ranks far above negative mood at no company.
    miss = analyze_one("Still waiting for my refund").complaint_score
    assert miss > 0.45
    assert miss > 10 * analyze_one("I hate mondays").complaint_score


def test_model_loads_fast_and_small() -> None:
    """The binary artifact: no JSON, no per-feature dict; under 50 ms and a few MB per cold start (issue 14)."""
    import tracemalloc

    from chalicelib.domain.signals import model

    assert ARTIFACT.suffix == ".bin" and ARTIFACT.stat().st_size < 8_000_000
    best = min(_timed(model.load) for _ in range(5))
    assert best < 0.05, best
    tracemalloc.start()
    loaded = model.load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 25_000_000 and len(loaded.keys) == loaded.mask + 1


def _timed(fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_packed_table_scores_what_was_written(tmp_path) -> None:
    """Round trip of the trainer's packer and the loader: the weights written are the weights scored."""
    import math
    import sys
    from pathlib import Path

    from chalicelib.domain.signals import model

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import train_signals

    text = "@acme broken again"
    feats = sorted(set(features(text)))
    # Weights on one word-view feature and one char-view feature; every other kept feature weighs zero.
    rows = [(10, 0, 5, 0) if f == "wbroken" else (0, -20, 0, 0) if f == "c<bro" else (0, 0, 0, 0) for f in feats]
    blob = train_signals.pack_table(feats, rows, [0.1, 0.2, 0.3, 0.4], [0.5, -0.5, 0.25, -0.25], 0.42, [0.7, 0.3])
    path = tmp_path / "model.bin"
    path.write_bytes(blob)
    loaded = model.load(path)
    assert loaded.threshold == 0.42
    complaint, sentiment = model.score(text, loaded)
    n_char_view = sum(1 for f in feats if f[0] in "cx")
    n_word_view = sum(1 for f in feats if f[0] != "c")
    z = 0.7 * 0.5 + 0.3 * -0.5 + 0.7 * 0.1 * 10 / math.sqrt(n_word_view) + 0.3 * 0.2 * -20 / math.sqrt(n_char_view)
    assert complaint == pytest.approx(1 / (1 + math.exp(-z)))
    ln, lp = 0.25 + 0.3 * 5 / math.sqrt(len(feats)), -0.25
    assert sentiment == pytest.approx((math.exp(lp) - math.exp(ln)) / (math.exp(ln) + 1 + math.exp(lp)))
    # Not a model of this format, or cut short: refused with a reason, never scored as zeros.
    (tmp_path / "bad.bin").write_bytes(b"{}")
    with pytest.raises(ValueError, match="format"):
        model.load(tmp_path / "bad.bin")
    (tmp_path / "short.bin").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated"):
        model.load(tmp_path / "short.bin")


def test_written_artifact_scores_views_and_brand_expert_as_trained(tmp_path, monkeypatch) -> None:
    """The trainer folds the view mix and the brand-tweet expert into the complaint columns: the shipped artifact
    must score ``complaint_logit`` of the three models' own logits, each over its view's features and scale."""
    import math
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    np = pytest.importorskip("numpy")
    from chalicelib.domain.signals import model
    from chalicelib.domain.signals.features import view_of

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import train_signals

    monkeypatch.setattr(model, "ARTIFACT", tmp_path / "model.bin")
    monkeypatch.setattr(model, "META", tmp_path / "model.meta.json")
    text = "@acme my order is broken again, please fix"
    feats = sorted(set(features(text)))
    vocab = {f: i for i, f in enumerate(feats)}
    rng = np.random.default_rng(7)

    def linear(bias: float, view: str):
        coef = np.array([rng.uniform(-2, 2) if view in view_of(f) else 0.0 for f in feats])
        return SimpleNamespace(coef_=np.array([coef]), intercept_=np.array([bias]))

    word, char, expert = linear(0.3, "word"), linear(-0.2, "char"), linear(3.0, "word")
    sentiment = SimpleNamespace(classes_=np.array([0, 1, 2]), coef_=np.zeros((3, len(feats))), intercept_=np.zeros(3))
    train_signals.write_artifact(vocab, [word, char], 0.7, expert, 0.2, sentiment, 0.5, {})

    def logit(m, view: str) -> float:
        in_view = [vocab[f] for f in feats if view in view_of(f)]
        return float(m.intercept_[0] + m.coef_[0][in_view].sum() / math.sqrt(len(in_view)))

    z = train_signals.complaint_logit(logit(word, "word"), logit(char, "char"), logit(expert, "word"), 0.7, 0.2)
    complaint, _ = model.score(text, model.load(tmp_path / "model.bin"))
    assert complaint == pytest.approx(1 / (1 + math.exp(-z)), abs=0.01)  # int8 weights
    without_expert = train_signals.complaint_logit(logit(word, "word"), logit(char, "char"), 0.0, 0.7, 0.0)
    assert abs(z - without_expert) > 0.05  # the expert's share is really in the scores
