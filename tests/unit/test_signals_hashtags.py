"""Hashtag segmentation and sarcasm cues of the text features (issue 14: compound hashtags, ironic praise)."""

from __future__ import annotations

import random
import time

from chalicelib.domain.signals import analyze_one
from chalicelib.domain.signals.features import SEGMENT_WORDS, features, hashtag_words


def _cues(text: str) -> set[str]:
    return {f for f in features(text) if f[0] == "x"}


def test_word_list_is_shipped_and_compact() -> None:
    assert SEGMENT_WORDS.is_file()
    assert SEGMENT_WORDS.stat().st_size < 500_000


def test_lower_case_compounds_split_into_words() -> None:
    assert hashtag_words("neverworks") == ("never", "works")
    assert hashtag_words("customerservicefail") == ("customer", "service", "fail")
    assert hashtag_words("epicfail") == ("epic", "fail")


def test_camel_case_splits_and_brands_fold() -> None:
    assert hashtag_words("NeverWorks") == ("never", "works")
    assert hashtag_words("usairwaysfail") == ("_brand_", "fail")


def test_single_words_and_unknown_runs_stay_whole() -> None:
    assert hashtag_words("something") == ()
    assert hashtag_words("fail") == ()
    assert hashtag_words("xqzvbnkw") == ()
    assert hashtag_words("a" * 200) == ()  # bounded: long bodies are not searched


def test_segmented_words_are_word_features_with_negation() -> None:
    feats = features("just another day as a subscriber #neverworks")
    assert {"wnever", "wworks", "bnever works", "nworks", "xhashprob"} <= set(feats)
    assert "wnever" not in features("just another day as a subscriber")


def test_sarcasm_cues() -> None:
    assert "xsarchash" in _cues("just another day as a lovely comcast subscriber #neverworks @user")
    assert {"xsarc", "xsarcaimed"} <= _cues("@acme thanks, my package is lost again")
    assert "xsarcph" in _cues("@acme thanks for nothing")
    assert "xsarcph" in _cues("shoutout to @acme for ruining my order")
    assert "xscare" in _cues('@acme your "customer service" is something else')
    assert not _cues("@acme thank you so much, the team was amazing") & {"xsarc", "xsarchash", "xsarcph", "xscare"}


def test_ironic_praise_of_a_failure_is_a_complaint() -> None:
    assert analyze_one("@acme thanks for nothing, still no refund #epicfail").complaint


def test_hashtags_stay_cheap() -> None:
    text = "@acme lovely evening #neverworks #customerservicefail #NotHappyAtAll #" + "z" * 40
    features(text)
    rng = random.Random(8)
    bodies = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(30)) for _ in range(200)]
    start = time.perf_counter()
    for body in bodies:
        features(f"{text} #{body}")  # a new 30-letter hashtag each time: the longest run segmented, uncached
    assert (time.perf_counter() - start) / 200 < 0.01  # about 0.1 ms here; the bound leaves room for a busy CI
