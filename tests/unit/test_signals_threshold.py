"""The complaint threshold chosen under a cap on general false alarms (train_signals.choose_threshold, GNEG_CAP).

Pure functions of the trainer on hand-made scores: no data, no model fit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import train_signals  # noqa: E402

# Brand tweets: complaints score 0.32-0.9, non-complaints 0.1-0.31, so the one best threshold is 0.32; the general
# negatives (never complaints) score 0.32, 0.33, 0.34 and 0.5: 4 of 10 flagged at 0.32, 1 of 10 above 0.34.
LABELS = [1, 1, 1, 1, 0, 0, 0, 0]
SCORES = [0.32, 0.5, 0.7, 0.9, 0.1, 0.2, 0.25, 0.31]
GENERAL = [0.05, 0.1, 0.2, 0.32, 0.33, 0.34, 0.5, 0.1, 0.1, 0.1]
GRID = [i / 100 for i in range(15, 86)]


def flagged(threshold: float, general: list[float] = GENERAL) -> float:
    return sum(p >= threshold for p in general) / len(general)


def test_without_a_cap_the_best_macro_f1_wins() -> None:
    threshold = train_signals.choose_threshold([(LABELS, SCORES)])
    assert threshold == 0.32 and train_signals.macro_f1(LABELS, SCORES, threshold) == 1.0
    assert flagged(threshold) == 0.4  # three general negatives just above the brand tweets' cut are flagged


def test_the_cap_keeps_general_false_alarms_at_or_below_it() -> None:
    threshold = train_signals.choose_threshold([(LABELS, SCORES)], GENERAL, cap=0.1)
    assert flagged(threshold) <= 0.1 and threshold > 0.34
    best_under_cap = max(train_signals.macro_f1(LABELS, SCORES, t) for t in GRID if flagged(t) <= 0.1)
    assert train_signals.macro_f1(LABELS, SCORES, threshold) == best_under_cap < 1.0


def test_an_exact_count_at_the_cap_is_eligible() -> None:
    """The cap is a share of a count (v5: 12 of 144): a threshold flagging exactly that share is allowed."""
    assert train_signals.choose_threshold([(LABELS, SCORES)], GENERAL, cap=0.4) == 0.32
    assert train_signals.choose_threshold([(LABELS, SCORES)], GENERAL, cap=0.39) > 0.32


def test_an_unreachable_cap_takes_the_best_of_those_flagging_fewest() -> None:
    # 0.99 is flagged at every threshold of the grid: all flag fewest, so the best macro-F1 wins.
    assert train_signals.choose_threshold([(LABELS, SCORES)], [0.99], cap=0.0) == 0.32
    # 0.4 is flagged up to 0.40 only: the fewest (1 of 2) are flagged above it, and one of those is chosen.
    threshold = train_signals.choose_threshold([(LABELS, SCORES)], [0.4, 0.99], cap=0.0)
    assert threshold > 0.40 and flagged(threshold, [0.4, 0.99]) == 0.5


def test_no_negatives_means_no_cap() -> None:
    assert train_signals.choose_threshold([(LABELS, SCORES)], [], cap=0.0) == 0.32
