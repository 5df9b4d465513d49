"""The new-domain held-out set (tools/signals_labels_domains.json): fixed split, never trained on."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import train_signals  # noqa: E402

LABELS = json.loads((ROOT / "tools" / "signals_labels_domains.json").read_text(encoding="utf-8"))["rows"]
needs_data = pytest.mark.skipif(not train_signals.DATA.is_dir(), reason="shared data not present")


def test_labels_file_has_both_classes_several_domains_and_no_repeats() -> None:
    keys = [(r["source"], r["id"]) for r in LABELS]
    assert len(keys) == len(set(keys)) >= 200
    assert {r["label"] for r in LABELS} == {0, 1}
    assert len({r["domain"] for r in LABELS if r["label"] == 1}) >= 8


def test_near_duplicates_share_a_key() -> None:
    a = "@user Customer services got involved and eventually completely wash their hands of it. #awful #dream"
    b = "@user Customer services got involved and eventually completely wash their hands of it.  #dream"
    assert train_signals._norm(a) == train_signals._norm(b) != train_signals._norm("Customer services helped")


@needs_data
def test_split_is_the_hash_rule_and_covers_every_row() -> None:
    tune, report = train_signals.domain_split()
    assert len(tune) + len(report) == len(LABELS)
    assert all(zlib.crc32(f"{i.source}:{i.ident}".encode()) % 2 == 0 for i in report)
    assert all(zlib.crc32(f"{i.source}:{i.ident}".encode()) % 2 == 1 for i in tune)
    assert {i.label for i in report} == {0, 1}


@needs_data
def test_no_held_out_row_is_trained_on() -> None:
    """Like the follow-up check: the generic and general-negative training rows never hold a new-domain tweet."""
    held = train_signals.heldout_domain_texts()
    complaint, sentiment = train_signals.generic_tweet_rows()
    tune, _ = train_signals.general_negatives()
    trained = complaint.texts + sentiment.texts + tune
    assert not [t for t in trained if train_signals._norm(t) in held]
    # and the exclusion bites: some of the rows come from TweetEval training tweets
    emotion, _ = train_signals.tweeteval("emotion", "train")
    assert sum(train_signals._norm(t) in held for t in emotion) > 20
